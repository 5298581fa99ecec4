r"""Degenerate starts: zero-shot training of one attention matrix while the value row is frozen.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

At ``n = 0`` the prompt is the query alone, ``S = z_q z_q^T``, so
``yhat = (v . z_q)(z_q^T W z_q)`` with ``v = V[y, :]`` the value row: ZS reads ``W`` only
through ``v_0`` and ``u = v_x = V[y, 1..d]`` (never through ``v_y``, since ``z_q[y] = 0``).
At the exact pretrained point ``v = e_y``, so ZS does not depend on ``W`` and training ``W``
(merged), or ``K`` or ``Q`` alone (separate), does not move.  An SGD-pretrained model has a
small leftover ``u`` (and ``v_0``).

With ``V`` frozen, ``yhat`` is linear in ``W``, hence linear in ``K`` (``Q`` fixed) and in
``Q`` (``K`` fixed) when ``W = K^T Q``: ZS is a **convex quadratic** in the trained matrix
``p``, ``ZS(p) = ZS(p_0) + g_0^T (p - p_0) + (p - p_0)^T H (p - p_0)/2`` with a constant
Hessian ``H >= 0``.  Its gradient flow ``dp/dt = -(g_0 + H (p - p_0))`` is linear and solved
exactly by the eigendecomposition ``H = U diag(l) U^T``:

    p(t) = p_0 - U diag((1 - exp(-l t))/l) U^T g_0,        p(inf) = p_0 - H^+ g_0,

(``(1 - e^{-lt})/l -> t`` on the null space, where ``U^T g_0 = 0`` because ZS is bounded
below by ``sigma2``).  The end point ``p(inf)`` is the Frobenius projection of the start on
the minimiser set; every stationary point of a convex function is a global minimum, so the
end point is stable, and it depends continuously (affinely) on the start: generic.  The
slowest rate is the smallest positive eigenvalue ``l_min``; the flow needs ``t >> 1/l_min``.

Scaling: ``ZS`` depends on ``(v, W)`` through ``(v_0, u) (x) W`` only, so the end point's
read part is ``W* ~ 1/|v|`` and every eigenvalue of ``H`` is ``O(|v|^2)``: as ``|u| -> 0``
(``v_0 = 0``) the fit costs ``|W| ~ 1/|u|``, the flow's time scale grows like ``1/|u|^2``,
and for ``n >= 1`` the demonstrations enter through ``v_y = 1`` times ``W``, so
``L_n ~ C_n/|u|^2``.  :mod:`theory.degenerate` derives ``W*`` and ``C_n`` symbolically.

:func:`Hessian <numerics.hessian.hessian>` here is the exact 3-point stencil of the exact
gradient (the gradient is affine in ``p``, so the stencil has no truncation error).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import vocabulary

from .hessian import hessian
from .moments import fixed_task, sphere_task
from .objectives import loss_curve
from .pretrained import pretrained_c
from .problem import Problem
from .validation import check_count, check_nonneg, check_positive_int, check_theta

__all__ = ["DegenerateOutcome", "DEGENERATE_TRAIN", "leftover_start", "degenerate_start_outcome",
           "frozen_value_flow", "RANK_RTOL", "EXCITED_RTOL"]

#: the trained subsets for which ZS with the value row frozen is a quadratic: ``{form: subsets}``
DEGENERATE_TRAIN = {"merged": ("w",), "separate": ("k", "q")}

#: relative eigenvalue cut of the pseudo-inverse: eigenvalues of ``H`` below
#: ``RANK_RTOL * max(l)`` are treated as its null space, i.e. modes more than ``1e9`` times
#: slower than the fastest are taken not to move (their relaxation is beyond any run)
RANK_RTOL = 1e-9
#: a mode of ``H`` is excited by the start when its gradient component exceeds
#: ``EXCITED_RTOL |g_0|`` (the other modes stay where they start)
EXCITED_RTOL = 1e-8


@dataclass
class DegenerateOutcome:
    """The outcome of ZS training of one matrix with the value row frozen.

    ``V, W``: the merged matrices at the end point (``W = K^T Q`` in the separate form);
    ``mats``: every matrix of the form there; ``zs``: ZS at the end point; ``zs_start``;
    ``w_norm``: ``|W|_F``; ``w_read_norm``: the Frobenius norm of the part of ``W`` that ZS
    reads (``W_00``, ``W_0x + W_x0^T``, the symmetric x-block); ``rate``: the slowest positive
    eigenvalue of the Hessian; ``rate_excited``: the slowest one the start excites (the flow
    reaches the end point for ``t >> 1/rate_excited``); ``rank``
    of the Hessian; ``t``: the flow time (``inf`` for the end point); ``curves``:
    ``{task: [L_n for n in shots]}`` on ``target``, ``negated``, ``orthogonal``, ``sphere``.
    """

    form: str
    train: str
    V: np.ndarray
    W: np.ndarray
    mats: dict
    zs: float
    zs_start: float
    w_norm: float
    w_read_norm: float
    rate: float
    rate_excited: float
    rank: int
    t: float
    shots: list
    curves: dict = field(default_factory=dict)


def _check_train(form, train):
    if form not in DEGENERATE_TRAIN:
        raise ValueError(f"form must be one of {', '.join(DEGENERATE_TRAIN)}, got {form!r}")
    if train not in DEGENERATE_TRAIN[form]:
        raise ValueError(f"train must be one of {', '.join(DEGENERATE_TRAIN[form])} for the "
                         f"{form} form (ZS is a quadratic only when one attention matrix is "
                         f"trained and V is frozen), got {train!r}")


def leftover_start(d, m, sigma2=0.0, u=None, v0=0.0, form="separate"):
    """The pretrained point with a leftover value row: ``V = e_y e_y^T`` with
    ``V[y, 1..d] = u`` and ``V[y, 0] = v0``; ``W = c* diag(0, I, 0)`` (merged) or
    ``K = Q = sqrt(c*) diag(0, I, 0)`` (separate).

    Args:
        d, m, sigma2: the configuration (``c*`` is :func:`numerics.pretrained_c`); ``sigma2``
            defaults to ``0.0`` in the Python API (the ``iclft`` command line uses ``0.1``).
        u: the leftover ``V[y, x]``, length ``d`` (default zero).
        v0: the leftover ``V[y, 0]``.
        form: ``merged`` or ``separate``.

    Returns:
        ``{"V": V, "W": W}`` or ``{"V": V, "K": K, "Q": Q}``.

    Raises:
        ValueError: a bad argument (named).
    """
    d = check_positive_int("d", d)
    if form not in DEGENERATE_TRAIN:
        raise ValueError(f"form must be one of {', '.join(DEGENERATE_TRAIN)}, got {form!r}")
    c = pretrained_c(d, m, sigma2)
    u = np.zeros(d) if u is None else check_theta(u, d, "u")
    v0 = float(v0)
    if not np.isfinite(v0):
        raise ValueError(f"v0 must be finite, got {v0}")
    D = d + 2
    V = np.zeros((D, D))
    V[-1, -1] = 1.0
    V[-1, 1:-1] = u
    V[-1, 0] = v0
    P = np.zeros((D, D))
    P[1:-1, 1:-1] = np.eye(d)
    if form == "merged":
        return {"V": V, "W": c * P}
    if c <= 0:
        raise ValueError(f"the separate form needs c > 0, got c = {c}")
    return {"V": V, "K": np.sqrt(c) * P, "Q": np.sqrt(c) * P}


def _zs_config(mats, sigma2) -> vocabulary.Config:
    """The configuration of ZS at the start ``mats``: ``d`` from the value matrix and
    ``sigma2``.  ZS (one term, ``L_0`` on ``theta0``) reads nothing else, so ``m = N = 0`` and
    ``lam = 0`` say that those entries are unused (:meth:`numerics.problem.Problem.build`
    names a missing or malformed matrix)."""
    try:
        D = np.shape(mats["V"] if isinstance(mats, dict) else mats[0])[0]
    except (KeyError, IndexError, TypeError):
        D = 3
    return vocabulary.Config(d=max(D - 2, 1), m=0, N=0, sigma2=check_nonneg("sigma2", sigma2), lam=0.0)


def _read_part(W: np.ndarray) -> np.ndarray:
    """The entries of ``W`` that ZS reads: ``W_00``, ``W_0x + W_x0^T``, ``sym(W_xx)``."""
    sym = 0.5 * (W[1:-1, 1:-1] + W[1:-1, 1:-1].T)
    return np.concatenate([[W[0, 0]], W[0, 1:-1] + W[1:-1, 0], sym.ravel()])


def frozen_value_flow(mats, *, form, train, theta0, sigma2=0.0, t=None):
    """The exact ZS gradient flow of one matrix with ``V`` (and the other matrix) frozen.

    ZS is a convex quadratic in the trained matrix ``p`` (module docstring); the flow is
    ``p(t) = p_0 - U diag((1 - e^{-l t})/l) U^T g_0`` with ``H = U diag(l) U^T`` the exact
    Hessian and ``g_0`` the exact gradient at the start; ``t = None`` gives the end point
    ``p_0 - H^+ g_0``.

    Args:
        mats: the start, a dict of the form's matrices (``V, W`` or ``V, K, Q``).
        form, train: ``merged``/``w``, or ``separate``/``k`` or ``q``.
        theta0: the unit target.
        sigma2: label-noise variance, ``>= 0``; ``0.0`` by default in the Python API (the
            ``iclft`` command line uses ``0.1``).
        t: flow time (``>= 0``), or ``None`` for the limit ``t -> inf``.

    Returns:
        ``(mats at p(t), info)`` with ``info = {"zs", "zs_start", "rate", "rate_excited",
        "rank", "t"}``: ``rate`` the smallest positive eigenvalue of ``H``, ``rate_excited``
        the smallest one whose mode the start's gradient excites (the flow is within
        ``e^{-rate_excited t}`` of its end point).

    Raises:
        ValueError: a bad argument, or a Hessian that is not positive semi-definite or a
            gradient outside its range (both impossible for exact arithmetic; they flag a
            bad input, e.g. a huge matrix).
    """
    _check_train(form, train)
    pb = Problem.build("zs", form, train, _zs_config(mats, sigma2), mats, theta0=theta0)
    x0 = pb.pack()
    g0 = pb.grad(x0)
    H = hessian(pb, x0).H
    lam, U = np.linalg.eigh(H)
    top = float(max(abs(lam[0]), abs(lam[-1]), 0.0))
    keep = lam > RANK_RTOL * top if top > 0 else np.zeros(lam.shape, bool)
    if lam[0] < -1e-7 * max(top, 1e-300):
        raise ValueError(f"mats: the ZS Hessian has a negative eigenvalue {lam[0]:.3e} (not convex)")
    c0 = U.T @ g0
    gnorm = float(np.linalg.norm(g0))
    off = float(np.linalg.norm(c0[~keep]))
    if off > 1e-6 * max(gnorm, 1e-300) and off > 1e-12:
        raise ValueError(f"mats: the ZS gradient leaves the range of its Hessian ({off:.3e}); "
                         "ZS is unbounded below only for bad input")
    lk = lam[keep]
    if t is None:
        step = c0[keep] / lk
        tf = float("inf")
    else:
        tf = check_nonneg("t", t)
        step = c0[keep] * (-np.expm1(-lk * tf)) / lk
    x = x0 - U[:, keep] @ step
    if t is not None and np.any(~keep):  # the null-space part moves by t g (zero in exact arithmetic)
        x = x - tf * (U[:, ~keep] @ c0[~keep])
    out = pb.matrices(x)
    excited = np.abs(c0[keep]) > EXCITED_RTOL * max(gnorm, 1e-300)
    info = {"zs": float(pb.loss(x)), "zs_start": float(pb.loss(x0)),
            "rate": float(lk.min()) if lk.size else float("inf"),
            "rate_excited": float(lk[excited].min()) if np.any(excited) else float("inf"),
            "rank": int(keep.sum()), "t": tf}
    return {k: np.array(v) for k, v in out.items()}, info


def degenerate_start_outcome(mats, *, form="separate", train="q", theta0, sigma2=0.0,
                             theta_perp=None, shots=range(0, 21), t=None) -> DegenerateOutcome:
    """Where ZS fine-tuning of ``W`` (merged) or of ``K`` or ``Q`` alone (separate) takes a
    start with a frozen value row, and the exact ``n``-shot errors there.

    The flow is :func:`frozen_value_flow` (exact; ``t = None``: its end point, a global
    minimum of the convex quadratic ZS, reached from any start for ``t >> 1/rate``).  The
    curves are the exact closed forms (:func:`numerics.objectives.loss_curve`) on the
    ``target`` ``theta0``, ``negated`` ``-theta0``, ``orthogonal`` ``theta_perp`` and
    ``sphere`` tasks.  With :func:`leftover_start` this gives the outcome as a function of
    the leftover value row ``u``; with the saved pretrained weights of ``iclft experiment``
    (``DIR/params/pretrained.npz``), the outcome from that start.

    Args:
        mats: a dict of the form's matrices at the start (``V, W`` or ``V, K, Q``).
        form, train: ``merged``/``w``, or ``separate``/``k`` or ``q``.
        theta0: the unit target (length ``d``).
        sigma2: label-noise variance, ``>= 0``; ``0.0`` by default in the Python API (the
            ``iclft`` command line uses ``0.1``).
        theta_perp: a unit task orthogonal to ``theta0`` (default: the unit part of
            ``e_1`` (or ``e_2``) orthogonal to ``theta0``; at ``d = 1`` the zero task).
        shots: the ``n`` of the curves.
        t: flow time, or ``None`` for the end point.

    Returns:
        A :class:`DegenerateOutcome`.

    Raises:
        ValueError: a bad argument (named).

    Example: a leftover ``u = 0.01 theta0`` with ``W`` trained ends at ``W_00 = 1/0.01`` and
    ``ZS = sigma2`` (the constant token carries the fit), with a huge error at ``n = 20``.

    >>> import numpy as np
    >>> t0 = np.eye(3)[0]
    >>> start = leftover_start(3, 10, 0.1, u=0.01 * t0, form="merged")
    >>> out = degenerate_start_outcome(start, form="merged", train="w", theta0=t0, sigma2=0.1)
    >>> round(float(out.W[0, 0]), 6), round(out.zs, 6), round(out.curves["target"][20], 1)
    (100.0, 0.1, 509.0)
    """
    _check_train(form, train)
    theta0 = np.asarray(theta0, dtype=float)
    d = theta0.shape[0] if theta0.ndim == 1 else 0
    theta0 = check_theta(theta0, d, "theta0")
    if abs(float(np.linalg.norm(theta0)) - 1.0) > 1e-12:
        raise ValueError("theta0 must be a unit vector")
    if theta_perp is None:
        e = np.eye(d)[0] if d == 1 or abs(theta0[0]) < 0.9 else np.eye(d)[1]
        p = e - (e @ theta0) * theta0
        theta_perp = p / np.linalg.norm(p) if np.linalg.norm(p) > 0 else np.zeros(d)
    else:
        theta_perp = check_theta(theta_perp, d, "theta_perp")
    shots = [check_count("shots", s) for s in shots]
    sigma2 = check_nonneg("sigma2", sigma2)
    end, info = frozen_value_flow(mats, form=form, train=train, theta0=theta0, sigma2=sigma2, t=t)
    V = end["V"]
    W = end["W"] if form == "merged" else end["K"].T @ end["Q"]
    tasks = {"target": fixed_task(theta0, sigma2), "negated": fixed_task(-theta0, sigma2),
             "orthogonal": fixed_task(theta_perp, sigma2), "sphere": sphere_task(d, sigma2)}
    assert set(tasks) == set(vocabulary.EVALUATION_TASKS)
    curves = {k: [float(x) for x in loss_curve(V, W, tm, shots)] for k, tm in tasks.items()}
    return DegenerateOutcome(form, train, V, W, end, info["zs"], info["zs_start"],
                             float(np.linalg.norm(W)), float(np.linalg.norm(_read_part(W))),
                             info["rate"], info["rate_excited"], info["rank"], info["t"], shots, curves)
