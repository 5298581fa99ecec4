r"""Fine-tuning objectives as weighted sums of exact losses, with their exact gradients.

An objective is a weighted list of loss terms (:data:`vocabulary.OBJECTIVES`): the term
``weight * L_shots(task)`` is, for a task ``kappa theta0 + rho theta_perp``, the exact
closed form ``L_n(V, W; theta)`` of :func:`numerics.expected_loss` with ``n = shots``, and
for the task ``sphere`` the average ``E_{theta ~ U(S^{d-1})} L_n`` of
:func:`numerics.pretrain_loss`.  The value is ``F = sum_k w_k L_{n_k}(task_k)`` and the
Frobenius gradient ``grad F = sum_k w_k grad L_{n_k}(task_k)`` (exact gradients of
:mod:`numerics.gradients`).  So ``zs = L_0(theta0)``, ``fs = L_N(theta0)``,
``zsfs = L_0(theta0) + lam L_N(theta0)``; a new vocabulary entry needs no code here.

Only tasks fixed by the rotations about ``theta0`` (``rho = 0``: ``theta0``, ``-theta0``)
and the sphere average may enter a fine-tuning objective: they keep the flow on the
invariant manifold of :mod:`numerics.manifold`.
"""
from __future__ import annotations

import numpy as np

import vocabulary

from .gradients import weighted_loss_grad
from .moments import TaskMoments, fixed_task, sphere_task
from .objectives import LossTerms
from .validation import check_config, check_matrix, check_objective, check_pair, check_theta

__all__ = ["loss_terms", "weighted_loss", "weighted_grad", "objective_value", "objective_grad",
           "objective_grad_kq"]


def loss_terms(objective: str, theta0: np.ndarray, N: int, sigma2: float, lam: float,
               m: int | None = None) -> list[tuple[int, TaskMoments, float]]:
    """The terms of ``objective`` as ``[(n, task moments, weight)]``.

    Args:
        objective: a key of :data:`vocabulary.OBJECTIVES`.
        theta0: the unit target task (length ``d``, not checked).
        N, lam, m: values of the names ``"N"``, ``"lam"``, ``"m"`` used by the terms.
        sigma2: the label-noise variance.

    Returns:
        One ``(n, TaskMoments, weight)`` per term: ``fixed_task(kappa theta0)`` for a task
        with ``rho = 0``, ``sphere_task(d)`` for ``sphere``.

    Raises:
        ValueError: an unknown objective, a missing value, or a task with ``rho != 0``.
    """
    out = []
    for n, task, w in vocabulary.objective_terms(objective, N=N, m=m, lam=lam):
        tk = vocabulary.TASKS[task]
        if tk.kappa is None:
            tm = sphere_task(theta0.shape[0], sigma2)
        elif tk.rho == 0:
            tm = fixed_task(tk.kappa * theta0, sigma2)
        else:
            raise ValueError(f"objective {objective!r}: task {task!r} has rho != 0 and breaks the "
                             "symmetry about theta0 that fine-tuning flows rely on")
        out.append((n, tm, w))
    return out


def weighted_loss(V, W, terms):
    """``F = sum_k w_k L_{n_k}(V, W; task_k)`` for ``terms`` of :func:`loss_terms` (unchecked);
    a float, or the values at a stack ``V, W`` of shape ``(B, D, D)``.

    The ``n``-free parts of the closed form are computed once per distinct task and each
    ``L_{n_k}`` is assembled from them (:meth:`numerics.objectives.LossTerms.assemble`, equal
    to :func:`numerics.objectives.generalized_loss` bit for bit), so ``L_0 + lam L_N`` on one
    task builds the terms once."""
    v = V[..., -1, :].copy()
    parts: list = []  # [(task moments, n-free parts)]
    F = 0
    for n, tm, w in terms:
        p = next((p for t, p in parts if t.same_as(tm)), None)
        if p is None:
            p = LossTerms.build(v, W, tm, 0).parts()
            parts.append((tm, p))
        F = F + w * LossTerms.assemble(p, n, tm.tau)
    return float(F) if np.ndim(F) == 0 else F


def weighted_grad(V, W, terms):
    """``(G_V, G_W) = sum_k w_k grad L_{n_k}(V, W; task_k)`` (unchecked; zero weights skipped;
    terms on one task share one evaluation, :func:`numerics.gradients.weighted_loss_grad`)."""
    return weighted_loss_grad(V, W, terms)


def _checked_terms(objective, d, theta0, config):
    objective = check_objective(objective)
    theta0 = check_theta(theta0, d, "theta0")
    config = check_config(config)
    if config.d != d:
        raise ValueError(f"config: d = {config.d} does not match the {d + 2} x {d + 2} matrices (d = {d})")
    return loss_terms(objective, theta0, config.N, config.sigma2, config.lam, config.m)


def objective_value(objective, V, W, theta0, config) -> float:
    """The exact objective ``F = sum_k w_k L_{n_k}(task_k)``: ``zs = L_0(theta0)``,
    ``fs = L_N(theta0)``, ``zsfs = L_0 + lam L_N``.

    Args:
        objective: a fine-tuning objective of :data:`vocabulary.OBJECTIVES`.
        V, W: ``D x D`` matrices (merged form).
        theta0: the target task, length ``D - 2``.
        config: a :class:`vocabulary.Config` (``N`` fine-tuning shots, ``m`` pretraining shots,
            noise variance ``sigma2``, weight ``lam``; its ``d`` must be ``D - 2``); required.

    Returns:
        The value as a float.

    Raises:
        ValueError: an unknown objective, or a bad matrix, task or configuration (named).
    """
    V, W = check_pair(V, W)
    return weighted_loss(V, W, _checked_terms(objective, V.shape[0] - 2, theta0, config))


def objective_grad(objective, V, W, theta0, config):
    """Frobenius gradient of :func:`objective_value`: ``sum_k w_k grad L_{n_k}(task_k)``.

    Args:
        As :func:`objective_value`.

    Returns:
        ``(G_V, G_W)``.

    Raises:
        ValueError: as :func:`objective_value`.
    """
    V, W = check_pair(V, W)
    return weighted_grad(V, W, _checked_terms(objective, V.shape[0] - 2, theta0, config))


def objective_grad_kq(objective, V, K, Q, theta0, config):
    """Separate form ``W = K^T Q``: ``G_K = Q G_W^T``, ``G_Q = K G_W`` with ``(G_V, G_W)``
    of :func:`objective_grad` at ``W = K^T Q``.

    Args:
        As :func:`objective_value`, with ``K, Q`` in place of ``W``.

    Returns:
        ``(G_V, G_K, G_Q)``.

    Raises:
        ValueError: as :func:`objective_value`.
    """
    V = check_matrix("V", V)
    K = check_matrix("K", K, dim=V.shape[0])
    Q = check_matrix("Q", Q, dim=V.shape[0])
    terms = _checked_terms(objective, V.shape[0] - 2, theta0, config)
    gV, gW = weighted_grad(V, K.T @ Q, terms)
    return gV, Q @ gW.T, K @ gW
