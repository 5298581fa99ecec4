r"""Exact expected ICL losses for arbitrary ``(V, W)`` at a concrete dimension ``d``.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.
``v = V[y, :]`` is the value row.

Derivation (Isserlis/Wick, conditioned on the query)
----------------------------------------------------
Write ``u = W z_q`` and ``g_i = (v.z_i)(z_i.u)``, so
``yhat = (sum_i g_i + t_q)/(n+1)`` with ``t_q = (v.z_q)(z_q^T W z_q)``.  A demonstration
token is Gaussian with mean ``e_0`` and covariance
``Sigma = diag(0, I_d, tau) + L_theta``, ``L_theta = P theta e_y^T + e_y theta^T P^T``,
``tau = |theta|^2 + sigma2``; ``A = E[z z^T] = Sigma + e_0 e_0^T``.  Given ``x_q`` the
``g_i`` are i.i.d. with

* ``m1 = E[g | x_q] = (A v).u``;
* ``m2 = E[g^2 | x_q] = s u^T A u + 4 v_0 (e_0.u)(r.u) + 2 (r.u)^2`` where
  ``s = v^T A v`` and ``r = Sigma v`` (the fourth moment of a non-centred Gaussian pair).

The demonstrations split into ``i = j`` (``n`` terms) and ``i != j`` (``n(n-1)`` terms):

``E[yhat^2 | x_q] = (n m2 + n(n-1) m1^2 + 2 n m1 t_q + t_q^2)/(n+1)^2``,
``E[yhat y_q | x_q] = (n m1 + t_q)(theta.x_q)/(n+1)``.

Averaging over ``x_q`` uses ``E[z_q z_q^T] = J_q = diag(1, I_d, 0)``, so with
``C = W J_q W^T``: ``E m2 = s tr(AC) + 4 v_0 e_0^T C r + 2 r^T C r`` and
``E m1^2 = (Av)^T C (Av)``; the cross terms are ``E[m1 t_q] = (Av).omega`` with
``omega = W e_0 k0 + W_x k`` and ``E[m1 theta.x_q] = (Av)^T W_x theta``,
``E[t_q theta.x_q] = theta.k`` (``k0, k`` and ``E t_q^2`` in :mod:`numerics.moments`).

Finally ``A v = A_1 v + R theta`` and ``r = Sigma_1 v + R theta`` with
``A_1 = diag(1, I, tau)``, ``Sigma_1 = diag(0, I, tau)``, ``R = v_y P + e_y v_x^T``, and
``s = s_1 + 2 v_y v_x.theta`` with ``s_1 = v^T A_1 v``.  Every product is of two factors
affine in ``theta``, so taking the task moments ``(mu, M, tau)`` gives the exact

``L = [n E m2 + n(n-1) E m1^2 + 2n E(m1 t_q) + E t_q^2]/(n+1)^2
      - 2 [n E(m1 theta.x_q) + E(t_q theta.x_q)]/(n+1) + tau``

with (``c_xy = C[x, y]``, ``C_yy = C[y, y]``, ``C_xx = C[x, x]``, ``t_1 = tr(A_1 C)``,
``T_R = tr(M R^T C R) = v_y^2 tr(M C_xx) + 2 v_y v_x^T M c_xy + C_yy v_x^T M v_x``):

* ``E[s tr(AC)] = (s_1 + 2 v_y v_x.mu) t_1 + 2 s_1 c_xy.mu + 4 v_y c_xy^T M v_x``;
* ``E[e_0^T C r] = e_0^T C (r_1 + R mu)``, ``E[r^T C r] = r_1^T C r_1 + 2 r_1^T C R mu + T_R``;
* ``E[m1^2] = a_1^T C a_1 + 2 a_1^T C R mu + T_R`` (``a_1 = A_1 v``, ``r_1 = Sigma_1 v``);
* ``E[m1 t_q] = (a_1 + R mu).omega``;
* ``E[m1 theta.x_q] = a_1^T W_x mu + v_y tr(M W_xx) + W_{yx} M v_x``;
* ``E[t_q theta.x_q] = mu.k``.

Only a handful of ``D x D`` products are needed (``C`` costs one matmul), so the cost is
``O(D^3)`` and nothing is sampled.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import batching
from .batching import ONE_POINT, STACKED, T, diag, dot, el, el2, fro, mv
from .moments import QueryPolynomial, TaskMoments, fixed_task, sphere_task
from .validation import check_count, check_nonneg, check_pair, check_theta

__all__ = ["expected_loss", "pretrain_loss", "generalized_loss", "loss_curve", "LossTerms", "apply_L"]


def apply_L(mu: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``L_mu y`` with ``L_mu = P mu e_y^T + e_y mu^T P^T``: x-part ``mu y_y``, y-part ``mu.y_x``.

    In particular ``R mu = L_mu v`` for ``R = v_y P + e_y v_x^T``.  ``y`` may be a stack
    (leading axes, :mod:`numerics.batching`)."""
    out = np.zeros_like(y)
    out[..., 1:-1] = mu * el(y, -1)
    out[..., -1] = y[..., 1:-1] @ mu
    return out


@dataclass
class LossTerms:
    """The intermediate quantities of the closed form, shared by the loss and its gradient.

    For one point (``v`` (D,), ``W`` (D, D); scalars are floats) or a stack of points
    (``v`` (B, D), ``W`` (B, D, D); scalars are arrays ``(B, 1)``), with the conventions of
    :mod:`numerics.batching`; the task moments are shared by the stack."""

    n: int
    tm: TaskMoments
    v: np.ndarray
    W: np.ndarray
    a_diag: np.ndarray  # diagonal of A_1 = diag(1, I, tau)
    s_diag: np.ndarray  # diagonal of Sigma_1 = diag(0, I, tau)
    a1: np.ndarray
    r1: np.ndarray
    s1: float
    Rmu: np.ndarray
    C: np.ndarray
    t1: float
    cxy: np.ndarray
    Mvx: np.ndarray
    TR: float
    qp: QueryPolynomial
    k0: float
    k: np.ndarray
    omega: np.ndarray

    @classmethod
    def build(cls, v: np.ndarray, W: np.ndarray, tm: TaskMoments, n: int) -> "LossTerms":
        """The terms at the value row ``v`` and ``W`` (one point or a stack)."""
        dot, mv, _, fro = ONE_POINT if v.ndim == 1 else STACKED
        D = v.shape[-1]
        a_diag = np.ones(D)
        a_diag[-1] = tm.tau
        s_diag = a_diag.copy()
        s_diag[0] = 0.0
        vy, vx = el(v, -1), v[..., 1:-1]
        a1 = a_diag * v
        r1 = s_diag * v
        Wz = W[..., :, :-1]  # W J_q keeps the columns of the constant and x slots
        C = Wz @ T(Wz)
        cxy = C[..., 1:-1, -1]
        Mvx = mv(tm.M, vx)
        TR = vy * vy * fro(tm.M, C[..., 1:-1, 1:-1]) + 2.0 * vy * dot(cxy, Mvx) \
            + el2(C, -1, -1) * dot(vx, Mvx)
        qp = QueryPolynomial.from_params(v, W)
        k0, k = qp.k0, qp.k
        omega = W[..., :, 0] * k0 + batching.mv(W[..., :, 1:-1], k)  # strided: @ (ONE_POINT)
        return cls(n=n, tm=tm, v=v, W=W, a_diag=a_diag, s_diag=s_diag, a1=a1, r1=r1,
                   s1=dot(v, a1), Rmu=apply_L(tm.mu, v),
                   t1=dot(a_diag, diag(C)), C=C,
                   cxy=cxy, Mvx=Mvx, TR=TR, qp=qp, k0=k0, k=k, omega=omega)

    def parts(self) -> tuple:
        """The ``n``-free expectations ``(E m2, E m1^2, E(m1 t_q), E t_q^2, E(m1 theta.x_q),
        E(t_q theta.x_q))`` of the module docstring."""
        tm, v, W, C = self.tm, self.v, self.W, self.C
        mu, M = tm.mu, tm.M
        vy, vx, v0 = el(v, -1), v[..., 1:-1], el(v, 0)
        a1, r1, Rmu = self.a1, self.r1, self.Rmu
        E_s_trAC = (self.s1 + 2.0 * vy * dot(vx, mu)) * self.t1 + 2.0 * self.s1 * dot(self.cxy, mu) \
            + 4.0 * vy * dot(self.cxy, self.Mvx)
        E_e0Cr = dot(C[..., 0, :], r1 + Rmu)
        Cr1 = mv(C, r1)
        E_rCr = dot(r1, Cr1) + 2.0 * dot(Cr1, Rmu) + self.TR
        E_m2 = E_s_trAC + 4.0 * v0 * E_e0Cr + 2.0 * E_rCr
        Ca1 = mv(C, a1)
        E_m1sq = dot(a1, Ca1) + 2.0 * dot(Ca1, Rmu) + self.TR
        E_m1tq = dot(a1 + Rmu, self.omega)
        E_tq2 = self.qp.second_moment()
        E_m1y = dot(a1, W[..., :, 1:-1] @ mu) + vy * fro(M, W[..., 1:-1, 1:-1]) \
            + dot(W[..., -1, 1:-1], self.Mvx)
        E_tqy = dot(mu, self.k)
        return E_m2, E_m1sq, E_m1tq, E_tq2, E_m1y, E_tqy

    @staticmethod
    def assemble(parts: tuple, n: int, tau: float):
        """``L_n = [n E m2 + n(n-1) E m1^2 + 2n E(m1 t_q) + E t_q^2]/(n+1)^2
        - 2 [n E(m1 theta.x_q) + E(t_q theta.x_q)]/(n+1) + tau`` (a float for one point,
        an array for a stack)."""
        E_m2, E_m1sq, E_m1tq, E_tq2, E_m1y, E_tqy = parts
        quad = n * E_m2 + n * (n - 1) * E_m1sq + 2.0 * n * E_m1tq + E_tq2
        lin = n * E_m1y + E_tqy
        L = quad / (n + 1) ** 2 - 2.0 * lin / (n + 1) + tau
        return float(L) if np.ndim(L) == 0 else L[..., 0]  # a stack's per-point scalars are (B, 1)

    def value(self) -> float:
        """Assemble ``L`` from the terms (see the module docstring)."""
        return self.assemble(self.parts(), self.n, self.tm.tau)


def loss_curve(V: np.ndarray, W: np.ndarray, tm: TaskMoments, shots) -> list[float]:
    """``[E_theta L_n(V, W; theta) for n in shots]`` for task moments ``tm`` (no argument
    checking): the ``n``-free parts are computed once and assembled per ``n``
    (:meth:`LossTerms.assemble`), so each value equals :func:`generalized_loss` at that ``n``
    bit for bit."""
    t = LossTerms.build(V[-1].copy(), W, tm, 0)
    parts = t.parts()
    return [t.assemble(parts, n, tm.tau) for n in shots]


def generalized_loss(V: np.ndarray, W: np.ndarray, tm: TaskMoments, n: int):
    """``E_theta L_n(V, W; theta)`` for task moments ``tm`` (no argument checking); for
    stacks ``V, W`` of shape ``(B, D, D)`` the ``B`` values."""
    return LossTerms.build(V[..., -1, :].copy(), W, tm, n).value()


def expected_loss(V, W, theta, n, sigma2=0.0) -> float:
    """Exact ``L_n(V, W; theta) = E[(yhat - y_q)^2]`` for any ``D x D`` matrices ``V, W``.

    Closed form of the module docstring with ``mu = theta``, ``M = theta theta^T``,
    ``tau = |theta|^2 + sigma2`` (no sampling).

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        theta: the task, a vector of length ``d`` (any norm).
        n: number of demonstrations, an int ``>= 0`` (``n = 0`` is the zero-shot error).
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.

    Returns:
        The expected squared error, a float (``sigma2`` noise floor included).

    Raises:
        ValueError: an argument has the wrong shape or type, is not finite, or breaks its
            rule (``n < 0``, ``sigma2 < 0``, ``d < 1``, ``len(theta) != d``); the message
            names the argument.

    Example: at the pretrained-type point the zero-shot error is ``|theta|^2 + sigma2``.

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> expected_loss(V, W, theta0, n=0)
    1.0
    >>> round(expected_loss(V, W, theta0, n=10, sigma2=0.1), 6)
    0.486364
    """
    V, W = check_pair(V, W)
    theta = check_theta(theta, V.shape[0] - 2)
    n = check_count("n", n)
    sigma2 = check_nonneg("sigma2", sigma2)
    return generalized_loss(V, W, fixed_task(theta, sigma2), n)


def pretrain_loss(V, W, m, sigma2=0.0) -> float:
    """Exact pretraining loss ``L_pre = E_{theta ~ U(S^{d-1})} L_m(V, W; theta)``.

    Closed form of the module docstring with ``mu = 0``, ``M = I/d``, ``tau = 1 + sigma2``.

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        m: number of pretraining demonstrations, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.

    Returns:
        The sphere-averaged expected squared error, a float.

    Raises:
        ValueError: bad shapes, non-finite entries, ``m < 0`` or ``sigma2 < 0`` (the
            message names the argument).

    Example:

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> round(pretrain_loss(V, W, m=20, sigma2=0.1), 6)
    0.423129
    """
    V, W = check_pair(V, W)
    m = check_count("m", m)
    sigma2 = check_nonneg("sigma2", sigma2)
    return generalized_loss(V, W, sphere_task(V.shape[0] - 2, sigma2), m)
