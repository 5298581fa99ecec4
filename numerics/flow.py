r"""Exact population gradient flow of the fine-tuning objectives, from the pretrained point.

Conventions (THEORY.md section 1)
---------------------------------
* ``D = d + 2``; token ``z = (1, x, y)``: index 0 constant, ``1..d`` features, ``d+1`` label.
* ``yhat = e_y^T V S W z_q``, ``S = (sum_i z_i z_i^T + z_q z_q^T)/(n+1)``: the query is a
  token and the normalisation is by the token count ``n+1``.
* ``W`` is the merged key-query matrix acting on the query (``M = W^T`` in row-token code);
  the separate form is ``W = K^T Q``.

Objectives (THEORY.md section 2), for a unit target ``theta0``:
``zs = L_0(theta0)``, ``fs = L_N(theta0)``, ``zsfs = L_0(theta0) + lam L_N(theta0)``, each
the exact closed form of :mod:`numerics.objectives` with its exact Frobenius gradient of
:mod:`numerics.gradients`.

Pretrained point (THEORY.md section 3): ``V = e_y e_y^T``, ``W = c diag(0, I_d, 0)``
(separate: ``K = Q = sqrt(c) diag(0, I_d, 0)``), ``c`` the exact minimiser of
``L_pre(c) = pretrain_loss(e_y e_y^T, c diag(0, I, 0), m, sigma2)``.  ``L_pre`` is a
quadratic polynomial in ``c`` (``yhat`` is linear in ``W``), so with ``f_k = L_pre(k)``,
``k = -1, 0, 1``, the curvature is ``A = (f_1 + f_{-1} - 2 f_0)/2``, the slope at 0 is
``B = (f_1 - f_{-1})/2`` and ``c = -B/(2A)``: computed by the engine, not typed in.

Flow
----
The full-space flow is ``dX/dt = -grad_X L`` for every trainable matrix ``X`` (frozen
matrices stay put).  The symmetries of :mod:`numerics.manifold` keep it on the
invariant manifold, so it is integrated in the reduced coordinates ``x_c`` with
``dx_c/dt = -<G_X, B_c>/<B_c, B_c>``: the Frobenius coefficients of the *full* NumPy
gradient on the orthogonal basis, which is the flow of the full space restricted to the
span (``alpha`` carries the weight ``<B_alpha, B_alpha> = d-1``).  The stopping rule is
the Frobenius norm of the projected trainable gradient,
``|grad| = sqrt(sum_c g_c^2 <B_c, B_c>)`` over trainable ``c``, reaching ``gtol``
(a terminal event of ``scipy.integrate.solve_ivp``), or the time cap ``t_max``.

Invariants.  ``yhat`` depends on ``(v, W)`` only through ``v W^T``-type products and is
unchanged under ``(v, W) -> (s v, W/s)``; differentiating at ``s = 1`` gives
``v.g_v = <W, G_W>`` so ``d/dt (|v|^2 - |W|_F^2) = -2 v.g_v + 2 <W, G_W> = 0`` when both
train.  In the separate form ``W = K^T Q`` is unchanged under ``K -> A K``,
``Q -> A^{-T} Q``, which gives ``d/dt (K K^T - Q Q^T) = 0`` when both train, and the
scalings ``(v, K) -> (s v, K/s)``, ``(v, Q) -> (s v, Q/s)`` give conservation of
``|v|^2 - |K|_F^2`` and ``|v|^2 - |Q|_F^2`` when all three train.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

from .gradients import generalized_loss_grad
from .manifold import (ALGEBRA_NAMES, MERGED_NAMES, SEPARATE_NAMES, _algebra, _coeffs,
                       _merged_slots, _project_merged, _project_separate, unit_theta0)
from .moments import fixed_task
from .objectives import generalized_loss, pretrain_loss
from .validation import (check_count, check_matrix, check_nonneg, check_pair,
                         check_positive_int, check_theta)

__all__ = [
    "pretrain_family",
    "OBJECTIVES", "TRAIN_MERGED", "TRAIN_SEPARATE",
    "pretrained_c", "pretrained_point", "objective_value", "objective_grad",
    "objective_grad_kq", "gradient_flow", "full_matrix_flow", "FlowResult", "FullFlowResult",
]

OBJECTIVES = ("zs", "fs", "zsfs")
TRAIN_MERGED = ("all", "v", "w")
TRAIN_SEPARATE = ("all", "v", "kq", "k", "q")

DEFAULT_GTOL = 1e-10
DEFAULT_T_MAX = 1e8


# ----------------------------------------------------------------------------- checks
def _check_d(d) -> int:
    return check_positive_int("d", d)


def _check_objective(objective) -> str:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    return objective


def _check_form(form) -> str:
    if form not in ("merged", "separate"):
        raise ValueError(f"form must be 'merged' or 'separate', got {form!r}")
    return form


def _check_train(train, form) -> str:
    allowed = TRAIN_MERGED if form == "merged" else TRAIN_SEPARATE
    if train not in allowed:
        raise ValueError(f"train must be one of {allowed} for form={form!r}, got {train!r}")
    return train


def _check_pos_real(name, value) -> float:
    x = check_nonneg(name, value)
    if x <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return x


def _terms(objective: str, N: int, lam: float):
    """``[(n, weight)]`` of the objective: zs -> L_0, fs -> L_N, zsfs -> L_0 + lam L_N."""
    return {"zs": [(0, 1.0)], "fs": [(N, 1.0)], "zsfs": [(0, 1.0), (N, lam)]}[objective]


# ----------------------------------------------------------------------------- pretrained
def pretrain_family(d: int, c: float):
    """``(V, W) = (e_y e_y^T, c diag(0, I_d, 0))``: the isotropic pretraining family."""
    D = d + 2
    V = np.zeros((D, D))
    V[-1, -1] = 1.0
    W = np.zeros((D, D))
    W[1:-1, 1:-1] = c * np.eye(d)
    return V, W


def pretrained_c(d, m, sigma2=0.0) -> float:
    """Exact minimiser ``c`` of ``L_pre(c) = pretrain_loss(e_y e_y^T, c diag(0, I, 0), m)``.

    ``L_pre`` is quadratic in ``c``; with ``f_k = L_pre(k)`` for ``k = -1, 0, 1``:
    ``c = -B/(2A)``, ``A = (f_1 + f_{-1} - 2 f_0)/2``, ``B = (f_1 - f_{-1})/2``.
    Raises ``ValueError`` when ``m = 0`` (``L_pre`` does not depend on ``c``: the value
    row ``e_y`` reads the label slot, which the query does not carry)."""
    d = _check_d(d)
    m = check_count("m", m)
    sigma2 = check_nonneg("sigma2", sigma2)
    f = [pretrain_loss(*pretrain_family(d, float(k)), m, sigma2) for k in (-1, 0, 1)]
    A = (f[2] + f[0] - 2.0 * f[1]) / 2.0
    B = (f[2] - f[0]) / 2.0
    if not A > 1e-14 * max(1.0, abs(f[1])):
        raise ValueError(f"m must be >= 1: L_pre is flat in c for m = {m}")
    return float(-B / (2.0 * A))


def pretrained_point(d, m, sigma2=0.0, form="merged"):
    """The pretrained point: merged ``(V, W)`` with ``V = e_y e_y^T``,
    ``W = c diag(0, I_d, 0)``; separate ``(V, K, Q)`` with ``K = Q = sqrt(c) diag(0, I_d, 0)``
    (the balanced factorisation; requires ``c > 0``)."""
    form = _check_form(form)
    c = pretrained_c(d, m, sigma2)
    V, W = pretrain_family(d, c)
    if form == "merged":
        return V, W
    if c <= 0:
        raise ValueError(f"the separate form needs c > 0, got c = {c}")
    _, K = pretrain_family(d, np.sqrt(c))
    return V, K, K.copy()


# ----------------------------------------------------------------------------- objectives
def objective_value(objective, V, W, theta0, N, sigma2=0.0, lam=1.0) -> float:
    """``zs = L_0(theta0)``, ``fs = L_N(theta0)``, ``zsfs = L_0 + lam L_N`` (exact)."""
    objective = _check_objective(objective)
    V, W = check_pair(V, W)
    theta0 = check_theta(theta0, V.shape[0] - 2, "theta0")
    N = check_count("N", N)
    sigma2 = check_nonneg("sigma2", sigma2)
    lam = check_nonneg("lam", lam)
    tm = fixed_task(theta0, sigma2)
    return float(sum(w * generalized_loss(V, W, tm, n) for n, w in _terms(objective, N, lam)))


def objective_grad(objective, V, W, theta0, N, sigma2=0.0, lam=1.0):
    """Frobenius gradient ``(G_V, G_W)`` of :func:`objective_value`: the weighted sum of the
    exact gradients ``grad L_n`` of :func:`numerics.expected_loss_grad`."""
    objective = _check_objective(objective)
    V, W = check_pair(V, W)
    theta0 = check_theta(theta0, V.shape[0] - 2, "theta0")
    N = check_count("N", N)
    sigma2 = check_nonneg("sigma2", sigma2)
    lam = check_nonneg("lam", lam)
    return _grad_merged(V, W, fixed_task(theta0, sigma2), _terms(objective, N, lam))


def objective_grad_kq(objective, V, K, Q, theta0, N, sigma2=0.0, lam=1.0):
    """Separate form ``W = K^T Q``: ``(G_V, G_K, G_Q)`` with ``G_K = Q G_W^T``,
    ``G_Q = K G_W`` and ``(G_V, G_W)`` of :func:`objective_grad` at ``W = K^T Q``."""
    objective = _check_objective(objective)
    V = check_matrix("V", V)
    K = check_matrix("K", K, dim=V.shape[0])
    Q = check_matrix("Q", Q, dim=V.shape[0])
    theta0 = check_theta(theta0, V.shape[0] - 2, "theta0")
    N = check_count("N", N)
    sigma2 = check_nonneg("sigma2", sigma2)
    lam = check_nonneg("lam", lam)
    gV, gW = _grad_merged(V, K.T @ Q, fixed_task(theta0, sigma2), _terms(objective, N, lam))
    return gV, Q @ gW.T, K @ gW


def _grad_merged(V, W, tm, terms):
    gV = np.zeros_like(V)
    gW = np.zeros_like(W)
    for n, w in terms:
        if w == 0.0:
            continue
        a, b = generalized_loss_grad(V, W, tm, n)
        gV += w * a
        gW += w * b
    return gV, gW


def _loss_merged(V, W, tm, terms):
    return float(sum(w * generalized_loss(V, W, tm, n) for n, w in terms))


# ----------------------------------------------------------------------------- the problem
class _Problem:
    """The reduced flow: coordinates, masks, right-hand side, invariants."""

    def __init__(self, objective, train, form, d, N, sigma2, lam, theta0):
        self.objective, self.train, self.form = objective, train, form
        self.d, self.N, self.sigma2, self.lam = d, N, sigma2, lam
        self.t = theta0
        self.tm = fixed_task(theta0, sigma2)
        self.terms = _terms(objective, N, lam)
        if form == "merged":
            self.names = MERGED_NAMES
            BV, BW = _merged_slots(theta0)
            self._BV, self._BW = BV, BW
            groups = {"all": "VW", "v": "V", "w": "W"}[train]
            self.mask = np.array([("V" in groups)] * 2 + [("W" in groups)] * 4, dtype=float)
            self.nsq = np.array([1.0, 1.0, 1.0, d - 1.0, 1.0, 1.0])
        else:
            self.names = SEPARATE_NAMES
            self._A = _algebra(theta0)
            groups = {"all": "VKQ", "v": "V", "kq": "KQ", "k": "K", "q": "Q"}[train]
            self.mask = np.array([("V" in groups)] * 2 + [("K" in groups)] * 6 + [("Q" in groups)] * 6,
                                 dtype=float)
            alg = [1.0, d - 1.0, 1.0, 1.0, 1.0, 1.0]
            self.nsq = np.array([1.0, 1.0] + alg + alg)
        if d == 1:  # the 'perp' element is the zero matrix: its coordinate is inert
            self.mask[self.nsq == 0] = 0.0
        self.nfev = 0
        self._cache_key = None
        self._cache_val = None
        self.last_norm = np.inf  # gradient norm at the latest evaluation (event proxy)
        self.nfev_fast = 0
        self.interp = None

    # matrices -------------------------------------------------------------------------
    def matrices(self, x):
        """merged: (V, W); separate: (V, K, Q)."""
        if self.form == "merged":
            return (np.einsum("c,cij->ij", x[:2], self._BV), np.einsum("c,cij->ij", x[2:], self._BW))
        A = self._A
        V = x[0] * A[3] + x[1] * A[5]
        return V, np.einsum("c,cij->ij", x[2:8], A), np.einsum("c,cij->ij", x[8:14], A)

    def merged_VW(self, x):
        mats = self.matrices(x)
        if self.form == "merged":
            return mats
        V, K, Q = mats
        return V, K.T @ Q

    # gradient -------------------------------------------------------------------------
    def full_grad(self, x):
        mats = self.matrices(x)
        if self.form == "merged":
            return _grad_merged(mats[0], mats[1], self.tm, self.terms)
        V, K, Q = mats
        gV, gW = _grad_merged(V, K.T @ Q, self.tm, self.terms)
        return gV, Q @ gW.T, K @ gW

    def raw_coeffs(self, x) -> np.ndarray:
        """Unmasked exact projected coefficients (merged form only; for the fit)."""
        g, _, _ = _project_merged(*self.full_grad(x), self.t)
        return g

    def fast_coeffs(self, x) -> np.ndarray:
        """Masked coefficients from the exact polynomial fit (:class:`_Interpolant`);
        the separate form uses the chain rule ``G_K = Q G_W^T``, ``G_Q = K G_W`` on the
        merged fit at ``W = K^T Q``."""
        self.nfev_fast += 1
        if self.form == "merged":
            return self.interp(x) * self.mask
        A = self._A
        V, K, Q = self.matrices(x)
        W = K.T @ Q
        y = np.array([x[0], x[1], W[0, 0], np.sum(A[1] * W) / max(self.d - 1, 1),
                      self.t @ W[1:-1, 1:-1] @ self.t, W[-1, 1:-1] @ self.t])
        g = self.interp(y)
        gW = np.einsum("c,cij->ij", g[2:], self._A[[0, 1, 2, 3]])
        gK, gQ = Q @ gW.T, K @ gW
        nsq = self.nsq[2:8]
        gk = np.where(nsq > 0, np.einsum("cij,ij->c", A, gK) / np.where(nsq > 0, nsq, 1), 0.0)
        gq = np.where(nsq > 0, np.einsum("cij,ij->c", A, gQ) / np.where(nsq > 0, nsq, 1), 0.0)
        return np.concatenate([g[:2], gk, gq]) * self.mask

    def coeffs(self, x):
        """(masked coefficients g_c, off-manifold residual of the trainable gradient)."""
        key = x.tobytes()
        if key == self._cache_key:
            return self._cache_val
        self.nfev += 1
        grads = self.full_grad(x)
        if self.form == "merged":
            g, res, _ = _project_merged(grads[0], grads[1], self.t)
            slots = {"V": res["V"], "W": res["W"]}
        else:
            g, res, _ = _project_separate(*grads, self.t)
            slots = res
        groups = {"merged": {"all": "VW", "v": "V", "w": "W"},
                  "separate": {"all": "VKQ", "v": "V", "kq": "KQ", "k": "K", "q": "Q"}}[self.form][self.train]
        resid = float(np.sqrt(sum(slots[s] ** 2 for s in groups)))
        val = (g * self.mask, resid)
        self._cache_key, self._cache_val = key, val
        self.last_norm = float(np.sqrt(np.sum(val[0] ** 2 * self.nsq)))
        return val

    def rhs(self, _t, x):
        return -self.coeffs(x)[0]

    def rhs_fast(self, _t, x):
        g = self.fast_coeffs(x)
        self.last_norm = float(np.sqrt(np.sum(g * g * self.nsq)))
        return -g

    def grad_norm_fast(self, x) -> float:
        g = self.fast_coeffs(x)
        return float(np.sqrt(np.sum(g * g * self.nsq)))

    def grad_norm(self, x) -> float:
        g = self.coeffs(x)[0]
        return float(np.sqrt(np.sum(g * g * self.nsq)))

    def loss(self, x) -> float:
        V, W = self.merged_VW(x)
        return _loss_merged(V, W, self.tm, self.terms)

    # invariants -----------------------------------------------------------------------
    def invariants(self, x) -> dict:
        mats = self.matrices(x)
        v2 = float(mats[0][-1] @ mats[0][-1])
        if self.form == "merged":
            W = mats[1].copy()
            return {"v2_minus_W2": v2 - float(np.sum(W * W))}
        _, K, Q = mats
        K2, Q2 = float(np.sum(K * K)), float(np.sum(Q * Q))
        out = {"v2_minus_K2": v2 - K2, "v2_minus_Q2": v2 - Q2, "K2_minus_Q2": K2 - Q2}
        g, _, _ = _coeffs(K @ K.T - Q @ Q.T, self._A)
        for nm, val in zip(ALGEBRA_NAMES, g):
            out["KKt_minus_QQt_" + nm] = float(val)
        return out

    def conserved(self) -> tuple:
        if self.form == "merged":
            return ("v2_minus_W2",) if self.train == "all" else ()
        kq = ("K2_minus_Q2",) + tuple("KKt_minus_QQt_" + nm for nm in ALGEBRA_NAMES)
        if self.train == "all":
            return ("v2_minus_K2", "v2_minus_Q2") + kq
        return kq if self.train == "kq" else ()

    def merged_final(self, x) -> dict:
        if self.form == "merged":
            return dict(zip(MERGED_NAMES, map(float, x)))
        V, W = self.merged_VW(x)
        g, _, _ = _project_merged(V, W, self.t)
        return dict(zip(MERGED_NAMES, map(float, g)))

    def merged_offmanifold(self, x) -> float:
        """Residual of the point ``(V, W)`` off the merged manifold (0 for merged)."""
        V, W = self.merged_VW(x)
        _, res, _ = _project_merged(V, W, self.t)
        return float(np.hypot(res["V"], res["W"]))


# ----------------------------------------------------------------------------- fast path
def _merged_exponents() -> np.ndarray:
    """Exponents of the monomials of bidegree <= (2, 2) in ``(a, b) x (q, alpha, beta, h)``."""
    ev = [(i, j) for i in range(3) for j in range(3) if i + j <= 2]
    ew = [e for e in np.ndindex(3, 3, 3, 3) if sum(e) <= 2]
    return np.array([list(a) + list(w) for a in ev for w in ew], dtype=float)


_EXPONENTS = _merged_exponents()  # (90, 6)
_EXP_INT = _EXPONENTS.astype(int)
_COLS = np.arange(6)


# the 90 monomials are (monomial in a, b) x (monomial in q, alpha, beta, h), in the order of
# _merged_exponents: an outer product of 6 and 15 monomials, each a product of <= 2 factors
_EV = [tuple(i for i, k in enumerate(e) for _ in range(k)) for e in
       [(i, j) for i in range(3) for j in range(3) if i + j <= 2]]
_EW = [tuple(i for i, k in enumerate(e) for _ in range(k)) for e in np.ndindex(3, 3, 3, 3) if sum(e) <= 2]


def _prods(vals, index_tuples):
    out = []
    for ix in index_tuples:
        v = 1.0
        for i in ix:
            v *= vals[i]
        out.append(v)
    return out


def _monomials(x: np.ndarray) -> np.ndarray:
    """The 90 monomials of :func:`_merged_exponents` at ``x`` (same order and values as
    ``prod_i x_i^{e_i}``)."""
    xs = x.tolist()
    return np.outer(_prods(xs[:2], _EV), _prods(xs[2:], _EW)).ravel()


class _Interpolant:
    """The merged projected gradient ``g_c(a, b, q, alpha, beta, h)`` as an exact polynomial.

    ``yhat`` is linear in ``v`` and linear in ``W``, so every loss is a polynomial of
    bidegree ``(2, 2)`` in ``((a, b), (q, alpha, beta, h))`` and each coefficient ``g_c`` of
    its projected gradient is a polynomial in the 90 monomials of :func:`_merged_exponents`.
    The 90 x 6 coefficient table is fitted by least squares to the exact numerics gradient
    at 180 pseudo-random points of ``[-1.5, 1.5]^6`` (a fixed seed) and then checked at 30
    fresh points: ``max_rel_error`` is the largest discrepancy there relative to the largest
    gradient coefficient.  A fit off by more than 1e-9 raises ``RuntimeError``."""

    def __init__(self, pb_merged: "_Problem"):
        rng = np.random.default_rng(20260223)
        pts = rng.uniform(-1.5, 1.5, size=(180, 6))
        A = np.array([_monomials(p) for p in pts])
        G = np.array([pb_merged.raw_coeffs(p) for p in pts])
        self.coef, *_ = np.linalg.lstsq(A, G, rcond=None)
        test = rng.uniform(-1.5, 1.5, size=(30, 6))
        exact = np.array([pb_merged.raw_coeffs(p) for p in test])
        approx = np.array([_monomials(p) for p in test]) @ self.coef
        self.max_rel_error = float(np.abs(exact - approx).max() / max(np.abs(exact).max(), 1e-300))
        if not self.max_rel_error < 1e-9:
            raise RuntimeError(f"polynomial fit of the gradient is off by {self.max_rel_error:.2e}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return _monomials(x) @ self.coef


_INTERP_CACHE: dict = {}


def _interpolant(objective, d, N, sigma2, lam, t) -> _Interpolant:
    key = (objective, d, N, sigma2, lam, t.tobytes())
    if key not in _INTERP_CACHE:
        if len(_INTERP_CACHE) > 256:
            _INTERP_CACHE.clear()
        _INTERP_CACHE[key] = _Interpolant(_Problem(objective, "all", "merged", d, N, sigma2, lam, t))
    return _INTERP_CACHE[key]


def _initial_state(form: str, c: float) -> np.ndarray:
    if form == "merged":
        # a, b, q, alpha, beta, h
        return np.array([0.0, 1.0, 0.0, c, c, 0.0])
    s = np.sqrt(c)
    alg = [0.0, s, s, 0.0, 0.0, 0.0]
    return np.array([0.0, 1.0] + alg + alg)


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
    ``loss_start/loss_end``: objective values; ``invariant_start/invariant_end``: dicts of
    the invariants (``conserved`` names those the flow must conserve for this subset);
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

    def summary(self) -> dict:
        """A JSON-serialisable summary (no matrices, trajectory as lists)."""
        tr = self.trajectory
        return {
            "objective": self.objective, "train": self.train, "form": self.form,
            "d": self.d, "m": self.m, "N": self.N, "sigma2": self.sigma2, "lam": self.lam,
            "c": self.c, "final": dict(self.final),
            "final_separate": None if self.final_separate is None else dict(self.final_separate),
            "grad_norm": self.grad_norm, "gtol": self.gtol, "converged": self.converged,
            "t_final": self.t_final, "t_max": self.t_max,
            "loss_start": self.loss_start, "loss_end": self.loss_end,
            "invariant_start": dict(self.invariant_start), "invariant_end": dict(self.invariant_end),
            "conserved": list(self.conserved), "off_manifold": self.off_manifold,
            "nfev": self.nfev, "wall_time": self.wall_time, "method": self.method,
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
def _check_problem(objective, train, d, m, N, sigma2, lam, form):
    """Validate the arguments shared by the flows and SGD; returns them normalised."""
    objective = _check_objective(objective)
    form = _check_form(form)
    train = _check_train(train, form)
    return (objective, train, _check_d(d), check_count("m", m), check_count("N", N),
            check_nonneg("sigma2", sigma2), check_nonneg("lam", lam), form)


def _setup(objective, train, d, m, N, sigma2, lam, form, theta0):
    objective, train, d, m, N, sigma2, lam, form = _check_problem(objective, train, d, m, N, sigma2, lam, form)
    if theta0 is None:
        theta0 = np.eye(d)[0]
    theta0 = unit_theta0(theta0, d)
    c = pretrained_c(d, m, sigma2)
    if form == "separate" and c <= 0:
        raise ValueError(f"the separate form needs c > 0, got c = {c}")
    return _Problem(objective, train, form, d, N, sigma2, lam, theta0), c, (objective, train, form, d, m, N, sigma2, lam)


def _integrate(pb, x0, t0, t_max, gtol, method, rtol, atol, fast, deadline):
    """``solve_ivp`` with the terminal gradient-norm event, in time chunks ``[t0, 10 t0]``
    (starting from ``t0 = 1``) up to ``t_max`` so that the wall-clock ``deadline`` can be
    honoured between chunks (and, through a second terminal event, within a chunk).
    Returns ``(t, y, hit, message)``."""
    rhs = pb.rhs_fast if fast else pb.rhs
    norm = pb.grad_norm_fast if fast else pb.grad_norm
    target = 0.5 * gtol if fast else gtol  # the fast path aims lower, the exact check decides

    def event(_t, x):
        return norm(x) - target
    event.terminal = True
    event.direction = -1

    late = []

    def out_of_time(t, _x):
        # a wall-clock "event": once the deadline has passed, the flow time t* at which that
        # was first seen becomes a root (t* - t), so even a long time chunk stops there
        if not late and time.perf_counter() > deadline:
            late.append(t)
        return 1.0 if not late else late[0] - t
    out_of_time.terminal = True
    out_of_time.direction = -1
    ts, ys = [np.array([t0])], [x0[:, None]]
    t, x = t0, x0
    while True:
        t_next = min(t_max, max(10.0 * t, 1.0))
        sol = solve_ivp(rhs, (t, t_next), x, method=method, rtol=rtol, atol=atol,
                        events=(event, out_of_time))
        ts.append(sol.t[1:])
        ys.append(sol.y[:, 1:])
        t, x = float(sol.t[-1]), sol.y[:, -1]
        if sol.status < 0:
            return np.concatenate(ts), np.hstack(ys), False, f"integration failed: {sol.message}"
        if sol.status == 1 and sol.t_events[0].size:
            return np.concatenate(ts), np.hstack(ys), True, "gradient norm reached gtol"
        if sol.status == 1:
            return np.concatenate(ts), np.hstack(ys), False, f"wall-clock cap reached at t = {t:.3g}"
        if t >= t_max:
            return np.concatenate(ts), np.hstack(ys), False, "time cap t_max reached"
        if time.perf_counter() > deadline:
            return np.concatenate(ts), np.hstack(ys), False, f"wall-clock cap reached at t = {t:.3g}"


def gradient_flow(objective, train, d, m, N, sigma2=0.0, lam=1.0, form="merged",
                  gtol=DEFAULT_GTOL, t_max=DEFAULT_T_MAX, theta0=None, method="LSODA",
                  rtol=1e-11, atol=1e-14, max_points=50, rhs="fast",
                  max_wall=30.0) -> FlowResult:
    """Exact population gradient flow ``dx_c/dt = -<G, B_c>/<B_c, B_c>`` (trainable ``c``)
    from the pretrained point, integrated with ``scipy.integrate.solve_ivp``.

    Stops when the Frobenius norm of the projected trainable gradient reaches ``gtol``
    (terminal event), at the flow time ``t_max`` or, checked between time chunks
    ``[t, 10 t]``, after about ``max_wall`` seconds; ``converged`` says which and
    ``message`` why.  ``theta0`` defaults to
    ``e_1`` (the reduced flow does not depend on it).

    ``rhs='exact'`` evaluates the full numerics gradient at every right-hand-side call.
    ``rhs='fast'`` uses the same gradient as an exact polynomial in the coordinates
    (:class:`_Interpolant`, fitted to the numerics gradient once per configuration and
    verified to 1e-9 relative); the end point is then always re-checked with the exact
    gradient, and if its exact norm exceeds ``gtol`` the flow continues with
    ``rhs='exact'``.  ``grad_norm``, ``converged``, losses, invariants and
    ``off_manifold`` are always computed with the exact numerics gradient.
    See :class:`FlowResult`."""
    gtol = _check_pos_real("gtol", gtol)
    t_max = _check_pos_real("t_max", t_max)
    rtol = _check_pos_real("rtol", rtol)
    atol = _check_pos_real("atol", atol)
    max_points = check_positive_int("max_points", max_points)
    if max_points < 2:
        raise ValueError("max_points must be >= 2")
    if method not in ("LSODA", "BDF", "Radau", "RK45", "DOP853", "RK23"):
        raise ValueError(f"method must be a scipy.integrate.solve_ivp method name, got {method!r}")
    max_wall = _check_pos_real("max_wall", max_wall)
    if rhs not in ("exact", "fast"):
        raise ValueError(f"rhs must be 'exact' or 'fast', got {rhs!r}")
    pb, c, (objective, train, form, d, m, N, sigma2, lam) = _setup(
        objective, train, d, m, N, sigma2, lam, form, theta0)
    start = time.perf_counter()
    x0 = _initial_state(form, c)
    g0 = pb.grad_norm(x0)
    if g0 <= gtol:
        ts, ys, msg, hit = np.array([0.0]), x0[:, None], "gradient below gtol at the start", True
    else:
        fast = rhs == "fast"
        if fast:
            pb.interp = _interpolant(objective, d, N, sigma2, lam, pb.t)
        deadline = start + max_wall
        ts, ys, hit, msg = _integrate(pb, x0, 0.0, t_max, gtol, method, rtol, atol, fast, deadline)
        if fast and hit and pb.grad_norm(ys[:, -1]) > gtol:
            t2, y2, hit, msg2 = _integrate(pb, ys[:, -1], ts[-1], t_max, gtol, method, rtol, atol, False,
                                           deadline)
            ts, ys = np.concatenate([ts, t2[1:]]), np.hstack([ys, y2[:, 1:]])
            msg = f"{msg}; exact polish: {msg2}"
    x_end = ys[:, -1]
    gn = pb.grad_norm(x_end)
    idx = np.unique(np.linspace(0, ts.size - 1, min(max_points, ts.size)).round().astype(int))
    traj_coords = ys[:, idx].T
    off = [pb.coeffs(xx)[1] / max(pb.grad_norm(xx), 1e-300) for xx in traj_coords if pb.grad_norm(xx) > 0]
    traj = {"t": ts[idx].copy(), "names": pb.names, "coords": traj_coords,
            "loss": np.array([pb.loss(xx) for xx in traj_coords]),
            "grad_norm": np.array([pb.grad_norm(xx) for xx in traj_coords])}
    mats = pb.matrices(x_end)
    V, W = pb.merged_VW(x_end)
    wall = time.perf_counter() - start
    return FlowResult(
        objective=objective, train=train, form=form, d=d, m=m, N=N, sigma2=sigma2, lam=lam,
        c=c, final=pb.merged_final(x_end),
        final_separate=None if form == "merged" else dict(zip(SEPARATE_NAMES, map(float, x_end))),
        V=V, W=W, K=None if form == "merged" else mats[1], Q=None if form == "merged" else mats[2],
        grad_norm=gn, gtol=gtol, converged=bool(gn <= gtol or (hit and gn <= gtol * (1 + 1e-3))), t_final=float(ts[-1]),
        t_max=t_max, trajectory=traj, loss_start=pb.loss(x0), loss_end=pb.loss(x_end),
        invariant_start=pb.invariants(x0), invariant_end=pb.invariants(x_end),
        conserved=pb.conserved(), off_manifold=float(max(off, default=0.0)), nfev=pb.nfev + pb.nfev_fast,
        wall_time=wall, message=str(msg), method=f"{method} rhs={rhs}", theta0=pb.t.copy())


def full_matrix_flow(objective, train, d, m, N, sigma2=0.0, lam=1.0, form="merged",
                     t_end=10.0, n_points=21, theta0=None, seed=0, rtol=1e-10,
                     atol=1e-12) -> FullFlowResult:
    """Cross-check: integrate ``dX/dt = -grad_X L`` on *every entry* of the trainable
    ``D x D`` matrices (full NumPy gradient, no projection) from the pretrained point up
    to ``t_end``, and the reduced flow with the same integrator (DOP853) and tolerances.

    ``theta0`` defaults to a generic unit vector drawn from ``seed`` (not a coordinate
    axis, so the off-manifold test is not helped by sparsity).  Returns the largest
    off-manifold norm of the full state along the samples and the largest difference
    between its projected coordinates and the reduced flow."""
    t_end = _check_pos_real("t_end", t_end)
    n_points = check_positive_int("n_points", n_points)
    rtol = _check_pos_real("rtol", rtol)
    atol = _check_pos_real("atol", atol)
    d_ = _check_d(d)
    if theta0 is None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        g = np.random.default_rng(seed).standard_normal(d_)
        theta0 = g / np.linalg.norm(g)
    pb, c, (objective, train, form, d, m, N, sigma2, lam) = _setup(
        objective, train, d, m, N, sigma2, lam, form, theta0)
    D = d + 2
    t_eval = np.linspace(0.0, t_end, n_points)
    x0 = _initial_state(form, c)
    red = solve_ivp(pb.rhs, (0.0, t_end), x0, method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval)
    if red.status < 0:
        raise RuntimeError(f"reduced flow failed: {red.message}")
    mats0 = [np.array(M, dtype=float) for M in pb.matrices(x0)]
    slots = ("V", "W") if form == "merged" else ("V", "K", "Q")
    groups = {"all": "VWKQ", "v": "V", "w": "W", "kq": "KQ", "k": "K", "q": "Q"}[train]
    train_idx = [i for i, s in enumerate(slots) if s in groups]
    frozen = [M.copy() for M in mats0]

    def unpack(y):
        mats = [M for M in frozen]
        for j, i in enumerate(train_idx):
            mats[i] = y[j * D * D:(j + 1) * D * D].reshape(D, D)
        return mats

    def full_rhs(_t, y):
        mats = unpack(y)
        if form == "merged":
            grads = _grad_merged(mats[0], mats[1], pb.tm, pb.terms)
        else:
            V, K, Q = mats
            gV, gW = _grad_merged(V, K.T @ Q, pb.tm, pb.terms)
            grads = (gV, Q @ gW.T, K @ gW)
        return -np.concatenate([grads[i].ravel() for i in train_idx])

    y0 = np.concatenate([mats0[i].ravel() for i in train_idx])
    full = solve_ivp(full_rhs, (0.0, t_end), y0, method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval)
    if full.status < 0:
        raise RuntimeError(f"full-matrix flow failed: {full.message}")
    cf, offs = [], []
    for k in range(full.y.shape[1]):
        mats = unpack(full.y[:, k])
        if form == "merged":
            g, res, _ = _project_merged(mats[0], mats[1], pb.t)
        else:
            g, res, _ = _project_separate(*mats, pb.t)
        cf.append(g)
        offs.append(float(np.sqrt(sum(r * r for r in res.values()))))
    cf = np.array(cf)
    cr = red.y.T
    return FullFlowResult(t=full.t, names=pb.names, coords_full=cf, coords_reduced=cr,
                          off_manifold=np.array(offs), max_off_manifold=float(max(offs)),
                          max_coord_diff=float(np.abs(cf - cr).max()),
                          matrices=tuple(unpack(full.y[:, -1])), theta0=pb.t.copy())
