"""Closed-form optima and invariants, each *derived* here by SymPy (nothing typed in).

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.
Functions with a ``convention`` argument (a :class:`vocabulary.Convention` or its name,
default today's) derive the same quantity under that convention.
Reduced coordinates as in :mod:`theory.symbols`; the pretrained point is
``a=0, b=1, q=0, alpha=beta=c, h=0``.

All functions are cached and return SymPy objects (or dicts of them).
"""
from __future__ import annotations


import sympy as sp

from .memo import derivation
from .gradients import gradient
from .manifold import merged_V, merged_W
from .objectives import fs, pretrain_loss, zs, zsfs
from .symbols import MERGED_COORDS, PRETRAINED, PRETRAINED_SEPARATE, a, alpha, b, beta, c, d, h, q, to_expr

__all__ = ["pretrain_c_star", "pretrain_min_loss", "pretrain_gradient_at_optimum",
           "zs_v_optimum", "zs_v_min_loss", "zs_independent_of", "zsfs_v_optimum",
           "fs_b_at_zs_a", "zsfs_w_optimum", "zs_global_minimisers", "balancedness", "balancedness_rate",
           "zs_all_flow_limit", "positive_for_d_at_least", "zs_all_flow_limit_scaled"]

_W_PRE = {q: 0, alpha: c, beta: c, h: 0}


@derivation
def pretrain_c_star(convention=None) -> sp.Expr:
    """``c*``: the unique root of ``dL_pre/dc = 0`` (``L_pre`` is quadratic in ``c`` with
    positive leading coefficient for ``m >= 1``)."""
    L = pretrain_loss(convention)
    sols = sp.solve(sp.Eq(sp.diff(L, c), 0), c)
    if len(sols) != 1:
        raise AssertionError(f"expected one stationary c, got {sols}")  # pragma: no cover
    return sp.factor(sols[0])


@derivation
def pretrain_min_loss(convention=None) -> sp.Expr:
    """``L_pre(c*)``."""
    return sp.factor(sp.cancel(pretrain_loss(convention).subs(c, pretrain_c_star(convention))))


@derivation
def pretrain_gradient_at_optimum(form: str = "merged", convention=None) -> dict:
    """Full-matrix pretraining gradient at the pretrained point with ``c = c*``
    (``{matrix: {basis: expr}}``), every entry cancelled; all zero means ``(V, W)`` is a
    stationary point of ``L_pre`` over *all* matrices (by the invariance argument of
    :mod:`theory.gradients` the listed coefficients are the whole gradient; this holds
    for every ``theta0``)."""
    res = gradient("pretrain", "all", form, convention)
    point = dict(PRETRAINED if form == "merged" else PRETRAINED_SEPARATE)
    cs = pretrain_c_star(convention)
    return {M: {k: sp.cancel(to_expr(v).subs(point).subs(c, cs)) for k, v in co.items()}
            for M, co in res.matrices.items()}


def zs_independent_of(sym: sp.Symbol, convention=None) -> bool:
    """True iff ``ZS`` does not involve ``sym`` (checked: ``dZS/dsym == 0`` identically)."""
    return sp.expand(sp.diff(zs(convention), sym)) == 0


@derivation
def zs_v_optimum(convention=None) -> dict:
    """V-only ZS optimum at the pretrained ``W``: ``{a: a*}`` from ``dZS/da = 0`` (ZS is a
    convex quadratic in ``a``; ZS does not depend on ``b``, so ``b`` keeps its value)."""
    F = zs(convention).subs(_W_PRE)
    sols = sp.solve(sp.diff(F, a), a)
    if len(sols) != 1:
        raise AssertionError(sols)  # pragma: no cover
    return {a: sp.factor(sols[0])}


@derivation
def zs_v_min_loss(convention=None) -> sp.Expr:
    """ZS at the V-only optimum."""
    return sp.factor(sp.cancel(zs(convention).subs(_W_PRE).subs(zs_v_optimum(convention))))


@derivation
def zsfs_v_optimum(convention=None) -> dict:
    """V-only ``ZS + lam FS`` optimum ``{a: ..., b: ...}`` at the pretrained ``W`` (general
    ``c``): the objective is a quadratic in ``(a, b)``, an expectation of a square of an affine
    function of ``(a, b)``, hence convex; the solution of the 2x2 linear system
    ``grad = 0`` is unique when the Hessian determinant (``"hessian_det"`` entry) is nonzero.
    """
    F = zsfs(convention).subs(_W_PRE)
    sol = sp.solve([sp.diff(F, a), sp.diff(F, b)], [a, b], dict=True)
    if len(sol) != 1:
        raise AssertionError(sol)  # pragma: no cover
    H = sp.hessian(F, (a, b))
    return {a: sp.factor(sol[0][a]), b: sp.factor(sol[0][b]),
            "hessian_det": sp.factor(sp.cancel(H.det()))}


@derivation
def fs_b_at_zs_a(convention=None) -> dict:
    """FS-optimal ``b`` at the pretrained ``W`` and ``a`` fixed at its V-only ZS optimum:
    ``{b: ..., "c*b": ...}`` (``c*b`` is the authors' ``w*(N)``)."""
    F = fs(convention).subs(_W_PRE).subs(zs_v_optimum(convention))
    sols = sp.solve(sp.diff(F, b), b)
    if len(sols) != 1:
        raise AssertionError(sols)  # pragma: no cover
    return {b: sp.factor(sols[0]), "c*b": sp.factor(sp.cancel(c * sols[0]))}


@derivation
def zsfs_w_optimum() -> dict:
    """W-only ``ZS + lam FS`` optimum at the pretrained ``V`` (``a = 0``, ``b = 1``).

    Derivation: with ``a = 0`` ZS does not depend on ``W`` (the query token carries no label;
    asserted here), so ``ZS + lam FS = const + lam FS`` and the W-only optimum is the
    minimiser of ``FS`` over ``(q, alpha, beta, h)`` for every ``lam > 0``.  ``FS`` is a
    quadratic in ``W`` (the prediction is linear in ``W``) with Hessian determinant
    ``16 N^4 sigma2 (N+2)(d-1)(1+sigma2)^4/(N+1)^8``: unique for ``N >= 1``, ``d >= 2``,
    ``sigma2 > 0``; at ``sigma2 = 0`` the minimisers form the line ``beta + h = (N+1)/(N+2)``.

    Returns:
        ``{q, alpha, beta, h}`` (the unique minimiser, in ``N sigma2``), ``"hessian_det"`` and
        ``"min_fs"`` (``FS`` there).  Neither depends on ``c``, ``d`` (for ``d >= 2``) or ``lam``.
    """
    Z = zs().subs({a: 0, b: 1})
    if any(sp.expand(sp.diff(Z, s_)) != 0 for s_ in (q, alpha, beta, h)):
        raise AssertionError("ZS depends on W at a = 0")  # pragma: no cover
    F = fs().subs({a: 0, b: 1})
    coords = (q, alpha, beta, h)
    sol = sp.solve([sp.diff(F, s_) for s_ in coords], coords, dict=True)
    if len(sol) != 1 or set(sol[0]) != set(coords):
        raise AssertionError(sol)  # pragma: no cover
    opt = {s_: sp.factor(sol[0][s_]) for s_ in coords}
    return {**opt, "hessian_det": sp.factor(sp.cancel(sp.hessian(F, coords).det())),
            "min_fs": sp.factor(sp.cancel(F.subs(opt)))}


def positive_for_d_at_least(expr: sp.Expr, d0: int, extra_nonneg=()) -> bool:
    """Sufficient test that a rational function is > 0 for all integers ``d >= d0`` (and all
    nonnegative values of the symbols in ``extra_nonneg``): substitute ``d = d0 + s`` and check
    that numerator and denominator are, up to a common sign, polynomials with nonnegative
    coefficients in ``s`` and ``extra_nonneg`` with positive constant term."""
    s = sp.Symbol("_s", nonnegative=True)
    num, den = sp.fraction(sp.cancel(sp.together(expr.subs(d, d0 + s))))
    gens = (s,) + tuple(extra_nonneg)

    def sign(p):
        P = sp.Poly(sp.expand(p), *gens)
        cs = P.coeffs()
        if any(not cc.is_number for cc in cs):
            return None
        const = P.coeff_monomial(1)
        if all(cc >= 0 for cc in cs) and const > 0:
            return 1
        if all(cc <= 0 for cc in cs) and const < 0:
            return -1
        return None

    sn, sd = sign(num), sign(den)
    return sn is not None and sd is not None and sn == sd


@derivation
def zs_global_minimisers(convention=None) -> dict:
    """Global ZS minimisers over all manifold coordinates.

    Derivation: with ``u = (a q - 1, a alpha, a (beta - alpha))`` the ZS loss is a quadratic
    form ``ZS = sigma2 + u^T G u`` (checked by substituting ``q = (u1+1)/a``,
    ``alpha = u2/a``, ``beta = (u2+u3)/a``: all ``a`` cancel and no linear term remains).
    ``G`` is positive definite for ``d >= 2`` (leading principal minors positive, checked by
    :func:`positive_for_d_at_least`), so ``min ZS = sigma2`` exactly at ``u = 0``:
    ``a q = 1``, ``alpha = beta = 0`` (``a != 0`` forced by ``a q = 1``); ``b`` and ``h`` are
    free (ZS does not involve them).  At ``d = 1`` the ``alpha`` direction is void.

    Returns ``{"u": ..., "gram": G, "minors": [...], "positive_definite_d_ge_2": bool,
    "identity_holds": bool, "min_value": sigma2, "solution": {q: 1/a, alpha: 0, beta: 0},
    "free": (b, h)}``.
    """
    u1, u2, u3 = sp.symbols("u1 u2 u3", real=True)
    Z = sp.expand(zs(convention).subs({q: (u1 + 1) / a, alpha: u2 / a, beta: (u2 + u3) / a},
                            simultaneous=True))
    us = (u1, u2, u3)
    G = sp.hessian(Z, us) / 2
    const = Z.subs({u1: 0, u2: 0, u3: 0})
    quad = sp.expand((sp.Matrix([us]) * G * sp.Matrix(us))[0, 0])
    identity = sp.expand(Z - const - quad) == 0 and a not in Z.free_symbols
    minors = [sp.factor(G[:k, :k].det()) for k in (1, 2, 3)]
    pd = all(positive_for_d_at_least(mi, 2) for mi in minors)
    sol = sp.solve([u1e for u1e in (a * q - 1, a * alpha, a * (beta - alpha))],
                   [q, alpha, beta], dict=True)
    if len(sol) != 1:
        raise AssertionError(sol)  # pragma: no cover
    return {"u": (a * q - 1, a * alpha, a * (beta - alpha)), "gram": G, "minors": minors,
            "positive_definite_d_ge_2": pd, "identity_holds": identity,
            "min_value": const, "solution": sol[0], "free": (b, h)}


@derivation
def balancedness() -> sp.Expr:
    """``|V|_F^2 - |W|_F^2`` on the manifold (column ``y`` of ``W`` and rows ``!= y`` of ``V``
    zero), computed from the invariant-algebra Frobenius product:
    ``a^2 + b^2 - q^2 - (d-1) alpha^2 - beta^2 - h^2``."""
    V, W = merged_V(), merged_W()
    return sp.expand(V.frobenius(V) - W.frobenius(W))


@derivation
def balancedness_rate(obj: str) -> sp.Expr:
    """``d/dt (|V|^2 - |W|^2)`` under full (``all``) merged gradient flow of ``obj``,
    ``= sum_coord d(balancedness)/d(coord) * d(coord)/dt``; identically 0 because
    ``yhat`` is invariant under ``(V, W) -> (s V, W / s)``."""
    fl = gradient(obj, "all", "merged").flow
    B = balancedness()
    return sp.cancel(sp.together(sum(sp.diff(B, s) * fl[s] for s in MERGED_COORDS)))


@derivation
def zs_all_flow_limit(convention=None) -> dict:
    """End point of full ZS gradient flow from the pretrained point, *assuming* it converges to
    a global ZS minimiser (:func:`zs_global_minimisers`; convergence itself is not proved here).

    ``b`` and ``h`` have zero velocity identically (``"b_h_frozen"``), so stay ``1`` and ``0``.
    Balancedness (conserved) equals its initial value ``1 - d c^2``; at a minimiser
    ``q = 1/a``, ``alpha = beta = 0``, ``b = 1``, ``h = 0`` this is an equation in ``a`` whose
    numerator (times ``a^2``, made monic) is ``"equation"``.  ``a`` starts at 0 with
    ``da/dt = 2 c (d+2) > 0``, so the positive root ``"a"`` is reported, ``"q" = 1/a``.
    """
    fl = gradient("zs", "all", "merged", convention).flow
    frozen = sp.expand(fl[b]) == 0 and sp.expand(fl[h]) == 0
    I0 = balancedness().subs(PRETRAINED)
    at_min = balancedness().subs({q: 1 / a, alpha: 0, beta: 0, b: 1, h: 0})
    num = sp.numer(sp.together(at_min - I0))
    poly = sp.Poly(num, a)
    poly = poly.monic()
    eq = poly.as_expr()
    a2 = sp.Symbol("_a2", positive=True)
    roots = sp.solve(eq.subs(a, sp.sqrt(a2)), a2)
    # the quadratic in a^2 has constant term -1 (checked): by Vieta the product of its two
    # roots is -1, so exactly one root is positive for every (d, c) and no root ever
    # vanishes; by continuity the sign of each root can be read at one point (d = c = 1).
    Pa2 = sp.Poly(eq.subs(a, sp.sqrt(a2)), a2)
    if Pa2.degree() != 2 or Pa2.coeff_monomial(1) != -1 or Pa2.LC() != 1:
        raise AssertionError(eq)  # pragma: no cover
    pos = [r for r in roots if r.subs({d: 1, c: 1}) > 0]
    a_lim = sp.sqrt(pos[0]) if len(pos) == 1 else None
    init_speed = sp.factor(fl[a].subs(PRETRAINED))
    return {"b_h_frozen": frozen, "invariant_initial": sp.expand(I0), "equation": eq,
            "a": a_lim, "q": (1 / a_lim if a_lim is not None else None),
            "initial_da_dt": init_speed}


@derivation
def zs_all_flow_limit_scaled() -> dict:
    """Full ZS flow limit (merged) from the pretrained member of scale ``s > 0``:
    ``V = s e_y e_y^T``, ``W = (c/s) diag(0, I, 0)`` (``b = s``, ``alpha = beta = c/s``), the
    same pretraining loss for every ``s`` because ``yhat`` is invariant under ``(s V, W/s)``.

    As in :func:`zs_all_flow_limit`: ``b`` and ``h`` do not move, balancedness
    ``|v|^2 - |W|_F^2`` is conserved and starts at ``s^2 - d c^2 / s^2``; at a minimiser
    ``q = 1/a``, ``alpha = beta = 0``, ``b = s``, ``h = 0``.  The numerator of
    ``balancedness(limit) - balancedness(start)`` made monic in ``a`` is ``"equation"``,
    derived here and compared (``"matches"``) with ``a^4 + (c^2 d / s^2) a^2 - 1``.
    ``"balanced_s2"``: the member with ``|V|_F = |W|_F`` has ``s^2 = c sqrt(d)``.

    Returns:
        dict with ``s`` (the Symbol), ``equation``, ``matches``, ``a`` (the positive root),
        ``q = 1/a``, ``invariant_initial`` and ``balanced_s2``.
    """
    s = sp.Symbol("s", positive=True)
    start = {a: 0, b: s, q: 0, alpha: c / s, beta: c / s, h: 0}
    I0 = balancedness().subs(start)
    at_min = balancedness().subs({q: 1 / a, alpha: 0, beta: 0, b: s, h: 0})
    poly = sp.Poly(sp.numer(sp.together(at_min - I0)), a).monic()
    eq = sp.expand(poly.as_expr())
    expected = a ** 4 + (c ** 2 * d / s ** 2) * a ** 2 - 1
    a2 = sp.Symbol("_a2", positive=True)
    roots = [r for r in sp.solve(eq.subs(a, sp.sqrt(a2)), a2) if r.subs({d: 1, c: 1, s: 1}) > 0]
    a_lim = sp.sqrt(roots[0]) if len(roots) == 1 else None
    # |V|_F^2 = s^2 and |W|_F^2 = d c^2 / s^2 at the member: equal when s^4 = d c^2
    bal = sp.solve(sp.Eq(s ** 4, d * c ** 2), s)
    return {"s": s, "equation": eq, "matches": sp.expand(eq - expected) == 0, "a": a_lim,
            "q": None if a_lim is None else 1 / a_lim, "invariant_initial": sp.expand(I0),
            "balanced_s2": sp.simplify(bal[0] ** 2) if bal else None}
