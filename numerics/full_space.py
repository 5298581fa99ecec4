r"""The exact gradient flow of a :class:`numerics.problem.Problem` over every entry of its
trained matrices (or over an invariant subspace of them), stepped by
:func:`numerics.ode.integrate_to_norm` with the exact Hessian as the Jacobian.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .hessian import hessian_times, stencil_points
from .ode import BudgetSpent, integrate_to_norm
from .problem import Problem

__all__ = ["FullFlow", "full_flow"]


@dataclass
class FullFlow:
    """A full-space exact gradient flow ``dx/dt = -grad L(x)`` over every entry of the
    trained matrices.

    ``x``: end point (flat); ``t_final``; ``nfev``; ``grad_norm`` at the end;
    ``stop``: one of :data:`numerics.flow.STOP_REASONS` (``converged``: ``|grad| <= gtol``;
    ``t cap``, ``evaluation cap``, ``integration failed``); ``max_nfev``, ``t_max``: the caps;
    ``message``; ``t``, ``values`` and ``samples`` (flat points) at the accepted steps
    (subsampled to at most ``max_points``)."""

    x: np.ndarray
    t_final: float
    nfev: int
    grad_norm: float
    stop: str
    message: str
    t: np.ndarray
    values: np.ndarray
    samples: np.ndarray = field(repr=False)
    max_nfev: int = 0
    t_max: float = 0.0

    @property
    def converged(self) -> bool:
        return self.stop == "converged"


def full_flow(problem: Problem, x0, *, gtol: float = 1e-10, t_max: float = 1e7,
              max_nfev: int = 200_000, rtol: float = 1e-9, atol: float = 1e-12,
              max_points: int = 200, basis=None) -> FullFlow:
    """Integrate ``dx/dt = -grad L(x)`` from ``x0`` with LSODA (:func:`numerics.ode.integrate_to_norm`).

    Stops at ``|grad L| <= gtol`` (located within the step), at flow time ``t_max``, or when
    ``max_nfev`` gradients have been evaluated (checked after every step): the right-hand
    sides and the stencil points of the exact Jacobian ``-B^T H B`` that LSODA asks for
    (:func:`numerics.hessian.hessian_times`, batched; the 3-point stencil along coordinate
    lines, :func:`numerics.hessian.stencil_points` along a basis), but not the exact norm
    checked after each step.  Never on wall-clock time, so the same input gives the same
    answer.

    Args:
        problem: a :class:`numerics.problem.Problem`.
        x0: flat start.
        gtol, t_max, max_nfev: the caps.
        rtol, atol: the integrator tolerances.
        max_points: samples kept for the trajectory.
        basis: optional ``P x r`` orthonormal basis of an invariant subspace containing the
            gradient along the flow (:func:`numerics.stability.invariant_basis`); the state is then
            ``x0 + basis y`` and only ``y`` is integrated (the same flow, an ``r x r``
            Jacobian).  ``None``: every entry.

    Returns:
        A :class:`FullFlow`.
    """
    x0 = np.asarray(x0, dtype=float)
    if x0.shape != (problem.size,) or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 must be a finite vector of length {problem.size}")
    B = np.eye(problem.size) if basis is None else np.asarray(basis, dtype=float)
    count = [0]
    base = x0.copy()

    def full(y):
        return base + B @ y

    def rhs(_t, y):
        if count[0] >= max_nfev:  # never past the budget (numerics.ode.BudgetSpent)
            raise BudgetSpent
        count[0] += 1
        return -(B.T @ problem.grad(full(y)))

    def norm(_t, y):
        return float(np.linalg.norm(problem.grad(full(y))))

    # the Jacobian d rhs / dy = -B^T H B, H B by the exact stencil along the basis (not LSODA's
    # differences); along coordinate lines (B = I) the 3-point stencil is exact
    points = 3 if basis is None else stencil_points(problem.form)
    per_jac = B.shape[1] * (points - 1)  # gradients per Jacobian, counted in nfev

    def jac(_t, y):
        if count[0] + per_jac > max_nfev:
            raise BudgetSpent
        count[0] += per_jac
        return -(B.T @ hessian_times(problem, full(y), B, points=points))

    # every step checked with the exact norm: under the loose tolerances of an escape, the
    # last right-hand side of a step can be off the end point by more than the target
    sol = integrate_to_norm(rhs, (0.0, t_max), np.zeros(B.shape[1]), norm=norm, target=gtol,
                            cap=lambda: count[0] >= max_nfev, method="LSODA", rtol=rtol, atol=atol,
                            jac=jac)
    x = full(sol.y[:, -1])
    gn = float(np.linalg.norm(problem.grad(x)))
    if sol.status == "converged" and sol.t.size == 1:  # integrate_to_norm took no step
        stop, msg = "converged", "|grad| <= gtol at the start"
    elif sol.status == "converged":
        stop, msg = "converged", f"|grad| <= gtol = {gtol:g}"
    elif sol.status == "cap":
        stop, msg = "evaluation cap", f"max_nfev = {max_nfev} gradient evaluations spent"
    elif sol.status == "finished":
        stop, msg = ("converged" if gn <= gtol else "t cap"), f"flow time t_max = {t_max:g} reached"
    else:
        stop, msg = "integration failed", f"the integrator failed: {sol.message}"
    idx = np.unique(np.linspace(0, sol.t.size - 1, min(max_points, sol.t.size)).round().astype(int))
    samples = np.array([full(sol.y[:, i]) for i in idx])
    return FullFlow(x.copy(), float(sol.t[-1]), count[0], gn, stop, msg, sol.t[idx].copy(),
                    problem.loss(samples), samples.copy(), max_nfev, float(t_max))
