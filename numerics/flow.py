r"""Exact population gradient flow of the fine-tuning objectives, from the pretrained point.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

The objective is a weighted sum of exact losses (:mod:`numerics.finetune_objective`,
terms from :data:`vocabulary.OBJECTIVES`), the starting point is the pretrained point
(:mod:`numerics.pretrained`), and the flow ``dX/dt = -grad_X F`` of every trainable matrix
(frozen matrices stay put) is integrated in the reduced coordinates of
:mod:`numerics.reduced` with a SciPy ODE solver (LSODA by default), stepped by
:func:`numerics.ode.integrate_to_norm`.

Stopping rule (deterministic: nothing depends on wall-clock time or machine load)
--------------------------------------------------------------------------------
On one machine the same call gives the same bits.  Across CPUs (or BLAS builds) the last
bits of the arithmetic differ and the adaptive solver's step sequence amplifies them: the
stop time ``t_final``, the evaluation count ``nfev``, the trajectory's sample times and the
final gradient norm (below ``gtol``) are machine-dependent; the end point agrees to its
accuracy.  The flow stops at the first of:

* ``converged``: the Frobenius norm of the projected trainable gradient reaches ``gtol``
  (located within the last step, then confirmed with the exact gradient);
* ``t cap``: the flow time reaches ``t_max``;
* ``evaluation cap``: the integrator has called the right-hand side ``max_nfev`` times
  (never more: a step that would need more is not taken).

With the default ``method='LSODA'``, a flow that has spent half of ``max_nfev`` without
stopping is continued from where it is with BDF for the rest of the budget: LSODA's
switch to its stiff method can stall on a stiff flow (``zsfs`` over ``kq`` at
``lam = 1000``, ``d = 3, m = 10, N = 5, sigma2 = 0.3``, where BDF converges in about a
hundredth of LSODA's evaluations).  Flows that converge within half the budget (every flow
of ``iclft check``) are unchanged.

:attr:`FlowResult.stop_reason` says which (``integration failed`` if the solver gives up).
The pretrained point (:mod:`numerics.pretrained`) and the objective's value and gradients
(:mod:`numerics.finetune_objective`) are importable from here too, beside the flow that
starts and ends there.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

import vocabulary

from .finetune_objective import objective_grad, objective_grad_kq, objective_value  # noqa: F401 (re-exported)
from .finetune_objective import loss_terms, weighted_grad
from .manifold import SEPARATE_NAMES, project_merged_arrays, project_separate_arrays, unit_theta0
from .ode import BudgetSpent, integrate_to_norm
from .pretrained import pretrain_family, pretrained_point  # noqa: F401 (re-exported)
from .pretrained import pretrained_c, pretrained_state
from .reduced import ReducedProblem, interpolant
from .validation import check_positive, check_positive_int, check_problem

__all__ = [
    "STOP_REASONS", "DEFAULT_GTOL", "DEFAULT_T_MAX",
    "DEFAULT_MAX_NFEV", "LOG_TIME_FLOOR", "gradient_flow", "full_matrix_flow", "FlowResult",
    "FullFlowResult", "setup_problem",
]

#: the values of :attr:`FlowResult.stop_reason`
STOP_REASONS = ("converged", "t cap", "evaluation cap", "integration failed")

DEFAULT_GTOL = 1e-10
DEFAULT_T_MAX = 1e8
#: right-hand-side evaluations allowed to one flow (fast and exact fields together): well
#: above what any converging flow of ``iclft check`` needs
DEFAULT_MAX_NFEV = 50_000
#: in log time ``s = log t`` the field is ``t g(x)``, so its rounding error grows like ``t``;
#: the chunk ``[t, 10 t]`` integrates with both tolerances at least ``LOG_TIME_FLOOR * 10 t``
#: (1e-10 at ``t = 1e6``).  Below that floor the step control of a flow that creeps to a
#: degenerate minimum chases the rounding, and whether it reaches the evaluation cap depends
#: on the last bits of the gradient
#: (tests/numerics/test_numerics_flow.py::test_creeping_flow_converges_whatever_the_tolerances).
LOG_TIME_FLOOR = 1e-17


# ----------------------------------------------------------------------------- results
@dataclass
class FlowResult:
    """End point and summary of an exact population gradient flow.

    ``final``: merged reduced coordinates ``a b q alpha beta h`` of the end point (for the
    separate form those of ``W = K^T Q``, column ``y`` ignored); ``final_separate``: the
    separate coordinates (``None`` for merged); ``V, W`` (and ``K, Q``) the end matrices;
    ``grad_norm``: Frobenius norm of the projected trainable gradient at the end;
    ``converged``: ``grad_norm <= gtol``; ``t_final``: flow time reached;
    ``trajectory``: dict with ``t`` (k,), ``names``, ``coords`` (k, p), ``loss`` (k,),
    ``grad_norm`` (k,), subsampled from the accepted steps (the first and last included);
    ``loss_start/loss_end``: objective values; ``stop_reason``: one of
    :data:`STOP_REASONS`; ``nfev``: right-hand-side evaluations used (cap ``max_nfev``);
    ``wall_time``: seconds, for information only (no result depends on it, and it is not
    in :meth:`summary`); ``invariant_start/invariant_end``: dicts of the invariants (``conserved`` names those the flow must conserve for this subset);
    ``off_manifold``: largest relative off-manifold residual of the full gradient seen at
    the trajectory samples; ``c``: the pretrained constant."""

    objective: str
    train: str
    form: str
    d: int
    m: int
    N: int
    sigma2: float
    lam: float
    c: float
    final: dict
    final_separate: dict | None
    V: np.ndarray
    W: np.ndarray
    K: np.ndarray | None
    Q: np.ndarray | None
    grad_norm: float
    gtol: float
    converged: bool
    t_final: float
    t_max: float
    trajectory: dict
    loss_start: float
    loss_end: float
    invariant_start: dict
    invariant_end: dict
    conserved: tuple
    off_manifold: float
    nfev: int
    wall_time: float
    message: str = ""
    method: str = ""
    theta0: np.ndarray = field(default=None, repr=False)
    stop_reason: str = ""
    max_nfev: int = DEFAULT_MAX_NFEV

    def summary(self) -> dict:
        """A JSON-serialisable summary (no matrices, trajectory as lists, no wall time: the
        same input gives the same summary)."""
        tr = self.trajectory
        return {
            "objective": self.objective, "train": self.train, "form": self.form,
            "d": self.d, "m": self.m, "N": self.N, "sigma2": self.sigma2, "lam": self.lam,
            "c": self.c, "final": dict(self.final),
            "final_separate": None if self.final_separate is None else dict(self.final_separate),
            "grad_norm": self.grad_norm, "gtol": self.gtol, "converged": self.converged,
            "stop_reason": self.stop_reason, "max_nfev": self.max_nfev,
            "t_final": self.t_final, "t_max": self.t_max,
            "loss_start": self.loss_start, "loss_end": self.loss_end,
            "invariant_start": dict(self.invariant_start), "invariant_end": dict(self.invariant_end),
            "conserved": list(self.conserved), "off_manifold": self.off_manifold,
            "nfev": self.nfev, "method": self.method,
            "trajectory": {"t": tr["t"].tolist(), "names": list(tr["names"]),
                           "coords": tr["coords"].tolist(), "loss": tr["loss"].tolist(),
                           "grad_norm": tr["grad_norm"].tolist()},
        }


@dataclass
class FullFlowResult:
    """The full-matrix cross-check of :func:`full_matrix_flow`.

    ``t``: sample times; ``max_off_manifold``: largest Frobenius norm of the off-manifold
    part of the full-matrix state over the samples; ``max_coord_diff``: largest absolute
    difference between the projected full-matrix coordinates and the reduced flow at the
    samples; ``coords_full``/``coords_reduced``: (k, p) arrays; ``names``; ``matrices``:
    the full-matrix end point."""

    t: np.ndarray
    names: tuple
    coords_full: np.ndarray
    coords_reduced: np.ndarray
    off_manifold: np.ndarray
    max_off_manifold: float
    max_coord_diff: float
    matrices: tuple
    theta0: np.ndarray


# ----------------------------------------------------------------------------- flows
def setup_problem(objective, form, train, config, *, theta0=None):
    """Check the arguments and build the reduced problem.

    Args:
        objective, form, train, config: as :func:`gradient_flow`.
        theta0: the unit target; ``None`` means ``e_1``.

    Returns:
        ``(problem, c, (objective, train, form, d, m, N, sigma2, lam), key)``: the
        :class:`ReducedProblem`, the pretrained constant, the normalised arguments and a
        hashable description of the objective for the interpolant cache.
    """
    objective, form, train, config = check_problem(objective, form, train, config)
    d, m, N, sigma2, lam = config.d, config.m, config.N, config.sigma2, config.lam
    if theta0 is None:
        theta0 = np.eye(d)[0]
    theta0 = unit_theta0(theta0, d)
    c = pretrained_c(d, m, sigma2)
    if form == "separate" and c <= 0:
        raise ValueError(f"the separate form needs c > 0, got c = {c}")
    terms = loss_terms(objective, theta0, N, sigma2, lam, m)
    key = (vocabulary.objective_terms(objective, N=N, m=m, lam=lam), d, sigma2, theta0.tobytes())
    pb = ReducedProblem(terms, train, form, d, theta0)
    return pb, c, (objective, train, form, d, m, N, sigma2, lam), key


def _integrate(pb, x0, t0, t_max, gtol, method, rtol, atol, fast, max_nfev):
    """:func:`numerics.ode.integrate_to_norm` on the gradient norm, in time chunks
    ``[t0, 10 t0]`` (starting from ``t0 = 1``) up to ``t_max``, ending once ``pb.n_rhs``
    reaches ``max_nfev``.  The chunk ``[0, 1]`` is integrated in ``t``, every later one in
    log time ``s = log t`` (``dx/ds = t dx/dt``), where a flow that creeps like a power of
    ``t`` near a degenerate minimum is smooth.  The norm at a right-hand-side evaluation
    ``f = -g`` (``-t g`` in log time) is read off ``f``.  Returns ``(t, y, reason)`` with
    ``reason`` one of :data:`STOP_REASONS` (``converged`` meaning only: the norm reached its
    target)."""
    field = pb.rhs_fast if fast else pb.rhs

    def rhs(t, x):  # never more than max_nfev evaluations in all (numerics.ode.BudgetSpent)
        if pb.n_rhs >= max_nfev:
            raise BudgetSpent
        return field(t, x)
    norm = pb.grad_norm_fast if fast else pb.grad_norm
    target = 0.5 * gtol if fast else gtol  # the fast path aims lower, the exact check decides

    def norm_t(_t, x):
        return norm(x)

    def norm_of_f(_t, f):  # f = -g
        return pb.norm_of(f)

    def rhs_log(s, x):  # dx/ds = t dx/dt with t = e^s
        return np.exp(s) * rhs(0.0, x)

    def norm_of_f_log(s, f):
        return norm_of_f(s, f) / np.exp(s)

    def spent():
        return pb.n_rhs >= max_nfev

    ts, ys = [np.array([t0])], [x0[:, None]]
    t, x = t0, x0
    while True:
        t_next = min(t_max, max(10.0 * t, 1.0))
        if t < 1.0:
            run = integrate_to_norm(rhs, (t, t_next), x, norm=norm_t, target=target, norm_of_f=norm_of_f,
                                    cap=spent, method=method, rtol=rtol, atol=atol)
            t_run = run.t
        else:  # in log time: a flow that creeps like a power of t is smooth in s = log t
            run = integrate_to_norm(rhs_log, (np.log(t), np.log(t_next)), x, norm=norm_t, target=target,
                                    norm_of_f=norm_of_f_log, cap=spent, method=method,
                                    rtol=max(rtol, LOG_TIME_FLOOR * t_next),
                                    atol=max(atol, LOG_TIME_FLOOR * t_next))
            t_run = np.exp(run.t)
            t_run[-1] = t_next if run.status == "finished" else t_run[-1]
        ts.append(t_run[1:])
        ys.append(run.y[:, 1:])
        t, x = float(t_run[-1]), run.y[:, -1]
        if run.status == "failed":
            return np.concatenate(ts), np.hstack(ys), "integration failed"
        if run.status == "converged":
            return np.concatenate(ts), np.hstack(ys), "converged"
        if run.status == "cap" or spent():
            return np.concatenate(ts), np.hstack(ys), "evaluation cap"
        if t >= t_max:
            return np.concatenate(ts), np.hstack(ys), "t cap"


_MESSAGES = {"converged": "|grad| <= gtol", "t cap": "flow time t_max reached",
             "evaluation cap": "max_nfev right-hand sides spent",
             "integration failed": "the integrator failed"}


def gradient_flow(objective, form, train, config, *, gtol=DEFAULT_GTOL, t_max=DEFAULT_T_MAX, theta0=None,
                  method="LSODA", rtol=1e-11, atol=1e-12, max_points=50, rhs="fast",
                  max_nfev=DEFAULT_MAX_NFEV) -> FlowResult:
    """Exact population gradient flow ``dx_c/dt = -<G, B_c>/<B_c, B_c>`` (trainable ``c``)
    from the pretrained point, integrated by :func:`numerics.ode.integrate_to_norm`.

    Stops when the Frobenius norm of the projected trainable gradient reaches ``gtol``
    (located within the step), at the flow time ``t_max``, or after ``max_nfev`` right-hand-side
    evaluations; ``stop_reason`` says which (``converged``, ``t cap``, ``evaluation cap``)
    and the rule never reads the clock or the load.  Machine-dependent (they differ across
    CPUs in the last bits that the solver's steps amplify): ``t_final``, ``nfev``, the
    trajectory's sample times and ``grad_norm`` below ``gtol``; the end point, losses and
    invariants agree across machines to the end point's accuracy.

    ``rhs='exact'`` evaluates the full numerics gradient at every right-hand-side call.
    ``rhs='fast'`` uses the same gradient as an exact polynomial in the coordinates
    (:class:`numerics.reduced.Interpolant`, fitted to the numerics gradient once per configuration and
    verified to 1e-9 relative); the end point is then always re-checked with the exact
    gradient, and if its exact norm exceeds ``gtol`` the flow continues with
    ``rhs='exact'`` (within the same evaluation budget).  ``grad_norm``, ``converged``,
    losses, invariants and ``off_manifold`` are always computed with the exact gradient.

    Args:
        objective: a fine-tuning objective of :data:`vocabulary.OBJECTIVES`.
        form: ``merged`` or ``separate``.
        train: the trained subset (``vocabulary.TRAIN[form]``).
        config: a :class:`vocabulary.Config` ``(d, m, N, sigma2, lam)``: dimension,
            pretraining shots, fine-tuning shots, noise variance and the weight ``lam``
            (required: no value defaults to the paper's setting).
        gtol: gradient-norm tolerance (> 0).
        t_max: flow-time cap (> 0).
        theta0: unit target (default ``e_1``; the reduced flow does not depend on it).
        method, rtol, atol: the ``solve_ivp`` method name and the solver's tolerances.
        max_points: trajectory samples kept (>= 2).
        rhs: ``fast`` or ``exact``.
        max_nfev: cap on right-hand-side evaluations (>= 1).

    Returns:
        A :class:`FlowResult`.

    Raises:
        ValueError: an unknown objective, form or subset, or a bad number (named).
    """
    gtol = check_positive("gtol", gtol)
    t_max = check_positive("t_max", t_max)
    rtol = check_positive("rtol", rtol)
    atol = check_positive("atol", atol)
    max_points = check_positive_int("max_points", max_points)
    if max_points < 2:
        raise ValueError("max_points must be >= 2")
    if method not in ("LSODA", "BDF", "Radau", "RK45", "DOP853", "RK23"):
        raise ValueError(f"method must be a scipy.integrate.solve_ivp method name, got {method!r}")
    max_nfev = check_positive_int("max_nfev", max_nfev)
    if rhs not in ("exact", "fast"):
        raise ValueError(f"rhs must be 'exact' or 'fast', got {rhs!r}")
    pb, c, (objective, train, form, d, m, N, sigma2, lam), key = setup_problem(
        objective, form, train, config, theta0=theta0)
    start = time.perf_counter()
    x0 = pretrained_state(form, c)
    g0 = pb.grad_norm(x0)
    if g0 <= gtol:
        ts, ys, reason, msg = np.array([0.0]), x0[:, None], "converged", "|grad| <= gtol at the start"
    else:
        fast = rhs == "fast"
        if fast:
            pb.interp = interpolant(key, pb.terms, d, pb.t)
        first = max_nfev // 2 if method == "LSODA" else max_nfev
        ts, ys, reason = _integrate(pb, x0, 0.0, t_max, gtol, method, rtol, atol, fast, first)
        msg = _MESSAGES[reason]
        if reason == "evaluation cap" and method == "LSODA":  # stiff: BDF continues (module docstring)
            t2, y2, reason = _integrate(pb, ys[:, -1], ts[-1], t_max, gtol, "BDF", rtol, atol, fast, max_nfev)
            ts, ys = np.concatenate([ts, t2[1:]]), np.hstack([ys, y2[:, 1:]])
            msg = (f"LSODA spent half the evaluation budget ({first}) by t = {ts[-1] if t2.size < 2 else t2[0]:.4g}; "
                   f"BDF continued: {_MESSAGES[reason]}")
        if fast and reason == "converged" and pb.grad_norm(ys[:, -1]) > gtol:
            t2, y2, reason = _integrate(pb, ys[:, -1], ts[-1], t_max, gtol, method, rtol, atol, False,
                                        max_nfev)
            ts, ys = np.concatenate([ts, t2[1:]]), np.hstack([ys, y2[:, 1:]])
            msg = f"{msg}; exact polish: {_MESSAGES[reason]}"
    x_end = ys[:, -1]
    gn = pb.grad_norm(x_end)
    converged = bool(gn <= gtol or (reason == "converged" and gn <= gtol * (1 + 1e-3)))
    if not converged and reason == "converged":  # pragma: no cover - the exact event fired early
        reason = "integration failed"
    if converged:
        reason = "converged"
    idx = np.unique(np.linspace(0, ts.size - 1, min(max_points, ts.size)).round().astype(int))
    traj_coords = ys[:, idx].T
    # the exact gradient at every sample in one batched evaluation: its norm and its
    # off-manifold part
    g_traj, resid = pb.coeffs(traj_coords)
    norms = pb.norm_of(g_traj)
    off = resid[norms > 0] / norms[norms > 0]
    traj = {"t": ts[idx].copy(), "names": pb.names, "coords": traj_coords,
            "loss": pb.loss(traj_coords), "grad_norm": norms}
    mats = pb.matrices(x_end)
    V, W = pb.merged_VW(x_end)
    wall = time.perf_counter() - start
    return FlowResult(
        objective=objective, train=train, form=form, d=d, m=m, N=N, sigma2=sigma2, lam=lam,
        c=c, final=pb.merged_final(x_end),
        final_separate=None if form == "merged" else dict(zip(SEPARATE_NAMES, map(float, x_end))),
        V=V, W=W, K=None if form == "merged" else mats[1], Q=None if form == "merged" else mats[2],
        grad_norm=gn, gtol=gtol, converged=converged, t_final=float(ts[-1]),
        t_max=t_max, trajectory=traj, loss_start=pb.loss(x0), loss_end=pb.loss(x_end),
        invariant_start=pb.invariants(x0), invariant_end=pb.invariants(x_end),
        conserved=pb.conserved(), off_manifold=float(off.max()) if off.size else 0.0, nfev=pb.n_rhs,
        wall_time=wall, message=str(msg), method=f"{method} rhs={rhs}", theta0=pb.t.copy(),
        stop_reason=reason, max_nfev=max_nfev)


def full_matrix_flow(objective, form, train, config, *, t_end=10.0, n_points=21, theta0=None, seed=0,
                     rtol=1e-10, atol=1e-12) -> FullFlowResult:
    """Cross-check: integrate ``dX/dt = -grad_X L`` on *every entry* of the trainable
    ``D x D`` matrices (full NumPy gradient, no projection) from the pretrained point up
    to ``t_end``, and the reduced flow with the same integrator (LSODA) and tolerances,
    on the field :func:`gradient_flow` integrates (``rhs='fast'``: the exact polynomial
    :class:`numerics.reduced.Interpolant` of the projected gradient).

    ``theta0`` defaults to a generic unit vector drawn from ``seed`` (not a coordinate
    axis, so the off-manifold test is not helped by sparsity).  Returns the largest
    off-manifold norm of the full state along the samples and the largest difference
    between its projected coordinates and the reduced flow.

    Args:
        objective, form, train, config: the problem, as in :func:`gradient_flow`.
        t_end: the flow time to integrate to (> 0).
        n_points: samples compared along the way (>= 1).
        theta0: unit target; default a generic unit vector drawn from ``seed``.
        seed: the seed of that draw.
        rtol, atol: LSODA tolerances.

    Returns:
        A :class:`FullFlowResult`.

    Raises:
        ValueError: a bad argument (named).
    """
    t_end = check_positive("t_end", t_end)
    n_points = check_positive_int("n_points", n_points)
    rtol = check_positive("rtol", rtol)
    atol = check_positive("atol", atol)
    objective, form, train, config = check_problem(objective, form, train, config)
    d_ = config.d
    if theta0 is None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        g = np.random.default_rng(seed).standard_normal(d_)
        theta0 = g / np.linalg.norm(g)
    pb, c, (objective, train, form, d, m, N, sigma2, lam), key = setup_problem(
        objective, form, train, config, theta0=theta0)
    D = d + 2
    t_eval = np.linspace(0.0, t_end, n_points)
    x0 = pretrained_state(form, c)
    pb.interp = interpolant(key, pb.terms, d, pb.t)
    red = solve_ivp(pb.rhs_fast, (0.0, t_end), x0, method="LSODA", rtol=rtol, atol=atol, t_eval=t_eval)
    if red.status < 0:
        raise RuntimeError(f"reduced flow failed: {red.message}")
    mats0 = [np.array(M, dtype=float) for M in pb.matrices(x0)]
    slots = vocabulary.MATRICES[form]
    train_idx = [i for i, s in enumerate(slots) if s in pb.trained]
    frozen = [M.copy() for M in mats0]

    def unpack(y):
        mats = [M for M in frozen]
        for j, i in enumerate(train_idx):
            mats[i] = y[j * D * D:(j + 1) * D * D].reshape(D, D)
        return mats

    def full_rhs(_t, y):
        mats = unpack(y)
        if form == "merged":
            grads = weighted_grad(mats[0], mats[1], pb.terms)
        else:
            V, K, Q = mats
            gV, gW = weighted_grad(V, K.T @ Q, pb.terms)
            grads = (gV, Q @ gW.T, K @ gW)
        return -np.concatenate([grads[i].ravel() for i in train_idx])

    y0 = np.concatenate([mats0[i].ravel() for i in train_idx])
    full = solve_ivp(full_rhs, (0.0, t_end), y0, method="LSODA", rtol=rtol, atol=atol, t_eval=t_eval)
    if full.status < 0:
        raise RuntimeError(f"full-matrix flow failed: {full.message}")
    cf, offs = [], []
    for k in range(full.y.shape[1]):
        mats = unpack(full.y[:, k])
        if form == "merged":
            g, res, _ = project_merged_arrays(mats[0], mats[1], pb.t)
        else:
            g, res, _ = project_separate_arrays(*mats, pb.t)
        cf.append(g)
        offs.append(float(np.sqrt(sum(r * r for r in res.values()))))
    cf = np.array(cf)
    cr = red.y.T
    return FullFlowResult(t=full.t, names=pb.names, coords_full=cf, coords_reduced=cr,
                          off_manifold=np.array(offs), max_off_manifold=float(max(offs)),
                          max_coord_diff=float(np.abs(cf - cr).max()),
                          matrices=tuple(unpack(full.y[:, -1])), theta0=pb.t.copy())
