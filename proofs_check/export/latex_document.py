r"""``iclft export-latex PATH``: a standalone LaTeX document of every derived expression
and of the claim results.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.

Expressions are printed by the one printer of :mod:`theory.printing` (implicit products,
``\sigma^{2}``, the vocabulary's coordinate names ``K_{0} ... K_{\perp}``), after its
bounded :func:`theory.printing.tidy`.  The separate-form gradients are shown in chain-rule form
(``\nabla_K = Q G^\top``, ``\nabla_Q = K G`` over the merged coefficients ``G``), which is
how a paper writes them and keeps every display short.

Round trip (:func:`roundtrip_check`): every display is also printed in a *parseable*
spelling (explicit ``\cdot``, subscript ``p`` for ``\perp``: SymPy's lark grammar reads
neither implicit products nor ``K_{\perp}``), that spelling is parsed back with
``parse_latex(..., backend="lark")`` and must equal the original expression, and
:func:`theory.printing.to_display` of it must be exactly the displayed text.  The lark grammar
has no ``\sigma`` (a TODO in its ``greek_symbols.lark``), so the parse reads it through the
alias ``s``.  Named groups (``R``, ...) are parsed as symbols and replaced by their
definitions.  Each distinct string is parsed once.

User strings are never parsed as code: the only parser used is ``parse_latex`` on LaTeX
this module generated itself, and its symbols are mapped back to ``theory.symbols`` by
name.  The file is written atomically (:func:`proofs_check.storage.atomic.write_text_atomic`).
"""
from __future__ import annotations

import functools
import re
import sys
import time
from dataclasses import dataclass

import sympy as sp

from proofs_check.storage.atomic import prepare_output, write_text_atomic
from proofs_check.export.prose import UNICODE_MATH, as_latex, details_prose, escape_text, field_words, tx

__all__ = ["EXPORT_SYMBOL_NAMES", "ExportedExpr", "to_latex", "tidy",
           "break_lines", "exported_expressions", "roundtrip_check", "parse_exported",
           "escape_text", "render_document", "export_latex", "LINE_TERMS", "LINE_CHARS",
           "LINE_WIDTH", "display_math"]

#: line-breaking limits of a display: at most this many top-level terms per line ...
LINE_TERMS = 8
#: ... at most this many characters of LaTeX source per line ...
LINE_CHARS = 300
#: ... and at most this estimated rendered width (in characters of math) per line
LINE_WIDTH = 90

#: multivariate ``sp.factor`` is only attempted below these sizes (it can take a minute on
#: the large separate-form coefficients); larger expressions get ``factor_terms`` only
FACTOR_MAX_TERMS = 40
FACTOR_MAX_SYMBOLS = 11

# --------------------------------------------------------------------------- symbols


def _symbols():
    from theory import symbols as S
    return S


def _TL():
    from theory import printing  # deferred: SymPy is imported only when a document is built
    return printing


def _names():
    return _TL().PARSE_NAMES


class _Names(dict):
    """Lazy view of the displayed symbol names (so importing this module stays cheap)."""

    def _d(self):
        return _TL().SYMBOL_NAMES

    def __getitem__(self, k):
        return self._d()[k]

    def __iter__(self):
        return iter(self._d())

    def __len__(self):
        return len(self._d())

    def __contains__(self, k):
        return k in self._d()

    def items(self):
        return self._d().items()

    def keys(self):
        return self._d().keys()

    def values(self):
        return self._d().values()

    def get(self, k, default=None):
        return self._d().get(k, default)


#: symbol -> displayed LaTeX name (:data:`theory.printing.SYMBOL_NAMES`)
EXPORT_SYMBOL_NAMES = _Names()


def _noise_std():
    return _TL().NOISE_STD


def _tex(expr) -> str:
    """Parseable LaTeX (explicit products) of a display-form expression."""
    return sp.latex(expr, symbol_names=_names(), mul_symbol="dot", mat_str="bmatrix", mat_delim="")


def _display_form(expr):
    return _TL().display_form(expr)


def to_latex(expr) -> str:
    """Parseable LaTeX of a SymPy expression or matrix, without line breaks
    (:func:`theory.printing.to_parseable`)."""
    return _TL().to_parseable(expr)


def to_display(parseable: str) -> str:
    """The displayed text of a parseable string (:func:`theory.printing.to_display`)."""
    return _TL().to_display(parseable)


def tidy(expr):
    """Bounded readable form (:func:`theory.printing.tidy`)."""
    return _TL().tidy(expr)


# --------------------------------------------------------------------------- breaking

_FRAC = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_SCRIPT = re.compile(r"[_^]\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\{([^{}]*)\}")
_GROUP = re.compile(r"\{([^{}]*)\}")


def _visual_width(s: str) -> float:
    """Rough rendered width of math LaTeX, in characters (fractions count their wider
    part, scripts count 0.7, binary operators count 2)."""
    s = s.replace(r"\left", "").replace(r"\right", "")
    s = re.sub(r" ?\\cdot ?", "", s)
    s = re.sub(r"\\(?!frac|sqrt)[A-Za-z]+", "x", s)
    for _ in range(200):
        new = _SCRIPT.sub(lambda mo: "x" * max(1, round(0.7 * len(mo.group(1)))), s)
        new = _FRAC.sub(lambda mo: "x" * max(len(mo.group(1)), len(mo.group(2))), new)
        new = _SQRT.sub(lambda mo: "xx" + mo.group(1), new)
        if new == s:
            new = _GROUP.sub(lambda mo: mo.group(1), s)
            if new == s:
                break
        s = new
    s = s.replace(" ", "")
    ops = sum(s.count(ch) for ch in "+-=")
    return len(s) + ops


@dataclass
class _Atom:
    text: str
    term: bool = True  # counts as one term of a line


def _term_atoms(term, first: bool, budget: float) -> list[_Atom]:
    """Atoms of one summand, with its sign as an operator (``+ t``/``- t``)."""
    atoms = _atoms(term, budget)
    t0 = atoms[0].text
    if first:
        return atoms
    if t0.startswith("-"):
        atoms[0] = _Atom("- " + t0[1:].lstrip(), atoms[0].term)
    else:
        atoms[0] = _Atom("+ " + t0, atoms[0].term)
    return atoms


def _atoms(expr, budget: float) -> list[_Atom]:
    """Split the (display-form) expression into atoms; a line may break between atoms.
    Joining the atoms' texts with single spaces gives a LaTeX string of the expression.
    ``budget`` is the rendered width (characters) a line may take."""
    whole = _tex(expr)
    if len(whole) <= LINE_CHARS and _visual_width(whole) <= budget:
        return [_Atom(whole)]
    if isinstance(expr, sp.Add):
        out: list[_Atom] = []
        for i, t in enumerate(expr.as_ordered_terms()):
            out.extend(_term_atoms(t, i == 0, budget))
        return out
    if isinstance(expr, (sp.Mul, sp.Pow)):
        small, big = [], []
        for f in sp.Mul.make_args(expr):
            base, ex = f.as_base_exp()
            if isinstance(base, sp.Add) and ex.is_Integer and ex != 0:
                text = _tex(base)
                if len(text) > LINE_CHARS or _visual_width(text) > budget:
                    big.append((base, int(ex)))
                    continue
            small.append(f)
        if big:
            pre = sp.Mul(*small)
            out = []
            if pre == -1:
                opener = "- ("
            elif pre == 1:
                opener = "("
            else:
                opener = _tex(pre) + r" \cdot ("
            for i, (base, ex) in enumerate(big):
                inner = _atoms(base, budget)
                head = opener if i == 0 else r"\cdot ("
                inner[0] = _Atom(head + inner[0].text, inner[0].term)
                close = ")" if ex == 1 else f")^{{{ex}}}"
                inner[-1] = _Atom(inner[-1].text + close, inner[-1].term)
                out.extend(inner)
            return out
    return [_Atom(whole)]


def break_lines(expr, first_offset: float = 0.0) -> list[str]:
    """The LaTeX of ``expr`` (display form, parseable) split into lines of at most
    :data:`LINE_TERMS` terms, :data:`LINE_CHARS` characters and about :data:`LINE_WIDTH`
    rendered characters, less ``first_offset`` (the left-hand side: in ``align*`` every
    line starts at the column of the ``=``).
    ``" ".join(lines)`` is the un-broken expression string."""
    budget = max(30.0, LINE_WIDTH - first_offset)
    atoms = _atoms(_display_form(expr), budget)
    lines: list[list[str]] = [[]]
    n_terms = 0
    for at in atoms:
        cur = lines[-1]
        cand = " ".join(cur + [at.text])
        width = budget if len(lines) == 1 else budget - 4
        if cur and (n_terms + at.term > LINE_TERMS or len(cand) > LINE_CHARS
                    or _visual_width(cand) > width):
            lines.append([at.text])
            n_terms = int(at.term)
        else:
            cur.append(at.text)
            n_terms += int(at.term)
    return [" ".join(parts) for parts in lines if parts]


# --------------------------------------------------------------------------- content


@dataclass
class ExportedExpr:
    """One exported display: ``lhs = lines`` (``lhs`` is prose LaTeX, not parsed).

    ``lines`` are the displayed lines (implicit products), ``parse_lines`` the same lines
    in the parseable spelling (``lines[i] == to_display(parse_lines[i])``); ``expr`` is the
    original SymPy object (group symbols such as ``R`` replaced back), ``rhs_suffix`` LaTeX
    printed after the expression (``= 0``)."""

    key: str
    lhs: str
    expr: object
    parse_lines: list[str]
    rhs_suffix: str = ""

    @property
    def lines(self) -> list[str]:
        return [to_display(ln) for ln in self.parse_lines]

    @property
    def latex(self) -> str:
        """The un-broken displayed string (``" ".join(lines)``)."""
        return " ".join(self.lines)

    @property
    def parse_latex(self) -> str:
        """The un-broken parseable string (``" ".join(parse_lines)``)."""
        return " ".join(self.parse_lines)


def _OBJ_TEX():
    import vocabulary as V
    return {k: (f"({o.tex})" if " " in o.tex else o.tex) for k, o in V.OBJECTIVES.items()}


def _basis_tex(bn: str) -> str:
    """The basis *name* as LaTeX subscript (``yy``, ``\\perp``): the same subscript as the
    coordinates ``K_{\\perp}``, ``G_{\\perp}``, so one basis matrix has one name."""
    import vocabulary as V
    return V.BASIS[_TL()._MANIFOLD_BASIS.get(bn, bn)].tex


def _basis_name(bn: str) -> str:
    return _TL()._MANIFOLD_BASIS.get(bn, bn)


#: (registry name, left-hand side, section, description)
_DERIVED = [
    ("expected_loss", r"L_n", "loss",
     r"$L_n(a,b,q,\alpha,\beta,h;\ \theta)$ on the invariant manifold for the unit task "
     r"$\theta=\kappa\theta_0+\rho\theta_\perp$ ($\kappa^2+\rho^2=1$, so $\rho$ is eliminated), "
     r"with $n$ demonstrations."),
    ("sphere_loss", r"\bar L_n", "loss",
     r"Sphere average $\bar L_n=\mathbb{E}_{\theta\sim\mathrm{Unif}(S^{d-1})} L_n$ (unseen tasks)."),
    ("pretrain_loss", r"L_{\mathrm{pre}}(c)", "loss",
     r"Pretraining loss $\mathbb{E}_\theta L_m$ on the isotropic family $V=e_ye_y^\top$, "
     r"$W=c\,\mathrm{diag}(0,I_d,0)$."),
    ("zs", r"\mathrm{ZS}", "loss", r"Zero-shot objective $\mathrm{ZS}=L_0(\theta_0)$."),
    ("fs", r"\mathrm{FS}", "loss", r"Few-shot objective $\mathrm{FS}=L_N(\theta_0)$."),
    ("pretrain.c_star", r"c^\star", "opt", r"Exact minimiser of $L_{\mathrm{pre}}(c)$."),
    ("pretrain.min_loss", r"L_{\mathrm{pre}}(c^\star)", "opt", r"Pretraining error at $c^\star$."),
    ("zs.v.a", r"a_{\mathrm{ZS},V}", "opt", r"V-only ZS optimum ($b$ is not moved)."),
    ("zs.v.min_loss", r"\min_V \mathrm{ZS}", "opt", r"Zero-shot error after V-only ZS fine-tuning."),
    ("zsfs.v.a", r"a_{\mathrm{ZS+FS},V}", "opt", r"V-only $\mathrm{ZS}+\lambda\,\mathrm{FS}$ optimum, $a$."),
    ("zsfs.v.b", r"b_{\mathrm{ZS+FS},V}", "opt", r"V-only $\mathrm{ZS}+\lambda\,\mathrm{FS}$ optimum, $b$."),
    ("fs.b_at_zs_a", r"b^\star_{\mathrm{FS}}", "opt",
     r"FS-optimal $b$ at fixed $a=1/(c(d+4))$."),
    ("fs.cb_at_zs_a", r"w^\star(N) = c\,b^\star_{\mathrm{FS}}", "opt", r"The authors' $w^\star(N)$."),
    ("zs.all.min_gram", r"G_{\mathrm{ZS}}", "opt",
     r"$\mathrm{ZS}=\sigma^2+u^\top G_{\mathrm{ZS}} u$ with $u=(aq-1,\ a\alpha,\ a(\beta-\alpha))$; "
     r"$G_{\mathrm{ZS}}$ is positive definite for $d\ge 2$, so the global minimisers have $aq=1$, $\alpha=\beta=0$."),
    ("balancedness", r"|v|^2 - \|W\|_F^2", "inv",
     r"Balancedness $|v|^2-\|W\|_F^2$ on the manifold, conserved by the full gradient flow of "
     r"every objective."),
    ("zs.all.flow_limit.equation", "", "inv",
     r"The full ZS flow from the pretrained point conserves the balancedness; assuming it "
     r"converges to a global ZS minimiser, its limit solves"),
    ("zs.all.flow_limit.a", r"a_\infty", "inv", r"Limit of $a$ along the full ZS flow."),
    ("zs.all.flow_limit.q", r"q_\infty", "inv", r"Limit of $q = 1/a$ along the full ZS flow."),
]
#: registry names that are not displayed, with the reason (stated in the document)
_NOT_DISPLAYED = {
    "pretrain_objective": r"$L_{\mathrm{pre}}$ on the whole manifold is $\bar L_n$ at $n=m$",
    "zsfs": r"$\mathrm{ZS}+\lambda\,\mathrm{FS}$ is the sum of the two displays above",
}


@functools.lru_cache(maxsize=None)
def _groups() -> tuple:
    """Recurring groups named once: ``(symbol, LaTeX name, definition, description,
    section)``.  ``R`` is the pretraining normaliser; ``A_{..}`` are the coefficients of
    ``L_n`` as a quadratic in the value coordinates ``(a, b)`` (the prediction is linear in
    the value row, so ``L_n`` is a quadratic form in it)."""
    S = _symbols()
    R = sp.Symbol("R", positive=True)
    out = [(R, "R", S.m + 1 + S.d * (1 + S.sigma2),
            r"the denominator of $c^\star$, so $c^\star = (m+1)/R$", "opt")]
    Z = sp.Symbol("Z", positive=True)
    out.append((Z, "Z", _common_denominator("zsfs.v.a", "zsfs.v.b"),
                r"the common denominator of the V-only $\mathrm{ZS}+\lambda\,\mathrm{FS}$ optimum", "opt"))
    for mono, name, _coef in _loss_split():
        out.append((sp.Symbol(f"A_{{{name}}}", real=True), f"A_{{{name}}}", _coef,
                    f"coefficient of ${mono}$ in $L_n$", "loss"))
    return tuple(out)


def _common_denominator(*names) -> sp.Expr:
    """The largest polynomial factor (in ``d``, free of ``c``) shared by the denominators
    of the registered expressions ``names``, collected for display."""
    TL = _TL()
    S = _symbols()
    shared = None
    for nm in names:
        _num, den = sp.fraction(sp.together(TL.derived(nm)))
        facs = {f for f in sp.Mul.make_args(sp.factor(den)) if isinstance(f.as_base_exp()[0], sp.Add)
                and S.c not in f.free_symbols}
        shared = facs if shared is None else shared & facs
    if not shared:
        raise RuntimeError(f"no common denominator factor in {names}")
    return max(shared, key=lambda f: (len(sp.Add.make_args(sp.expand(f))), sp.default_sort_key(f)))


@functools.lru_cache(maxsize=None)
def _loss_split() -> tuple:
    """``((monomial LaTeX, group subscript, coefficient), ...)`` of ``L_n`` as a polynomial
    in ``a, b``; the coefficients are exact rational functions."""
    S = _symbols()
    e = _unit_task(_TL().derived("expected_loss"))
    num, den = sp.fraction(sp.together(e))
    poly = sp.Poly(sp.expand(num), S.a, S.b)
    names = {(2, 0): ("a^2", "aa"), (1, 1): ("ab", "ab"), (0, 2): ("b^2", "bb"),
             (1, 0): ("a", "a"), (0, 1): ("b", "b"), (0, 0): ("1", "0")}
    out = []
    for monom, coef in poly.terms():
        mono_tex, sub = names[monom]
        out.append((mono_tex, sub, sp.cancel(coef / den)))
    return tuple(out)


def _unit_task(expr):
    """``expr`` on unit tasks: ``rho^2 = 1 - kappa^2`` (``|theta|^2 = kappa^2 + rho^2 = 1``).
    ``rho`` enters ``L_n`` only through ``rho^2``; the substitution is exact there and
    refused otherwise."""
    S = _symbols()
    out = sp.expand(expr.subs(S.rho, sp.sqrt(1 - S.kappa ** 2)))
    if out.has(sp.sqrt(1 - S.kappa ** 2)):
        raise RuntimeError("rho enters with an odd power; the unit-task form does not apply")
    return out


def _loss_split_expr():
    """``L_n`` written with the group symbols ``A_{..}`` (equal to ``L_n`` once they are
    replaced by their definitions)."""
    S = _symbols()
    syms = {g[1]: g[0] for g in _groups()}
    monos = {"aa": S.a ** 2, "ab": S.a * S.b, "bb": S.b ** 2, "a": S.a, "b": S.b, "0": sp.Integer(1)}
    return sp.Add(*[monos[sub] * syms[f"A_{{{sub}}}"] for _m, sub, _c in _loss_split()])


def _name_groups(expr):
    """Replace a factor equal to a group definition by the group symbol (exact)."""
    if not isinstance(expr, sp.Expr):
        return expr
    out = []
    for f in sp.Mul.make_args(expr):
        base, ex = f.as_base_exp()
        for sym, _name, definition, _desc, _sec in _groups():
            if _sec != "opt":
                continue
            if isinstance(base, sp.Add) and sp.expand(base - definition) == 0:
                f = sym ** ex
                break
        out.append(f)
    return sp.Mul(*out)


@functools.lru_cache(maxsize=None)
def _merged_gradients() -> tuple:
    """``((objective, matrix, basis, coefficient), ...)`` of the merged form, subset ``all``
    (a coefficient does not depend on which other matrices are trained)."""
    from theory import gradient
    objs, _subsets_ = _subsets()
    out = []
    for obj in objs:
        res = gradient(obj, "all", "merged")
        for M, co in res.matrices.items():
            for bn in sorted(co, key=lambda x: _BASIS_ORDER.index(_basis_name(x))):
                out.append((obj, M, _basis_name(bn), co[bn]))
    return tuple(out)


_BASIS_ORDER = ("yy", "yt", "ty", "tt", "0", "perp")


def _subsets():
    from theory.gradients import OBJECTIVE_NAMES, SUBSETS
    return OBJECTIVE_NAMES, SUBSETS


def _make(key, lhs, expr, suffix="", group=True, shown=None) -> ExportedExpr:
    if isinstance(expr, sp.MatrixBase):
        shown = tidy(expr)
        return ExportedExpr(key, lhs, expr, [to_latex(shown)], suffix)
    if shown is None:
        shown = tidy(expr)
        if group:
            shown = _name_groups(shown)
    offset = _visual_width(lhs) + 3 if lhs else 0.0
    return ExportedExpr(key, lhs, expr, break_lines(shown, offset), suffix)


def _grad_key(obj, M, bn) -> str:
    return f"grad.{obj}.merged.{M}.{bn}"


@functools.lru_cache(maxsize=None)
def _all_exports() -> tuple:
    TL = _TL()
    out = []
    for sym, name, definition, _desc, _sec in _groups():
        out.append(_make(f"group.{name}", name, definition, group=False))
    for name, lhs, _sec, _desc in _DERIVED:
        e = TL.derived(name)
        suffix = " = 0" if name.endswith(".equation") else ""
        shown = _loss_split_expr() if name == "expected_loss" else None
        if name == "expected_loss":
            e = _unit_task(e)
        # c* itself is shown whole, (m+1)/(d(sigma^2+1)+m+1); R names it in what follows
        out.append(_make(name, "" if suffix else lhs, e, suffix, shown=shown, group=name != "pretrain.c_star"))
    OT = _OBJ_TEX()
    for obj, M, bn, e in _merged_gradients():
        if obj == "zsfs":
            continue  # linear: grad(ZS + lam FS) = grad ZS + lam grad FS, stated in the text
        lhs = rf"\big[\nabla_{{{M}}} {OT[obj]}\big]_{{{_basis_tex(bn)}}}"
        out.append(_make(_grad_key(obj, M, bn), lhs, e))
    S = _symbols()
    for sym, e in TL.separate_substitution_named().items():
        out.append(_make(f"separate.W.{sym}", TL.SYMBOL_NAMES[sym], e))
    for M, co in TL.chain_rule().items():
        for bn, e in co.items():
            lhs = rf"\big[\nabla_{{{M}}} F\big]_{{{_basis_tex(bn)}}}"
            out.append(_make(f"separate.chain.{M}.{bn}", lhs, e))
    del S
    return tuple(out)


def exported_expressions() -> list[ExportedExpr]:
    """Every expression the document displays (groups, losses, gradients, chain rule,
    optima, invariants)."""
    return list(_all_exports())


# --------------------------------------------------------------------------- round trip


@functools.lru_cache(maxsize=None)
def _back_map() -> dict:
    """Parsed Symbol -> theory symbol (``s`` -> ``sqrt(sigma2)``, a group symbol -> its
    definition), found by parsing each name on its own, so the map always matches the
    parser's naming."""
    S = _symbols()
    out = {}
    for sym, name in _names().items():
        parsed = _parse(_sigma_alias(name))
        if not isinstance(parsed, sp.Symbol):
            raise RuntimeError(f"export name {name!r} does not parse to a symbol")
        out[parsed] = sp.sqrt(S.sigma2) if sym is _noise_std() else sym
    for _sym, name, definition, _desc, _sec in _groups():
        parsed = _parse(name)
        if not isinstance(parsed, sp.Symbol) or parsed in out:
            raise RuntimeError(f"group name {name!r} does not parse to a new symbol")
        out[parsed] = definition
    return out


_SIGMA = re.compile(r"\\sigma(?![A-Za-z])")


def _sigma_alias(text: str) -> str:
    """SymPy's lark grammar has no ``\\sigma`` (``greek_symbols.lark``: "TODO: What should we
    do about sigma?"), so the round trip reads the noise scale through the one-letter alias
    ``s``."""
    return _SIGMA.sub("s", text)


@functools.lru_cache(maxsize=4096)
def _parse(s: str):
    import warnings

    from sympy.parsing.latex import parse_latex
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_latex(s, backend="lark")


def parse_exported(expr_latex: str):
    """Parse parseable LaTeX written by this module back to SymPy with ``theory.symbols``
    (each distinct string is parsed once).  Returns ``None`` when the parser fails, is
    ambiguous or yields unknown symbols."""
    try:
        parsed = _parse(_sigma_alias(expr_latex))
    except Exception:
        return None
    if not isinstance(parsed, (sp.Expr, sp.MatrixBase)):
        return None  # e.g. an ambiguous lark Tree or a differential tuple
    back = _back_map()
    if any(s not in back for s in parsed.free_symbols):
        return None
    return parsed.xreplace(back)


def _equal(x, y) -> bool:
    diff = sp.together(x - y)
    if diff == 0:
        return True
    num, _den = sp.fraction(diff)
    if sp.expand(num) == 0:
        return True
    return sp.cancel(diff) == 0


def roundtrip_check(expr_latex: str, original, displayed: str | None = None) -> bool:
    """True when SymPy's lark LaTeX parser reads the parseable ``expr_latex`` back to
    ``original`` and (when given) ``displayed == to_display(expr_latex)``."""
    if displayed is not None and to_display(expr_latex) != displayed:
        return False
    parsed = parse_exported(expr_latex)
    if parsed is None:
        return False
    if isinstance(original, sp.MatrixBase) or isinstance(parsed, sp.MatrixBase):
        if not (isinstance(original, sp.MatrixBase) and isinstance(parsed, sp.MatrixBase)):
            return False
        if parsed.shape != original.shape:
            return False
        return all(_equal(p, o) for p, o in zip(parsed, original))
    return _equal(parsed, original)


def roundtrip_export(ex: ExportedExpr) -> bool:
    """:func:`roundtrip_check` of one display: its parseable text parses back to its
    expression and maps line by line to the displayed lines."""
    if [to_display(ln) for ln in ex.parse_lines] != ex.lines:
        return False
    return roundtrip_check(ex.parse_latex, ex.expr, to_display(ex.parse_latex))


# --------------------------------------------------------------------------- text

def _safe_math(s: str) -> str | None:
    """A claim's own LaTeX statement, if it is safe to typeset (balanced braces, no
    environment or dangerous commands); Unicode symbols mapped to math commands."""
    if not s:
        return None
    if re.search(r"\\(begin|end|input|include|write|def|newcommand|renewcommand|let|"
                 r"catcode|immediate|openout|usepackage|documentclass|\[|\])\b", s):
        return None
    if "$" in s or "\n\n" in s or "%" in s:
        return None
    depth = 0
    for ch in s:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return None
    if depth != 0:
        return None
    out = []
    for ch in s:
        if ch in UNICODE_MATH:
            out.append(" " + UNICODE_MATH[ch] + " ")
        elif ord(ch) > 126:
            return None
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------- document

_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath}
\usepackage{amssymb}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt}
\title{iclft: derived expressions and verified claims}
\author{generated by \texttt{iclft export-latex}}
\date{}
\begin{document}
\maketitle
\sloppy
"""

_CONVENTIONS = r"""\section{Conventions}
Linear attention model of \emph{Fine-Tuning Without Forgetting In-Context Learning: A
Theoretical Analysis of Linear Attention Models} (Lee, Sohn, Lee, 2026), with the
conventions of the project's \texttt{docs/theory.md}; every expression below was derived by
\texttt{iclft} (SymPy, dimension-free: $d$ and $n$ are symbols).
\begin{itemize}
\item Feature dimension $d\ge 1$, $D=d+2$. A token is $z=(1,x,y)$: index $0$ is the constant
  $1$, indices $1..d$ hold $x$, index $d+1$ holds the label $y$. Demonstrations
  $x_i\sim N(0,I_d)$, $y_i=\theta^\top x_i+\varepsilon_i$, $\varepsilon_i\sim N(0,\sigma^2)$;
  the query token is $z_q=(1,x_q,0)$ with target $y_q=\theta^\top x_q+\varepsilon_q$.
\item Prediction $\hat y = e_y^\top V S W z_q$ with
  $S=\frac{1}{n+1}\bigl(\sum_{i=1}^n z_iz_i^\top + z_qz_q^\top\bigr)$: the query is part of the
  sum and the normalisation is by the token count $n+1$.
\item $W$ is the merged key-query matrix acting on the query; code that keeps tokens as rows and
  computes $\mathrm{Attn}=ZMZ^\top$ has $M=W^\top$. Separate form: $W=K^\top Q$.
\item Loss $L_n(V,W;\theta)=\mathbb{E}(\hat y-y_q)^2$ (it includes the noise floor $\sigma^2$).
  Pretraining: $L_{\mathrm{pre}}=\mathbb{E}_{\theta\sim\mathrm{Unif}(S^{d-1})}L_m$. Fine-tuning
  towards $\theta_0$, $|\theta_0|=1$: $\mathrm{ZS}=L_0(\theta_0)$, $\mathrm{FS}=L_N(\theta_0)$
  and $\mathrm{ZS}+\lambda\,\mathrm{FS}$.
\item Basis of the invariant algebra ($t=(0,\theta_0,0)$, $\Pi$ the $x$-block
  $I_d-\theta_0\theta_0^\top$ with $\|\Pi\|_F^2=d-1$); the basis names are the subscripts:
  \[ e_0e_0^\top\ (0),\quad tt^\top\ (tt),\quad te_y^\top\ (ty),\quad e_yt^\top\ (yt),\quad
     e_ye_y^\top\ (yy),\quad \Pi\ (\perp). \]
\item Merged coordinates: $V = a\,e_yt^\top + b\,e_ye_y^\top$ (value row $v=(0,a\theta_0,b)$) and
  $W = q\,e_0e_0^\top + \beta\,tt^\top + h\,e_yt^\top + \alpha\,\Pi$ (column $y$ of $W$ never
  enters). Pretrained point $a=0$, $b=1$, $q=0$, $\alpha=\beta=c$, $h=0$. An evaluation task is
  $\theta=\kappa\theta_0+\rho\theta_\perp$.
\item Separate coordinates: $K=\sum_B K_B\,B$ over the six basis names, e.g.
  $K = K_{0}\,e_0e_0^\top+K_{tt}\,tt^\top+K_{ty}\,te_y^\top+K_{yt}\,e_yt^\top+K_{yy}\,e_ye_y^\top+K_{\perp}\,\Pi$
  (same for $Q$); pretrained point $K_{tt}=K_{\perp}=Q_{tt}=Q_{\perp}=\sqrt{c}$, all others $0$.
\item A gradient is written $\nabla_M F=\sum_B [\nabla_M F]_B\,B$ (full Frobenius gradient of
  the $D\times D$ matrix); gradient flow moves $M$ by $-\nabla_M F$, so
  $\dot\alpha = -[\nabla_W F]_\Pi$ already carries the metric factor $1/(d-1)$.
\end{itemize}
Symbols: $d$, $n$ (shots of the evaluated loss), $N$ (fine-tuning shots), $m$ (pretraining
shots), $\lambda$ (fine-tuning weight), $c$ (pretrained scale), $\sigma^2$ (label noise).
Every display is read back by SymPy's LaTeX parser (lark backend) to an expression equal to
the derived one (the check inserts the explicit products the parser needs).
"""


def _display(ex: ExportedExpr) -> str:
    lines = list(ex.lines)
    lines[-1] = lines[-1] + ex.rhs_suffix
    lhs = ex.lhs
    if len(lines) == 1:
        return rf"\[ {lhs + ' = ' if lhs else ''}{lines[0]} \]" + "\n"
    head = rf"{lhs} &= " if lhs else "& "
    body = [head + lines[0]] + [r"&\quad " + ln for ln in lines[1:]]
    return "\\begin{align*}\n" + " \\\\\n".join(body) + "\n\\end{align*}\n"


def display_math(lhs: str, expr) -> str:
    """``lhs = expr`` as display mathematics for ``$$...$$`` (``derive --latex``): broken by
    :func:`break_lines`, the line breaker of the document, into an ``aligned`` block when
    it does not fit on one line."""
    lines = [to_display(ln) for ln in break_lines(expr, _visual_width(lhs) + 3)]
    if len(lines) == 1:
        return f"{lhs} = {lines[0]}"
    body = [f"{lhs} &= {lines[0]}"] + [r"&\quad " + ln for ln in lines[1:]]
    return "\\begin{aligned}\n" + " \\\\\n".join(body) + "\n\\end{aligned}"


def _expressions_tex() -> tuple[str, int]:
    exports = {e.key: e for e in exported_expressions()}
    desc = {name: text for name, _lhs, _sec, text in _DERIVED}
    secs = {"loss": [], "opt": [], "inv": []}
    for name, _lhs, sec, _text in _DERIVED:
        secs[sec].append(exports[name])
    parts = [r"\section{Derived losses}", ""]
    for e in secs["loss"]:
        parts.append(rf"\paragraph{{\texttt{{{escape_text(e.key)}}}}} {desc[e.key]}")
        parts.append(_display(e))
        if e.key == "expected_loss":
            parts.append(r"The prediction is linear in the value row, so $L_n$ is a quadratic "
                         r"in $(a, b)$, with coefficients")
            for _sym, name, _definition, _gdesc, sec in _groups():
                if sec == "loss":
                    parts.append(_display(exports[f"group.{name}"]))
    parts.append("Not displayed: " + "; ".join(_NOT_DISPLAYED.values()) + ".\n")

    OT = _OBJ_TEX()
    parts.append(r"\section{Gradients}")
    parts.append(r"\subsection{Merged form}")
    parts.append("Frobenius gradients of each objective with respect to $V$ and $W$ on the named "
                 "basis. A coefficient does not depend on which other matrices are trained, so "
                 r"the subsets \texttt{all}, \texttt{v}, \texttt{w} share these. Coefficients not "
                 "listed are $0$.\n")
    objs, _ = _subsets()
    parts.append(r"$\mathrm{ZS}+\lambda\,\mathrm{FS}$ is linear in its terms: "
                 r"$\nabla(\mathrm{ZS}+\lambda\,\mathrm{FS}) = \nabla\mathrm{ZS} + \lambda\,\nabla\mathrm{FS}$.")
    for obj in objs:
        if obj == "zsfs":
            continue
        parts.append(rf"\paragraph{{${OT[obj]}$.}}")
        for o, M, bn, _e in _merged_gradients():
            if o == obj:
                parts.append(_display(exports[_grad_key(obj, M, bn)]))
    parts.append(r"\subsection{Separate form $W = K^\top Q$ (chain rule)}")
    parts.append(r"For every objective $F$ and subset (\texttt{all}, \texttt{v}, \texttt{kq}, "
                 r"\texttt{k}, \texttt{q}): $\nabla_V F$ is the merged $\nabla_V F$ and "
                 r"$G = \nabla_W F = G_{0}\,e_0e_0^\top + G_{tt}\,tt^\top + G_{yt}\,e_yt^\top + "
                 r"G_{\perp}\,\Pi$ has the merged coefficients above, both evaluated at the merged "
                 r"coordinates of $W = K^\top Q$:")
    for sym_key in [k for k in exports if k.startswith("separate.W.")]:
        parts.append(_display(exports[sym_key]))
    parts.append(r"Then $dF = \langle G, dK^\top Q + K^\top dQ\rangle_F$ gives "
                 r"$\nabla_K F = Q\,G^\top$ and $\nabla_Q F = K\,G$, whose coefficients are")
    for key in [k for k in exports if k.startswith("separate.chain.")]:
        parts.append(_display(exports[key]))
    parts.append("(other coefficients $0$). A frozen matrix keeps its coordinates.\n")

    parts.append(r"\section{Optima and invariants}")
    for sym, name, _definition, gdesc, sec in _groups():
        if sec != "opt":
            continue
        parts.append(rf"\paragraph{{Named group ${name}$}} ({gdesc})")
        parts.append(_display(exports[f"group.{name}"]))
    for e in secs["opt"] + secs["inv"]:
        parts.append(rf"\paragraph{{\texttt{{{escape_text(e.key)}}}}} {desc[e.key]}")
        parts.append(_display(e))
    return "\n".join(parts), len(exports)


_STATUS_TEX = {"verified": r"\textbf{verified}", "refined": r"\textbf{refined}", "refuted": r"\textbf{REFUTED}",
               "error": r"\textbf{ERROR}"}


def _claim_tex(r) -> str:
    """One claim: status, statement (marked text, :mod:`proofs_check.export.prose`), its LaTeX
    display, the evidence items with their details in words, region, disagreements,
    counterexample and a summary of the grid (the full grid is in the JSON)."""
    out = [rf"\subsection*{{\texttt{{{escape_text(r.id)}}}: {as_latex(r.title)}}}",
           rf"Status: {_STATUS_TEX.get(r.status, escape_text(r.status))}"
           + (rf" ({r.seconds:.2f}\,s)" if getattr(r, "seconds", None) else "") + r".\par",
           as_latex(r.statement)]
    math = _safe_math(getattr(r, "latex", "") or "")
    if math:
        out.append(rf"\[ {math} \]")
    if getattr(r, "error", None):
        out.append(r"\textbf{Error:} " + as_latex(r.error))
    if r.evidence:
        out.append(r"\begin{itemize}")
        for ev in r.evidence:
            mark = ("pass" if ev.passed else r"\textbf{FAIL}") if getattr(ev, "asserted", True) else "info"
            line = rf"\item[{mark}] \emph{{{escape_text(ev.kind)}}}: {as_latex(ev.description)}"
            if ev.details:
                line += r"\\ {\small " + as_latex(details_prose(ev.details)) + "}"
            out.append(line)
        out.append(r"\end{itemize}")
    if getattr(r, "region", None):
        out.append(r"\par\textbf{Region:} " + as_latex(r.region) + r"\par")
    if getattr(r, "counterexample", None):
        cx = r.counterexample
        cfg = details_prose(cx.get("config", {}))
        det = details_prose(cx.get("details", {})) if cx.get("details") else None
        out.append(r"\par\textbf{Counterexample to the paper's wording:} " + as_latex(cfg)
                   + (r"; " + as_latex(det) if det else "") + r".\par")
    if getattr(r, "disagreements", None):
        out.append(r"\textbf{Disagreements with the paper or the authors' code:}")
        out.append(r"\begin{itemize}")
        out.extend(r"\item " + as_latex(x) for x in r.disagreements)
        out.append(r"\end{itemize}")
    if getattr(r, "grid", None):
        keys = list(dict.fromkeys(k for row in r.grid for k in row))
        fields = ", ".join(as_latex(field_words(k)) for k in keys)
        out.append(rf"\par\textbf{{Grid:}} {len(r.grid)} configurations (fields: {fields}).")
        shown = [row for row in r.grid if row.get("passed") is False or row.get("ok") is False]
        if shown:
            first = "; ".join("(" + as_latex(details_prose(row)) + ")" for row in shown[:3])
            out.append(as_latex(tx("Failing configurations: {}", len(shown))) + ", the first "
                       + first + (" (all in the JSON)." if len(shown) > 3 else "."))
    return "\n".join(out) + "\n\\par\\medskip\n"


def render_document(results, convention=None) -> str:
    """The whole standalone LaTeX document for a list of ``ClaimResult`` (``None``: the
    derivations only, no claims section); another ``convention`` than today's adds its
    paragraph to the conventions section (:func:`proofs_check.claims.conventions.convention_latex`)."""
    from proofs_check.claims.conventions import convention_latex
    conv_tex = convention_latex(convention)
    body, _count = _expressions_tex()
    if results is None:
        return _PREAMBLE + _CONVENTIONS + conv_tex + "\n" + body + "\n\\end{document}\n"
    results = list(results)
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    claims = [r"\section{Claims}", r"\sloppy",
              escape_text(f"{len(results)} claims: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))) + ".\n"]
    claims.extend(_claim_tex(r) for r in results)
    return (_PREAMBLE + _CONVENTIONS + conv_tex + "\n" + body + "\n" + "\n".join(claims)
            + "\n\\end{document}\n")


def export_latex(path, results=None, progress=False, claims=True, convention=None) -> dict:
    """Write the document to ``path`` atomically.

    Args:
        path: the output ``.tex`` file; its folder must exist and be writable (checked
            first, by :func:`proofs_check.storage.atomic.prepare_output`, before any computation).
        results: ``ClaimResult`` list; ``None`` runs every claim (when ``claims``).
        progress: print progress lines on stderr.
        claims: ``False`` exports the derivations only (no claims section, seconds).
        convention: a :class:`vocabulary.Convention` or its name; another than today's adds
            its paragraph and checks the claims under it (``not derived`` where no check runs).

    Returns:
        ``{"path", "expressions", "claims", "statuses", "seconds"}``.
    """
    t0 = time.perf_counter()
    prepare_output(path, kind="file")  # checked before the (slow) claims run

    def say(msg):
        if progress:
            print(f"export-latex: {msg}", file=sys.stderr, flush=True)

    if not claims:
        results = None
    elif results is None:
        from proofs_check.claims import registry
        from proofs_check.claims.conventions import run_under
        import vocabulary
        conv = vocabulary.convention_named(convention)
        reg = registry()
        results = []
        for i, cl in enumerate(reg, 1):
            say(f"claim {i}/{len(reg)} {cl.id}")
            results.append(run_under(cl, conv))
    say("deriving and rendering expressions")
    text = render_document(results) if convention in (None, "default") else render_document(results, convention)
    n_expr = len(exported_expressions())
    say(f"writing {path}")
    write_text_atomic(path, text)
    statuses = {}
    for r in results or ():
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {"path": str(path), "expressions": n_expr, "claims": len(results or ()),
            "statuses": statuses, "seconds": round(time.perf_counter() - t0, 3)}
