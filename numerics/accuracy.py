r"""The measured accuracy of a flow end point: its distance to a Newton-polished point.

Conventions: see :mod:`numerics` (stated once there).  Parameters are the full trained
matrices of a :class:`numerics.problem.Problem`.

A flow stops at ``|grad L| <= gtol``; how far its end point ``x`` is from the limit depends
on the curvature there, not on ``gtol`` alone.  Near a minimum or saddle that is strict
modulo the symmetries, the remaining path of the flow is about ``|H_c^{-1} g|`` (``H_c`` the
Hessian on the orthogonal complement of the symmetry span, which the gradient lies in); in
a *degenerate valley* (flat directions beyond the symmetries, the loss growing like
``k r^4`` with the distance ``r``) the flow creeps (``r ~ t^(-1/2)``) and ``r = 3 |g| /
lambda`` along the flat direction, far more than ``|g| / lambda_max``.

:func:`polish` measures it: Newton iterations from ``x`` on the affine slice
``x + span(C)``, ``C`` the complement of the symmetry span ``S(x)``
(:func:`numerics.stability.symmetry_basis`), each step ``-C (C^T H C)^+ C^T g`` with the
exact Hessian (:func:`numerics.hessian.hessian`; eigenvalues below ``1e-12`` of the largest
dropped), until the step reaches rounding level, the steps stop shrinking for 3 iterations,
or :data:`MAX_ITERATIONS`; the point of least ``|grad|`` is kept, ``polished`` when
that is at most :data:`TARGET` ``max(1, max|eig|)``.  A stationary point of the slice is a stationary point: there ``g`` lies in
``span S(x)`` and is orthogonal to ``S(y)``, which differs from ``S(x)`` by ``O(|y - x|)``.
Newton converges quadratically at a strict point and linearly (factor 2/3 per step for a
quartic valley) in a degenerate one; both reach rounding level within
:data:`MAX_ITERATIONS` here.  The polished point ``x*`` is the stationary point nearest ``x``
along Newton's path; the flow's own limit lies within about ``|x - x*|`` of ``x`` too (the
same remaining path, first order), so a quantity ``f`` printed at ``x`` is good to about
``|f(x) - f(x*)|``; callers print twice that (:data:`SAFETY`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hessian import hessian
from .problem import Problem
from .stability import complement, symmetry_basis

__all__ = ["Polish", "polish", "MAX_ITERATIONS", "SAFETY", "TARGET"]

#: ``polished`` when ``|grad|`` at the polished point is at most ``TARGET max(1, max|eig|)``
#: (rounding of the exact gradient is about ``1e-15`` of that scale)
TARGET = 1e-12
#: Newton iterations at most (a quartic valley needs about 20 from ``|g| = 1e-8``)
MAX_ITERATIONS = 60
#: the printed accuracy of a quantity ``f`` is ``SAFETY |f(x) - f(x*)|``: the flow's limit and
#: the polished point are both within about ``|x - x*|`` of ``x`` (module docstring)
SAFETY = 2.0


@dataclass
class Polish:
    """The Newton polish of an end point (module docstring).

    ``x``: the polished point ``x*``; ``distance``: ``|x - x*|`` (Euclidean, over the
    trained parameters); ``grad_start`` / ``grad_end``: ``|grad L|`` at ``x`` and ``x*``;
    ``iterations``; ``polished``: ``grad_end`` reached ``target``; ``target``; ``flat``:
    the number of eigenvalues of ``C^T H C`` at ``x`` at most ``tolerance`` (the flat
    directions beyond the symmetries: a degenerate valley when > 0, with ``tolerance`` that
    of :func:`numerics.stability.classify`)."""

    x: np.ndarray
    distance: float
    grad_start: float
    grad_end: float
    iterations: int
    polished: bool
    target: float
    flat: int

    @property
    def degenerate(self) -> bool:
        """The end point lies in a degenerate valley (flat directions beyond the symmetries)."""
        return self.flat > 0


def polish(problem: Problem, x, *, max_iterations: int = MAX_ITERATIONS) -> Polish:
    """Newton-polish ``x`` on the complement of the symmetry span (module docstring).

    Args:
        problem: a :class:`numerics.problem.Problem`.
        x: the flat end point.
        max_iterations: Newton steps at most.

    Returns:
        A :class:`Polish`.
    """
    x = np.asarray(x, dtype=float)
    S, _ = symmetry_basis(problem, x)
    C = complement(S, problem.size)
    y = x.copy()
    g = problem.grad(y)
    gn0 = gn = float(np.linalg.norm(g))
    best, best_gn = y.copy(), gn
    target, flat, its, stalled, last_size = None, 0, 0, 0, float("inf")
    while its < max_iterations and C.shape[1] and gn > 0:
        Hc = C.T @ hessian(problem, y).H @ C
        lam, U = np.linalg.eigh(Hc)
        scale = float(np.max(np.abs(lam))) if lam.size else 0.0
        if target is None:  # at x: the target, and the tolerance and flat count of classify
            target = TARGET * max(1.0, scale)
            tol = max(1e-8 * scale, 10.0 * gn0 ** (2.0 / 3.0) * scale ** (1.0 / 3.0), 1e-300)
            flat = int(np.sum(np.abs(lam) <= tol))
        keep = np.abs(lam) > 1e-12 * max(scale, 1e-300)
        step = C @ (U[:, keep] @ ((U[:, keep].T @ (C.T @ g)) / lam[keep]))
        size = float(np.linalg.norm(step))
        if size <= 1e-15 * (1.0 + float(np.linalg.norm(y))):
            break  # rounding level
        y = y - step
        its += 1
        g = problem.grad(y)
        gn = float(np.linalg.norm(g))
        if gn < best_gn:
            best, best_gn = y.copy(), gn
        # in a quartic valley |grad| first rises (the strict directions settle) while the
        # steps shrink by 2/3: steps that stop shrinking mean Newton no longer converges
        stalled = stalled + 1 if size >= last_size else 0
        last_size = size
        if stalled >= 3:
            break
    if target is None:
        target = TARGET
    return Polish(x=best, distance=float(np.linalg.norm(best - x)), grad_start=gn0, grad_end=best_gn,
                  iterations=its, polished=bool(best_gn <= target), target=target, flat=flat)
