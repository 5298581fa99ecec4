"""Derived expressions behind the claims' conditions: large-``n`` limits, the ``1/(n+1)``
coefficient of the V-only ZS curve, the ZS-all gap polynomial and the V-only trade-off.

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.

Every function is a :func:`theory.memo.derivation` (kept by the on-disk cache of derived
expressions).  A rational function is returned as its pair ``(numerator, denominator)``
after ``cancel``, both expanded, so that a caller can evaluate it exactly as two
polynomials.
"""
from __future__ import annotations

import sympy as sp

from . import optima
from .memo import derivation
from .objectives import expected_loss, expected_loss_numerator, sphere_loss
from .symbols import N, PRETRAINED, a, alpha, b, beta, c, h, kappa, n, q, rho

__all__ = ["large_n_limit", "zs_v_inverse_n_coefficient", "zs_all_gap_polynomial",
           "zsfs_v_tradeoff", "zsfs_w_tradeoff", "rational_parts"]


def rational_parts(expr) -> tuple:
    """``(numerator, denominator)`` of ``cancel(together(expr))``, each expanded."""
    num_, den_ = sp.fraction(sp.cancel(sp.together(expr)))
    return sp.expand(num_), sp.expand(den_)


@derivation
def large_n_limit() -> sp.Expr:
    """``lim_{n -> oo} L_n`` on the manifold: ``(n+1)^2 L_n`` is a polynomial of degree 2 in
    ``n``; the limit is its leading coefficient over that of ``(n+1)^2``.

    Returns:
        An expression in ``a b q alpha beta h kappa rho d sigma2`` (expanded).
    """
    num_, den_ = sp.fraction(sp.cancel(sp.together(expected_loss())))
    Pn, Pd = sp.Poly(sp.expand(num_), n), sp.Poly(sp.expand(den_), n)
    if Pn.degree() != Pd.degree():
        raise AssertionError("unexpected degrees in n")  # pragma: no cover
    return sp.expand(Pn.LC() / Pd.LC())


@derivation
def zs_v_inverse_n_coefficient() -> tuple:
    """``B`` of ``L_n = A + B/(n+1) + C/(n+1)^2`` after V-only ZS (``a = a_ZS``, the rest
    pretrained), read as the coefficient of ``u`` after ``n = 1/u - 1``.

    Returns:
        ``(B, B_sphere)``, each as :func:`rational_parts`: ``B`` in ``d sigma2 c kappa rho``,
        ``B_sphere`` (the sphere average) in ``d sigma2 c``.
    """
    u = sp.Symbol("u", positive=True)
    pt = {**PRETRAINED, a: optima.zs_v_optimum()[a]}
    out = []
    for L in (expected_loss(), sphere_loss()):
        Lv = sp.cancel(L.subs(pt))
        out.append(rational_parts(sp.Poly(sp.expand(sp.cancel(Lv.subs(n, 1 / u - 1))), u).coeff_monomial(u)))
    return tuple(out)


@derivation
def zs_all_gap_polynomial() -> tuple:
    """``P(n) = (n+1)^2 (L_n(ZS-all) - L_n(pretrained))`` up to a positive factor, with the
    ZS-all end point ``q = 1/a``, ``alpha = beta = h = 0``, ``b = 1``.

    Returns:
        ``(coefficients of P in n, highest first; the flow-limit a(c, d))``.
    """
    L = expected_loss()
    diff = sp.cancel(sp.together(L.subs({q: 1 / a, alpha: 0, beta: 0, b: 1, h: 0}) - L.subs(PRETRAINED)))
    Pn, _ = sp.fraction(diff)
    return tuple(sp.Poly(sp.expand(Pn), n).all_coeffs()), optima.zs_all_flow_limit()["a"]


@derivation
def zsfs_v_tradeoff() -> dict:
    """The expressions of the V-only trade-off, each as :func:`rational_parts`.

    Returns:
        ``{"a_fs", "b_fs", "a_zs"}`` (the V-only ZS + lam FS and ZS optima, in
        ``d N sigma2 lam c``), ``"neg_limit"`` (``lim L_n(-theta0)`` in ``a b d sigma2 c``) and
        ``"gap"`` = ``(1 + c a_FS - c b_FS)^2 - (1 + c a_ZS - c)^2``.
    """
    opt = optima.zsfs_v_optimum()
    a_zs = optima.zs_v_optimum()[a]
    Linf_neg = sp.expand(large_n_limit().subs(PRETRAINED | {a: a, b: b}).subs({kappa: -1, rho: 0}))
    u = 1 + c * a - c * b
    gap = sp.factor(sp.cancel(u.subs({a: opt[a], b: opt[b]}) ** 2 - u.subs({a: a_zs, b: 1}) ** 2))
    return {"a_fs": rational_parts(opt[a]), "b_fs": rational_parts(opt[b]), "a_zs": rational_parts(a_zs),
            "neg_limit": rational_parts(Linf_neg), "gap": rational_parts(gap)}


@derivation
def zsfs_w_tradeoff() -> dict:
    """The expressions of the W-only trade-off (``zsfs.w.tradeoff``), each as :func:`rational_parts`.

    W-only ``ZS + lam FS`` ends at the FS minimiser over ``W`` (:func:`theory.optima.zsfs_w_optimum`);
    V-only ``ZS + lam FS`` ends at :func:`theory.optima.zsfs_v_optimum`, ``(a, b) = (A, B)/Den``.
    ``(n+1)^2 L_n`` is quadratic in ``(a, b)`` at the pretrained ``W``, so ``Den^2 (N+1)^2 L_N`` is
    the polynomial ``P(A, B, Den)`` of its homogenised form: no ``cancel`` of a large fraction.

    Returns:
        ``"target_w"``: ``L_N(theta0)`` at the W-only optimum (``= sigma2 + 2/(N+2)``);
        ``"target_v"``: ``L_N(theta0)`` at the V-only optimum (``c`` cancels in value);
        ``"gap"`` = ``target_v - target_w`` (W-only wins on the target exactly when ``gap > 0``);
        ``"perp_w"``: ``lim L_n(theta_perp)`` at the W-only optimum
        (``= 1 + sigma2 + ((N+1)/(N+2))^2``).
    """
    w = optima.zsfs_w_optimum()
    wpt = {a: 0, b: 1, q: w[q], alpha: w[alpha], beta: w[beta], h: w[h]}
    tw = sp.cancel(expected_loss().subs({kappa: 1, rho: 0, n: N}).subs(wpt))
    v = optima.zsfs_v_optimum()
    A, Da = sp.fraction(sp.cancel(v[a]))
    B, Db = sp.fraction(sp.cancel(v[b]))
    den = sp.expand(Da * Db)
    A, B = sp.expand(A * Db), sp.expand(B * Da)
    P = expected_loss_numerator().subs({kappa: 1, rho: 0, n: N}).subs({q: 0, alpha: c, beta: c, h: 0})
    u = sp.Symbol("_u")
    Ph = sp.Poly(sp.expand(P.subs({a: a / u, b: b / u}) * u**2), a, b, u)
    if Ph.total_degree() != 2 or any(sum(mon) != 2 for mon in Ph.monoms()):
        raise AssertionError("L_N is not quadratic in (a, b)")  # pragma: no cover
    pv = sp.expand(sum(cf * A**i * B**j * den**k for (i, j, k), cf in Ph.terms()))
    tv_den = sp.expand(den**2 * (N + 1) ** 2)
    tw_num, tw_den = sp.fraction(tw)
    gap_num = sp.expand(pv * tw_den - tw_num * tv_den)
    gap_den = sp.expand(tv_den * tw_den)
    perp = sp.cancel(large_n_limit().subs(wpt).subs({kappa: 0, rho: 1}))
    return {"target_w": rational_parts(tw), "target_v": (pv, tv_den), "gap": (gap_num, gap_den),
            "perp_w": rational_parts(perp)}
