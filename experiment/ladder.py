r"""The ladder: exact predictions of a trained model, one cause at a time.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.

Rungs (one layer, one head; every rung in the experiment's frame, its own ``theta0``)
-------------------------------------------------------------------------------------
* ``idealised``: the generic end point of the exact population flow from the closed-form
  pretrained point, constant ``lam`` (:func:`experiment.run.theory_model`);
* ``from_start``: the exact population flow over every entry of the trained matrices from
  the experiment's own pretrained weights, constant ``lam``, to its end point, classified,
  saddles escaped (:func:`numerics.endpoints.outcome_from`);
* ``same_optimizer``: the experiment's optax chain (clip, SGD momentum or Adam, its learning
  rate, steps and ``lam`` schedule) on the exact population gradient
  (:class:`numerics.problem.Problem`), from the same start; deterministic;
* ``same_data``: the same optimiser on the exact loss of the experiment's finite dataset
  (:func:`data_loss`, the empirical distribution of its pairs, prompts drawn with
  replacement), by JAX autodiff; deterministic;
* ``experiment``: the trained models (mean over seeds).

The distance from each rung to the next names one cause: ``start`` (idealised ->
from_start), ``optimizer`` (-> same_optimizer: momentum, clipping, finite steps, schedule),
``data`` (-> same_data: the finite dataset) and ``noise`` (-> experiment: minibatch noise).

Finite-data loss in moments (the route of :func:`data_loss`)
------------------------------------------------------------
Tokens ``z = (1, x, y)`` of the dataset, ``p = (1, x)`` the query without its (zero) label
slot, ``M_2 = E[z z^T]``, ``M_4 = E[z^{(x)4}]``, and the query moments ``E[p^{(x)6}]``,
``E[p^{(x)4}]``, ``E[y p^{(x)3}]``, ``E[y p]``, ``E[p p^T]``, ``E[y^2]`` (all empirical).
With ``v`` the row ``y`` of ``V``, ``W' = W[:-1, :-1]``, ``C = v' (x) W'`` (so the query's own
term is ``g(p) = (v'.p)(p^T W' p) = <C, p^{(x)3}>``) and ``a = W^T M_2 v``:

* ``E_q E[g | q]^2 = a'^T E[p p^T] a'``,
  ``E_q E[g^2 | q] = sum M_4[a,b,c,d] v_a v_c (W S_q W^T)_{bd}`` with ``S_q = E[p p^T]`` padded;
* ``E_q[(n a'.p + g(p) - (n+1) y)^2] = T_1 + 2 T_3 + T_2`` with
  ``T_1 = n^2 a'^T E[pp^T] a' - 2 n (n+1) a'.E[y p] + (n+1)^2 E[y^2]``,
  ``T_2 = <C (x) C, E[p^{(x)6}]>``, ``T_3 = n <C (x) a', E[p^{(x)4}]> - (n+1) <C, E[y p^{(x)3}]>``;
* ``L_n = [n (E_q E[g^2|q] - E_q E[g|q]^2) + T_1 + 2 T_3 + T_2] / (n + 1)^2``.

This is the conditional-variance formula of :mod:`numerics.finite_data` averaged over the
query in moments; the two are independent organisations of the computation and the tests
compare them, and both with enumeration and Monte Carlo.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

import numerics
from numerics.endpoints import nearest_stationary, outcome_from
from numerics.finite_data import dataset_tokens
from numerics.multihead import multihead_pretrain_loss
from numerics.pretrained import pretrained_point
from numerics.problem import Problem
from vocabulary import METHODS, TRAIN

from experiment.protocol import Protocol, lam_weight, merged_heads, optimizer_for, require_jax, trainable_for

__all__ = ["RUNGS", "CAUSES", "train_key", "first_head", "from_start", "same_optimizer", "DataMoments",
           "data_loss", "same_data", "pretraining_check", "attribution", "PRETRAIN_RTOL"]

RUNGS = ("idealised", "from_start", "same_optimizer", "same_data")
#: the cause measured by the step from a rung to the next one
CAUSES = {"idealised": "start", "from_start": "optimizer", "same_optimizer": "data", "same_data": "noise"}


def train_key(method: str, form: str) -> str:
    """The :data:`vocabulary.TRAIN` key of the matrices ``method`` trains in ``form``."""
    names = trainable_for(method, form)
    return next(k for k, v in TRAIN[form].items() if v == names)


def first_head(params: dict) -> dict:
    """The ``D x D`` matrices of layer 0, head 0 of protocol parameters ``(L, H, D, D)``."""
    return {k: np.asarray(v, dtype=float)[0, 0] for k, v in params.items()}


def _problem(objective: str, method: str, proto: Protocol, theta0, start: dict, lam=None):
    cfg = proto.config if lam is None else dataclasses.replace(proto.config, lam=lam)
    return Problem.build(objective, proto.form, train_key(method, proto.form), cfg, start,
                         theta0=np.asarray(theta0, float))


# ----------------------------------------------------------------------------- from_start
def from_start(method: str, proto: Protocol, theta0, start: dict):
    """The ``from_start`` rung: ``(V, W, info)`` (module docstring).

    Args:
        method: an experiment method; proto: the settings; theta0: the target;
        start: ``D x D`` matrices of the form (:func:`first_head` of the pretrained weights).
    """

    pb = _problem(METHODS[method].objective, method, proto, theta0, start)
    o = outcome_from(pb, pb.pack())
    V, W = o.merged
    fl = o.flow
    return V, W, {"verdict": o.stability.verdict, "stop": fl.stop, "grad_norm": float(fl.grad_norm),
                  "t_final": float(fl.t_final), "stages": [s.label for s in o.stages],
                  "objective": METHODS[method].objective, "lam": "constant"}


# ----------------------------------------------------------------------------- same_optimizer
def _optax_loop(proto: Protocol, x0: np.ndarray, grad, steps: int):
    """The experiment's optax chain on a flat vector ``x`` (clipping by the global norm of
    the trained entries, elementwise SGD/Adam: the same updates as on the matrices),
    ``grad(x, t)`` supplying the gradient of step ``t``.  Returns ``x`` after ``steps``."""
    jax, jnp, optax = require_jax()
    opt = optimizer_for(proto, proto.lr_finetune)

    @jax.jit
    def update(x, state, g):
        upd, state = opt.update(g, state, x)
        return optax.apply_updates(x, upd), state

    x = jnp.asarray(x0, dtype=jnp.float64)
    state = opt.init(x)
    for t in range(steps):
        x, state = update(x, state, jnp.asarray(grad(np.asarray(x), t)))
    return np.asarray(x)


def same_optimizer(method: str, proto: Protocol, theta0, start: dict, population: "DataMoments | None" = None):
    """The ``same_optimizer`` rung: ``(V, W, info)``: the optax chain of the experiment
    (``proto.finetune_steps`` steps at ``proto.lr_finetune``, the ``lam`` schedule of
    :func:`experiment.protocol.lam_weight`) on the exact population gradient
    ``grad ZS + w_t grad FS`` from ``start``.  With ``population``
    (:meth:`DataMoments.population`) one compiled program on :func:`data_loss` of the
    population moments; without, a Python loop over the NumPy gradient of
    :class:`numerics.problem.Problem` (any ``d``; the tests compare the two)."""
    if population is not None:
        V, W, _ = same_data(method, proto, start, population)
        return V, W, {"steps": proto.finetune_steps, "lr": proto.lr_finetune, "lam_schedule": proto.lam_schedule,
                      "gradient": "population moments (quadrature), JAX"}
    zs = _problem("zs", method, proto, theta0, start)
    fs = _problem("fs", method, proto, theta0, start) if METHODS[method].objective == "zsfs" else None
    weight = lam_weight(proto)
    ws = [float(weight(t)) for t in range(proto.finetune_steps)]

    def grad(x, t):
        g = zs.grad(x)
        return g if fs is None else g + ws[t] * fs.grad(x)

    x = _optax_loop(proto, zs.pack(), grad, proto.finetune_steps)
    V, W = zs.merged(x)
    return V, W, {"steps": proto.finetune_steps, "lr": proto.lr_finetune, "lam_schedule": proto.lam_schedule,
                  "gradient": "numerics closed form, NumPy"}


# ----------------------------------------------------------------------------- same_data
class DataMoments:
    """The empirical moments of a dataset used by :func:`data_loss` (module docstring),
    NumPy arrays computed once; ``arrays()`` gives them in the order :func:`data_loss`
    takes."""

    NAMES = ("M2", "M4", "P6", "P4", "YP3", "YP", "PP", "YY")

    def __init__(self, X, y, weights=None, chunk: int = 20_000):

        Z = dataset_tokens(X, y)
        M, D = Z.shape
        w = np.full(M, 1.0 / M) if weights is None else np.asarray(weights, dtype=float) / float(np.sum(weights))
        k = D - 1
        acc = {"M4": np.zeros((D * D, D * D)), "P6": np.zeros((k ** 3, k ** 3)), "P4": np.zeros((k ** 3, k)),
               "YP3": np.zeros(k ** 3)}
        for i in range(0, M, chunk):
            z, wz = Z[i:i + chunk], w[i:i + chunk]
            p, yy = z[:, :-1], z[:, -1]
            psi = np.einsum("ma,mb->mab", z, z).reshape(len(z), -1)
            phi = np.einsum("ma,mb,mc->mabc", p, p, p).reshape(len(z), -1)
            acc["M4"] += psi.T @ (wz[:, None] * psi)
            acc["P6"] += phi.T @ (wz[:, None] * phi)
            acc["P4"] += phi.T @ (wz[:, None] * p)
            acc["YP3"] += phi.T @ (wz * yy)
        P, yv = Z[:, :-1], Z[:, -1]
        self.M2 = Z.T @ (w[:, None] * Z)
        self.M4 = acc["M4"].reshape(D, D, D, D)
        self.P6 = acc["P6"]
        self.P4 = acc["P4"]
        self.YP3 = acc["YP3"]
        self.YP = P.T @ (w * yv)
        self.PP = P.T @ (w[:, None] * P)
        self.YY = float(w @ (yv * yv))
        self.size, self.D = M, D

    @classmethod
    def population(cls, theta0, sigma2: float) -> "DataMoments":
        """The *population* moments of the fine-tuning tokens (``x ~ N(0, I_d)``,
        ``y = theta0.x + eps``, ``eps ~ N(0, sigma2)``) by tensor Gauss-Hermite quadrature
        over ``(x, eps)`` with 4 nodes per coordinate (exact for polynomials of degree
        <= 7 in each coordinate; the moments needed have degree <= 6).  ``4^(d+1)`` nodes:
        ``d <= 8``.  With them :func:`data_loss` is the population ``L_n``
        (tests: against :func:`numerics.expected_loss`)."""
        theta0 = np.asarray(theta0, dtype=float)
        d = theta0.shape[0]
        if d > 8:
            raise ValueError(f"d: population moments by quadrature need d <= 8, got {d}")
        t, wt = np.polynomial.hermite_e.hermegauss(4)
        grids = np.meshgrid(*([t] * (d + 1)), indexing="ij")
        G = np.stack([g.ravel() for g in grids], axis=1)
        W = np.prod(np.stack(np.meshgrid(*([wt] * (d + 1)), indexing="ij"), axis=0).reshape(d + 1, -1), axis=0)
        X = G[:, :d]
        y = X @ theta0 + math.sqrt(sigma2) * G[:, d]
        out = cls(X, y, weights=W)
        out.size = None
        return out

    def arrays(self) -> tuple:
        return tuple(getattr(self, k) for k in self.NAMES)


def data_loss(V, W, moments: tuple, n: int):
    """The exact loss with ``n`` demonstrations on the empirical distribution whose
    :class:`DataMoments` are ``moments`` (JAX; one head, ``V, W`` ``D x D``).  Formula:
    module docstring."""
    _, jnp, _ = require_jax()
    M2, M4, P6, P4, YP3, YP, PP, YY = moments
    v = V[-1, :]
    vp, Wp = v[:-1], W[:-1, :-1]
    C = (vp[:, None, None] * Wp[None, :, :]).reshape(-1)
    a = W.T @ (M2 @ v)
    ap = a[:-1]
    T1 = n * n * ap @ PP @ ap - 2 * n * (n + 1) * ap @ YP + (n + 1) ** 2 * YY
    T2 = C @ P6 @ C
    T3 = n * C @ (P4 @ ap) - (n + 1) * C @ YP3
    if n == 0:
        return T1 + 2 * T3 + T2
    Sq = jnp.zeros_like(M2).at[:-1, :-1].set(PP)
    B = W @ Sq @ W.T
    eg2 = jnp.einsum("abcd,a,c,bd->", M4, v, v, B)
    emg2 = ap @ PP @ ap
    return (n * (eg2 - emg2) + T1 + 2 * T3 + T2) / (n + 1) ** 2


_DATA_PROGRAMS: dict = {}


def _data_program(kind: str, proto: Protocol):
    """A compiled run of the optax chain on ``ZS + w_t FS`` of the dataset for all steps:
    ``(params, mask, moments) -> params``; cached per configuration."""
    key = (kind, proto.form, proto.N, proto.optimizer, proto.momentum, proto.clip, proto.lr_finetune,
           proto.lam, proto.lam_schedule, proto.finetune_steps)
    if key in _DATA_PROGRAMS:
        return _DATA_PROGRAMS[key]
    jax, jnp, optax = require_jax()
    opt = optimizer_for(proto, proto.lr_finetune)
    weight = lam_weight(proto)

    def merged(p):
        return p["V"], (p["W"] if "W" in p else p["K"].T @ p["Q"])

    def loss(p, t, moments):
        V, W = merged(p)
        zs = data_loss(V, W, moments, 0)
        return zs if kind == "zs" else zs + weight(t) * data_loss(V, W, moments, proto.N)

    def step(carry, t):
        p, s, mask, moments = carry
        g = jax.grad(loss)(p, t, moments)
        g = {k: g[k] * mask[k] for k in g}
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, upd), s, mask, moments), None

    @jax.jit
    def run(p, mask, moments):
        s = opt.init(p)
        (p, _, _, _), _ = jax.lax.scan(step, (p, s, mask, moments), jnp.arange(proto.finetune_steps))
        return p

    _DATA_PROGRAMS[key] = run
    return run


def same_data(method: str, proto: Protocol, start: dict, moments: DataMoments):
    """The ``same_data`` rung: ``(V, W, info)``: the experiment's optax chain on the exact
    loss of its finite dataset (:func:`data_loss` with the dataset's ``moments``) from
    ``start`` (``D x D`` matrices), one compiled deterministic program."""
    jax, jnp, _ = require_jax()
    trained = trainable_for(method, proto.form)
    p = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in start.items()}
    mask = {k: jnp.asarray(1.0 if k in trained else 0.0) for k in p}
    run = _data_program(METHODS[method].objective, proto)
    out = {k: np.asarray(v) for k, v in run(p, mask, tuple(jnp.asarray(a) for a in moments.arrays())).items()}
    W = out["W"] if "W" in out else out["K"].T @ out["Q"]
    return out["V"], W, {"dataset_size": moments.size, "steps": proto.finetune_steps}


# ----------------------------------------------------------------------------- pretraining check
#: the pretrained model is in the optimum family when its exact ``L_pre`` is within this
#: relative gap of the optimum ``L_pre(c*)``
PRETRAIN_RTOL = 0.05


def pretraining_check(params: dict, proto: Protocol) -> dict:
    """Compare a pretrained model with the exact optimum and classify where it stopped.

    ``loss``: its exact ``L_pre`` (one layer; heads by
    :func:`numerics.multihead.multihead_pretrain_loss`); ``optimum``: ``L_pre`` at the
    closed-form pretrained point; ``gap = loss - optimum``.  One head: the stationary point
    nearest to the trained weights (:func:`numerics.endpoints.nearest_stationary`: Newton
    steps on the exact gradient, classified by the exact Hessian modulo symmetries) says
    where SGD was going.  ``verdict``:

    * ``optimum family``: relative gap <= :data:`PRETRAIN_RTOL`;
    * ``stalled at a saddle`` / ``stalled at a local minimum`` / ``stalled at a degenerate
      point``: the nearest stationary point is not in the optimum family (its loss is above
      the optimum by more than ``1e-6`` relative) and is a saddle / a minimum / degenerate;
    * ``not converged``: otherwise (the nearest stationary point is the optimum family, or
      none was found, or several heads);
    * ``not checked``: more than one layer (no closed-form pretraining loss).

    Args:
        params: protocol parameters ``(L, H, D, D)`` of one pretrained model.
    """


    Vp, Wp = pretrained_point(proto.d, proto.m, proto.sigma2, form="merged")
    optimum = numerics.pretrain_loss(Vp, Wp, proto.m, proto.sigma2)
    if proto.layers > 1:
        return {"loss": None, "optimum": optimum, "gap": None, "verdict": "not checked",
                "reason": "more than one layer: no closed-form pretraining loss"}
    V, W = merged_heads(params)
    out = {"optimum": optimum}
    nearest = None
    if proto.heads > 1:
        loss = multihead_pretrain_loss(V[0], W[0], proto.m, proto.sigma2)
    else:
        pb = Problem.build("pretrain", proto.form, "all", proto.config, first_head(params))
        x = pb.pack()
        loss = float(pb.loss(x))
    gap = loss - optimum
    rel = gap / optimum if optimum > 0 else math.inf
    verdict = "optimum family" if rel <= PRETRAIN_RTOL else "not converged"
    if proto.heads == 1 and rel > PRETRAIN_RTOL:
        xs, st = nearest_stationary(pb, x)
        if st is not None:
            ls = float(pb.loss(xs))
            nearest = {"loss": ls, "verdict": st.verdict, "index": st.index, "distance": float(np.linalg.norm(xs - x)),
                       "reason": st.reason}
            if ls - optimum > 1e-6 * max(1.0, optimum):
                verdict = {"saddle": "stalled at a saddle", "minimum": "stalled at a local minimum"}.get(
                    st.verdict, "stalled at a degenerate point")
    out.update(loss=loss, gap=gap, relative_gap=rel, verdict=verdict)
    if nearest is not None:
        out["nearest_stationary"] = nearest
    return out


# ----------------------------------------------------------------------------- attribution
def attribution(ladder: dict) -> dict:
    """``{cause: max_abs}`` from the ladder's ``distance_to_next`` (module docstring)."""
    return {CAUSES[r]: ladder[r]["distance_to_next"]["max_abs"] for r in RUNGS if r in ladder}
