r"""Integrating a gradient flow until its gradient norm falls to a target.

Conventions: see :mod:`numerics` (stated once there).

:func:`integrate_to_norm` steps one of SciPy's ODE solvers (``scipy.integrate.LSODA`` and
the other :class:`scipy.integrate.OdeSolver` classes) by hand, with the stopping rule of
``solve_ivp`` and a terminal event of direction ``-1`` on ``s(t, y) = norm(y) - target``:

* after every accepted step ``t_{k-1} -> t_k``, if ``s`` went from ``>= 0`` to ``<= 0`` the
  crossing is located by ``brentq`` on the step's dense output (``xtol = rtol = 4 eps``, as
  ``solve_ivp``), and the integration ends there with ``converged``;
* otherwise, if ``cap()`` is true (an evaluation budget), it ends at ``t_k`` with ``cap``;
  ``fun`` (or ``jac``) may also raise :class:`BudgetSpent` before an evaluation that would
  exceed a budget: the step is abandoned and the integration ends at ``t_{k-1}`` with ``cap``
  (so a budget is never overshot);
* it ends with ``finished`` at the end of the time span, ``failed`` if the solver fails;
* a start with ``norm <= target`` ends at once with ``converged`` (no step; ``solve_ivp``'s
  event, of direction ``-1``, would not fire there).

The saving.  ``solve_ivp`` evaluates the event function at every accepted step: one more
gradient per step.  Here the norm at the point of the solver's last right-hand-side
evaluation can be read off that evaluation (``norm_of_f``), for free.  A solver evaluates the
right-hand side at the end time of the step it is taking (the predictor and corrector of
LSODA, the last stage of the Runge-Kutta methods), so when that evaluation was made at
``t_k`` its point differs from ``y_k`` by the step's last correction.  The exact
``s(t_k, y_k)`` is evaluated only when the last evaluation was made at another time, or when
it shows a norm of at most ``2 target``.  ``norm_of_f`` may underestimate the norm (the
projection of a gradient); it must not overestimate it.

When the exact check finds ``s(t_k, y_k) <= 0`` after an unchecked step, ``s`` is evaluated
at the step's start too: if it is positive there the crossing is located as above; if not
(the last correction moved the norm by more than a factor of two, which loose tolerances
near a minimum allow), the integration ends at ``t_{k-1}``, where the norm is already at most
``target``.  Either way the end point has ``norm <= target``; with ``norm_of_f = None``
every step is checked and, from a start above the target, the end is that of
``solve_ivp``, bit for bit (``tests/numerics/test_ode.py``).

The result is the same on every run: nothing depends on time or load.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import BDF, DOP853, LSODA, RK23, RK45, OdeSolver, Radau
from scipy.optimize import brentq

__all__ = ["integrate_to_norm", "Integration", "BudgetSpent", "SOLVERS"]

_EPS = np.finfo(float).eps
#: the solvers of ``solve_ivp``, by its method names
SOLVERS = {"LSODA": LSODA, "BDF": BDF, "Radau": Radau, "RK45": RK45, "RK23": RK23, "DOP853": DOP853}


class BudgetSpent(Exception):
    """Raised by the right-hand side (or Jacobian) when its evaluation budget is spent:
    :func:`integrate_to_norm` then ends at the last accepted step with ``cap``, so the
    budget is never exceeded (a step that would need more evaluations is not taken)."""


@dataclass
class Integration:
    """``t`` (accepted times, the start first), ``y`` (states, ``(n, len(t))``), ``status``
    (``converged``, ``cap``, ``finished`` or ``failed``) and ``message``."""

    t: np.ndarray
    y: np.ndarray
    status: str
    message: str


def integrate_to_norm(fun, t_span, y0, *, norm, target, norm_of_f=None, cap=None,
                      method="LSODA", rtol=1e-3, atol=1e-6, jac=None) -> Integration:
    """Integrate ``dy/dt = fun(t, y)`` over ``t_span`` until ``norm(t, y)`` crosses ``target``
    from above (module docstring).

    Args:
        fun: the right-hand side ``fun(t, y) -> (n,)``.
        t_span: ``(t0, t1)``.
        y0: the start ``(n,)``.
        norm: ``norm(t, y) -> float``, the exact norm whose fall to ``target`` stops the flow.
        target: the stopping level.
        norm_of_f: ``norm_of_f(t, f) -> float``, the norm at a point where ``fun`` returned
            ``f`` at time ``t`` (a lower bound is allowed); ``None``: ``norm`` at every step.
        cap: ``cap() -> bool``, checked after every step (``None``: no cap).
        method: a ``solve_ivp`` method name or an :class:`scipy.integrate.OdeSolver` class.
        rtol, atol: the solver's tolerances.
        jac: ``jac(t, y)``, the Jacobian of ``fun`` for the implicit solvers (``None``: the
            solver's finite differences).

    Returns:
        An :class:`Integration`.
    """
    solver_cls = SOLVERS.get(method, method) if isinstance(method, str) else method
    if not (isinstance(solver_cls, type) and issubclass(solver_cls, OdeSolver)):
        raise ValueError(f"method must be a solve_ivp method name, got {method!r}")
    last = [None, None]  # time and value of the last right-hand-side evaluation

    def f(t, y):
        out = fun(t, y)
        last[0], last[1] = t, out
        return out

    t0, t1 = float(t_span[0]), float(t_span[1])
    y0 = np.asarray(y0, dtype=float)
    ts, ys = [t0], [y0]
    s_prev = norm(t0, y0) - target  # norm - target at the last step (None: not checked)
    if s_prev <= 0:  # already there: no step (solve_ivp's event, of direction -1, never fires)
        return Integration(np.array(ts), y0[:, None].copy(), "converged",
                           "the norm is at most the target at the start")
    try:
        solver = solver_cls(f, t0, y0, t1, rtol=rtol, atol=atol, **({} if jac is None else {"jac": jac}))
    except BudgetSpent:
        return Integration(np.array(ts), y0[:, None].copy(), "cap", "the evaluation budget is spent")
    status, message = None, ""
    while status is None:
        try:
            message = solver.step()
        except BudgetSpent:  # the step would exceed the budget: end at the last accepted step
            status, message = "cap", "the evaluation budget is spent"
            break
        if solver.status == "failed":
            status = "failed"
            break
        t, y = solver.t, solver.y
        if norm_of_f is None or last[0] != t or norm_of_f(t, last[1]) <= 2.0 * target:
            s_new = norm(t, y) - target
            if s_new <= 0 and s_prev is None:  # the step's start was not checked: check it
                s_prev = norm(solver.t_old, ys[-1]) - target
            if s_new <= 0 and s_prev <= 0:  # reached before this step: stop at its start
                t, y = ts.pop(), ys.pop()
                status, message = "converged", "the norm reached the target (at an unchecked step)"
            elif s_new <= 0:
                sol = solver.dense_output()
                t = brentq(lambda tt: norm(tt, sol(tt)) - target, solver.t_old, t,
                           xtol=4 * _EPS, rtol=4 * _EPS)
                y = sol(t)
                status, message = "converged", "the norm reached the target"
            s_prev = s_new
        else:
            s_prev = None  # not checked: above 2 target at the last evaluation (module docstring)
        ts.append(t)
        ys.append(y)
        if status is None:
            if cap is not None and cap():
                status, message = "cap", "the evaluation budget is spent"
            elif solver.status == "finished":
                status, message = "finished", "the end of the time span was reached"
    return Integration(np.array(ts), np.vstack(ys).T, status, message or "")

