r"""``iclft export-latex PATH``: a standalone LaTeX document of every derived expression
and of the claim results.

Conventions (THEORY.md sections 1-4): a token is ``z = (1, x, y)`` (index 0 is the
constant 1, indices ``1..d`` hold ``x``, index ``d+1`` holds ``y``); ``S`` sums the
demonstrations *and* the query and is normalised by the token count ``n+1``;
``yhat = e_y^T V S W z_q`` with the merged key-query matrix ``W`` (row-token code
``Attn = Z M Z^T`` has ``M = W^T``); the separate form is ``W = K^T Q``.

Every exported expression is printed so that SymPy's own LaTeX parser (lark backend)
reads it back to an expression equal to the original (:func:`roundtrip_check`).  The
stock lark grammar (SymPy 1.14) cannot read ``\sigma``, two-digit subscripts such as
``K_{00}``, ``K_{\theta_0 y}`` or implicit products like ``a^{2} b``, and it reads an
implicit ``d x`` as a differential.  The export therefore uses its own symbol names
(:data:`EXPORT_SYMBOL_NAMES`: the noise variance ``sigma2`` is written ``\sigma^{2}`` and read
back through the alias ``s`` (the only rewriting before parsing), the
separate-form coordinates ``K_{0} K_{tt} K_{ty} K_{yt} K_{yy} K_{p}``) and writes every
product with an explicit ``\cdot``.  ``theory.latex`` is left untouched.

User strings are never parsed as code: the only parser used is ``parse_latex`` on LaTeX
this module generated itself, and its symbols are mapped back to ``theory.symbols`` by
name.  The file is written atomically (:func:`proofs_check.atomic.write_text_atomic`).
"""
from __future__ import annotations

import functools
import re
import sys
import time
from dataclasses import dataclass

import sympy as sp

import vocabulary

from .atomic import write_text_atomic

__all__ = ["EXPORT_SYMBOL_NAMES", "NOISE_STD", "ExportedExpr", "to_latex", "tidy",
           "break_lines", "exported_expressions", "roundtrip_check", "parse_exported",
           "escape_text", "render_document", "export_latex", "LINE_TERMS", "LINE_CHARS",
           "LINE_WIDTH"]

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


#: the noise standard deviation, used only for display: ``sigma2 = s**2``
NOISE_STD = sp.Symbol("s", positive=True)

#: subscripts of the invariant-algebra coordinates (lark reads one digit or letters only)
_KEY_SUB = {k: ("p" if k == "perp" else k) for k in vocabulary.BASIS_NAMES}


@functools.lru_cache(maxsize=None)
def _export_names() -> dict:
    S = _symbols()
    names = {S.a: "a", S.b: "b", S.q: "q", S.alpha: r"\alpha", S.beta: r"\beta", S.h: "h",
             S.kappa: r"\kappa", S.rho: r"\rho", S.c: "c", S.d: "d", S.n: "n", S.N: "N",
             S.m: "m", S.lam: r"\lambda", NOISE_STD: r"\sigma"}
    names.update({S.K[k]: f"K_{{{_KEY_SUB[k]}}}" for k in S.INV_KEYS})
    names.update({S.Q[k]: f"Q_{{{_KEY_SUB[k]}}}" for k in S.INV_KEYS})
    return names


class _Names(dict):
    """Lazy view of the export symbol names (so importing this module stays cheap)."""

    def _d(self):
        return _export_names()

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


#: symbol -> LaTeX name used by the export (``sigma2`` itself is printed as ``\sigma^{2}``)
EXPORT_SYMBOL_NAMES = _Names()

_PRINT_SETTINGS = dict(mul_symbol="dot", mat_str="bmatrix", mat_delim="")


def _display_form(expr):
    """Substitute ``sigma2 = s**2`` (display only; exact since ``sigma2 >= 0``)."""
    S = _symbols()
    if S.sigma2 in getattr(expr, "free_symbols", ()):
        return expr.subs(S.sigma2, NOISE_STD ** 2)
    return expr


def _tex(expr) -> str:
    return sp.latex(expr, symbol_names=_export_names(), **_PRINT_SETTINGS)


def to_latex(expr) -> str:
    """Parseable LaTeX of a SymPy expression or matrix, without line breaks."""
    return _tex(_display_form(expr))


# --------------------------------------------------------------------------- tidy


@functools.lru_cache(maxsize=None)
def tidy(expr):
    """Readable normal form: full factorisation when cheap, otherwise the common content
    pulled out of the numerator (``factor_terms``) over the factored denominator."""
    if not isinstance(expr, sp.Expr) or expr.is_Atom:
        return expr
    num, den = sp.fraction(sp.together(expr))
    nterms = len(sp.Add.make_args(sp.expand(num)))
    if nterms <= FACTOR_MAX_TERMS and len(expr.free_symbols) <= FACTOR_MAX_SYMBOLS:
        return sp.factor(expr)
    return sp.factor_terms(sp.expand(num)) / sp.factor(den)


# --------------------------------------------------------------------------- breaking

_FRAC = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_SCRIPT = re.compile(r"[_^]\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\{([^{}]*)\}")
_GROUP = re.compile(r"\{([^{}]*)\}")


def _visual_width(s: str) -> float:
    """Rough rendered width of math LaTeX, in characters (fractions count their wider
    part, scripts count 0.7, binary operators count 2)."""
    s = s.replace(r"\left", "").replace(r"\right", "")
    s = re.sub(r"\\cdot", "\x01", s)
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
    ops = sum(s.count(ch) for ch in "+-=\x01")
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
    """One exported display: ``lhs = lines`` (``lhs`` is prose LaTeX, not parsed);
    ``latex`` is the un-broken expression string (``" ".join(lines)``), ``expr`` the
    original SymPy object, ``rhs_suffix`` LaTeX printed after the expression (``= 0``)."""

    key: str
    lhs: str
    expr: object
    lines: list[str]
    rhs_suffix: str = ""

    @property
    def latex(self) -> str:
        return " ".join(self.lines)


def _obj_tex(name: str) -> str:
    """The objective's TeX name (:data:`vocabulary.OBJECTIVES`), parenthesised when it has
    several terms."""
    o = vocabulary.OBJECTIVES[name]
    return o.tex if len(o.terms) == 1 else f"({o.tex})"


_BASIS_TEX = {k: bs.tex_matrix for k, bs in vocabulary.BASIS.items()}
_BASIS_ORDER = ("yy", "yt", "ty", "tt", "0", "perp")

#: (registry name, left-hand side, section, description)
_DERIVED = [
    ("expected_loss", r"L_n", "loss",
     r"$L_n(a,b,q,\alpha,\beta,h;\ \theta)$ on the invariant manifold for the task "
     r"$\theta=\kappa\theta_0+\rho\theta_\perp$, with $n$ demonstrations."),
    ("sphere_loss", r"\bar L_n", "loss",
     r"Sphere average $\bar L_n=\mathbb{E}_{\theta\sim\mathrm{Unif}(S^{d-1})} L_n$ (unseen tasks)."),
    ("pretrain_loss", r"L_{\mathrm{pre}}(c)", "loss",
     r"Pretraining loss $\mathbb{E}_\theta L_m$ on the isotropic family $V=e_ye_y^\top$, "
     r"$W=c\,\mathrm{diag}(0,I_d,0)$."),
    ("pretrain_objective", r"L_{\mathrm{pre}}", "loss",
     r"Pretraining loss $\mathbb{E}_\theta L_m$ on the whole manifold ($\bar L_n$ at $n=m$)."),
    ("zs", r"\mathrm{ZS}", "loss", r"Zero-shot objective $\mathrm{ZS}=L_0(\theta_0)$."),
    ("fs", r"\mathrm{FS}", "loss", r"Few-shot objective $\mathrm{FS}=L_N(\theta_0)$."),
    ("zsfs", r"\mathrm{ZS} + \lambda\,\mathrm{FS}", "loss", r"Combined objective."),
    ("pretrain.c_star", r"c^\star", "opt", r"Exact minimiser of $L_{\mathrm{pre}}(c)$."),
    ("pretrain.min_loss", r"L_{\mathrm{pre}}(c^\star)", "opt", r"Pretraining error at $c^\star$."),
    ("zs.v.a", r"a_{\mathrm{ZS},V}", "opt", r"V-only ZS optimum ($b$ is not moved)."),
    ("zs.v.min_loss", r"\min_V \mathrm{ZS}", "opt", r"Zero-shot error after V-only ZS fine-tuning."),
    ("zsfs.v.a", r"a_{\mathrm{ZS+FS},V}", "opt", r"V-only $\mathrm{ZS}+\lambda\,\mathrm{FS}$ optimum, $a$."),
    ("zsfs.v.b", r"b_{\mathrm{ZS+FS},V}", "opt", r"V-only $\mathrm{ZS}+\lambda\,\mathrm{FS}$ optimum, $b$."),
    ("fs.b_at_zs_a", r"b^\star_{\mathrm{FS}}", "opt",
     r"FS-optimal $b$ at fixed $a=1/(c(d+4))$."),
    ("fs.cb_at_zs_a", r"w^\star(N) = c\,b^\star_{\mathrm{FS}}", "opt", r"The authors' $w^\star(N)$."),
    ("zs.all.min_gram", r"G", "opt",
     r"$\mathrm{ZS}=\sigma^2+u^\top G u$ with $u=(aq-1,\ a\alpha,\ a(\beta-\alpha))$; "
     r"$G$ is positive definite for $d\ge 2$, so the global minimisers have $aq=1$, $\alpha=\beta=0$."),
    ("balancedness", r"|v|^2 - \|W\|_F^2", "inv",
     r"Balancedness $|v|^2-\|W\|_F^2$ on the manifold, conserved by the full gradient flow of "
     r"every objective."),
    ("zs.all.flow_limit.equation", "", "inv",
     r"The full ZS flow from the pretrained point conserves the balancedness; assuming it "
     r"converges to a global ZS minimiser, its limit solves"),
    ("zs.all.flow_limit.a", r"a_\infty", "inv", r"Limit of $a$ along the full ZS flow."),
    ("zs.all.flow_limit.q", r"q_\infty", "inv", r"Limit of $q = 1/a$ along the full ZS flow."),
]


def _subsets():
    from theory.gradients import SUBSETS
    return tuple(vocabulary.OBJECTIVES), SUBSETS


@functools.lru_cache(maxsize=None)
def _gradient_blocks() -> tuple:
    """``((objective, form, [(subset, matrices)], [(matrix, basis, subsets, expr)]), ...)``;
    a coefficient shared by several subsets (it does not depend on which other matrices
    train) is listed once."""
    from theory import gradient
    objs, subsets = _subsets()
    blocks = []
    for obj in objs:
        for form, subs in subsets.items():
            trained = []
            coefs: dict = {}
            for sub in subs:
                res = gradient(obj, sub, form)
                trained.append((sub, tuple(res.matrices)))
                for M, co in res.matrices.items():
                    for bn in sorted(co, key=_BASIS_ORDER.index):
                        e = co[bn]
                        lst = coefs.setdefault((M, bn), [])
                        for entry in lst:
                            if entry[1] == e:
                                entry[0].append(sub)
                                break
                        else:
                            lst.append(([sub], e))
            items = []
            for (M, bn), lst in coefs.items():
                for subs_, e in lst:
                    items.append((M, bn, tuple(subs_), e))
            blocks.append((obj, form, tuple(trained), tuple(items)))
    return tuple(blocks)


def _make(key, lhs, expr, suffix="") -> ExportedExpr:
    if isinstance(expr, sp.MatrixBase):
        return ExportedExpr(key, lhs, expr, [to_latex(expr)], suffix)
    offset = _visual_width(lhs) + 3 if lhs else 0.0
    return ExportedExpr(key, lhs, expr, break_lines(tidy(expr), offset), suffix)


def _grad_key(obj, form, M, bn, subs) -> str:
    return f"grad.{obj}.{form}.{'+'.join(subs)}.{M}.{bn}"


@functools.lru_cache(maxsize=None)
def _all_exports() -> tuple:
    import theory.latex  # noqa: F401  (module, not the function re-exported by theory)
    reg = sys.modules["theory.latex"]
    out = []
    for name, lhs, _sec, _desc in _DERIVED:
        e = reg.derived(name)
        suffix = " = 0" if name.endswith(".equation") else ""
        out.append(_make(name, "" if suffix else lhs, e, suffix))
    for obj, form, _trained, items in _gradient_blocks():
        for M, bn, subs, e in items:
            lhs = rf"\big[\nabla_{{{M}}} {_obj_tex(obj)}\big]_{{{_BASIS_TEX[bn]}}}"
            out.append(_make(_grad_key(obj, form, M, bn, subs), lhs, e))
    return tuple(out)


def exported_expressions() -> list[ExportedExpr]:
    """Every expression the document displays (losses, gradients, optima, invariants)."""
    return list(_all_exports())


# --------------------------------------------------------------------------- round trip


@functools.lru_cache(maxsize=None)
def _back_map() -> dict:
    """Parsed Symbol -> theory symbol (``s`` -> ``sqrt(sigma2)``), found by parsing each
    export name on its own, so the map always matches the parser's naming."""
    S = _symbols()
    out = {}
    for sym, name in _export_names().items():
        parsed = _parse(_sigma_alias(name))
        if not isinstance(parsed, sp.Symbol):
            raise RuntimeError(f"export name {name!r} does not parse to a symbol")
        out[parsed] = sp.sqrt(S.sigma2) if sym is NOISE_STD else sym
    return out


_SIGMA = re.compile(r"\\sigma(?![A-Za-z])")


def _sigma_alias(text: str) -> str:
    """SymPy's lark grammar has no ``\\sigma`` (``greek_symbols.lark``: "TODO: What should we
    do about sigma?"), so the round trip reads the noise scale through the one-letter alias
    ``s``.  This is the only rewriting applied before parsing."""
    return _SIGMA.sub("s", text)


def _parse(s: str):
    import warnings

    from sympy.parsing.latex import parse_latex
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_latex(s, backend="lark")


def parse_exported(expr_latex: str):
    """Parse LaTeX written by this module back to SymPy with ``theory.symbols``.
    Returns ``None`` when the parser fails, is ambiguous or yields unknown symbols."""
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


def roundtrip_check(expr_latex: str, original) -> bool:
    """True when SymPy's lark LaTeX parser reads ``expr_latex`` back to ``original``."""
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


# --------------------------------------------------------------------------- text

_UNICODE_MATH = {
    "θ": r"\theta", "σ": r"\sigma", "λ": r"\lambda", "α": r"\alpha", "β": r"\beta",
    "κ": r"\kappa", "ρ": r"\rho", "ε": r"\varepsilon", "η": r"\eta", "μ": r"\mu",
    "Σ": r"\Sigma", "Δ": r"\Delta", "∇": r"\nabla", "⊥": r"\perp", "≥": r"\geq",
    "≤": r"\leq", "≠": r"\neq", "≈": r"\approx", "→": r"\to", "⇒": r"\Rightarrow",
    "⇔": r"\Leftrightarrow", "∞": r"\infty", "·": r"\cdot", "×": r"\times", "−": "-",
    "±": r"\pm", "√": r"\surd", "∈": r"\in", "‖": r"\|", "∀": r"\forall",
    "⁰": "^0", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "ᵀ": r"^\top", "⊤": r"\top",
    "₀": "_0", "₁": "_1", "₂": "_2", "∂": r"\partial", "∑": r"\sum", "⟨": r"\langle",
    "⟩": r"\rangle",
}
_UNICODE_TEXT = {"—": "---", "–": "--", "‘": "`", "’": "'", "“": "``", "”": "''",
                 "…": r"\ldots{}", "\u00a0": "~"}
_TEXT_ESCAPE = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
                "#": r"\#", "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}",
                "<": r"$<$", ">": r"$>$", "|": r"$|$"}


_BREAK_AFTER = frozenset("*/=,;(")


def escape_text(s, breakable: bool = True) -> str:
    """Plain text -> LaTeX text mode: the specials ``\\ { } $ & # % _ ^ ~ < > |`` are
    escaped, known Unicode symbols become math, other non-ASCII becomes ``[U+XXXX]``.
    With ``breakable``, a line may break after ``* / = , ; (`` (long formulas in text)."""
    out = []
    for ch in str(s):
        if breakable and ch in _BREAK_AFTER:
            out.append(ch + r"\allowbreak{}")
        elif ch in _TEXT_ESCAPE:
            out.append(_TEXT_ESCAPE[ch])
        elif ch in _UNICODE_MATH:
            out.append("$" + _UNICODE_MATH[ch] + "$")
        elif ch in _UNICODE_TEXT:
            out.append(_UNICODE_TEXT[ch])
        elif ch == "\n":
            out.append(" ")
        elif ord(ch) < 32:
            out.append(" ")
        elif ord(ch) > 126:
            out.append(f"[U+{ord(ch):04X}]")
        else:
            out.append(ch)
    return "".join(out)


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
        if ch in _UNICODE_MATH:
            out.append(" " + _UNICODE_MATH[ch] + " ")
        elif ord(ch) > 126:
            return None
        else:
            out.append(ch)
    return "".join(out)


def _fmt_value(v, depth=0) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        items = list(v.items())
        body = ", ".join(f"{k}: {_fmt_value(x, depth + 1)}" for k, x in items[:8])
        return "{" + body + (", ..." if len(items) > 8 else "") + "}"
    if isinstance(v, (list, tuple)):
        body = ", ".join(_fmt_value(x, depth + 1) for x in list(v)[:8])
        return "[" + body + (", ..." if len(v) > 8 else "") + "]"
    try:
        import numpy as np
        if isinstance(v, np.generic):
            return _fmt_value(v.item(), depth)
        if isinstance(v, np.ndarray):
            return _fmt_value(v.tolist(), depth)
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def _short(s: str, limit: int = 400) -> str:
    return s if len(s) <= limit else s[: limit - 5] + " ..."


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
"""

_CONVENTIONS = r"""\section{Conventions}
Linear attention model of \emph{Fine-Tuning Without Forgetting In-Context Learning: A
Theoretical Analysis of Linear Attention Models} (Lee, Sohn, Lee, 2026), with the
conventions of the project's \texttt{THEORY.md}; every expression below was derived by
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
\item Reduced coordinates (the invariant manifold): value row $v=(0,a\theta_0,b)$ and
  \[ W=\begin{bmatrix} q & 0 & * \\ 0 & \alpha(I-\theta_0\theta_0^\top)+\beta\,\theta_0\theta_0^\top & * \\ 0 & h\,\theta_0^\top & * \end{bmatrix},\]
  pretrained point $a=0$, $b=1$, $q=0$, $\alpha=\beta=c$, $h=0$. An evaluation task is
  $\theta=\kappa\theta_0+\rho\theta_\perp$.
\item Named basis ($t=\bar\theta_0=(0,\theta_0,0)$): $e_ye_y^\top$, $e_yt^\top$, $te_y^\top$,
  $tt^\top$, $e_0e_0^\top$ and $\Pi$ = the $x$-block $I-\theta_0\theta_0^\top$
  ($\|\Pi\|_F^2=d-1$). A gradient is written $\nabla_M F=\sum_B [\nabla_M F]_B\,B$;
  gradient descent moves $M$ by $-\eta\nabla_M F$.
\item Separate form: $K$ and $Q$ lie in the invariant algebra,
  $K=K_{0}\,e_0e_0^\top+K_{tt}\,tt^\top+K_{ty}\,te_y^\top+K_{yt}\,e_yt^\top+K_{yy}\,e_ye_y^\top+K_{p}\,\Pi$
  (same for $Q$); pretrained point $K_{tt}=K_p=Q_{tt}=Q_p=\sqrt{c}$, all others $0$.
\end{itemize}
\paragraph{Notation in the displayed formulas.} So that every formula is read back exactly
by SymPy's LaTeX parser (lark backend), products are written with an explicit $\cdot$, the
noise variance is written $\sigma^{2}$ (SymPy's lark grammar has no $\sigma$, so the round-trip
check reads $\sigma$ through the alias $s$), and the separate-form
coordinate of $e_0e_0^\top$ is written $K_{0}$, $Q_{0}$. Symbols: $d$, $n$ (shots of the
evaluated loss), $N$ (fine-tuning shots), $m$ (pretraining shots), $\lambda$ (fine-tuning
weight), $c$ (pretrained scale).
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


def _expressions_tex() -> tuple[str, int]:
    exports = {e.key: e for e in exported_expressions()}
    parts = [r"\section{Derived losses}", ""]
    secs = {"loss": [], "opt": [], "inv": []}
    desc = {}
    for name, _lhs, sec, text in _DERIVED:
        secs[sec].append(exports[name])
        desc[name] = text
    for e in secs["loss"]:
        parts.append(rf"\paragraph{{\texttt{{{escape_text(e.key)}}}}} {desc[e.key]}")
        parts.append(_display(e))
    parts.append(r"\section{Gradient updates}")
    parts.append("Frobenius gradients of each objective with respect to the trained matrices, "
                 "as coefficients on the named basis; a coefficient does not depend on which "
                 "other matrices are trained, so each is shown once with the subsets it "
                 "belongs to. Coefficients not listed are $0$.\n")
    _objs, subsets = _subsets()
    for obj, form, trained, items in _gradient_blocks():
        parts.append(rf"\subsection{{${_obj_tex(obj)}$, {form} form}}")
        parts.append("Subsets: " + "; ".join(
            rf"\texttt{{{escape_text(s)}}} trains ${', '.join(ms)}$" for s, ms in trained) + ".\n")
        for M, bn, subs, _e in items:
            ex = exports[_grad_key(obj, form, M, bn, subs)]
            parts.append(rf"\textit{{subsets {escape_text(', '.join(subs))}}}:")
            parts.append(_display(ex))
    parts.append(r"\section{Optima and invariants}")
    for e in secs["opt"] + secs["inv"]:
        parts.append(rf"\paragraph{{\texttt{{{escape_text(e.key)}}}}} {desc[e.key]}")
        parts.append(_display(e))
    return "\n".join(parts), len(exports)


_STATUS_TEX = {"verified": r"\textbf{verified}", "refined": r"\textbf{refined}", "refuted": r"\textbf{REFUTED}",
               "error": r"\textbf{ERROR}"}


def _claim_tex(r) -> str:
    out = [rf"\subsection*{{\texttt{{{escape_text(r.id)}}}: {escape_text(r.title)}}}",
           rf"Status: {_STATUS_TEX.get(r.status, escape_text(r.status))}"
           + (rf" ({r.seconds:.2f}\,s)" if getattr(r, "seconds", None) else "") + r"\\",
           escape_text(r.statement)]
    math = _safe_math(getattr(r, "latex", "") or "")
    if math:
        out.append(rf"\[ {math} \]")
    if getattr(r, "error", None):
        out.append(r"\textbf{Error:} " + escape_text(_short(r.error)))
    if r.evidence:
        out.append(r"\begin{itemize}")
        for ev in r.evidence:
            mark = ("pass" if ev.passed else r"\textbf{FAIL}") if getattr(ev, "asserted", True) else "info"
            line = rf"\item[{mark}] [{escape_text(ev.kind)}] {escape_text(ev.description)}"
            if ev.details:
                det = "; ".join(f"{k} = {_fmt_value(v)}" for k, v in ev.details.items())
                line += r" \\ {\small " + escape_text(_short(det)) + "}"
            out.append(line)
        out.append(r"\end{itemize}")
    if getattr(r, "region", None):
        out.append(r"\par\textbf{Region:} " + escape_text(_short(str(r.region), 1500)))
    if getattr(r, "disagreements", None):
        out.append(r"\textbf{Disagreements with THEORY.md:}")
        out.append(r"\begin{itemize}")
        out.extend(r"\item " + escape_text(_short(str(x), 1500)) for x in r.disagreements)
        out.append(r"\end{itemize}")
    if getattr(r, "grid", None):
        keys = sorted({k for row in r.grid for k in row})
        out.append(rf"\par\textbf{{Grid:}} {len(r.grid)} configurations "
                   rf"(fields: {escape_text(', '.join(map(str, keys)))}).")
        shown = [row for row in r.grid if row.get("passed") is False or row.get("ok") is False]
        if shown:
            out.append(rf"Failing configurations ({len(shown)}): "
                       + escape_text(_short("; ".join(_fmt_value(row) for row in shown), 1200)))
    return "\n".join(out) + "\n"


def render_document(results) -> str:
    """The whole standalone LaTeX document for a list of ``ClaimResult``."""
    results = list(results)
    body, _count = _expressions_tex()
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    claims = [r"\section{Claims}", r"\sloppy",
              escape_text(f"{len(results)} claims: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))) + ".\n"]
    claims.extend(_claim_tex(r) for r in results)
    return (_PREAMBLE + _CONVENTIONS + "\n" + body + "\n" + "\n".join(claims)
            + "\n\\end{document}\n")


def export_latex(path, results=None, progress=False) -> dict:
    """Write the document to ``path`` atomically; run every claim when ``results`` is
    ``None``.  Returns ``{"path", "expressions", "claims", "statuses", "seconds"}``."""
    t0 = time.perf_counter()
    from pathlib import Path
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise ValueError(f"path: {str(target)!r} is a folder, not a file")
    if not folder.is_dir():  # checked before the (slow) claims run
        raise ValueError(f"path: folder {str(folder)!r} does not exist")

    def say(msg):
        if progress:
            print(f"export-latex: {msg}", file=sys.stderr, flush=True)

    if results is None:
        from .claims import registry, run_claim
        claims = registry()
        results = []
        for i, cl in enumerate(claims, 1):
            say(f"claim {i}/{len(claims)} {cl.id}")
            results.append(run_claim(cl))
    results = list(results)
    say("deriving and rendering expressions")
    text = render_document(results)
    n_expr = len(exported_expressions())
    say(f"writing {path}")
    write_text_atomic(path, text)
    statuses = {}
    for r in results:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return {"path": str(path), "expressions": n_expr, "claims": len(results),
            "statuses": statuses, "seconds": round(time.perf_counter() - t0, 3)}
