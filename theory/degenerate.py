r"""Degenerate starts: ZS training of one attention matrix from a leftover value row.

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.

At ``n = 0``, ``yhat = (v . z_q)(z_q^T W z_q)``.  With the value row frozen at
``v = (0, u, v_y)`` (the pretrained ``e_y`` plus a leftover ``u = V[y, x]``; ``v_0 = 0``)
and ``x = x_q``::

    yhat = (u . x)(W_00 + w . x + x^T A x),   w = W_0x + W_x0^T,  A = sym(W_xx),

so ZS reads ``W`` only through ``q = W_00``, ``w`` and ``A``, and only through ``u``.  ZS is
a convex quadratic in ``(q, w, A)``.  The odd and even parts in ``x`` are orthogonal and the
target ``theta0 . x`` is odd, so ``w = 0`` at the minimum (``v_0 = 0``).  Trained subsets:
merged ``w`` reaches ``(q, w, A)``; separate ``q`` (``W = K^T Q``, ``K = sqrt(c) diag(0,I,0)``)
and ``k`` (``Q`` fixed) reach ``(w, A)`` only, with ``q = W_00 = 0`` (row and column 0 of
``K^T Q`` vanish when column 0 of ``K``, resp. ``Q``, does).

Coordinates (this module's derivation, independent of :mod:`theory.wick`): ``u = u_par
theta0 + u_perp e`` with ``e`` a unit vector orthogonal to ``theta0``; ``x1 = theta0 . x``,
``x2 = e . x`` (independent standard normals) and ``r = |x|^2 - x1^2 - x2^2`` (chi-square
with ``d - 2`` degrees of freedom, ``E r = d - 2``, ``E r^2 = (d-2) d``); by the rotations
fixing ``theta0`` and ``e`` the minimiser has
``A = beta theta0 theta0^T + gamma e e^T + delta (theta0 e^T + e theta0^T) + alpha Pi_2``, so

    ZS = E[((u_par x1 + u_perp x2)(q + beta x1^2 + gamma x2^2 + 2 delta x1 x2 + alpha r)
            - x1)^2] + sigma2,

a polynomial in the Gaussian moments ``E x^{2k} = (2k-1)!!``.  ``ZS`` depends on ``u`` and
``W`` only through ``u (x) W``, so the minimiser scales as ``1/|u|`` and the minimum depends
on the direction of ``u`` only.  Along ``theta0`` (``u_perp = 0``, any ``d >= 1``) the end
point lies on the reduced manifold (``a = u_par``, ``b = 1``, ``h = 0``) and its ``n``-shot
error is :func:`theory.expected_loss` there: ``L_n = C_n/u_par^2 + O(1/u_par)``.
"""
from __future__ import annotations

import sympy as sp

from .memo import derivation
from .objectives import expected_loss, sphere_loss
from .symbols import a, alpha, b, beta, d, delta, gamma, h, q, sigma2, u_par, u_perp
from .wick import double_factorial_odd

__all__ = ["DEGENERATE_SUBSETS", "zs_frozen_value", "zs_frozen_value_fit",
           "parallel_endpoint", "parallel_loss", "parallel_leading_coefficient",
           "parallel_rate_matrix"]

#: trained subset -> whether it reaches ``q = W_00`` (merged ``w`` does; separate ``k``, ``q``
#: keep ``W_00 = 0``)
DEGENERATE_SUBSETS = {"w": True, "k": False, "q": False}

_x1, _x2, _r = sp.symbols("_x1 _x2 _r")


def _expect(poly: sp.Expr, rest_dim) -> sp.Expr:
    """``E`` of a polynomial in ``_x1, _x2`` (independent ``N(0, 1)``) and ``_r``
    (chi-square with ``rest_dim`` degrees of freedom: ``E r^j = prod_{i<j} (rest_dim + 2i)``)."""
    out = []
    for (i, j, k), coef in sp.Poly(sp.expand(poly), _x1, _x2, _r).terms():
        if i % 2 or j % 2:
            continue
        rk = sp.Integer(1)
        for t in range(k):
            rk *= rest_dim + 2 * t
        out.append(coef * double_factorial_odd(i) * double_factorial_odd(j) * rk)
    return sp.expand(sp.Add(*out))


def _check(train: str) -> bool:
    if train not in DEGENERATE_SUBSETS:
        raise ValueError(f"train must be one of {', '.join(DEGENERATE_SUBSETS)}, got {train!r}")
    return DEGENERATE_SUBSETS[train]


@derivation
def zs_frozen_value(parallel: bool = False) -> sp.Expr:
    """ZS with the value row ``(0, u, v_y)`` and the read part ``q, A`` of ``W`` (module
    docstring), a polynomial in ``u_par u_perp q alpha beta gamma delta d sigma2``.

    ``parallel=True``: ``u = u_par theta0`` and ``A = beta theta0 theta0^T + alpha Pi``
    (``Pi = I - theta0 theta0^T``, ``d - 1`` dimensions), valid for every ``d >= 1``; a
    polynomial in ``u_par q alpha beta d sigma2``.  Otherwise ``d >= 2`` is assumed.
    """
    if parallel:
        yhat = u_par * _x1 * (q + beta * _x1 ** 2 + alpha * _r)
        return _expect((yhat - _x1) ** 2, d - 1) + sigma2
    yhat = (u_par * _x1 + u_perp * _x2) * (q + beta * _x1 ** 2 + gamma * _x2 ** 2
                                           + 2 * delta * _x1 * _x2 + alpha * _r)
    return _expect((yhat - _x1) ** 2, d - 2) + sigma2


def _solve(F: sp.Expr, unknowns, weights) -> dict:
    """The stationary point of the quadratic ``F``: ``dF/dx / w = 0`` for each unknown ``x``
    with multiplicity ``w`` (``alpha`` carries ``d - 1`` or ``d - 2`` copies)."""
    eqs = [sp.cancel(sp.diff(F, x) / w) for x, w in zip(unknowns, weights)]
    sol = sp.solve(eqs, unknowns, dict=True)
    if len(sol) != 1:
        raise AssertionError(sol)  # pragma: no cover
    return {k: sp.factor(v) for k, v in sol[0].items()}


@derivation
def zs_frozen_value_fit(train: str, parallel: bool = False) -> dict:
    """The minimiser of :func:`zs_frozen_value` over what ``train`` reaches, and the minimum.

    Args:
        train: ``w`` (merged: ``q`` and ``A``), ``k`` or ``q`` (separate: ``A``; ``q = 0``).
        parallel: ``u = u_par theta0`` (any ``d >= 1``) instead of the general direction
            (``d >= 2``).

    Returns:
        ``{"point": {symbol: value}, "min": ZS at the minimiser}``; every value of the point
        is ``1/|u|`` times a function of the direction of ``u`` (and ``d``), the minimum a
        function of the direction only.
    """
    with_q = _check(train)
    F = zs_frozen_value(parallel)
    if parallel:
        unknowns, weights = [beta, alpha], [1, d - 1]
    else:
        unknowns, weights = [beta, gamma, delta, alpha], [1, 1, 1, d - 2]
    if with_q:
        unknowns, weights = [q] + unknowns, [1] + weights
    else:
        F = F.subs(q, 0)
    point = _solve(F, unknowns, weights)
    if not with_q:
        point[q] = sp.Integer(0)
    return {"point": point, "min": sp.factor(sp.cancel(F.subs(point)))}


@derivation
def parallel_endpoint(train: str) -> dict:
    """The end point of the ZS flow from the pretrained point with the leftover value row
    ``u_par theta0`` (``v_0 = 0``), on the reduced coordinates: ``a = u_par``, ``b = 1``,
    ``h = 0`` (unread at ``n = 0``: it does not move) and ``q, alpha, beta`` the minimiser of
    :func:`zs_frozen_value_fit` (unique in the read coordinates, which are all of ``q, alpha,
    beta``, so the pretrained ``c`` is forgotten)."""
    fit = zs_frozen_value_fit(train, True)["point"]
    return {a: u_par, b: sp.Integer(1), h: sp.Integer(0), q: fit[q], alpha: fit[alpha],
            beta: fit[beta]}


@derivation
def parallel_loss(train: str, task: str = "line") -> sp.Expr:
    """``L_n`` at :func:`parallel_endpoint` as a rational function of ``u_par, n, d, sigma2``
    (and ``kappa, rho`` for ``task = "line"``: the task ``kappa theta0 + rho theta_perp``;
    ``task = "sphere"``: the unseen-task average)."""
    pt = parallel_endpoint(train)
    L = sphere_loss() if task == "sphere" else expected_loss()
    if task not in ("line", "sphere"):
        raise ValueError(f"task must be 'line' or 'sphere', got {task!r}")
    return sp.factor(sp.cancel(L.subs(pt)))


@derivation
def parallel_leading_coefficient(train: str, task: str = "line") -> sp.Expr:
    """``C_n = lim_{u_par -> 0} u_par^2 L_n`` at :func:`parallel_endpoint`: the error grows
    like ``C_n/u_par^2`` as the leftover vanishes."""
    L = parallel_loss(train, task)
    return sp.factor(sp.limit(sp.cancel(L * u_par ** 2), u_par, 0))


@derivation
def parallel_rate_matrix(train: str) -> sp.Matrix:
    """The linear flow's rate matrix on the reduced coordinates along ``theta0``, over
    ``u_par^2``: ``M^{-1} Hess(ZS)/u_par^2`` with the Frobenius metric ``M = diag(1, 1, d-1)``
    on ``(q, beta, alpha)`` (merged ``w``) or ``diag(1, d-1)`` on ``(beta, alpha)``
    (separate ``k``, ``q``, where the flow of ``W = K^T Q`` carries a further factor
    ``c``: ``dW/dt = -c grad_W`` from ``K = Q = sqrt(c) diag(0, I, 0)``).  Its eigenvalues
    times ``u_par^2`` (times ``c``) are the rates of the modes the start excites."""
    with_q = _check(train)
    F = zs_frozen_value(True)
    if with_q:
        X, metric = [q, beta, alpha], sp.diag(1, 1, d - 1)
    else:
        F, X, metric = F.subs(q, 0), [beta, alpha], sp.diag(1, d - 1)
    return sp.simplify(metric.inv() * sp.hessian(F, X) / u_par ** 2)
