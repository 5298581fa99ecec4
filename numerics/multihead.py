r"""Exact ICL loss of a one-layer linear attention model with ``H`` heads.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

Heads
-----
* Head ``h`` has value matrix ``V_h`` (row ``v_h = V_h[y, :]``) and merged key-query
  matrix ``W_h`` acting on the query (``M_h = W_h^T`` in row-token code, ``W_h = K_h^T Q_h``
  in the separate form).
* The heads are averaged: ``yhat = (1/H) sum_h f_h``, ``f_h = e_y^T V_h S W_h z_q``,
  ``S = (sum_i z_i z_i^T + z_q z_q^T)/(n+1)``.  With the residual stream of the row-token
  model the prediction is ``Z[-1,-1] + yhat = yhat`` because the query label slot is 0.

Why a new derivation
--------------------
``L = (1/H^2) sum_{h,g} E[f_h f_g] - (2/H) sum_h E[f_h y_q] + E[y_q^2]`` needs the cross
moments ``E[f_h f_g]``.  The single-head loss is a quartic in ``(v, W)``; polarising it in
``(v, W)`` only yields ``E[f(v_1,W_1) f(v_2,W_2)] + E[f(v_1,W_2) f(v_2,W_1)]``, the part
symmetric under ``W_h <-> W_g``.  The cross moment itself follows from writing the
prediction as a quadratic form in the demonstration tokens whose matrix is *linear* in
one 3-tensor per head:

``f_h = (1/(n+1)) [sum_i z_i^T G_h z_i + z_q^T G_h z_q]``,
``G_h = v_h (W_h z_q)^T = sum_k (z_q)_k G_h^{(k)}``, ``G_h^{(k)}[a, b] = v_h[a] W_h[b, k]``.

Every moment below is a quadratic form in the tensor ``G^{(k)}[a,b]``, so the cross moment
is its (exact) polarisation in ``G`` and the ``H``-head loss is the single-head formula
evaluated at ``G = (1/H) sum_h G_h``.

Derivation (fixed task ``theta``, ``tau = |theta|^2 + sigma2`` kept as a separate symbol)
--------------------------------------------------------------------------------------
A demonstration token is ``z = e_0 + w``, ``w ~ N(0, Sigma)``,
``Sigma = diag(0, I_d, tau) + (P theta e_y^T + e_y theta^T P^T)``, ``Sigma e_0 = 0``,
``A = E[z z^T] = Sigma + e_0 e_0^T``.  Given ``z_q``, with ``G^s = (G + G^T)/2``:

* ``E[z^T G z] = tr(G A) = c.z_q``, ``c_k = <G^{(k)}, A>_F``;
* ``Cov(z^T G_1 z, z^T G_2 z) = 4 (G^s_1 e_0)^T Sigma (G^s_2 e_0) + 2 tr(G^s_1 Sigma G^s_2 Sigma)
  = z_q^T B_{12} z_q`` (linear part ``2 G^s e_0 . w``, quadratic part ``w^T G^s w``;
  the third moment of ``w`` vanishes);
* demonstrations are i.i.d. given ``z_q``, so with ``p_h = (n c_h.z_q + z_q^T G_h z_q)/(n+1)``:
  ``E[f_h f_g | z_q] = p_h p_g + n z_q^T B_{hg} z_q / (n+1)^2``.

Averaging over ``z_q = e_0 + xi`` (``xi = P x_q``, ``x_q ~ N(0, I_d)``): ``p_h = F_h[z_q,z_q,z_q]``
with the cubic tensor ``F_h = (G_h + n c_h (x) e_0 (x) e_0)/(n+1)``.  For a symmetric cubic
``F`` split ``F[z,z,z] = t_0 + t_1.xi + xi^T t_2 xi + t_3[xi,xi,xi]`` (``t_0 = F_000``,
``t_1 = 3 F_{00x}``, ``t_2 = 3 F_{0xx}``, ``t_3 = F_{xxx}``, ``r(t_3)_i = sum_j (t_3)_{ijj}``);
Isserlis gives the bilinear form

``E[p p'] = t_0 t_0' + t_0 tr t_2' + t_0' tr t_2 + t_1.t_1' + 3 t_1.r(t_3') + 3 t_1'.r(t_3)
+ tr t_2 tr t_2' + 2 <t_2, t_2'> + 6 <t_3, t_3'> + 9 r(t_3).r(t_3')``

and ``E[p (theta.x_q)] = theta.(t_1 + 3 r(t_3))``, ``E[z_q^T B z_q] = tr(B J_q)`` with
``J_q = diag(1, I_d, 0)``.  Hence

``E[f_h f_g] = E[p_h p_g] + n tr(B_{hg} J_q)/(n+1)^2``, ``E[f_h y_q] = E[p_h theta.x_q]``,
``L_n = (1/H^2) sum_{h,g} E[f_h f_g] - (2/H) sum_h E[f_h y_q] + tau``.

For fixed ``tau`` every term is a polynomial of degree 2 in ``theta`` (``Sigma`` and ``A``
are affine in it), so the average over ``theta ~ U(S^{d-1})`` (``tau = 1 + sigma2``) is
exactly ``g(0) + (1/(2d)) sum_i [g(e_i) + g(-e_i) - 2 g(0)]`` for ``g(theta)`` the loss at
fixed ``tau``.  For ``H = 1`` this is an independent route to
:func:`numerics.expected_loss` (different algebra: no query polynomial, no task moments).
Cost ``O(H^2 D^4)`` for the cross moments and ``O(D^4)`` for the loss.
"""
from __future__ import annotations

import numpy as np

from .validation import check_count, check_nonneg, check_theta

__all__ = ["multihead_loss", "multihead_pretrain_loss", "multihead_cross_moments",
           "check_heads"]


def check_heads(Vs, Ws, names=("V", "W")) -> tuple[np.ndarray, np.ndarray]:
    """Validate stacked heads: arrays of shape ``(H, D, D)`` (a single ``D x D`` matrix is
    one head), ``D >= 3``, finite, the same shape for both.

    Returns:
        ``(Vs, Ws)`` as float64 arrays of shape ``(H, D, D)``.

    Raises:
        ValueError: naming the argument.
    """
    out = []
    for name, M in zip(names, (Vs, Ws)):
        try:
            arr = np.array(M, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real array of shape (H, D, D), got {type(M).__name__}") from None
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1] != arr.shape[2] or arr.shape[0] < 1:
            raise ValueError(f"{name} must have shape (H, D, D) with H >= 1, got {arr.shape}")
        if arr.shape[1] < 3:
            raise ValueError(f"{name} must have side D = d + 2 >= 3, got {arr.shape[1]}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must have only finite entries")
        out.append(arr)
    if out[0].shape != out[1].shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {out[0].shape} and {out[1].shape}")
    return out[0], out[1]


def _sigma(theta: np.ndarray, tau: float) -> np.ndarray:
    """``Sigma = diag(0, I, tau) + P theta e_y^T + e_y theta^T P^T``."""
    d = theta.shape[0]
    S = np.zeros((d + 2, d + 2))
    S[1:-1, 1:-1] = np.eye(d)
    S[-1, -1] = tau
    S[1:-1, -1] = theta
    S[-1, 1:-1] = theta
    return S


def _tensors(Vs, Ws):
    """``G_h^{(k)}[a, b] = v_h[a] W_h[b, k]`` as an array ``(H, k, a, b)``."""
    return np.einsum("ha,hbk->hkab", Vs[:, -1, :], Ws)


def _cubic_parts(F: np.ndarray):
    """Split the symmetrised cubic ``F`` (indices over ``D``; the label slot dropped since
    ``z_q[y] = 0``) into ``(t0, t1, t2, t3, r3)`` of the module docstring."""
    F = F[:-1, :-1, :-1]
    Fs = (F + F.transpose(0, 2, 1) + F.transpose(1, 0, 2) + F.transpose(1, 2, 0)
          + F.transpose(2, 0, 1) + F.transpose(2, 1, 0)) / 6.0
    t0 = Fs[0, 0, 0]
    t1 = 3.0 * Fs[0, 0, 1:]
    t2 = 3.0 * Fs[0, 1:, 1:]
    t3 = Fs[1:, 1:, 1:]
    r3 = np.einsum("ijj->i", t3)
    return t0, t1, t2, t3, r3


def _pair(p, q) -> float:
    """``E[p q]`` for two cubic polynomials of ``z_q`` given by their parts (docstring)."""
    t0, t1, t2, t3, r3 = p
    s0, s1, s2, s3, q3 = q
    tr2, sr2 = np.trace(t2), np.trace(s2)
    return float(t0 * s0 + t0 * sr2 + s0 * tr2 + t1 @ s1 + 3.0 * (t1 @ q3) + 3.0 * (s1 @ r3)
                 + tr2 * sr2 + 2.0 * np.sum(t2 * s2) + 6.0 * np.sum(t3 * s3) + 9.0 * (r3 @ q3))


class _Heads:
    """Per-head quantities at a fixed ``(theta, tau, n)``."""

    def __init__(self, G: np.ndarray, theta: np.ndarray, tau: float, n: int):
        D = G.shape[-1]
        self.n = n
        Sig = _sigma(theta, tau)
        A = Sig.copy()
        A[0, 0] = 1.0
        self.Sig = Sig
        c = np.einsum("hkab,ab->hk", G, A)               # c_h[k] = <G_h^(k), A>
        F = G.copy()
        F[:, :, 0, 0] += n * c                           # + n c_h (x) e_0 (x) e_0
        F /= (n + 1)
        self.parts = [_cubic_parts(F[h]) for h in range(G.shape[0])]
        Gs = 0.5 * (G + G.transpose(0, 1, 3, 2))
        self.Gs_e0 = Gs[:, :, :, 0]                      # (h, k, a): G^s_h^(k) e_0
        self.GsSig = np.einsum("hkab,bc->hkac", Gs, Sig)  # G^s_h^(k) Sigma
        self.Jq = np.ones(D)
        self.Jq[-1] = 0.0
        self.theta = theta

    def cov_trace(self, h: int, g: int) -> float:
        """``tr(B_{hg} J_q)`` with ``B_{hg}[k,l] = 4 (G^s_h^(k) e_0)^T Sigma (G^s_g^(l) e_0)
        + 2 tr(G^s_h^(k) Sigma G^s_g^(l) Sigma)``."""
        J = self.Jq
        lin = np.einsum("ka,ab,kb,k->", self.Gs_e0[h], self.Sig, self.Gs_e0[g], J)
        quad = np.einsum("kab,kba,k->", self.GsSig[h], self.GsSig[g], J)
        return float(4.0 * lin + 2.0 * quad)

    def cross(self, h: int, g: int) -> float:
        """``E[f_h f_g]``."""
        return _pair(self.parts[h], self.parts[g]) + self.n * self.cov_trace(h, g) / (self.n + 1) ** 2

    def with_label(self, h: int) -> float:
        """``E[f_h theta.x_q]`` (the label noise is independent of ``f_h``)."""
        _, t1, _, _, r3 = self.parts[h]
        return float(self.theta @ (t1 + 3.0 * r3))


def _check(Vs, Ws, n, sigma2):
    Vs, Ws = check_heads(Vs, Ws)
    return Vs, Ws, check_count("n", n), check_nonneg("sigma2", sigma2)


def multihead_cross_moments(Vs, Ws, theta, n, sigma2=0.0):
    """Cross moments of the heads for a fixed task.

    Args:
        Vs, Ws: ``(H, D, D)`` value and merged key-query matrices (``W`` on the query).
        theta: task vector of length ``D - 2``.
        n: demonstrations; sigma2: label noise variance.

    Returns:
        ``(C, b)``: ``C[h, g] = E[f_h f_g]`` (``H x H``, symmetric) and
        ``b[h] = E[f_h y_q]``, with ``f_h = e_y^T V_h S W_h z_q`` (module docstring).
    """
    Vs, Ws, n, sigma2 = _check(Vs, Ws, n, sigma2)
    theta = check_theta(theta, Vs.shape[1] - 2)
    hd = _Heads(_tensors(Vs, Ws), theta, float(theta @ theta) + sigma2, n)
    H = Vs.shape[0]
    C = np.array([[hd.cross(h, g) for g in range(H)] for h in range(H)])
    b = np.array([hd.with_label(h) for h in range(H)])
    return C, b


def _loss_at(G_mean: np.ndarray, theta: np.ndarray, tau: float, n: int) -> float:
    """``L_n`` of the head average, as the single-head formula at ``G = mean_h G_h``."""
    hd = _Heads(G_mean[None], theta, tau, n)
    return hd.cross(0, 0) - 2.0 * hd.with_label(0) + tau


def multihead_loss(Vs, Ws, theta, n, sigma2=0.0) -> float:
    """Exact ``L_n = E[(yhat - y_q)^2]`` of the ``H``-head average, fixed task ``theta``.

    ``L_n = (1/H^2) sum_{h,g} E[f_h f_g] - (2/H) sum_h E[f_h y_q] + |theta|^2 + sigma2``,
    computed as the quadratic form at ``G = (1/H) sum_h G_h`` (module docstring).

    Args:
        Vs, Ws: ``(H, D, D)`` arrays (or ``D x D`` for one head).
        theta: task vector; n: shots; sigma2: noise variance.

    Returns:
        The loss, a float.
    """
    Vs, Ws, n, sigma2 = _check(Vs, Ws, n, sigma2)
    theta = check_theta(theta, Vs.shape[1] - 2)
    G = _tensors(Vs, Ws).mean(axis=0)
    return _loss_at(G, theta, float(theta @ theta) + sigma2, n)


def multihead_pretrain_loss(Vs, Ws, m, sigma2=0.0) -> float:
    """Exact ``E_{theta ~ U(S^{d-1})} L_m`` of the ``H``-head average.

    At fixed ``tau = 1 + sigma2`` the loss ``g(theta)`` is a quadratic polynomial in
    ``theta``, so ``E g = g(0) + (1/(2d)) sum_i [g(e_i) + g(-e_i) - 2 g(0)]`` exactly.

    Args:
        Vs, Ws: ``(H, D, D)`` arrays; m: shots; sigma2: noise variance.

    Returns:
        The sphere-averaged loss, a float.
    """
    Vs, Ws, m, sigma2 = _check(Vs, Ws, m, sigma2)
    d = Vs.shape[1] - 2
    G = _tensors(Vs, Ws).mean(axis=0)
    tau = 1.0 + sigma2
    g0 = _loss_at(G, np.zeros(d), tau, m)
    total = 0.0
    for i in range(d):
        e = np.zeros(d)
        e[i] = 1.0
        total += _loss_at(G, e, tau, m) + _loss_at(G, -e, tau, m) - 2.0 * g0
    return float(g0 + total / (2.0 * d))
