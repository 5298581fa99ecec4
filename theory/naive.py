"""Naive concrete-dimension reference: brute-force symbolic expansion (baseline, tests).

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.

For a *concrete* ``d`` and ``n`` this module introduces one SymPy symbol per coordinate of
every ``x_i`` and of ``x_q`` and one per noise ``eps_i, eps_q``, builds ``yhat`` on the reduced
manifold with ``theta0 = e_1``, ``theta_perp = e_2`` (``d >= 2``; for ``d = 1`` the task is
``kappa theta0`` and ``rho`` is absent), expands ``(yhat - y_q)^2`` as a polynomial in those
symbols and replaces every monomial by its moment ``prod_j E[g_j^{k_j}]`` (independent
coordinates: ``(k-1)!!`` for N(0,1), ``(k-1)!! sigma2^{k/2}`` for the noise).  It shares no
code with :mod:`theory.wick` / :mod:`theory.objectives` and is exponentially slower, which is
the point of :mod:`benchmarks.symbolic`.
"""
from __future__ import annotations

import sympy as sp

from .symbols import a, alpha, b, beta, h, kappa, q, rho, sigma2

__all__ = ["naive_expected_loss", "naive_sphere_loss", "sphere_monomial_moment"]


def _moment(k: int) -> int:
    if k % 2:
        return 0
    out = 1
    for j in range(k - 1, 0, -2):
        out *= j
    return out


def naive_expected_loss(d: int, n: int, params: dict | None = None,
                        theta=None) -> sp.Expr:
    """``L_n`` at concrete ``d, n`` by brute-force expansion (see module docstring).

    ``params`` optionally substitutes values for ``a b q alpha beta h kappa rho sigma2`` before
    expanding (keeps the reference fast when only a spot check is needed).  ``theta``
    optionally gives the task vector explicitly (a length-``d`` sequence of expressions)
    instead of ``kappa e_1 + rho e_2``.
    """
    if d < 1 or n < 0:
        raise ValueError("naive_expected_loss: need d >= 1 and n >= 0")
    params = dict(params or {})
    P = lambda s: params.get(s, s)  # noqa: E731
    A, B, Qq, Al, Be, H, Ka, Rh = (P(s) for s in (a, b, q, alpha, beta, h, kappa, rho))
    xs = [[sp.Symbol(f"x{i}_{r}") for r in range(d)] for i in range(n + 1)]  # last = query
    es = [sp.Symbol(f"e{i}") for i in range(n + 1)]
    if theta is None:
        theta = [0] * d
        theta[0] = Ka
        if d >= 2:
            theta[1] = Rh
    theta = list(theta)
    if len(theta) != d:
        raise ValueError("naive_expected_loss: theta must have length d")
    D = d + 2
    V = sp.zeros(D, D)
    V[D - 1, 1] = A
    V[D - 1, D - 1] = B
    W = sp.zeros(D, D)
    W[0, 0] = Qq
    for r in range(d):
        W[1 + r, 1 + r] = Al
    W[1, 1] = Be
    W[D - 1, 1] = H
    toks = []
    for i in range(n):
        y = sum(theta[r] * xs[i][r] for r in range(d)) + es[i]
        toks.append(sp.Matrix([1] + xs[i] + [y]))
    zq = sp.Matrix([1] + xs[n] + [0])
    yq = sum(theta[r] * xs[n][r] for r in range(d)) + es[n]
    S = zq * zq.T
    for z in toks:
        S += z * z.T
    yhat = (V[D - 1, :] * S * W * zq)[0, 0] / (n + 1)
    gens = [x for row in xs for x in row] + es
    noise_var = P(sigma2)
    poly = sp.Poly(sp.expand((yhat - yq) ** 2), *gens)
    nx = len(gens) - len(es)
    total = []
    for monom, coeff in poly.terms():
        val = 1
        for j, k in enumerate(monom):
            if k:
                mom = _moment(k)
                if mom == 0:
                    val = 0
                    break
                val *= mom * (noise_var ** (k // 2) if j >= nx else 1)
        if val:
            total.append(coeff * val)
    return sp.expand(sp.Add(*total))


def sphere_monomial_moment(exps) -> sp.Rational:
    """``E[prod_i theta_i^{k_i}]`` for ``theta ~ Uniform(S^{d-1})``, ``d = len(exps)``:
    0 unless every ``k_i`` is even; otherwise ``prod_i (k_i - 1)!! / prod_{j<K/2} (d + 2j)``
    with ``K = sum k_i`` (Gaussian moments divided by ``E|g|^K``, since ``g = |g| theta`` with
    ``|g|`` independent of ``theta``)."""
    dim = len(exps)
    if any(k % 2 for k in exps):
        return sp.Integer(0)
    num = sp.prod([_moment(k) for k in exps])
    den = sp.prod([dim + 2 * j for j in range(sum(exps) // 2)])
    return sp.Rational(num, den)


def naive_sphere_loss(d: int, n: int, params: dict | None = None) -> sp.Expr:
    """``E_theta L_n`` at concrete ``d, n`` for ``theta ~ Uniform(S^{d-1})``: brute-force loss
    with a symbolic task vector, then :func:`sphere_monomial_moment` on each monomial."""
    th = [sp.Symbol(f"th_{r}") for r in range(d)]
    L = naive_expected_loss(d, n, params, theta=th)
    poly = sp.Poly(L, *th)
    return sp.expand(sum(cf * sphere_monomial_moment(mon) for mon, cf in poly.terms()))
