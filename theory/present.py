"""Bounded, deterministic presentation of derived rational expressions.

Multivariate ``sympy.factor`` of a separate-form gradient coefficient has no useful bound
on its running time, which depends on ``PYTHONHASHSEED``.  :func:`present` instead writes a
rational function ``P / Q`` as

    (content * monomial gcd) / factor(Q) * sum_k factor(c_k) * mu_k

where ``P = sum_k C_k mu_k`` is ``P`` as a polynomial in the *coordinates* (fixed generator
order: ``a b q alpha beta h``, then ``K_*``, ``Q_*``, then ``kappa rho n c``), ``mu_k`` its
monomials in lexicographic order of that generator tuple, ``C_k`` their coefficients
(polynomials in the parameters ``d m N sigma2 lam`` only), ``content`` the polynomial gcd
of all ``C_k`` (and the monomial gcd of all ``mu_k``), ``c_k = C_k / content``.  Only the
small parameter polynomials ``c_k``, ``content`` and ``Q`` are factored; ``gcd`` and
``factor`` of polynomials in at most five parameters are fast and deterministic.  The result
is an *unevaluated* product of one sum (terms printed in SymPy's canonical order), so the
printed text does not depend on the hash seed; it is mathematically equal to the input
(``cancel(present(e) - e) == 0``, tested).
"""
from __future__ import annotations

import sympy as sp

from .gradients import gradient, merged_gradient_invmats, separate_substitution
from .manifold import InvMat, separate_K, separate_Q
from .symbols import K_COORDS, MERGED_COORDS, Q_COORDS, c, kappa, n, rho, to_expr

__all__ = ["present", "gradient_presentation", "COORD_ORDER", "G_SYMBOLS", "leads_negative", "content"]

#: generator order of the presented polynomials (coordinates first, then the other
#: non-parameter symbols); everything else is a parameter
COORD_ORDER = MERGED_COORDS + K_COORDS + Q_COORDS + (kappa, rho, n, c)


def leads_negative(p: sp.Expr) -> bool:
    """The leading coefficient of the expanded ``p`` (lexicographic in its sorted symbols) is
    negative, so ``p`` prints with its sign outside: ``-(N+1) q``, never ``q (-N-1)``."""
    p = sp.expand(p)
    if not p.free_symbols:
        return bool(p.is_negative)
    return bool(sp.Poly(p, *sorted(p.free_symbols, key=sp.default_sort_key)).LC() < 0)


def content(p: sp.Expr, gens) -> tuple:
    """The content of the polynomial ``p`` in ``gens``: ``(g, mu_0, monoms, coeffs)`` with
    ``p = g * x^mu_0 * sum_k (coeffs[k]/g) x^monoms[k]``, ``g`` the gcd of the coefficients
    (polynomials in the other symbols), its sign chosen so that the leading coefficient
    divided by ``g`` is positive, and ``mu_0`` the exponent gcd of the monomials."""
    P = sp.Poly(sp.expand(p), *gens)
    mono_gcd, P = P.terms_gcd()
    coeffs = [sp.expand(cf) for cf in P.coeffs()]
    g = coeffs[0]
    for cf in coeffs[1:]:
        g = sp.gcd(g, cf)
    # a sign/number convention: make the leading coefficient's content positive
    g_num, g_rest = sp.Poly(g, *sorted(g.free_symbols, key=sp.default_sort_key)).primitive() \
        if g.free_symbols else (g, sp.Integer(1))
    if g.free_symbols:
        g = g_num * g_rest.as_expr()
    lead = sp.Poly(coeffs[0], *sorted(coeffs[0].free_symbols, key=sp.default_sort_key)).LC() \
        if coeffs[0].free_symbols else coeffs[0]
    if (lead / g).is_negative:
        g = -g
    return g, mono_gcd, P.monoms(), coeffs


def _factor_small(e: sp.Expr) -> sp.Expr:
    """``factor`` of a polynomial in the parameters only (small by construction)."""
    return sp.factor(e) if e.free_symbols else e


_PRESENTED: dict = {}


def present(expr) -> sp.Expr:
    """A bounded, deterministic, readable form of the rational expression ``expr``.

    Formula (module docstring): ``P/Q = (g * mu_0)/factor(Q) * sum_k factor(C_k/g) mu_k/mu_0``
    with ``g`` the gcd of the parameter coefficients ``C_k`` of ``P`` in the coordinate
    generators and ``mu_0`` the monomial gcd.

    Args:
        expr: a SymPy expression that is a rational function of its symbols.

    Returns:
        An equal SymPy expression (an unevaluated product when it has several factors).
    """
    expr = to_expr(expr)
    if expr.is_Number:
        return expr
    try:
        return _PRESENTED[expr]
    except KeyError:
        pass
    out = _present(expr)
    _PRESENTED[expr] = out
    return out


def _present(expr: sp.Expr) -> sp.Expr:
    num, den = sp.fraction(sp.together(expr))
    num = sp.expand(num)
    if num == 0:
        return sp.Integer(0)
    gens = [g for g in COORD_ORDER if g in num.free_symbols]
    if not gens:
        # a pure parameter expression: small, factor it whole
        return sp.factor(sp.cancel(expr))
    g, mono_gcd, monoms, coeffs = content(num, gens)
    terms = []
    for monom, cf in zip(monoms, coeffs):
        mu = sp.Mul(*[s ** k for s, k in zip(gens, monom)])
        coef = sp.cancel(cf / g)
        if leads_negative(coef):  # sign outside: -(N+1) q
            terms.append(-sp.Mul(*sp.Mul.make_args(_factor_small(-coef)), mu) if mu != 1
                         else -sp.Mul(*sp.Mul.make_args(_factor_small(-coef)), evaluate=False))
        else:
            terms.append(_factor_small(coef) * mu)
    body = sp.Add(*terms)
    pre = g * sp.Mul(*[s ** k for s, k in zip(gens, mono_gcd)])
    # parameter part of the prefactor over the factored denominator (small)
    pre = sp.factor(sp.cancel(pre / den)) if (pre / den).free_symbols else pre / den
    if pre == 1:
        return body
    if len(terms) == 1:
        return pre * body
    return sp.Mul(pre, body, evaluate=False)


def _neg(p: sp.Expr) -> sp.Expr:
    """``-p`` keeping an unevaluated ``pre * (sum)`` product in that shape."""
    if isinstance(p, sp.Mul) and len(p.args) == 2 and isinstance(p.args[1], sp.Add):
        return sp.Mul(-p.args[0], p.args[1], evaluate=False)
    return -p


#: symbols of the merged ``grad_W`` coefficients in the chain-rule presentation
G_SYMBOLS = {"0": sp.Symbol("G_0", real=True), "tt": sp.Symbol("G_tt", real=True),
             "yt": sp.Symbol("G_yt", real=True), "perp": sp.Symbol("G_perp", real=True)}


def gradient_presentation(obj: str, subset: str = "all", form: str = "merged",
                          full: bool = True, convention=None) -> dict:
    """The derived gradient of ``obj`` in a bounded, deterministic presentation.

    Separate form ``W = K^T Q``: ``grad_V`` is the merged ``grad_V`` at ``W = K^T Q``, and
    ``grad_K = Q G^T`` and
    ``grad_Q = K G`` with ``G = grad_W`` the merged Frobenius gradient at
    ``q = K_00 Q_00, alpha = K_p Q_p, beta = K_tt Q_tt + K_yt Q_yt, h = K_ty Q_tt + K_yy Q_yt``
    (see :mod:`theory.gradients`); ``G``'s coefficients are given once, in merged coordinates.

    Args:
        obj: objective name (``pretrain``, ``zs``, ``fs``, ``zsfs``).
        subset: trained subset of the form.
        form: ``merged`` or ``separate``.
        full: also present every coefficient fully expanded in the separate coordinates
            (``matrices`` and ``flow``); slow for the separate form.
        convention: a :class:`vocabulary.Convention` or its name (default today's).

    Returns:
        ``{"matrices": {M: {basis: expr}} | None, "flow": {coord: expr} | None,
        "chain_rule": None | {"substitution": {symbol: expr}, "G": {basis: expr},
        "V": {basis: expr} (merged coordinates, if V is trained),
        "matrices": {"K"|"Q": {basis: expr in G_* and K_*/Q_*}}}}``.
    """
    res = gradient(obj, subset, form, convention)  # validates the arguments
    out = {"matrices": None, "flow": None, "chain_rule": None}
    if full or form == "merged":
        mats = {M: {bn: present(e) for bn, e in co.items()} for M, co in res.matrices.items()}
        out["matrices"] = mats
        lookup = {}
        for M, inv in res.invmats.items():
            for key, val in inv.coords().items():
                lookup[(M, key)] = val
        flow = {}
        # each flow entry is minus one coefficient; reuse its presentation
        by_expr = {}
        for M, co in res.matrices.items():
            for bn, e in co.items():
                by_expr[e] = mats[M][bn]
        for s in res.coords:
            v = res.flow[s]
            if v == 0:
                flow[s] = sp.Integer(0)
            elif -v in by_expr:
                flow[s] = _neg(by_expr[-v])
            else:  # pragma: no cover - every flow entry is a coefficient
                flow[s] = present(v)
        out["flow"] = flow
    if form == "separate":
        gV, gW = merged_gradient_invmats(obj, convention)
        G = {bn: present(e) for bn, e in gW.named().items() if bn in G_SYMBOLS} \
            if {"K", "Q"} & set(res.matrices) else {}
        Gs = InvMat.from_coords(dict(G_SYMBOLS))
        chain = {"substitution": separate_substitution(), "G": G, "matrices": {}}
        if "V" in res.matrices:
            chain["V"] = {bn: present(e) for bn, e in gV.named().items()
                          if bn in res.matrices["V"]}
        for M, prod in (("K", lambda: separate_Q() @ Gs.T), ("Q", lambda: separate_K() @ Gs)):
            if M in res.matrices:
                named = prod().applyfunc(sp.expand).named()
                chain["matrices"][M] = {bn: named[bn] for bn in res.matrices[M]}
        out["chain_rule"] = chain
    return out
