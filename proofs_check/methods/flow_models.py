"""Fine-tuned models and their exact test-error curves.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
A method is ``pretrained`` or ``OBJECTIVE-SUBSET``
(``zs-all``, ``zs-v``, ``zs-w``, ``zsfs-all``, ``zsfs-v``, ``zsfs-w``); a fine-tuned model
is the end point of the exact population gradient flow from the pretrained point
(:func:`numerics.flow.gradient_flow`, merged form).  Tasks (``theta0 = e_1``,
``theta_perp = e_2``): ``target`` ``theta0``, ``negated`` ``-theta0``, ``orthogonal``
``theta_perp``, ``sphere`` the average over ``theta ~ U(S^{d-1})``.
"""
from __future__ import annotations

import numpy as np

import vocabulary
from numerics.flow import pretrained_c
from numerics.manifold import merged_point
from numerics.moments import fixed_task, sphere_task
from numerics.objectives import loss_curve
from numerics.endpoints import reduced_flow

from vocabulary import Config

__all__ = ["MERGED_METHODS", "TASKS", "endpoint", "model", "curve", "exact_curve", "task_vector"]

#: method name -> ``(objective, merged subset)`` (``None`` for ``pretrained``), from
#: :func:`vocabulary.methods_for` in the merged form
MERGED_METHODS = {name: None if vocabulary.METHODS[name].objective is None
                  else (vocabulary.METHODS[name].objective, vocabulary.METHODS[name].train_for("merged"))
                  for name in vocabulary.methods_for("merged")}
#: the evaluation tasks of :data:`vocabulary.TASKS`
TASKS = tuple(vocabulary.EVALUATION_TASKS)


def _flow(objective, train, cfg: Config):
    # memoised in numerics (shared with the symmetric stage of the end-point classification)
    return reduced_flow(objective, "merged", train, cfg)


def endpoint(method: str, cfg: Config):
    """``(coords, flow)``: the merged reduced coordinates of the model and the
    :class:`numerics.flow.FlowResult` (``None`` for ``pretrained``)."""
    if method not in MERGED_METHODS:
        raise ValueError(f"method must be one of {', '.join(MERGED_METHODS)}, got {method!r}")
    if MERGED_METHODS[method] is None:  # pretrained_c rejects m = 0 (L_pre is flat in c)
        c = pretrained_c(cfg.d, cfg.m, cfg.sigma2)
        return {"a": 0.0, "b": 1.0, "q": 0.0, "alpha": c, "beta": c, "h": 0.0}, None
    fl = _flow(*MERGED_METHODS[method], cfg)
    return dict(fl.final), fl


def model(method: str, cfg: Config):
    """``(V, W)`` of the model, with ``theta0 = e_1``."""
    coords, _ = endpoint(method, cfg)
    return merged_point(coords, task_vector("target", cfg.d))


def task_vector(task: str, d: int) -> np.ndarray | None:
    """The task vector for ``target``/``negated``/``orthogonal``; ``None`` for ``sphere``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if vocabulary.TASKS[task].kappa is None:
        return None
    if vocabulary.TASKS[task].rho and d < 2:
        raise ValueError(f"task: {task} needs d >= 2 (no unit vector is orthogonal to theta0 when d = 1)")
    tk = vocabulary.TASKS[task]  # theta = kappa e_1 + rho e_2
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


def curve(method: str, task: str, cfg: Config, shots: tuple[int, int]) -> list[float]:
    """Exact ``n``-shot test error ``L_n`` for ``n = shots[0] .. shots[1]`` inclusive."""
    V, W = model(method, cfg)
    return exact_curve(V, W, task_vector(task, cfg.d), cfg.sigma2, shots)
