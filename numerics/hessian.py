r"""Exact second order: Hessians of every objective over the full trainable matrices.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.  The
parameters are those of a :class:`numerics.problem.Problem` (its module docstring).

Why a stencil of the exact gradient is exact
--------------------------------------------
``yhat = e_y^T V S W z_q`` is linear in ``V`` and linear in ``W``, so every loss is a
polynomial of total degree 4 in ``(V, W)``; with ``W = K^T Q`` (degree 2) it has degree 6
in ``(V, K, Q)``.  Along any line ``x + t u`` the gradient is therefore a polynomial in
``t`` of degree ``p = 3`` (merged) or ``p = 5`` (separate).  The central stencils

* 5 points: ``g'(0) = [g(-2h) - 8 g(-h) + 8 g(h) - g(2h)] / (12 h)`` (exact to degree 4),
* 7 points: ``g'(0) = [-g(-3h) + 9 g(-2h) - 45 g(-h) + 45 g(h) - 9 g(2h) + g(3h)] / (60 h)``
  (exact to degree 6),

have no truncation error on such polynomials, so ``H u = d/dt grad L(x + t u)|_0`` is exact
up to rounding.  Along a *coordinate* line the degree is lower: ``yhat`` is linear in each
single entry of ``V``, ``W``, ``K`` or ``Q`` (``W = K^T Q`` is linear in each entry of ``K``),
so the loss is quadratic in one entry and the gradient has degree 2 along ``e_j``; the
columns ``H e_j`` are then exact even with 3 points, which :func:`hessian` uses (a test
checks both facts against the 5- and 7-point stencils).  The step is then chosen for rounding alone: the error is about
``eps_mach * max_k |g(x + k h u)| * (sum |coef|) / h``, which *falls* as ``h`` grows, until
the large ``h^p`` terms of ``g`` (which the stencil cancels exactly in exact arithmetic)
dominate the magnitudes.  ``h = 0.05 max(1, |x|_inf)`` (unit ``u``) keeps
``(3 h / max(1, |x|))^5 < 1e-4`` and the rounding error near ``1e-13`` relative; the tests
compare against a second step and a second stencil and against SymPy.  The full Hessian is
assembled column by column (``P`` Hessian-vector products on the unit vectors) and
symmetrised; the asymmetry before symmetrising is returned as a rounding diagnostic.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from vocabulary import MATRICES

from .problem import Problem
from .validation import check_nonneg

__all__ = ["HESSIAN_BATCH", "HessianResult", "hessian", "hessian_vector_product", "hessian_times",
           "STENCILS", "stencil_points", "stencil_step"]

#: central first-derivative stencils ``{points: (offsets, weights)}``: ``g' = sum w g(k h) / h``
STENCILS = {
    3: ((-1, 1), (-0.5, 0.5)),
    5: ((-2, -1, 1, 2), (1 / 12, -8 / 12, 8 / 12, -1 / 12)),
    7: ((-3, -2, -1, 1, 2, 3), (-1 / 60, 9 / 60, -45 / 60, 45 / 60, -9 / 60, 1 / 60)),
}


#: stencil points per batched gradient call in :func:`hessian` (a fixed count: the result
#: does not depend on the machine)
HESSIAN_BATCH = 1024


def stencil_points(form: str) -> int:
    """The smallest central stencil that is exact for the gradient along a line.

    The gradient is a polynomial of degree 3 (merged) or 5 (separate) along a line; the
    ``2k+1``-point central stencil is exact to degree ``2k``.

    Args:
        form: ``merged`` or ``separate``.

    Returns:
        5 for ``merged``, 7 for ``separate``.
    """
    if form not in MATRICES:
        raise ValueError(f"form must be one of {', '.join(MATRICES)}, got {form!r}")
    return 5 if form == "merged" else 7


def stencil_step(x: np.ndarray, rel_step: float) -> float:
    """The stencil step ``h = rel_step * max(1, |x|_inf)`` (module docstring)."""
    return rel_step * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)


def hessian_vector_product(problem: Problem, x, u, *, points: int | None = None,
                           rel_step: float = 0.05) -> np.ndarray:
    """Exact ``H(x) u`` by a central stencil of the exact gradient along ``x + t u``.

    ``H u = sum_k w_k grad L(x + k h u/|u|) |u| / h`` with the weights of :data:`STENCILS`
    (the stencil's gradients in one :meth:`Problem.grad_many` call); exact up to rounding
    when ``points`` is at least :func:`stencil_points` (module docstring).

    Args:
        problem: a :class:`Problem`.
        x: the point (flat, ``problem.size``).
        u: the direction (flat).
        points: 3, 5 or 7 (default: :func:`stencil_points` of the form).
        rel_step: ``h = rel_step * max(1, |x|_inf)`` along the unit direction.

    Returns:
        ``H u`` (flat).
    """
    u = np.asarray(u, dtype=float)
    return hessian_times(problem, x, u[:, None], points=points, rel_step=rel_step)[:, 0]


def hessian_times(problem: Problem, x, U, *, points: int | None = None, rel_step: float = 0.05) -> np.ndarray:
    """Exact ``H(x) U`` for the columns ``u`` of ``U`` (``P x r``): :func:`hessian_vector_product`
    on every column, the stencil points of all columns in :data:`HESSIAN_BATCH`-point
    :meth:`Problem.grad_many` calls.

    Args:
        problem, x, points, rel_step: as :func:`hessian_vector_product`.
        U: the directions, ``P x r`` (a zero column gives a zero column).

    Returns:
        ``H U``, ``P x r``.
    """
    x = np.asarray(x, dtype=float)
    U = np.asarray(U, dtype=float)
    points = stencil_points(problem.form) if points is None else points
    if points not in STENCILS:
        raise ValueError(f"points must be one of {sorted(STENCILS)}, got {points!r}")
    nu = np.linalg.norm(U, axis=0)
    h = stencil_step(x, rel_step)
    offs, wts = STENCILS[points]
    steps = np.array(offs, dtype=float) * h
    out = np.zeros(U.shape)
    live = np.flatnonzero(nu > 0)
    ncols = max(1, HESSIAN_BATCH // len(offs))
    for j0 in range(0, live.size, ncols):
        js = live[j0:j0 + ncols]
        E = U[:, js] / nu[js]  # unit directions, as columns
        X = x[None, None, :] + steps[None, :, None] * E.T[:, None, :]  # (column, offset, P)
        G = problem.grad_many(X.reshape(-1, x.size)).reshape(js.size, len(offs), x.size)
        acc = np.zeros((js.size, x.size))
        for i, w in enumerate(wts):
            acc += w * G[:, i, :]
        out[:, js] = (acc * (nu[js] / h)[:, None]).T
    return out


@dataclass
class HessianResult:
    """``H`` (symmetrised, ``P x P``), ``asymmetry = max|H_raw - H_raw^T| / max(1, max|H_raw|)``,
    ``points`` and ``step`` of the stencil."""

    H: np.ndarray
    asymmetry: float
    points: int
    step: float


def hessian(problem: Problem, x=None, *, points: int | None = None, rel_step: float = 0.05) -> HessianResult:
    """The full ``P x P`` Hessian of ``problem`` at ``x`` (default: its reference point).

    Column ``j`` is :func:`hessian_vector_product` on the unit vector ``e_j``,
    ``H e_j = sum_k w_k grad L(x + k h e_j) / h``; the result is symmetrised,
    ``H = (H_raw + H_raw^T)/2``.  Along a coordinate line the gradient has degree 2 (module
    docstring), so the 3-point stencil is exact there and is the default: two gradients per
    column.  The gradients at the stencil points of all columns are evaluated together,
    :data:`HESSIAN_BATCH` points per :meth:`Problem.grad_many` call.

    Args:
        problem: a :class:`Problem`.
        x: flat point (default ``problem.pack()``).
        points: 3 (default), 5 or 7.
        rel_step: as in :func:`hessian_vector_product`.

    Returns:
        A :class:`HessianResult`.
    """
    x = problem.pack() if x is None else np.asarray(x, dtype=float)
    if x.shape != (problem.size,):
        raise ValueError(f"x must have shape ({problem.size},), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    points = 3 if points is None else points
    if isinstance(points, bool) or not isinstance(points, numbers.Integral) or points not in STENCILS:
        raise ValueError(f"points must be one of {sorted(STENCILS)}, got {points!r}")
    rel_step = check_nonneg("rel_step", rel_step)
    if rel_step <= 0:
        raise ValueError("rel_step must be > 0")
    h = stencil_step(x, rel_step)
    P = x.size
    offs, wts = STENCILS[points]
    npts = len(offs)
    H = np.zeros((P, P))
    ncols = max(1, HESSIAN_BATCH // npts)  # columns per batched gradient call
    for j0 in range(0, P, ncols):
        js = np.arange(j0, min(P, j0 + ncols))
        # the stencil points x + k h e_j of columns js, as rows (column, offset)
        X = np.repeat(x[None, None, :], len(js) * npts, axis=0).reshape(len(js), npts, P)
        X[np.arange(len(js))[:, None], np.arange(npts)[None, :], js[:, None]] += \
            np.array(offs, dtype=float) * h
        G = problem.grad_many(X.reshape(-1, P)).reshape(len(js), npts, P)
        col = np.zeros((len(js), P))
        for i, w in enumerate(wts):
            col += w * G[:, i, :]
        H[:, js] = (col / h).T
    asym = float(np.max(np.abs(H - H.T)) / max(1.0, float(np.max(np.abs(H)))))
    return HessianResult(0.5 * (H + H.T), asym, int(points), h)

