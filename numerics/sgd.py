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

import numbers
import time
from dataclasses import dataclass

import numpy as np

from .flow import _check_pos_real, _check_problem, _terms, objective_value, pretrained_point
from .manifold import (MERGED_NAMES, SEPARATE_NAMES, _project_merged, _project_separate,
                       unit_theta0)
from .sampling import _draw, _generator, _tokens
from .validation import check_batch, check_pair, check_positive_int

__all__ = ["minibatch_grad", "sgd_finetune", "SGDResult"]


def _batch_grad(v, W, X, y, xq, yq):
    """(loss, g_v (D,), G_W (D, D)) of the minibatch mean squared error (module docstring)."""
    Z = _tokens(X, y, xq)
    B, T, _ = Z.shape
    zq = Z[:, -1, :]
    u = zq @ W.T                       # (B, D): u_b = W z_q
    s = Z @ v                          # (B, T): v.z_j
    r = np.einsum("btk,bk->bt", Z, u)  # (B, T): z_j.u
    yhat = np.einsum("bt,bt->b", s, r) / T
    err = yhat - yq
    e = 2.0 * err / B
    gv = np.einsum("b,bt,btk->k", e, r, Z) / T
    gu = np.einsum("b,bt,btk->bk", e, s, Z) / T
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


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def sgd_finetune(objective, train, d, m, N, sigma2=0.0, lam=1.0, lr=0.01, steps=20_000,
                 batch=64, seed=0, progress=False, form="merged", polyak=True,
                 avg_frac=0.5, lr_decay=1.0, theta0=None, n_blocks=20,
                 history_points=200) -> SGDResult:
    """Minibatch SGD from the pretrained point on the full trainable ``D x D`` matrices.

    Step ``k`` uses ``lr_k = lr * lr_decay ** (k / steps)`` (geometric decay from ``lr`` to
    ``lr * lr_decay``; ``lr_decay = 1`` is a constant rate) and fresh prompts for the
    target ``theta0`` (default ``e_1``).  ``batch`` prompts per term of the objective.
    With ``polyak`` the returned point averages the last ``avg_frac`` of the iterates.
    ``progress=True`` shows a tqdm bar.  See :class:`SGDResult`."""
    objective, train, d, m, N, sigma2, lam, form = _check_problem(objective, train, d, m, N, sigma2, lam, form)
    lr = _check_pos_real("lr", lr)
    steps = check_positive_int("steps", steps)
    batch = check_positive_int("batch", batch)
    seed = _check_seed(seed)
    avg_frac = _check_pos_real("avg_frac", avg_frac)
    if avg_frac > 1:
        raise ValueError(f"avg_frac must be in (0, 1], got {avg_frac!r}")
    lr_decay = _check_pos_real("lr_decay", lr_decay)
    n_blocks = check_positive_int("n_blocks", n_blocks)
    history_points = check_positive_int("history_points", history_points)
    if not isinstance(progress, bool):
        raise ValueError(f"progress must be a bool, got {progress!r}")
    if not isinstance(polyak, bool):
        raise ValueError(f"polyak must be a bool, got {polyak!r}")
    if theta0 is None:
        theta0 = np.eye(d)[0]
    t0 = unit_theta0(theta0, d)

    rng = _generator(seed)
    terms = _terms(objective, N, lam)
    mats = [M.copy() for M in pretrained_point(d, m, sigma2, form)]
    slots = ("V", "W") if form == "merged" else ("V", "K", "Q")
    groups = {"all": "VWKQ", "v": "V", "w": "W", "kq": "KQ", "k": "K", "q": "Q"}[train]
    trainable = [s in groups for s in slots]
    # only row y of V ever moves: keep v as the trained object
    v = mats[0][-1].copy()

    def merged_W(ms):
        return ms[1] if form == "merged" else ms[1].T @ ms[2]

    def coords_of(vv, ms):
        V = np.zeros_like(ms[0])
        V[:-1] = mats[0][:-1]
        V[-1] = vv
        g, _, _ = _project_merged(V, merged_W(ms), t0)
        return g

    n_avg = max(1, int(round(avg_frac * steps))) if polyak else 0
    avg_start = steps - n_avg
    sum_v = np.zeros_like(v)
    sum_m = [np.zeros_like(M) for M in mats]
    block_len = max(1, n_avg // n_blocks) if polyak else 0
    block_coords, blk_v, blk_m, blk_count = [], np.zeros_like(v), [np.zeros_like(M) for M in mats], 0
    hist_every = max(1, steps // history_points)
    hist_step, hist_coords, hist_loss = [], [], []
    ema = None

    it = range(steps)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(it, desc=f"sgd {objective}-{train} ({form})", unit="step", mininterval=0.5)
        it = bar
    start = time.perf_counter()
    for k in it:
        lr_k = lr * lr_decay ** (k / steps)
        W = merged_W(mats)
        gv = np.zeros_like(v)
        gW = np.zeros_like(W)
        loss = 0.0
        for n, w in terms:
            if w == 0.0:
                continue
            pr = _draw(t0, n, batch, sigma2, rng)
            l_, gv_, gW_ = _batch_grad(v, W, pr.X, pr.y, pr.xq, pr.yq)
            loss += w * l_
            gv += w * gv_
            gW += w * gW_
        ema = loss if ema is None else 0.99 * ema + 0.01 * loss
        if form == "merged":
            grads = [None, gW]
        else:
            K, Q = mats[1], mats[2]
            grads = [None, Q @ gW.T, K @ gW]
        if trainable[0]:
            v = v - lr_k * gv
        for i in range(1, len(mats)):
            if trainable[i]:
                mats[i] = mats[i] - lr_k * grads[i]
        if not np.all(np.isfinite(v)) or not all(np.all(np.isfinite(M)) for M in mats):
            raise FloatingPointError(f"SGD diverged at step {k} (lr={lr} too large?)")
        if k >= avg_start and polyak:
            sum_v += v
            for i, M in enumerate(mats):
                sum_m[i] += M
            blk_v += v
            for i, M in enumerate(mats):
                blk_m[i] += M
            blk_count += 1
            if blk_count == block_len:
                block_coords.append(coords_of(blk_v / blk_count, [M / blk_count for M in blk_m]))
                blk_v[:] = 0.0
                for M in blk_m:
                    M[:] = 0.0
                blk_count = 0
        if k % hist_every == 0 or k == steps - 1:
            hist_step.append(k + 1)
            hist_coords.append(coords_of(v, mats))
            hist_loss.append(ema)
            if bar is not None:
                bar.set_postfix(loss=f"{ema:.4g}", refresh=False)
    wall = time.perf_counter() - start
    if bar is not None:
        bar.close()

    if polyak:
        v_out = sum_v / n_avg
        mats_out = [M / n_avg for M in sum_m]
    else:
        v_out, mats_out = v, mats
    V_out = mats[0].copy()
    V_out[:-1] = mats[0][:-1]
    V_out[-1] = v_out
    W_out = merged_W(mats_out)
    g, res, _ = _project_merged(V_out, W_out, t0)
    coords = dict(zip(MERGED_NAMES, map(float, g)))
    off = float(np.hypot(res["V"], res["W"]))
    coords_sep = None
    K_out = Q_out = None
    if form == "separate":
        K_out, Q_out = mats_out[1], mats_out[2]
        gs, ress, _ = _project_separate(V_out, K_out, Q_out, t0)
        coords_sep = dict(zip(SEPARATE_NAMES, map(float, gs)))
        off = float(np.sqrt(off ** 2 + ress["K"] ** 2 + ress["Q"] ** 2))
    stderr = None
    if polyak and len(block_coords) >= 2:
        bc = np.array(block_coords)
        se = bc.std(axis=0, ddof=1) / np.sqrt(bc.shape[0])
        stderr = dict(zip(MERGED_NAMES, map(float, se)))
    loss_end = objective_value(objective, V_out, W_out, t0, N, sigma2, lam)
    return SGDResult(objective=objective, train=train, form=form, V=V_out, W=W_out, K=K_out,
                     Q=Q_out, coords=coords, coords_separate=coords_sep, stderr=stderr,
                     off_manifold=off, loss_end=loss_end,
                     history={"step": np.array(hist_step), "coords": np.array(hist_coords),
                              "batch_loss": np.array(hist_loss)},
                     lr=lr, steps=steps, batch=batch, seed=seed, wall_time=wall)
