"""A method -> its fine-tuned end point -> its exact test-error curves.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
A method is ``pretrained`` or ``OBJECTIVE-SUBSET`` (:data:`vocabulary.METHODS`: ``zs-all``,
``zs-v``, ``zsfs-w``, ...).  Its end point is taken in a form (``merged``, or ``separate``
with ``W = K^T Q``), from a start (``symmetric``: the exact population gradient flow from the
pretrained member, which stays on the invariant manifold; ``generic``: the end point after
escaping every saddle along its most negative eigenvector,
:func:`numerics.endpoints.generic_outcome`) and a pretrained member (``scale``: ``s > 0`` or
``balanced``).  Tasks (``theta0 = e_1``, ``theta_perp = e_2``): ``target`` ``theta0``,
``negated`` ``-theta0``, ``orthogonal`` ``theta_perp``, ``sphere`` the average over
``theta ~ U(S^{d-1})``.

An end point is read in one of two ways:

* :func:`outcome` (:func:`fine_tune` for an objective and a subset): the classified end point,
  a :class:`numerics.endpoints.ClassifiedEndpoint` with its problem, flow stages and stability; what
  ``iclft curve`` and ``iclft finetune`` report.
* :func:`endpoint`: the merged reduced coordinates of the symmetric end point at ``s = 1``
  with its :class:`numerics.flow.FlowResult` (:func:`reduced_record`, memoised),
  unclassified: what the claims evaluate over their grids.

:func:`model` is ``(V, W)`` of a method's end point (the reduced flow's for the merged
symmetric end point at ``s = 1``, the outcome's otherwise); :func:`curve` its exact test-error
curve (:func:`exact_curve`).  :func:`convention_model` is a method's model under another
modelling convention (:data:`vocabulary.CONVENTIONS`).
"""
from __future__ import annotations

import functools

import numpy as np

import vocabulary
from numerics.conventions import family_point, pretrained_gains, value_only_limit
from numerics.endpoints import STARTS, generic_outcome, pretrained_member, reduced_flow, symmetric_outcome
from numerics.flow import pretrained_c
from numerics.manifold import merged_coords, merged_point
from numerics.moments import fixed_task, sphere_task
from numerics.objectives import loss_curve
from vocabulary import Config

__all__ = ["MERGED_METHODS", "task_vector", "exact_curve", "endpoint", "reduced_record", "fine_tune", "outcome",
           "model", "curve", "coords", "convention_model"]

#: the methods of the merged form: name -> ``(objective, merged subset)`` (``None`` for
#: ``pretrained``), from :func:`vocabulary.methods_for`
MERGED_METHODS = {name: None if vocabulary.METHODS[name].objective is None
                  else (vocabulary.METHODS[name].objective, vocabulary.METHODS[name].train_for("merged"))
                  for name in vocabulary.methods_for("merged")}


def task_vector(task: str, d: int) -> np.ndarray | None:
    """The task vector for ``target``/``negated``/``orthogonal``; ``None`` for ``sphere``."""
    if task not in vocabulary.EVALUATION_TASKS:
        raise ValueError(f"task must be one of {', '.join(vocabulary.EVALUATION_TASKS)}, got {task!r}")
    tk = vocabulary.TASKS[task]  # theta = kappa e_1 + rho e_2
    if tk.kappa is None:
        return None
    if tk.rho and d < 2:
        raise ValueError(f"task: {task} needs d >= 2 (no unit vector is orthogonal to theta0 when d = 1)")
    th = np.zeros(d)
    th[0] = tk.kappa
    if tk.rho:
        th[1] = tk.rho
    return th


def exact_curve(V, W, theta, sigma2: float, shots: tuple[int, int]) -> list[float]:
    """``L_n(V, W; theta)`` for ``n = shots[0] .. shots[1]`` (``theta = None``: the sphere
    average ``E_theta L_n``), each equal to :func:`numerics.expected_loss` (or
    :func:`numerics.pretrain_loss`) at that ``n``, computed from one set of ``n``-free parts
    (:func:`numerics.objectives.loss_curve`)."""
    lo, hi = shots
    d = V.shape[0] - 2
    tm = sphere_task(d, sigma2) if theta is None else fixed_task(np.asarray(theta, dtype=float), sigma2)
    return loss_curve(V, W, tm, range(lo, hi + 1))


def endpoint(method: str, cfg: Config):
    """``(coords, flow)``: the merged reduced coordinates of the symmetric end point of
    ``method`` at ``s = 1`` and its :class:`numerics.flow.FlowResult` (``None`` for
    ``pretrained``, whose coordinates are ``a = q = h = 0``, ``b = 1``, ``alpha = beta = c``)."""
    if method not in MERGED_METHODS:
        raise ValueError(f"method must be one of {', '.join(MERGED_METHODS)}, got {method!r}")
    if MERGED_METHODS[method] is None:  # pretrained_c rejects m = 0 (L_pre is flat in c)
        c = pretrained_c(cfg.d, cfg.m, cfg.sigma2)
        return {"a": 0.0, "b": 1.0, "q": 0.0, "alpha": c, "beta": c, "h": 0.0}, None
    objective, train = MERGED_METHODS[method]
    fl = reduced_record(objective, "merged", train, cfg)
    return dict(fl.final), fl


def reduced_record(objective: str, form: str, train: str, cfg: Config):
    """The :class:`numerics.flow.FlowResult` of the symmetric flow from the pretrained point
    (member ``s = 1``) on the reduced coordinates, with its trajectory:
    :func:`numerics.endpoints.reduced_flow`, memoised in numerics and shared with the symmetric
    stage of :func:`fine_tune` at ``s = 1`` (do not modify it)."""
    return reduced_flow(objective, form, train, cfg)


def _check(method, form, start):
    if form not in ("merged", "separate"):
        raise ValueError(f"form must be merged or separate, got {form!r}")
    if method not in vocabulary.METHODS:
        raise ValueError(f"method must be one of {', '.join(vocabulary.METHODS)}, got {method!r}")
    if method not in vocabulary.methods_for(form):
        raise ValueError(f"method {method} needs --form separate (it trains K or Q alone)")
    if start not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}, got {start!r}")


@functools.lru_cache(maxsize=64)
def fine_tune(objective: str, form: str, train: str, cfg: Config, start: str = "symmetric", scale=1.0):
    """The classified end point of fine-tuning ``train`` on ``objective`` from ``start``
    (:func:`numerics.endpoints.symmetric_outcome` or :func:`numerics.endpoints.generic_outcome`),
    memoised on its arguments (the flows are deterministic; do not modify the result).

    Args:
        objective: a fine-tuning objective of :data:`vocabulary.OBJECTIVES`.
        form: ``merged`` or ``separate``.
        train: a subset of ``vocabulary.TRAIN[form]``.
        cfg: the configuration.
        start: ``symmetric`` or ``generic``.
        scale: the pretrained member, ``s > 0`` or ``balanced``.

    Returns:
        A :class:`numerics.endpoints.ClassifiedEndpoint`.
    """
    route = generic_outcome if start == "generic" else symmetric_outcome
    return route(objective, form, train, cfg, scale=scale)


def outcome(method: str, cfg: Config, form: str = "merged", start: str = "symmetric", scale=1.0):
    """The classified end point of ``method`` (:func:`fine_tune`; ``None`` for ``pretrained``).

    Args:
        method: a key of :data:`vocabulary.METHODS` available in ``form``.
        cfg: the configuration.
        form: ``merged`` or ``separate``.
        start: ``symmetric`` or ``generic``.
        scale: the pretrained member, ``s > 0`` or ``balanced``.

    Returns:
        A :class:`numerics.endpoints.ClassifiedEndpoint`, or ``None`` for the pretrained model.
    """
    _check(method, form, start)
    meth = vocabulary.METHODS[method]
    if meth.objective is None:
        return None
    return fine_tune(meth.objective, form, meth.train_for(form), cfg, start, scale)


def model(method: str, cfg: Config, form: str = "merged", start: str = "symmetric", scale=1.0):
    """``(V, W)`` of the end point of ``method`` (``W = K^T Q`` in the separate form), full
    matrices with ``theta0 = e_1``: the merged symmetric end point at ``s = 1`` from
    :func:`endpoint`, any other from :func:`outcome`; the pretrained member for ``pretrained``."""
    _check(method, form, start)
    if form == "merged" and start == "symmetric" and scale == 1.0:
        point, _ = endpoint(method, cfg)
        return merged_point(point, task_vector("target", cfg.d))
    o = outcome(method, cfg, form, start, scale)
    if o is None:
        mats = pretrained_member(cfg.d, cfg.m, cfg.sigma2, form, scale)
        return (mats["V"], mats["W"]) if form == "merged" else (mats["V"], mats["K"].T @ mats["Q"])
    return o.merged


def curve(method: str, task: str, cfg: Config, shots: tuple[int, int], form: str = "merged",
          start: str = "symmetric", scale=1.0) -> list[float]:
    """Exact ``n``-shot test error ``L_n`` of :func:`model` for ``n = shots[0] .. shots[1]``
    inclusive (``sphere``: the average over unseen tasks)."""
    V, W = model(method, cfg, form, start, scale)
    return exact_curve(V, W, task_vector(task, cfg.d), cfg.sigma2, shots)


def coords(V, W, d: int) -> tuple[dict, float]:
    """Merged reduced coordinates of ``(V, W)`` (projection) and the off-manifold residual."""
    pr = merged_coords(V, W, np.eye(d)[0])
    return dict(pr.coeffs), float(pr.residual)


def convention_model(method: str, cfg: Config, conv, form: str, start: str, scale):
    """``(V, W, info)`` of ``method`` under the convention ``conv``: the convention's pretrained
    point (:func:`numerics.conventions.pretrained_gains`) or its V-only fine-tuned end point
    (:func:`numerics.conventions.value_only_limit`, exact: the objective is a quadratic in the
    value row, so the flow from either start ends on its minimiser set); any other method is
    refused (its flow runs under the default convention only)."""
    meth = vocabulary.METHODS[method]
    del start  # a V-only quadratic ends where the flow from either start does
    if form != "merged" or scale != 1.0 or (meth.objective is not None and meth.train_for("merged") != "v"):
        raise ValueError(f"--convention {conv.name}: only --method pretrained, zs-v and zsfs-v (merged form, "
                         "pretrained scale 1) are computed under another convention; the flows of the other "
                         "methods run under today's convention only")
    gains = pretrained_gains(cfg.d, cfg.m, cfg.sigma2, conv)
    V, W = family_point(cfg.d, gains)
    info = {"convention": conv.as_dict(), "pretrained_gains": [float(g) for g in gains],
            "theta0": "e_1", "flow": None}
    if meth.objective is not None:
        t0 = np.eye(cfg.d)[0]
        terms = []
        for n_, task, w in vocabulary.objective_terms(meth.objective, N=cfg.N, m=cfg.m, lam=cfg.lam):
            tk = vocabulary.TASKS[task]
            terms.append((n_, None if tk.kappa is None else tk.kappa * t0, w))
        V, gn, eig = value_only_limit(V, W, terms, cfg.sigma2, conv)
        info["flow"] = {"stop": "converged", "grad_norm": gn,
                        "method": "exact limit of the V-only flow on a quadratic: v0 - H^+ grad(v0)",
                        "hessian_min_eigenvalue": float(eig.min())}
        info["value_row"] = [float(x) for x in V[-1]]
    return V, W, info
