r"""The central object: an objective over the full trainable matrices of one parametrisation.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

A :class:`Problem` fixes an objective (a key of :data:`vocabulary.OBJECTIVES`: ``zs``,
``fs``, ``zsfs``, ``pretrain``), a form (``merged``: ``V, W``; ``separate``: ``V, K, Q``), a
trained subset (:data:`vocabulary.TRAIN`) and the values of the frozen matrices.  The
parameter vector ``x`` is the concatenation of the *full* ``D x D`` trained matrices
(row-major, in the order of :data:`vocabulary.MATRICES`), so ``P = (#trained) D^2``.  The
objective is ``sum_k w_k L_{n_k}(task_k)`` over :func:`vocabulary.objective_terms`, and its
gradient the weighted sum of the exact Frobenius gradients
(:func:`numerics.gradients.weighted_loss_grad`; separate form by the chain rule
``G_K = Q G_W^T``, ``G_Q = K G_W``).

A problem is built from ``(objective, form, train, config, mats)``, the call shape every
route of :mod:`numerics` shares (``config`` a :class:`vocabulary.Config`; no value is
defaulted to the paper's setting).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vocabulary import MATRICES, OBJECTIVES, TRAIN, Config, objective_terms

from .batching import T, chunked
from .finetune_objective import weighted_loss
from .gradients import weighted_loss_grad
from .moments import fixed_task, sphere_task
from .validation import check_config, check_matrix, check_theta

__all__ = ["Problem", "task_moments"]


def task_moments(task: str, theta0: np.ndarray, sigma2: float):
    """The :class:`numerics.moments.TaskMoments` of a task name of an objective term (``target``
    ``theta0``, ``negated`` ``-theta0``, ``sphere``)."""
    if task == "target":
        return fixed_task(theta0, sigma2)
    if task == "negated":
        return fixed_task(-theta0, sigma2)
    if task == "sphere":
        return sphere_task(theta0.shape[0], sigma2)
    raise ValueError(f"task {task!r} has no moments here")  # pragma: no cover


@dataclass
class Problem:
    """An objective over the full trainable matrices of one parametrisation.

    Build it with :meth:`Problem.build`.  ``x`` (a flat vector) holds the trained matrices;
    :meth:`matrices` returns every matrix of the form (frozen ones from ``frozen``).
    """

    objective: str
    form: str
    train: str
    d: int
    N: int
    m: int
    sigma2: float
    lam: float
    theta0: np.ndarray
    frozen: dict
    trained: tuple
    terms: tuple  # ((n, TaskMoments, weight), ...)

    @classmethod
    def build(cls, objective, form, train, config, mats, *, theta0=None) -> "Problem":
        """Args:
            objective: a key of :data:`vocabulary.OBJECTIVES`.
            form, train: a form and one of its subsets (:data:`vocabulary.TRAIN`).
            config: a :class:`vocabulary.Config` (``N`` few-shot, ``m`` pretraining shots,
                ``sigma2``, ``lam``; its ``d`` must match the matrices).
            mats: a dict or tuple of the form's matrices (``V, W`` or ``V, K, Q``), ``D x D``;
                the frozen ones are kept, the trained ones give the reference point.
            theta0: unit target (default ``e_1``); unused by ``pretrain``.

        Returns:
            A :class:`Problem`.

        Raises:
            ValueError: any bad argument, named.
        """
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        if form not in TRAIN:
            raise ValueError(f"form must be one of {', '.join(TRAIN)}, got {form!r}")
        if train not in TRAIN[form]:
            raise ValueError(f"train must be one of {', '.join(TRAIN[form])} for the {form} form, got {train!r}")
        config = check_config(config)
        names = MATRICES[form]
        if isinstance(mats, dict):
            missing = [k for k in names if k not in mats]
            if missing:
                raise ValueError(f"mats: missing matrix {missing[0]}")
            mats = tuple(mats[k] for k in names)
        if len(mats) != len(names):
            raise ValueError(f"mats must hold {len(names)} matrices ({', '.join(names)}), got {len(mats)}")
        first = check_matrix(names[0], mats[0])
        arrs = [first] + [check_matrix(k, M, dim=first.shape[0]) for k, M in zip(names[1:], mats[1:])]
        D = first.shape[0]
        if D < 3:
            raise ValueError(f"{names[0]} must be at least 3 x 3 (D = d + 2, d >= 1), got {D} x {D}")
        d = D - 2
        if config.d != d:
            raise ValueError(f"config: d = {config.d} does not match the {D} x {D} matrices (d = {d})")
        theta0 = np.eye(d)[0] if theta0 is None else check_theta(theta0, d, "theta0")
        nrm = float(np.linalg.norm(theta0))
        if abs(nrm - 1.0) > 1e-12:
            raise ValueError(f"theta0 must be a unit vector, got |theta0| = {nrm}")
        N, m, sigma2, lam = config.N, config.m, config.sigma2, config.lam
        terms = tuple((n, task_moments(task, theta0, sigma2), w) for n, task, w in
                      objective_terms(objective, N=N, m=m, lam=lam) if w != 0.0)
        return cls(objective, form, train, d, N, m, sigma2, lam, theta0,
                   {k: A.copy() for k, A in zip(names, arrs)}, TRAIN[form][train], terms)

    @property
    def config(self) -> Config:
        """The configuration ``(d, m, N, sigma2, lam)`` the problem was built with."""
        return Config(self.d, self.m, self.N, self.sigma2, self.lam)

    # ---------------------------------------------------------------- packing
    @property
    def D(self) -> int:
        return self.d + 2

    @property
    def size(self) -> int:
        """Number of parameters ``P = (#trained matrices) D^2``."""
        return len(self.trained) * self.D * self.D

    def pack(self, mats=None) -> np.ndarray:
        """The flat vector of the trained matrices (default: the reference point)."""
        src = self.frozen if mats is None else (mats if isinstance(mats, dict) else dict(zip(MATRICES[self.form], mats)))
        return np.concatenate([np.asarray(src[k], dtype=float).ravel() for k in self.trained])

    def matrices(self, x: np.ndarray) -> dict:
        """All matrices of the form at ``x`` (a dict by name).  ``x`` may be a stack of
        points ``(B, P)``: the trained matrices are then ``(B, D, D)`` and the frozen ones
        stay ``D x D``."""
        D2 = self.D * self.D
        out = dict(self.frozen)
        for j, k in enumerate(self.trained):
            out[k] = x[..., j * D2:(j + 1) * D2].reshape(x.shape[:-1] + (self.D, self.D))
        return out

    def merged(self, x: np.ndarray):
        """``(V, W)`` at ``x`` (``W = K^T Q`` in the separate form); at a stack of points
        ``(B, P)`` both are ``(B, D, D)``."""
        return self._merged(self.matrices(x), x.shape[:-1])

    def _merged(self, mt: dict, lead: tuple):
        V = mt["V"]
        W = mt["W"] if self.form == "merged" else T(mt["K"]) @ mt["Q"]
        if lead:  # a stack: a frozen V (or W) is shared by every point
            V = np.broadcast_to(V, lead + V.shape[-2:])
            W = np.broadcast_to(W, V.shape)
        return V, W

    def block_slices(self) -> dict:
        """``{matrix name: slice of x}``."""
        D2 = self.D * self.D
        return {k: slice(j * D2, (j + 1) * D2) for j, k in enumerate(self.trained)}

    # ---------------------------------------------------------------- values
    @chunked
    def loss(self, x: np.ndarray):
        """The objective ``sum_k w_k L_{n_k}(task_k)`` at ``x`` (a float), or at each row of
        a stack ``(B, P)`` (an array ``(B,)``)."""
        return weighted_loss(*self.merged(x), self.terms)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """The exact Frobenius gradient over the trained matrices, flat (``P``,)."""
        return self._grad_at(x)

    def grad_many(self, X) -> np.ndarray:
        """The exact gradient at every row of ``X``, evaluated together.

        One closed-form evaluation per task of the objective for the whole stack
        (:func:`numerics.gradients.weighted_loss_grad` on ``(B, D, D)`` matrices, no Python
        loop over the points); row ``i`` equals :meth:`grad` at ``X[i]`` up to rounding.

        Args:
            X: points, shape ``(B, P)`` with ``P = problem.size`` (``B >= 0``).

        Returns:
            The gradients, shape ``(B, P)``.

        Raises:
            ValueError: ``X`` is not a finite array of shape ``(B, P)``.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.size:
            raise ValueError(f"X must have shape (B, {self.size}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite")
        if X.shape[0] == 0:
            return np.zeros((0, self.size))
        return self._grad_at(X)

    @chunked  # bounded memory at large d
    def _grad_at(self, x: np.ndarray) -> np.ndarray:
        """:meth:`grad` at one point ``(P,)`` or at a stack ``(B, P)`` (same code: the
        matrices carry the leading axes, the frozen ones are broadcast).  Separate form:
        ``G_K = Q G_W^T``, ``G_Q = K G_W`` at ``W = K^T Q``."""
        mt = self.matrices(x)
        lead = x.shape[:-1]
        gV, gW = weighted_loss_grad(*self._merged(mt, lead), self.terms)
        if self.form == "merged":
            g = {"V": gV, "W": gW}
        else:
            g = {"V": gV, "K": mt["Q"] @ T(gW), "Q": mt["K"] @ gW}
        return np.concatenate([g[k].reshape(lead + (-1,)) for k in self.trained], axis=-1)
