r"""The authors' empirical protocol in JAX and optax: model, data, pretraining, fine-tuning.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1;
the row-token code below uses ``M = W^T``.

Model (row tokens ``Z``, shape ``(T, D)``, ``T = n + 1`` tokens, query last)
--------------------------------------------------------------------------
Each of ``L`` layers computes ``Z <- Z + (1/H) sum_h Attn_h(Z)`` with

* merged: ``Attn(Z) = (Z M Z^T)(Z V^T) / T``, ``M = W^T``;
* separate: ``Attn(Z) = ((Z Q^T)(Z K^T)^T)(Z V^T) / T``, i.e. ``M = Q^T K = (K^T Q)^T``.

The prediction is ``Z_out[-1, -1]``.  For one layer and one head, row ``-1`` of
``Attn`` is ``sum_j (z_q^T M z_j) V z_j / T = V S W z_q`` with ``S = sum_j z_j z_j^T / T``,
and the residual adds ``Z[-1, -1] = 0``, so the prediction is ``e_y^T V S W z_q``, the
closed form's ``yhat`` (tested in ``tests/experiment/test_experiment.py``).

Parameters are a dict of arrays of shape ``(L, H, D, D)``: ``V, W`` (merged) or
``V, K, Q`` (separate), initialised i.i.d. ``N(0, init_std^2)``.

Training
--------
* Pretraining: every step draws ``batch`` fresh prompts, ``theta ~ U(S^{d-1})`` per prompt,
  ``m`` demonstrations, ``x ~ N(0, I)``, noise ``N(0, sigma2)``; loss: mean squared error.
* Fine-tuning for ``theta0``: a finite dataset of ``dataset_size`` pairs
  ``(x, theta0.x + eps)`` drawn once (``0``: fresh pairs every step); every step draws
  ``batch`` prompts of ``N + 1`` points with replacement from it (the last is the query).
  ``ZS`` is the loss on the query alone (a one-token prompt), ``FS`` on the whole prompt,
  ``ZS + w_t FS`` with ``w_t = lam`` (``constant``) or ``lam (T-1-t)/(T-1)``
  (``linear-decay``, an optax linear schedule).
* Optimiser: ``optax.chain(clip_by_global_norm(clip), sgd(lr, momentum))`` or
  ``adam(lr, b1=0.9, b2=0.9)``; gradients of frozen matrices are zeroed before the chain,
  so the clipping norm counts the trained matrices only.
* Randomness: NumPy generators seeded by ``(seed, stream)`` only (initialisation,
  pretraining data, ``theta0``, the dataset, one stream per method name), drawn on the host
  and fed to the compiled steps, so a seed reproduces a run exactly and a method's run does
  not depend on which other methods are selected.

JAX is imported lazily (:func:`require_jax`); it is the optional extra ``iclft[experiment]``.

Over 500 lines: one protocol (the model, its random streams and data, the compiled training
loop and its NumPy mirror for evaluation), whose parts all read :class:`Protocol` and the
streams; the run, the ladder and the tests use them together as one module.
"""
from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from numerics.pretrained import pretrained_point
from vocabulary import DEFAULTS, EXPERIMENT_METHODS, METHODS, Config

__all__ = ["require_jax", "MissingJax", "Protocol", "Divergence", "forward", "predict",
           "trainable_for", "train", "pretrain", "finetune", "make_dataset", "sample_theta0",
           "tokens", "sphere_prompts", "rng_for", "merged_heads", "monte_carlo_errors", "forward_numpy",
           "train_seeds", "pretrain_many", "finetune_many", "closed_form_start", "pretrain_seed",
           "finetune_stream", "TIMINGS", "lam_weight", "optimizer_for", "CHUNK", "STREAMS", "finetune_prompts",
           "matrices", "row_matrix"]

CHUNK = 50  # steps per compiled scan: the progress bar and the NaN check run between chunks


class MissingJax(ImportError):
    """JAX or optax is not installed."""


class Divergence(RuntimeError):
    """A training loss became non-finite; names the phase and the first bad step."""

    def __init__(self, phase: str, step: int):
        super().__init__(f"{phase}: the training loss is not finite at step {step} (diverged; "
                         "lower the learning rate); no file was written")
        self.phase, self.step = phase, step


def require_jax():
    """``(jax, jax.numpy, optax)`` with float64 enabled.

    Raises:
        MissingJax: when JAX or optax cannot be imported.
    """
    try:
        import jax  # deferred: JAX and optax are the optional extra iclft[experiment]
        import jax.numpy as jnp  # deferred: as above
        import optax  # deferred: as above
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingJax("install iclft[experiment] (JAX and optax) to run experiments") from exc
    jax.config.update("jax_enable_x64", True)
    return jax, jnp, optax


@dataclass(frozen=True)
class Protocol:
    """One experiment's settings (validated by the CLI; see :meth:`check`)."""

    d: int = DEFAULTS["d"]
    m: int = DEFAULTS["m"]
    N: int = DEFAULTS["N"]
    sigma2: float = DEFAULTS["sigma2"]
    lam: float = DEFAULTS["lam"]
    heads: int = 1
    layers: int = 1
    form: str = "separate"
    pretrain_steps: int = 4000
    finetune_steps: int = 1000
    batch: int = 256
    lr_pretrain: float = 0.01
    lr_finetune: float = 0.01
    optimizer: str = "sgd"
    momentum: float = 0.9
    clip: float = 1.0
    lam_schedule: str = "linear-decay"
    dataset_size: int = 1000
    init_std: float = 0.05
    seed: int = 0
    methods: tuple = field(default=EXPERIMENT_METHODS)

    @property
    def config(self) -> Config:
        """The model settings ``(d, m, N, sigma2, lam)`` as the exact routes take them."""
        return Config(self.d, self.m, self.N, self.sigma2, self.lam)

    def check(self) -> "Protocol":
        """Raise ``ValueError`` naming the first bad setting; return ``self``."""
        ints = {"d": 1, "m": 0, "N": 0, "heads": 1, "layers": 1, "pretrain_steps": 0,
                "finetune_steps": 1, "batch": 1, "dataset_size": 0, "seed": 0}
        for name, lo in ints.items():
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {val!r}")
        for name in ("sigma2", "lam", "lr_pretrain", "lr_finetune", "momentum", "clip", "init_std"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, float, np.floating)) or not math.isfinite(val):
                raise ValueError(f"{name} must be a finite number, got {val!r}")
        for name in ("lr_pretrain", "lr_finetune", "clip", "init_std"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("sigma2", "lam", "momentum"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be < 1, got {self.momentum!r}")
        if self.form not in ("merged", "separate"):
            raise ValueError(f"form must be merged or separate, got {self.form!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, got {self.optimizer!r}")
        if self.lam_schedule not in ("constant", "linear-decay"):
            raise ValueError(f"lam_schedule must be constant or linear-decay, got {self.lam_schedule!r}")
        if not self.methods:
            raise ValueError("methods must name at least one method")
        for mth in self.methods:
            if mth not in EXPERIMENT_METHODS:
                raise ValueError(f"methods: unknown method {mth!r} (choose from {', '.join(EXPERIMENT_METHODS)})")
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods: a method is named twice")
        return self

    @property
    def D(self) -> int:
        return self.d + 2

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["methods"] = list(self.methods)
        return out


# ----------------------------------------------------------------------------- model
def matrices(form: str) -> tuple[str, ...]:
    """The parameter names of a form: ``V, W`` or ``V, K, Q``."""
    return ("V", "W") if form == "merged" else ("V", "K", "Q")


def row_matrix(params: dict, layer: int):
    """``M = W^T`` of every head of ``layer`` (separate: ``Q^T K``), shape ``(H, D, D)``."""
    _, jnp, _ = require_jax()
    if "W" in params:
        return jnp.swapaxes(params["W"][layer], -1, -2)
    return jnp.einsum("hba,hbc->hac", params["Q"][layer], params["K"][layer])


def forward(params: dict, Z):
    """The row-token forward pass: ``Z`` of shape ``(B, T, D)`` -> ``Z_out`` (same shape)."""
    _, jnp, _ = require_jax()
    L = params["V"].shape[0]
    T = Z.shape[1]
    for layer in range(L):
        M = row_matrix(params, layer)                          # (H, D, D)
        V = params["V"][layer]
        attn = jnp.einsum("bti,hij,bsj->hbts", Z, M, Z)        # Z M Z^T per head
        values = jnp.einsum("hij,bsj->hbsi", V, Z)             # Z V^T per head
        out = jnp.einsum("hbts,hbsi->hbti", attn, values) / T
        Z = Z + jnp.mean(out, axis=0)
    return Z


def predict(params: dict, Z):
    """``Z_out[:, -1, -1]``."""
    return forward(params, Z)[:, -1, -1]


def trainable_for(method: str, form: str) -> tuple[str, ...]:
    """The matrices a method trains: ``all`` / ``V`` / ``K`` / ``Q`` in the separate form;
    in the merged form ``K`` and ``Q`` both map to ``W``."""
    if method not in EXPERIMENT_METHODS:
        raise ValueError(f"method must be one of {', '.join(EXPERIMENT_METHODS)}, got {method!r}")
    trains = METHODS[method].trains
    if trains == "all":
        return matrices(form)
    if trains == "V":
        return ("V",)
    return ("W",) if form == "merged" else (trains,)


# ----------------------------------------------------------------------------- data
# Random numbers are drawn on the host with NumPy generators seeded from (seed, stream):
# the compiled programs then take plain arrays.  This is as reproducible as jax.random keys
# and keeps the random-number generator out of every compiled program.
#: the random streams, each seeded from ``(seed, stream)``
STREAMS = {"pretrain": 0, "init": 1, "theta0": 2, "dataset": 3, "evaluation": 4}


def rng_for(seed: int, stream: str, method: str | None = None) -> np.random.Generator:
    """The generator of one stream of a run: ``default_rng([seed, stream id, method id])``
    (the method id is the CRC-32 of its name, so a method's draws do not depend on which
    other methods run)."""
    words = [int(seed), STREAMS.get(stream, 5)]
    if method is not None:
        words.append(zlib.crc32(method.encode()))
    return np.random.default_rng(words)


def tokens(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prompt tokens ``(..., T, D)`` from ``X`` (..., T, d) and ``y`` (..., T): the last
    label is returned separately and its slot set to 0 (the query)."""
    ones = np.ones(X.shape[:-1] + (1,))
    Z = np.concatenate([ones, X, y[..., None]], axis=-1)
    yq = Z[..., -1, -1].copy()
    Z[..., -1, -1] = 0.0
    return Z, yq


def sample_theta0(seed: int, d: int) -> np.ndarray:
    """``theta0`` uniform on the unit sphere (a normalised Gaussian)."""
    g = rng_for(seed, "theta0").standard_normal(d)
    return g / np.linalg.norm(g)


def sphere_prompts(rng, shape, n_tokens, d, sigma2, theta=None):
    """Prompts of ``n_tokens`` points (the last is the query): ``theta`` fixed, or one
    ``theta ~ U(S^{d-1})`` per prompt when ``None``.  Returns ``(Z, yq)``."""
    if theta is None:
        th = rng.standard_normal(shape + (d,))
        th /= np.linalg.norm(th, axis=-1, keepdims=True)
    else:
        th = np.broadcast_to(theta, shape + (d,))
    X = rng.standard_normal(shape + (n_tokens, d))
    y = np.einsum("...td,...d->...t", X, th) + math.sqrt(sigma2) * rng.standard_normal(shape + (n_tokens,))
    return tokens(X, y)


def make_dataset(seed: int, theta0, proto: Protocol):
    """The fine-tuning dataset ``(X (M, d), y (M,))``, ``y = theta0.x + eps``
    (``None`` when ``dataset_size = 0``: fresh pairs every step)."""
    if proto.dataset_size == 0:
        return None
    rng = rng_for(seed, "dataset")
    X = rng.standard_normal((proto.dataset_size, proto.d))
    y = X @ theta0 + math.sqrt(proto.sigma2) * rng.standard_normal(proto.dataset_size)
    return X, y


def finetune_prompts(rng, shape, theta0, data, proto: Protocol):
    """Prompts of ``N + 1`` points for ``theta0``: drawn with replacement from ``data``, or
    fresh when ``data`` is ``None``.  Returns ``(Z, yq)``."""
    if data is None:
        return sphere_prompts(rng, shape, proto.N + 1, proto.d, proto.sigma2, theta=theta0)
    idx = rng.integers(0, data[0].shape[0], size=shape + (proto.N + 1,))
    return tokens(data[0][idx], data[1][idx])


# ----------------------------------------------------------------------------- training
def optimizer_for(proto: Protocol, lr: float):
    """The optax chain of the protocol: global-norm clipping, then SGD (momentum) or Adam."""
    _, _, optax = require_jax()
    base = (optax.sgd(lr, momentum=proto.momentum if proto.momentum > 0 else None)
            if proto.optimizer == "sgd" else optax.adam(lr, b1=0.9, b2=0.9))
    return optax.chain(optax.clip_by_global_norm(proto.clip), base)


def _mse(params, Z, yq):
    _, jnp, _ = require_jax()
    r = predict(params, Z) - yq
    return jnp.mean(r * r)


def lam_weight(proto: Protocol):
    """The FS weight as a function of the step: ``lam`` or ``lam (T-1-t)/(T-1)`` (optax
    linear schedule; ``0`` for ``T = 1`` as in the authors' code)."""
    _, _, optax = require_jax()
    T = proto.finetune_steps
    if proto.lam_schedule == "constant":
        return optax.constant_schedule(proto.lam)
    if T <= 1:
        return optax.constant_schedule(0.0)
    return optax.linear_schedule(init_value=proto.lam, end_value=0.0, transition_steps=T - 1)


def _loss_fn(kind: str, proto: Protocol):
    """``loss(params, (Z, yq), t)``: pretraining MSE, ZS, or ZS + w_t FS."""
    weight = lam_weight(proto)

    def loss(p, batch, t):
        Z, yq = batch
        if kind == "pretrain":
            return _mse(p, Z, yq)
        zs = _mse(p, Z[:, -1:, :], yq)
        if kind == "zs":
            return zs
        return zs + weight(t) * _mse(p, Z, yq)
    return loss


_COMPILED: dict = {}
#: seconds spent compiling programs in this process (``train_seconds`` excludes them)
TIMINGS = {"compile": 0.0, "compile_cpu": 0.0}


def _chunk_program(kind: str, proto: Protocol, lr: float):
    """A scan over ``CHUNK`` steps, vectorised over seeds with ``jax.vmap``:
    ``(params, state, mask, batches, ts, active) -> ((params, state), losses)`` where
    ``params``, ``state`` and ``batches`` carry a leading seed axis ``S`` and the mask, the
    step numbers and ``active`` are shared; steps with ``active = False`` leave everything
    unchanged (the padding of a last, shorter chunk).  Returns ``(opt, jitted program)``,
    cached per configuration (compiled per shape by :func:`_compiled`)."""
    cache_key = (kind, proto.form, proto.layers, proto.heads, proto.d, proto.optimizer,
                 proto.momentum, proto.clip, lr, proto.lam, proto.lam_schedule, proto.finetune_steps)
    if cache_key in _COMPILED:
        return _COMPILED[cache_key]
    jax, jnp, optax = require_jax()
    opt = optimizer_for(proto, lr)
    loss_fn = _loss_fn(kind, proto)

    def step(carry, xs):
        p, s, mask = carry
        batch, t, act = xs
        loss, g = jax.value_and_grad(loss_fn)(p, batch, t)
        g = {k: g[k] * mask[k] for k in g}
        upd, s2 = opt.update(g, s, p)
        p2 = optax.apply_updates(p, upd)
        keep = lambda new, old: jnp.where(act, new, old)
        return (jax.tree_util.tree_map(keep, p2, p), jax.tree_util.tree_map(keep, s2, s), mask), loss

    def run_one(p, s, mask, batches, ts, active):
        (p, s, _), losses = jax.lax.scan(step, (p, s, mask), (batches, ts, active))
        return (p, s), losses

    run = jax.jit(jax.vmap(run_one, in_axes=(0, 0, None, 0, None, None)))
    _COMPILED[cache_key] = (opt, run, {})
    return _COMPILED[cache_key]


def _compiled(run, shapes: dict, args):
    """The compiled program for the shapes of ``args`` (compiled once per shape; the time
    is added to ``TIMINGS['compile']``)."""
    jax, _, _ = require_jax()
    key = tuple((tuple(x.shape), str(x.dtype)) for x in jax.tree_util.tree_leaves(args))
    if key not in shapes:
        t0, c0 = time.perf_counter(), time.process_time()
        shapes[key] = run.lower(*args).compile()
        TIMINGS["compile"] += time.perf_counter() - t0
        TIMINGS["compile_cpu"] += time.process_time() - c0
    return shapes[key]


def train_seeds(params: dict, kind: str, trained, draws, proto: Protocol, lr: float, steps: int,
                phase: str, progress=None):
    """Optimise ``S`` runs at once, one compiled program vectorised over the seeds.

    Args:
        params: dict of ``(S, L, H, D, D)`` arrays (one start per seed).
        kind: ``pretrain``, ``zs`` or ``zsfs`` (the loss).
        trained: names of the matrices to train (the others get zero gradients).
        draws: ``S`` functions ``draw(k) -> (Z (k, B, T, D), yq (k, B))``, the next ``k``
            minibatches of each seed.
        proto: the settings (optimiser, clipping, schedule); lr: learning rate.
        phase: a name for messages (``pretraining`` or the method).
        progress: an object with ``update(k)`` (a tqdm bar) or ``None``; advanced by ``k``
            per chunk of ``k`` steps (all seeds together).

    Returns:
        ``(params, losses)``: NumPy ``(S, L, H, D, D)`` arrays and the per-step training
        losses ``(S, steps)`` (before each update).

    Raises:
        Divergence: at the first non-finite loss of any seed (no parameters are returned).
    """
    jax, jnp, _ = require_jax()
    opt, run, shapes = _chunk_program(kind, proto, lr)
    params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    S = len(draws)
    mask = {k: jnp.asarray(1.0 if k in trained else 0.0) for k in params}
    state = jax.vmap(opt.init)(params)
    losses = np.zeros((S, steps))
    done = 0
    while done < steps:
        k = min(CHUNK, steps - done)
        Zs, ys = [], []
        for draw in draws:
            Z, yq = draw(k)
            if k < CHUNK:  # pad to the compiled length; padded steps are inactive
                Z = np.concatenate([Z, np.zeros((CHUNK - k,) + Z.shape[1:])])
                yq = np.concatenate([yq, np.zeros((CHUNK - k,) + yq.shape[1:])])
            Zs.append(Z)
            ys.append(yq)
        ts = jnp.arange(done, done + CHUNK)
        active = jnp.arange(CHUNK) < k
        args = (params, state, mask, (jnp.asarray(np.stack(Zs)), jnp.asarray(np.stack(ys))), ts, active)
        (new_p, new_s), ls = _compiled(run, shapes, args)(*args)
        ls = np.asarray(ls)[:, :k]
        bad = np.flatnonzero(~np.all(np.isfinite(ls), axis=0))
        if bad.size or not all(bool(jnp.all(jnp.isfinite(v))) for v in new_p.values()):
            raise Divergence(phase, done + (int(bad[0]) if bad.size else k - 1))
        params, state = new_p, new_s
        losses[:, done:done + k] = ls
        done += k
        if progress is not None:
            progress.update(k)
    return {k: np.asarray(v) for k, v in params.items()}, losses


def train(params: dict, kind: str, trained, draw, proto: Protocol, lr: float, steps: int,
          phase: str, progress=None):
    """One run: :func:`train_seeds` with ``S = 1``.

    Args:
        params: dict of ``(L, H, D, D)`` arrays; draw: ``draw(k) -> (Z, yq)``; the rest as
            :func:`train_seeds`.

    Returns:
        ``(params, losses)``: NumPy arrays and the per-step training loss (a list).
    """
    out, losses = train_seeds({k: np.asarray(v)[None] for k, v in params.items()}, kind, trained, [draw],
                              proto, lr, steps, phase, progress)
    return {k: v[0] for k, v in out.items()}, [float(x) for x in losses[0]]


def closed_form_start(proto: Protocol) -> dict:
    """The closed-form pretrained point as protocol parameters ``(L, H, D, D)``: every head
    of the first layer at ``V = e_y e_y^T``, ``W = c* diag(0, I, 0)`` (separate:
    ``K = Q = sqrt(c*) diag(0, I, 0)``); later layers 0 (they add nothing to the
    prediction).  Heads are averaged, so ``H`` equal heads predict as one."""

    mats = pretrained_point(proto.d, proto.m, proto.sigma2, form=proto.form)
    out = {}
    for nm, A in zip(matrices(proto.form), mats):
        arr = np.zeros((proto.layers, proto.heads, proto.D, proto.D))
        arr[0, :] = A
        out[nm] = arr
    return out


def pretrain_seed(proto: Protocol, p: int) -> int:
    """The seed of pretraining run ``p`` (``0..P-1``): ``seed + p``."""
    return int(proto.seed) + int(p)


def pretrain(proto: Protocol, progress=None):
    """Pretraining from ``N(0, init_std^2)`` on fresh sphere prompts (one run, seed
    ``proto.seed``): ``(params, losses)``; ``pretrain_steps = 0`` returns the closed-form
    pretrained point (:func:`closed_form_start`) and no losses."""
    params, losses = pretrain_many(proto, progress, seeds=1)
    return {k: v[0] for k, v in params.items()}, [float(x) for x in losses[0]]


def pretrain_many(proto: Protocol, progress=None, seeds: int = 1):
    """``seeds`` pretraining runs vectorised (:func:`train_seeds`): ``(params (P, L, H, D, D),
    losses (P, steps))``; with ``pretrain_steps = 0`` every run is the closed-form point."""
    if proto.pretrain_steps == 0:
        start = closed_form_start(proto)
        return {k: np.repeat(v[None], seeds, axis=0) for k, v in start.items()}, np.zeros((seeds, 0))
    shape = (proto.layers, proto.heads, proto.D, proto.D)
    inits, draws = [], []
    for p in range(seeds):
        rng = rng_for(pretrain_seed(proto, p), "init")
        inits.append({nm: proto.init_std * rng.standard_normal(shape) for nm in matrices(proto.form)})
        data_rng = rng_for(pretrain_seed(proto, p), "pretrain")
        draws.append(lambda k, r=data_rng: sphere_prompts(r, (k, proto.batch), proto.m + 1, proto.d, proto.sigma2))
    params = {nm: np.stack([i[nm] for i in inits]) for nm in matrices(proto.form)}
    return train_seeds(params, "pretrain", matrices(proto.form), draws, proto, proto.lr_pretrain,
                       proto.pretrain_steps, "pretraining", progress)


def finetune_stream(method: str, s: int) -> str:
    """The name of fine-tuning seed ``s``'s minibatch stream: the method (``s = 0``, as a
    single run) or ``method/seed s``."""
    return method if s == 0 else f"{method}/seed {s}"


def finetune(params, method: str, theta0, data, proto: Protocol, progress=None):
    """Fine-tune ``params`` with ``method`` on ``theta0``: returns ``(params, losses)``; the
    loss recorded at step ``t`` is ``ZS + w_t FS`` on that step's minibatch."""
    out, losses = finetune_many({k: np.asarray(v)[None] for k, v in params.items()}, method, theta0, data,
                                proto, progress, seeds=1)
    return {k: v[0] for k, v in out.items()}, [float(x) for x in losses[0]]


def finetune_many(params, method: str, theta0, data, proto: Protocol, progress=None, seeds: int = 1):
    """Fine-tune ``P`` pretrained models (``params``: ``(P, L, H, D, D)``, pretraining run
    ``p``) with ``seeds`` minibatch seeds each, all ``P * seeds`` runs in one vectorised
    program; run ``p * seeds + s`` draws from ``rng_for(pretrain_seed(p), 'finetune',
    finetune_stream(method, s))``.  Returns ``(params (P*S, ...), losses (P*S, steps))``."""
    trained = trainable_for(method, proto.form)
    kind = METHODS[method].objective
    P_ = next(iter(params.values())).shape[0]
    draws = []
    for p in range(P_):
        for s in range(seeds):
            rng = rng_for(pretrain_seed(proto, p), "finetune", finetune_stream(method, s))
            draws.append(lambda k, r=rng: finetune_prompts(r, (k, proto.batch), theta0, data, proto))
    start = {k: np.repeat(np.asarray(v), seeds, axis=0) for k, v in params.items()}
    return train_seeds(start, kind, trained, draws, proto, proto.lr_finetune, proto.finetune_steps,
                       method, progress)


# ----------------------------------------------------------------------------- export, evaluation
def merged_heads(params: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(V, W)`` as NumPy ``(L, H, D, D)`` arrays, ``W = K^T Q`` in the separate form."""
    V = np.asarray(params["V"], dtype=float)
    if "W" in params:
        return V, np.asarray(params["W"], dtype=float)
    K, Q = np.asarray(params["K"], dtype=float), np.asarray(params["Q"], dtype=float)
    return V, np.einsum("lhba,lhbc->lhac", K, Q)


def forward_numpy(params: dict, Z: np.ndarray) -> np.ndarray:
    """The same forward pass as :func:`forward` in NumPy (no compilation per prompt length;
    used by the Monte Carlo evaluation)."""
    V, W = merged_heads(params)
    T = Z.shape[1]
    for layer in range(V.shape[0]):
        out = np.zeros_like(Z)
        for Vh, Wh in zip(V[layer], W[layer]):
            attn = np.einsum("bti,ji,bsj->bts", Z, Wh, Z)   # Z M Z^T with M = W^T
            out += attn @ (Z @ Vh.T) / T
        Z = Z + out / V.shape[1]
    return Z


def monte_carlo_errors(params, theta, shots, proto: Protocol, rng, samples: int, chunk: int = 20_000):
    """Monte Carlo ``n``-shot error of the full model (any ``L``, ``H``) for each ``n`` in
    ``shots``; ``theta`` a vector or ``None`` for the sphere; ``rng`` a NumPy generator.

    Returns:
        ``(means, stderrs)``: lists of floats (standard error of the mean of the squared error).
    """
    params = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    means, ses = [], []
    for n in shots:
        tot = tot2 = 0.0
        done = 0
        while done < samples:
            b = min(chunk, samples - done)
            Z, yq = sphere_prompts(rng, (b,), n + 1, proto.d, proto.sigma2, theta=theta)
            e = (forward_numpy(params, Z)[:, -1, -1] - yq) ** 2
            tot += float(e.sum())
            tot2 += float((e * e).sum())
            done += b
        mean = tot / samples
        var = max(tot2 / samples - mean * mean, 0.0)
        means.append(mean)
        ses.append(math.sqrt(var / max(samples - 1, 1)))
    return means, ses
