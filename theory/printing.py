r"""The one LaTeX printer of iclft: ``derive --latex``, ``theory.latex`` and ``export-latex``.

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.

Printing rules (one naming scheme, from :mod:`vocabulary`):

* products are implicit with standard spacing (``2 a^{2} \alpha d``), never ``\cdot``;
* the noise variance ``sigma2`` prints as ``\sigma^{2}`` (``sigma2 = sigma**2`` is
  substituted for display, so ``sigma2**2`` is ``\sigma^{4}``, not ``\sigma_{2}``);
* coordinates: ``a b q \alpha \beta h`` and ``K_{<basis>}``, ``Q_{<basis>}`` with the basis
  subscripts of :data:`vocabulary.BASIS` (``0 tt ty yt yy \perp``); basis matrices
  ``e_0 e_0^\top, t t^\top, t e_y^\top, e_y t^\top, e_y e_y^\top, \Pi``.

Every display string is obtained from a *parseable* string (:func:`to_parseable`: explicit
``\cdot`` and the subscript ``p`` for ``\perp``, which SymPy's lark grammar cannot read) by
the fixed textual map :func:`to_display`.  ``proofs_check.export.latex_document`` parses the
parseable string back and checks that it maps to the displayed one, so the document never
carries the explicit products.

:func:`tidy` is the bounded, deterministic simplification: numerator and denominator are
collected as polynomials in the model coordinates, each coefficient (a small polynomial in
``d n N m sigma2 lam c``) is factored; ``sp.factor`` is only ever applied to a polynomial of
at most :data:`FACTOR_MAX_TERMS` terms.  The result is independent of ``PYTHONHASHSEED``.

``latex(x)`` accepts either a SymPy expression or the *name* of a derived expression in
:func:`registry` (strings are only ever looked up, never parsed).  Gradient names have the
form ``grad.<objective>.<form>.<subset>.<matrix>``, e.g. ``grad.zs.merged.all.W``, and render
as ``\\nabla_W F = sum coef basis``.
"""
from __future__ import annotations

import functools
import re
from typing import Callable

import sympy as sp

import vocabulary as _vocab

from . import objectives as _obj
from . import optima as _opt
from .gradients import OBJECTIVE_NAMES, SUBSETS, gradient, separate_substitution
from .manifold import InvMat, separate_K, separate_Q
from .present import content, leads_negative
from .symbols import (INV_KEYS, K, N, Q, a, alpha, b, beta, c, d, h, kappa, lam, m, n, q,
                      rho, sigma2)

__all__ = ["latex", "registry", "derived", "gradient_names", "SYMBOL_NAMES", "PARSE_NAMES", "BASIS_LATEX",
           "NOISE_STD", "to_parseable", "to_display", "tex", "tidy", "display_form", "KEY_BASIS",
           "MANIFOLD_BASIS", "OBJECTIVE_TEX", "MODEL_SYMBOLS", "G", "FACTOR_MAX_TERMS",
           "separate_substitution_named", "chain_rule"]

#: the noise standard deviation, display only: ``sigma2 = NOISE_STD**2`` (``sigma2 >= 0``)
NOISE_STD = sp.Symbol("sigma", positive=True)

#: invariant-algebra key of ``theory.symbols`` -> basis name of :data:`vocabulary.BASIS`
KEY_BASIS = {"00": "0", "tt": "tt", "ty": "ty", "yt": "yt", "yy": "yy", "p": "perp",
             **{bn: bn for bn in _vocab.BASIS_NAMES}}
#: basis name of :data:`vocabulary.BASIS` -> invariant-algebra key of ``theory.symbols``
_INV_KEY = {KEY_BASIS[k]: k for k in INV_KEYS}
#: basis name of :mod:`theory.manifold` (``row,col``) -> basis name of :data:`vocabulary.BASIS`
MANIFOLD_BASIS = {"0,0": "0", "t0,t0": "tt", "t0,y": "ty", "y,t0": "yt", "y,y": "yy",
                   "perp": "perp", **{bn: bn for bn in _vocab.BASIS_NAMES}}

#: parseable subscript of each basis name (lark reads letters and one digit, not ``\perp``)
_PARSE_SUB = {"0": "0", "tt": "tt", "ty": "ty", "yt": "yt", "yy": "yy", "perp": "p"}

#: the coefficients of ``G = grad_W F`` on the basis, for the chain rule of the separate form
G = {bn: sp.Symbol(f"G_{bn}", real=True) for bn in _vocab.BASIS_NAMES}


def _coord_names(parse: bool) -> dict:
    out = {}
    for M, table in (("K", K), ("Q", Q)):
        for key, sym in table.items():
            bn = KEY_BASIS.get(key, key)
            sub = _PARSE_SUB[bn] if parse else _vocab.BASIS[bn].tex
            out[sym] = f"{M}_{{{sub}}}"
    for bn, sym in G.items():
        out[sym] = f"G_{{{_PARSE_SUB[bn] if parse else _vocab.BASIS[bn].tex}}}"
    return out


_BASE_NAMES = {a: "a", b: "b", q: "q", alpha: r"\alpha", beta: r"\beta", h: "h",
               kappa: r"\kappa", rho: r"\rho", c: "c", d: "d", n: "n", N: "N", m: "m",
               lam: r"\lambda", NOISE_STD: r"\sigma"}

#: symbol -> LaTeX name used in the parseable text (``sigma2`` is printed via ``NOISE_STD``)
PARSE_NAMES = {**_BASE_NAMES, **_coord_names(True)}
#: symbol -> displayed LaTeX name (the vocabulary's names)
SYMBOL_NAMES = {**_BASE_NAMES, sigma2: r"\sigma^{2}", **_coord_names(False)}

#: the model coordinates (collected on) and the parameters (left in the coefficients)
MODEL_SYMBOLS = (a, b, q, alpha, beta, h, kappa, rho, *K.values(), *Q.values(), *G.values())

#: basis name (either spelling) -> LaTeX of the basis matrix, from :data:`vocabulary.BASIS`
BASIS_LATEX = {name: _vocab.BASIS[bn].tex_matrix for name, bn in MANIFOLD_BASIS.items()}

#: objective name -> LaTeX of the objective, parenthesised when it is a sum
OBJECTIVE_TEX = {k: (f"({o.tex})" if " " in o.tex else o.tex) for k, o in _vocab.OBJECTIVES.items()}

#: ``sp.factor`` is only applied to polynomials with at most this many terms
FACTOR_MAX_TERMS = 40

_SETTINGS = dict(mul_symbol="dot", mat_str="bmatrix", mat_delim="")
_DOT = re.compile(r"\\cdot(?![A-Za-z])")
_PERP_SUB = re.compile(r"\b([KQG])_\{p\}")


def display_form(expr):
    """``expr`` with ``sigma2`` replaced by ``NOISE_STD**2`` (exact: ``sigma2 >= 0``)."""
    if isinstance(expr, (sp.Basic, sp.MatrixBase)) and sigma2 in expr.free_symbols:
        return expr.xreplace({sigma2: NOISE_STD ** 2})
    return expr


def to_parseable(expr) -> str:
    """Parseable LaTeX of a SymPy expression or matrix: explicit ``\\cdot``, subscript
    ``p`` for ``\\perp``, ``\\sigma`` for the noise scale; no line breaks."""
    return sp.latex(display_form(expr), symbol_names=PARSE_NAMES, **_SETTINGS)


def to_display(parseable: str) -> str:
    """The displayed text of a parseable string: every ``\\cdot`` (with its surrounding
    spaces) becomes one space, except between two digits; ``K_{p}`` is written
    ``K_{\\perp}``.  A fixed textual map, applied per display line."""
    out = []
    pos = 0
    for mo in _DOT.finditer(parseable):
        before = parseable[:mo.start()].rstrip()
        after = parseable[mo.end():].lstrip()
        if before[-1:].isdigit() and after[:1].isdigit():
            continue
        out.append(parseable[pos:mo.start()].rstrip(" "))
        out.append(" " if before and after else "")
        pos = mo.end()
        while pos < len(parseable) and parseable[pos] == " ":
            pos += 1
    out.append(parseable[pos:])
    return _PERP_SUB.sub(r"\1_{\\perp}", "".join(out))


def tex(expr) -> str:
    """Displayed LaTeX of ``expr`` (``to_display(to_parseable(expr))``)."""
    return to_display(to_parseable(expr))


def _factor_small(p: sp.Expr) -> sp.Expr:
    """``sp.factor`` of a polynomial with few terms, else its content pulled out."""
    p = sp.expand(p)
    if len(sp.Add.make_args(p)) <= FACTOR_MAX_TERMS:
        return sp.factor(p)
    return sp.factor_terms(p)


def _collect_poly(p: sp.Expr) -> sp.Expr:
    """A polynomial collected on the model coordinates it contains (fixed order
    :data:`MODEL_SYMBOLS`), each coefficient factored (:func:`_factor_small`).  A polynomial
    free of model coordinates is factored whole when small, else collected on ``d``."""
    p = sp.expand(p)
    gens = [s for s in MODEL_SYMBOLS if s in p.free_symbols]
    if not gens:
        if len(sp.Add.make_args(p)) <= FACTOR_MAX_TERMS:
            f = sp.factor(p)
            return sp.Mul(*[_collect_param(x) for x in sp.Mul.make_args(f)])
        return _collect_param(p)
    poly = sp.Poly(p, *gens)
    terms = []
    for monom, coef in poly.terms():  # deterministic: graded by the generator order
        mono = sp.Mul(*[g ** e for g, e in zip(gens, monom)])
        # signs outside: -(N+1) q, never q (-N-1); each factor collected on d N n m c
        sign = -1 if leads_negative(coef) else 1
        factors = [_collect_param(x) for x in sp.Mul.make_args(_factor_small(sign * coef))]
        # one Mul of every factor (a number times a single sum would be distributed)
        body = sp.Mul(*factors, mono) if mono != 1 else sp.Mul(*factors, evaluate=False)
        terms.append(-body if sign < 0 else body)
    content = sp.Integer(1)
    return content * sp.Add(*terms)


def _collect_param(f: sp.Expr) -> sp.Expr:
    """A parameter polynomial factor collected on the first of ``d N n m c`` it contains
    (``d sigma2 + d + m + 1 -> d (sigma2 + 1) + m + 1``); powers are kept."""
    base, ex = f.as_base_exp()
    if isinstance(base, sp.Add):
        for s in (d, N, n, m, c):
            if s in base.free_symbols:
                return sp.collect(sp.expand(base), s, evaluate=True, func=sp.factor) ** ex
    return f


def tidy(expr):
    """Bounded, deterministic readable form (:func:`_tidy`); matrices entrywise, other
    objects unchanged."""
    if isinstance(expr, sp.MatrixBase):
        return sp.ImmutableMatrix(expr).applyfunc(_tidy)
    if not isinstance(expr, sp.Expr):
        return expr
    return _tidy(expr)


@functools.lru_cache(maxsize=None)
def _tidy(expr):
    """Bounded, deterministic readable form of a rational expression ``P/Q``: common factors
    of ``P`` and ``Q`` cancelled (``sp.cancel``); the content of ``P`` pulled out,
    ``P = g mu_0 P'`` with ``g`` the gcd of ``P``'s coefficients in the model coordinates
    (sign chosen so that ``P'`` leads with a positive coefficient) and ``mu_0`` their
    monomial gcd; ``P'`` collected on the model coordinates with factored coefficients
    (:func:`_collect_poly`).  Printed as ``(g mu_0 / Q) (P')``.  Equal to ``expr``."""
    if not isinstance(expr, sp.Expr) or expr.is_Atom:
        return expr
    num, den = sp.fraction(sp.cancel(sp.together(expr)))
    num, pre = _content(num)
    num_t = _collect_poly(num)
    den_t = _collect_poly(den)
    pre = _collect_poly(pre) if pre.free_symbols else pre
    lead = pre / den_t if den_t != 1 else pre
    if lead == 1:
        return num_t
    if isinstance(num_t, sp.Add):
        return sp.Mul(lead, num_t, evaluate=False)
    return lead * num_t


def _content(p: sp.Expr) -> tuple:
    """``(p', g mu_0)`` with ``p = g mu_0 p'`` (:func:`theory.present.content` in the model
    coordinates)."""
    p = sp.expand(p)
    gens = [s for s in MODEL_SYMBOLS if s in p.free_symbols]
    if not gens or len(sp.Add.make_args(p)) < 2:
        return p, sp.Integer(1)
    g, mono, monoms, coeffs = content(p, gens)
    g = sp.factor(g)
    mu = sp.Mul(*[s ** k for s, k in zip(gens, mono)])
    rest = sp.Add(*[sp.cancel(cf / g) * sp.Mul(*[s ** k for s, k in zip(gens, mon)])
                    for mon, cf in zip(monoms, coeffs)])
    return sp.expand(rest), g * mu


@functools.lru_cache(maxsize=None)
def registry() -> dict[str, Callable[[], sp.Expr]]:
    """Every named derived expression.

    Returns:
        A dict name -> zero-argument callable returning the expression (lazy, cached).

    >>> from theory import registry
    >>> "zs.v.a" in registry()
    True
    """
    reg: dict[str, Callable[[], sp.Expr]] = {
        "expected_loss": _obj.expected_loss,
        "sphere_loss": _obj.sphere_loss,
        "pretrain_loss": _obj.pretrain_loss,
        "pretrain_objective": _obj.pretrain_objective,
        "zs": _obj.zs,
        "fs": _obj.fs,
        "zsfs": _obj.zsfs,
        "pretrain.c_star": _opt.pretrain_c_star,
        "pretrain.min_loss": _opt.pretrain_min_loss,
        "zs.v.a": lambda: _opt.zs_v_optimum()[a],
        "zs.v.min_loss": _opt.zs_v_min_loss,
        "zsfs.v.a": lambda: _opt.zsfs_v_optimum()[a],
        "zsfs.v.b": lambda: _opt.zsfs_v_optimum()[b],
        "fs.b_at_zs_a": lambda: _opt.fs_b_at_zs_a()[b],
        "fs.cb_at_zs_a": lambda: _opt.fs_b_at_zs_a()["c*b"],
        "zs.all.min_gram": lambda: _opt.zs_global_minimisers()["gram"],
        "balancedness": _opt.balancedness,
        "zs.all.flow_limit.equation": lambda: _opt.zs_all_flow_limit()["equation"],
        "zs.all.flow_limit.a": lambda: _opt.zs_all_flow_limit()["a"],
        "zs.all.flow_limit.q": lambda: _opt.zs_all_flow_limit()["q"],
    }
    return reg


def derived(name: str) -> sp.Expr:
    """The derived expression registered under ``name``.

    Args:
        name: a key of :func:`registry`, or ``grad.<objective>.<form>.<subset>.<matrix>``
            (:func:`gradient_names`).

    Returns:
        A SymPy expression; for a gradient name the matrix-valued sum
        ``sum_b coef_b B_b`` over the basis matrices ``B_b`` (non-commutative symbols
        ``B_<basis>``, basis names of :data:`vocabulary.BASIS`), zero terms omitted.

    Raises:
        ValueError: an unknown name.

    >>> from theory import derived
    >>> derived("pretrain.c_star")
    (m + 1)/(d*sigma2 + d + m + 1)
    """
    if name.startswith("grad."):
        obj, coefs = _gradient_coefficients(name)
        return sp.Add(*[coef * sp.Symbol(f"B_{basis}", commutative=False) for basis, coef in coefs.items()])
    reg = registry()
    if name not in reg:
        raise ValueError(f"unknown expression name {name!r}; known: {sorted(reg)} "
                         "and grad.<objective>.<form>.<subset>.<matrix>")
    return reg[name]()


def gradient_names() -> tuple:
    """Every ``grad.<objective>.<form>.<subset>.<matrix>`` name that :func:`derived` and
    :func:`latex` accept: each objective, form, subset of that form and matrix the subset
    trains (:data:`vocabulary.TRAIN`, :func:`vocabulary.trained_matrices`).

    Returns:
        A tuple of names, e.g. ``grad.zsfs.merged.v.V``.
    """
    return tuple(f"grad.{obj}.{form}.{subset}.{mat}" for obj in OBJECTIVE_NAMES for form in SUBSETS
                 for subset in SUBSETS[form] for mat in _vocab.trained_matrices(form, subset))


def _gradient_coefficients(name: str):
    """``(objective, {basis: coefficient})`` of a gradient name (one parser for every
    function that takes names)."""
    parts = name.split(".")
    if len(parts) != 5:
        raise ValueError(f"gradient name must be grad.<objective>.<form>.<subset>.<matrix>, "
                         f"got {name!r}")
    _, obj, form, subset, mat = parts
    if obj not in OBJECTIVE_NAMES or form not in SUBSETS or subset not in SUBSETS[form]:
        raise ValueError(f"bad gradient name {name!r}")
    res = gradient(obj, subset, form)
    if mat not in res.matrices:
        raise ValueError(f"matrix {mat!r} is not trained in {form}/{subset}; "
                         f"trained: {sorted(res.matrices)}")
    return obj, res.matrices[mat]


@functools.lru_cache(maxsize=None)
def _gradient_latex(name: str) -> str:
    obj, coefs = _gradient_coefficients(name)
    mat = name.split(".")[4]
    terms = []
    for basis, coef in coefs.items():
        coef = tidy(coef)
        if coef == 0:
            continue
        terms.append(rf"\left({tex(coef)}\right) {BASIS_LATEX[basis]}")
    body = " + ".join(terms) if terms else "0"
    return rf"\nabla_{{{mat}}} {OBJECTIVE_TEX[obj]} = {body}"


def latex(expr_or_name) -> str:
    """Displayed LaTeX of a SymPy expression (printed as given) or of a registered name
    (printed after :func:`tidy`); see the module docstring.

    Args:
        expr_or_name: a SymPy expression or matrix, or a name of :func:`registry` or
            ``grad.<objective>.<form>.<subset>.<matrix>``.  A string is only looked up,
            never parsed.

    Returns:
        The LaTeX string (implicit products, ``\\sigma^{2}``, vocabulary names).

    Raises:
        ValueError: an unknown name.

    >>> from theory import latex
    >>> latex("pretrain.c_star").startswith(r"\\frac{m + 1}")
    True
    """
    if isinstance(expr_or_name, str):
        if expr_or_name.startswith("grad."):
            return _gradient_latex(expr_or_name)
        return tex(tidy(derived(expr_or_name)))
    if isinstance(expr_or_name, (sp.Basic, sp.MatrixBase)):
        return tex(expr_or_name)
    raise ValueError(f"latex expects a SymPy expression or a registered name, "
                     f"got {type(expr_or_name).__name__}")


def separate_substitution_named() -> dict:
    """The merged coordinates of ``W = K^T Q`` in the separate coordinates:
    ``q = K_0 Q_0``, ``beta = K_tt Q_tt + K_yt Q_yt``, ``h = K_ty Q_tt + K_yy Q_yt``,
    ``alpha = K_perp Q_perp`` (from :func:`theory.gradients.separate_substitution`).

    Returns:
        ``{merged symbol: expression in K_*, Q_*}``.
    """
    return dict(separate_substitution())


def chain_rule() -> dict:
    """The separate-form gradients through the merged one: with
    ``G = grad_W F = G_0 e_0 e_0^T + G_tt t t^T + G_yt e_y t^T + G_perp Pi`` (column ``y`` of
    ``G`` is zero), ``grad_K F = Q G^T`` and ``grad_Q F = K G``
    (from ``dF = <G, dK^T Q + K^T dQ>_F``).

    Returns:
        ``{"K": {basis: coefficient}, "Q": {basis: coefficient}}`` with basis names of
        :data:`vocabulary.BASIS` and coefficients in ``Q_*``/``K_*`` and ``G_*``
        (:data:`G`); zero coefficients are omitted.
    """
    Gm = InvMat.from_coords({_INV_KEY[bn]: G[bn] for bn in ("0", "tt", "yt", "perp")})
    out = {}
    for name, M in (("K", separate_Q() @ Gm.T), ("Q", separate_K() @ Gm)):
        out[name] = {KEY_BASIS[k]: sp.expand(v) for k, v in M.coords().items() if sp.expand(v) != 0}
    return out
