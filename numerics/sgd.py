r"""Minibatch SGD on sampled prompts: the empirical check of the exact flow.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

Forward pass and hand-written backward pass (per prompt ``b``, tokens ``z_j``, ``T = n+1``)
---------------------------------------------------------------------------------------
``u = W z_q``, ``s_j = v.z_j``, ``r_j = z_j.u``, ``yhat = sum_j s_j r_j / T``.  For the
minibatch mean ``L = (1/B) sum_b (yhat_b - y_{q,b})^2`` let ``e_b = 2 (yhat_b - y_{q,b})/B``:

* ``dL/dv = sum_b e_b sum_j r_{bj} z_{bj} / T`` (row ``y`` of ``G_V``; other rows 0);
* ``dL/du_b = e_b sum_j s_{bj} z_{bj} / T`` and ``G_W = sum_b (dL/du_b) z_{q,b}^T``
  (column ``y`` is 0 because ``z_q[y] = 0``);
* separate form: ``G_K = Q G_W^T``, ``G_Q = K G_W``.

Objectives: ``zs`` uses prompts with ``n = 0`` demonstrations, ``fs`` with ``n = N``,
``zsfs`` the sum of a ``zs`` batch and ``lam`` times an ``fs`` batch (independent draws).
Every step draws fresh prompts for the fixed target ``theta0``, so the expected minibatch
gradient is the exact population gradient of :mod:`numerics.flow`.

Iterate averaging: with ``polyak=True`` the returned point is the mean of the iterates of
the last ``avg_frac`` of the run (Polyak-Ruppert averaging), which removes most of the
stationary SGD noise.  Its statistical error is estimated by batch means: the averaging
window is cut into ``n_blocks`` consecutive blocks and the standard error of the block
means is reported per coordinate (``stderr``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import vocabulary

from .finetune_objective import objective_value
from .manifold import MERGED_NAMES, SEPARATE_NAMES, project_merged_arrays, project_separate_arrays, unit_theta0
from .pretrained import pretrained_point
from .sampling import draw_prompts, rng_from_seed, sample_sphere, token_array
from .validation import (check_batch, check_pair, check_positive, check_positive_int, check_problem,
                         check_seed)

__all__ = ["minibatch_grad", "sgd_finetune", "SGDResult", "SGDSettings", "sgd_step", "sgd_terms", "IterateAverager"]


def _batch_grad(v, W, X, y, xq, yq):
    """(loss, g_v (D,), G_W (D, D)) of the minibatch mean squared error (module docstring)."""
    Z = token_array(X, y, xq)
    B, T, D = Z.shape
    zq = Z[:, -1, :]
    u = zq @ W.T                       # (B, D): u_b = W z_q
    s = Z @ v                          # (B, T): v.z_j
    r = (Z @ u[:, :, None])[:, :, 0]   # (B, T): z_j.u
    yhat = np.einsum("bt,bt->b", s, r) / T
    err = yhat - yq
    e = 2.0 * err / B
    # the contractions as matrix products (three-operand einsums loop in C without BLAS)
    gv = ((e[:, None] * r).reshape(-1) @ Z.reshape(B * T, D)) / T
    gu = ((e[:, None] * s)[:, None, :] @ Z)[:, 0, :] / T
    gW = gu.T @ zq
    return float(np.mean(err * err)), gv, gW


def minibatch_grad(V, W, X, y, xq, yq):
    """Gradient of the minibatch mean squared error ``(1/B) sum_b (yhat_b - y_{q,b})^2``
    by the explicit backward pass of the module docstring: returns ``(loss, G_V, G_W)``
    (Frobenius gradients of the full ``D x D`` matrices; only row ``y`` of ``G_V`` and
    columns ``0..d`` of ``G_W`` can be nonzero)."""
    V, W = check_pair(V, W)
    X, y, xq, yq = check_batch(V.shape[0] - 2, X, y, xq, yq)
    loss, gv, gW = _batch_grad(V[-1], W, X, y, xq, yq)
    gV = np.zeros_like(V)
    gV[-1] = gv
    return loss, gV, gW


@dataclass
class SGDResult:
    """Outcome of :func:`sgd_finetune`.

    ``V, W`` (and ``K, Q`` in the separate form; then ``W = K^T Q``): the returned point
    (the Polyak average when ``polyak``, else the last iterate); ``coords``: its merged
    reduced coordinates ``a b q alpha beta h`` (projection, column ``y`` of ``W``
    ignored); ``coords_separate``: separate coordinates (or ``None``); ``stderr``:
    batch-means standard error of each merged coordinate over the averaging window
    (``None`` without averaging); ``off_manifold``: Frobenius norm of the off-manifold
    part of the returned point (merged projection of ``(V, W)``, plus ``K``, ``Q`` in the
    separate form); ``loss_end``: exact population objective at the returned point;
    ``history``: dict ``step`` (k,), ``coords`` (k, 6) merged coordinates of the iterate
    and ``batch_loss`` (k,) smoothed minibatch loss, subsampled; ``wall_time`` seconds."""

    objective: str
    train: str
    form: str
    V: np.ndarray
    W: np.ndarray
    K: np.ndarray | None
    Q: np.ndarray | None
    coords: dict
    coords_separate: dict | None
    stderr: dict | None
    off_manifold: float
    loss_end: float
    history: dict
    lr: float
    steps: int
    batch: int
    seed: int
    wall_time: float


@dataclass(frozen=True)
class SGDSettings:
    """The optimiser's settings (checked on construction).

    Args:
        lr: initial step size (> 0); step ``k`` uses ``lr * lr_decay ** (k / steps)``.
        steps: number of steps (>= 1).
        batch: prompts per term of the objective per step (>= 1).
        seed: random seed (>= 0).
        polyak: average the last ``avg_frac`` of the iterates (Polyak-Ruppert).
        avg_frac: in ``(0, 1]``.
        lr_decay: final over initial step size (> 0; 1 is a constant rate).
        n_blocks: batch-means blocks of the averaging window (>= 1).
        history_points: about how many history samples to keep (>= 1).
        progress: show a tqdm bar.
    """

    lr: float = 0.01
    steps: int = 20_000
    batch: int = 64
    seed: int = 0
    polyak: bool = True
    avg_frac: float = 0.5
    lr_decay: float = 1.0
    n_blocks: int = 20
    history_points: int = 200
    progress: bool = False

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "lr", check_positive("lr", self.lr))
        set_(self, "steps", check_positive_int("steps", self.steps))
        set_(self, "batch", check_positive_int("batch", self.batch))
        set_(self, "seed", check_seed(self.seed))
        set_(self, "avg_frac", check_positive("avg_frac", self.avg_frac))
        if self.avg_frac > 1:
            raise ValueError(f"avg_frac must be in (0, 1], got {self.avg_frac!r}")
        set_(self, "lr_decay", check_positive("lr_decay", self.lr_decay))
        set_(self, "n_blocks", check_positive_int("n_blocks", self.n_blocks))
        set_(self, "history_points", check_positive_int("history_points", self.history_points))
        if not isinstance(self.progress, bool):
            raise ValueError(f"progress must be a bool, got {self.progress!r}")
        if not isinstance(self.polyak, bool):
            raise ValueError(f"polyak must be a bool, got {self.polyak!r}")

    def rate(self, k: int) -> float:
        """``lr_k = lr * lr_decay ** (k / steps)``."""
        return self.lr * self.lr_decay ** (k / self.steps)


def _merged_W(form, mats):
    return mats[1] if form == "merged" else mats[1].T @ mats[2]


def sgd_terms(objective, t0, N, lam, m):
    """``[(n, task sampler, weight)]``: a sampler returns the task of each of ``b`` prompts
    (``kappa theta0``, or draws from the sphere)."""
    d = t0.shape[0]
    out = []
    for n, task, w in vocabulary.objective_terms(objective, N=N, m=m, lam=lam):
        tk = vocabulary.TASKS[task]
        if tk.kappa is None:
            out.append((n, lambda b, rng: sample_sphere(d, b, rng), w))
        elif tk.rho == 0:
            th = t0 if tk.kappa == 1 else tk.kappa * t0
            out.append((n, lambda b, rng, th=th: th, w))
        else:
            raise ValueError(f"objective {objective!r}: task {task!r} has rho != 0 and breaks the "
                             "symmetry about theta0")
    return out


def sgd_step(v, mats, form, trainable, terms, batch, sigma2, rng, lr_k):
    """One SGD step on fresh prompts.

    ``G = sum_k w_k grad (minibatch loss of term k)``; ``v <- v - lr_k g_v`` and
    ``X <- X - lr_k G_X`` for every trainable ``X`` (separate form: ``G_K = Q G_W^T``,
    ``G_Q = K G_W``).

    Args:
        v: the value row (D,); mats: ``[V, W]`` or ``[V, K, Q]`` (row ``y`` of ``V`` is ``v``).
        form: ``merged`` or ``separate``; trainable: a bool per matrix.
        terms: from ``sgd_terms``; batch: prompts per term; sigma2: noise variance.
        rng: the generator; lr_k: this step's rate.

    Returns:
        ``(v, mats, loss)``: the new iterate (new arrays) and the weighted minibatch loss.
    """
    W = _merged_W(form, mats)
    gv = np.zeros_like(v)
    gW = np.zeros_like(W)
    loss = 0.0
    for n, tasks, w in terms:
        if w == 0.0:
            continue
        pr = draw_prompts(tasks(batch, rng), n, batch, sigma2, rng)
        l_, gv_, gW_ = _batch_grad(v, W, pr.X, pr.y, pr.xq, pr.yq)
        loss += w * l_
        gv += w * gv_
        gW += w * gW_
    grads = [None, gW] if form == "merged" else [None, mats[2] @ gW.T, mats[1] @ gW]
    mats = list(mats)
    if trainable[0]:
        v = v - lr_k * gv
    for i in range(1, len(mats)):
        if trainable[i]:
            mats[i] = mats[i] - lr_k * grads[i]
    return v, mats, loss


class IterateAverager:
    """Polyak-Ruppert average of the iterates of the last ``n_avg`` steps, with batch means.

    The window is cut into consecutive blocks of ``max(1, n_avg // n_blocks)`` iterates;
    :meth:`stderr` is the standard error ``std(block means, ddof=1)/sqrt(#blocks)`` of
    each merged coordinate (``coords_of`` maps an iterate to its coordinates).
    """

    def __init__(self, v, mats, n_avg, n_blocks, coords_of):
        self.n_avg = n_avg
        self.count = 0
        self.sum_v = np.zeros_like(v)
        self.sum_m = [np.zeros_like(M) for M in mats]
        self.block_len = max(1, n_avg // n_blocks)
        self.block_coords = []
        self._blk_v = np.zeros_like(v)
        self._blk_m = [np.zeros_like(M) for M in mats]
        self._blk_count = 0
        self._coords_of = coords_of

    def add(self, v, mats):
        """Add one iterate to the running sums and the current block."""
        self.count += 1
        self.sum_v += v
        for i, M in enumerate(mats):
            self.sum_m[i] += M
        self._blk_v += v
        for i, M in enumerate(mats):
            self._blk_m[i] += M
        self._blk_count += 1
        if self._blk_count == self.block_len:
            self.block_coords.append(self._coords_of(self._blk_v / self._blk_count,
                                                     [M / self._blk_count for M in self._blk_m]))
            self._blk_v[:] = 0.0
            for M in self._blk_m:
                M[:] = 0.0
            self._blk_count = 0

    def mean(self):
        """``(v, mats)`` averaged over the window."""
        return self.sum_v / self.n_avg, [M / self.n_avg for M in self.sum_m]

    def stderr(self):
        """Batch-means standard error per merged coordinate, or ``None`` with < 2 blocks."""
        if len(self.block_coords) < 2:
            return None
        bc = np.array(self.block_coords)
        se = bc.std(axis=0, ddof=1) / np.sqrt(bc.shape[0])
        return dict(zip(MERGED_NAMES, map(float, se)))


def _result(objective, train, form, V0, v_out, mats_out, t0, N, sigma2, lam, m, stderr, history,
            settings, wall) -> SGDResult:
    """The :class:`SGDResult` of the returned point ``(v_out, mats_out)``."""
    V_out = V0.copy()
    V_out[-1] = v_out
    W_out = _merged_W(form, mats_out)
    g, res, _ = project_merged_arrays(V_out, W_out, t0)
    coords = dict(zip(MERGED_NAMES, map(float, g)))
    off = float(np.hypot(res["V"], res["W"]))
    coords_sep = None
    K_out = Q_out = None
    if form == "separate":
        K_out, Q_out = mats_out[1], mats_out[2]
        gs, ress, _ = project_separate_arrays(V_out, K_out, Q_out, t0)
        coords_sep = dict(zip(SEPARATE_NAMES, map(float, gs)))
        off = float(np.sqrt(off ** 2 + ress["K"] ** 2 + ress["Q"] ** 2))
    loss_end = objective_value(objective, V_out, W_out, t0, N, sigma2, lam, m=m)
    return SGDResult(objective=objective, train=train, form=form, V=V_out, W=W_out, K=K_out,
                     Q=Q_out, coords=coords, coords_separate=coords_sep, stderr=stderr,
                     off_manifold=off, loss_end=loss_end, history=history,
                     lr=settings.lr, steps=settings.steps, batch=settings.batch, seed=settings.seed,
                     wall_time=wall)


def sgd_finetune(objective, train, d, m, N, sigma2=0.0, lam=1.0, lr=0.01, steps=20_000,
                 batch=64, seed=0, progress=False, form="merged", polyak=True,
                 avg_frac=0.5, lr_decay=1.0, theta0=None, n_blocks=20,
                 history_points=200) -> SGDResult:
    """Minibatch SGD from the pretrained point on the full trainable ``D x D`` matrices.

    Step ``k`` (:func:`sgd_step`) uses ``lr_k = lr * lr_decay ** (k / steps)`` (geometric
    decay from ``lr`` to ``lr * lr_decay``) and fresh prompts for each term of the
    objective (target ``theta0``, default ``e_1``), ``batch`` prompts per term.  With
    ``polyak`` the returned point averages the last ``avg_frac`` of the iterates
    (:class:`IterateAverager`).

    Args:
        objective, train, d, m, N, sigma2, lam, form: the problem, as in
            :func:`numerics.flow.gradient_flow`.
        theta0: unit target (default ``e_1``).
        lr, steps, batch, seed, progress, polyak, avg_frac, lr_decay, n_blocks,
            history_points: the :class:`SGDSettings`.

    sigma2 defaults to ``0.0`` in the Python API (the ``iclft`` command line uses ``0.1``).

    Returns:
        An :class:`SGDResult`.

    Raises:
        ValueError: a bad problem or setting (named).
    """
    objective, train, d, m, N, sigma2, lam, form = check_problem(objective, train, d, m, N, sigma2, lam, form)
    st = SGDSettings(lr=lr, steps=steps, batch=batch, seed=seed, polyak=polyak, avg_frac=avg_frac,
                     lr_decay=lr_decay, n_blocks=n_blocks, history_points=history_points,
                     progress=progress)
    if theta0 is None:
        theta0 = np.eye(d)[0]
    t0 = unit_theta0(theta0, d)

    rng = rng_from_seed(st.seed)
    terms = sgd_terms(objective, t0, N, lam, m)
    mats = [M.copy() for M in pretrained_point(d, m, sigma2, form)]
    trainable = [s in vocabulary.trained_matrices(form, train) for s in vocabulary.MATRICES[form]]
    V0 = mats[0].copy()
    v = V0[-1].copy()  # only row y of V ever moves: keep v as the trained object

    def coords_of(vv, ms):
        V = V0.copy()
        V[-1] = vv
        g, _, _ = project_merged_arrays(V, _merged_W(form, ms), t0)
        return g

    n_avg = max(1, int(round(st.avg_frac * st.steps))) if st.polyak else 0
    avg_start = st.steps - n_avg
    avg = IterateAverager(v, mats, n_avg, st.n_blocks, coords_of) if st.polyak else None
    hist_every = max(1, st.steps // st.history_points)
    hist_step, hist_coords, hist_loss = [], [], []
    ema = None

    it = range(st.steps)
    bar = None
    if st.progress:
        from tqdm import tqdm
        bar = tqdm(it, desc=f"sgd {objective}-{train} ({form})", unit="step", mininterval=0.5)
        it = bar
    start = time.perf_counter()
    for k in it:
        v, mats, loss = sgd_step(v, mats, form, trainable, terms, st.batch, sigma2, rng, st.rate(k))
        ema = loss if ema is None else 0.99 * ema + 0.01 * loss
        if not np.all(np.isfinite(v)) or not all(np.all(np.isfinite(M)) for M in mats):
            raise FloatingPointError(f"SGD diverged at step {k} (lr={st.lr} too large?)")
        if avg is not None and k >= avg_start:
            avg.add(v, mats)
        if k % hist_every == 0 or k == st.steps - 1:
            hist_step.append(k + 1)
            hist_coords.append(coords_of(v, mats))
            hist_loss.append(ema)
            if bar is not None:
                bar.set_postfix(loss=f"{ema:.4g}", refresh=False)
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()
    v_out, mats_out = avg.mean() if avg is not None else (v, mats)
    history = {"step": np.array(hist_step), "coords": np.array(hist_coords),
               "batch_loss": np.array(hist_loss)}
    return _result(objective, train, form, V0, v_out, mats_out, t0, N, sigma2, lam, m,
                   None if avg is None else avg.stderr(), history, st, wall)
