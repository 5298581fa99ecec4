r"""The content table of the LaTeX document: every expression it displays, each once.

:data:`DERIVED` lists the registered expressions shown (registry name, left-hand side,
section, description) and :data:`NOT_DISPLAYED` those left out, with the reason;
:func:`groups` names recurring sub-expressions (``R``, ``Z``, the coefficients ``A_{..}`` of
``L_n`` as a quadratic in ``(a, b)``); :func:`merged_gradients` lists the merged-form
gradient coefficients.  :func:`exported_expressions` gives every display as an
:class:`ExportedExpr`: tidied (:func:`theory.printing.tidy`), its groups named, broken into
lines (:func:`proofs_check.export.latex_lines.break_lines`).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

import vocabulary
from proofs_check.export.latex_lines import break_lines, visual_width
from theory import printing
from theory import symbols as S
from theory.gradients import OBJECTIVE_NAMES, gradient
from theory.printing import tidy, to_display, to_parseable

__all__ = ["ExportedExpr", "DERIVED", "NOT_DISPLAYED", "groups", "merged_gradients", "grad_key",
           "exported_expressions"]


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


def _basis_tex(bn: str) -> str:
    """The basis *name* as LaTeX subscript (``yy``, ``\\perp``): the same subscript as the
    coordinates ``K_{\\perp}``, ``G_{\\perp}``, so one basis matrix has one name."""
    return vocabulary.BASIS[printing.MANIFOLD_BASIS.get(bn, bn)].tex


def _basis_name(bn: str) -> str:
    return printing.MANIFOLD_BASIS.get(bn, bn)


#: (registry name, left-hand side, section, description)
DERIVED = [
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
NOT_DISPLAYED = {
    "pretrain_objective": r"$L_{\mathrm{pre}}$ on the whole manifold is $\bar L_n$ at $n=m$",
    "zsfs": r"$\mathrm{ZS}+\lambda\,\mathrm{FS}$ is the sum of the two displays above",
}


@functools.lru_cache(maxsize=None)
def groups() -> tuple:
    """Recurring groups named once: ``(symbol, LaTeX name, definition, description,
    section)``.  ``R`` is the pretraining normaliser; ``A_{..}`` are the coefficients of
    ``L_n`` as a quadratic in the value coordinates ``(a, b)`` (the prediction is linear in
    the value row, so ``L_n`` is a quadratic form in it)."""
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
    shared = None
    for nm in names:
        _num, den = sp.fraction(sp.together(printing.derived(nm)))
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
    e = _unit_task(printing.derived("expected_loss"))
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
    out = sp.expand(expr.subs(S.rho, sp.sqrt(1 - S.kappa ** 2)))
    if out.has(sp.sqrt(1 - S.kappa ** 2)):
        raise RuntimeError("rho enters with an odd power; the unit-task form does not apply")
    return out


def _loss_split_expr():
    """``L_n`` written with the group symbols ``A_{..}`` (equal to ``L_n`` once they are
    replaced by their definitions)."""
    syms = {g[1]: g[0] for g in groups()}
    monos = {"aa": S.a ** 2, "ab": S.a * S.b, "bb": S.b ** 2, "a": S.a, "b": S.b, "0": sp.Integer(1)}
    return sp.Add(*[monos[sub] * syms[f"A_{{{sub}}}"] for _m, sub, _c in _loss_split()])


def _name_groups(expr):
    """Replace a factor equal to a group definition by the group symbol (exact)."""
    if not isinstance(expr, sp.Expr):
        return expr
    out = []
    for f in sp.Mul.make_args(expr):
        base, ex = f.as_base_exp()
        for sym, _name, definition, _desc, _sec in groups():
            if _sec != "opt":
                continue
            if isinstance(base, sp.Add) and sp.expand(base - definition) == 0:
                f = sym ** ex
                break
        out.append(f)
    return sp.Mul(*out)


@functools.lru_cache(maxsize=None)
def merged_gradients() -> tuple:
    """``((objective, matrix, basis, coefficient), ...)`` of the merged form, subset ``all``
    (a coefficient does not depend on which other matrices are trained)."""
    out = []
    for obj in OBJECTIVE_NAMES:
        res = gradient(obj, "all", "merged")
        for M, co in res.matrices.items():
            for bn in sorted(co, key=lambda x: _BASIS_ORDER.index(_basis_name(x))):
                out.append((obj, M, _basis_name(bn), co[bn]))
    return tuple(out)


_BASIS_ORDER = ("yy", "yt", "ty", "tt", "0", "perp")


def _make(key, lhs, expr, suffix="", group=True, shown=None) -> ExportedExpr:
    if isinstance(expr, sp.MatrixBase):
        shown = tidy(expr)
        return ExportedExpr(key, lhs, expr, [to_parseable(shown)], suffix)
    if shown is None:
        shown = tidy(expr)
        if group:
            shown = _name_groups(shown)
    offset = visual_width(lhs) + 3 if lhs else 0.0
    return ExportedExpr(key, lhs, expr, break_lines(shown, offset), suffix)


def grad_key(obj, M, bn) -> str:
    return f"grad.{obj}.merged.{M}.{bn}"


@functools.lru_cache(maxsize=None)
def _all_exports() -> tuple:
    out = []
    for sym, name, definition, _desc, _sec in groups():
        out.append(_make(f"group.{name}", name, definition, group=False))
    for name, lhs, _sec, _desc in DERIVED:
        e = printing.derived(name)
        suffix = " = 0" if name.endswith(".equation") else ""
        shown = _loss_split_expr() if name == "expected_loss" else None
        if name == "expected_loss":
            e = _unit_task(e)
        # c* itself is shown whole, (m+1)/(d(sigma^2+1)+m+1); R names it in what follows
        out.append(_make(name, "" if suffix else lhs, e, suffix, shown=shown, group=name != "pretrain.c_star"))
    for obj, M, bn, e in merged_gradients():
        if obj == "zsfs":
            continue  # linear: grad(ZS + lam FS) = grad ZS + lam grad FS, stated in the text
        lhs = rf"\big[\nabla_{{{M}}} {printing.OBJECTIVE_TEX[obj]}\big]_{{{_basis_tex(bn)}}}"
        out.append(_make(grad_key(obj, M, bn), lhs, e))
    for sym, e in printing.separate_substitution_named().items():
        out.append(_make(f"separate.W.{sym}", printing.SYMBOL_NAMES[sym], e))
    for M, co in printing.chain_rule().items():
        for bn, e in co.items():
            lhs = rf"\big[\nabla_{{{M}}} F\big]_{{{_basis_tex(bn)}}}"
            out.append(_make(f"separate.chain.{M}.{bn}", lhs, e))
    return tuple(out)


def exported_expressions() -> list[ExportedExpr]:
    """Every expression the document displays (groups, losses, gradients, chain rule,
    optima, invariants)."""
    return list(_all_exports())
