r"""Gaussian moments behind the closed-form ICL loss.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.
``v = V[y, :]`` is the value row; only it enters ``yhat``.  ``P`` is the ``D x d``
  embedding of ``x`` (``P x = (0, x, 0)``), ``e_0`` and ``e_y`` are unit vectors.

Two kinds of moment appear.

**Task moments** ``(mu, M, tau)``.  Given the task ``theta`` every term of the loss is a
product of at most two factors that are affine in ``theta``, with ``|theta|^2`` appearing
only through ``tau = |theta|^2 + sigma2``.  Hence the loss is affine in ``mu = E theta``
and linear in ``M = E theta theta^T`` once ``tau`` is fixed:

* a fixed task: ``mu = theta``, ``M = theta theta^T``, ``tau = |theta|^2 + sigma2``;
* ``theta ~ Uniform(S^{d-1})``: ``mu = 0``, ``M = I/d``, ``tau = 1 + sigma2``
  (``|theta|^2 = 1`` exactly on the sphere, so no fourth moment of ``theta`` survives
  except ``E|theta|^4 = 1``; a Gaussian ``theta`` would differ exactly there).

**Query moments.**  With ``x = x_q ~ N(0, I_d)`` write ``v = (p0, p, v_y)`` and
``z_q^T W z_q = c0 + c1.x + x^T Q x`` with ``c0 = W_00``, ``c1 = W_{0x}^T + W_{x0}``,
``Q = (W_xx + W_xx^T)/2``, ``tq = tr Q``.  The query term of ``yhat`` is
``t_q = (p0 + p.x)(c0 + c1.x + x^T Q x)``.  Isserlis/Wick gives, with
``E[(a.x)(b.x)] = a.b``, ``E[(a.x)(b.x) x^TQx] = (a.b) tq + 2 a^TQb``,
``E[(x^TQx)^2] = tq^2 + 2|Q|_F^2`` and
``E[(a.x)(b.x)(x^TQx)^2] = (a.b)(tq^2 + 2|Q|_F^2) + 4 tq a^TQb + 8 a^TQ^2 b``:

* ``E[(a0 + a.x) t_q] = a0 k0 + a.k`` with ``k0 = p0 (c0 + tq) + p.c1`` and
  ``k = p0 c1 + (c0 + tq) p + 2 Q p``;
* ``E[t_q^2] = p0^2 F + 4 p0 H + J`` with
  ``F = c0^2 + |c1|^2 + tq^2 + 2|Q|_F^2 + 2 c0 tq``,
  ``H = (c0 + tq)(p.c1) + 2 p^T Q c1``,
  ``J = (c0^2 + |c1|^2 + tq^2 + 2|Q|_F^2 + 2 c0 tq)|p|^2 + 2 (p.c1)^2
  + 4 (tq + c0) p^T Q p + 8 |Q p|^2``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batching import ONE_POINT, STACKED, T, add_diag, dot, el, el2, fro, mv, smat, trace

__all__ = ["TaskMoments", "QueryPolynomial", "fixed_task", "sphere_task"]


@dataclass(frozen=True)
class TaskMoments:
    """First and second moments of the task vector: ``mu = E theta``,
    ``M = E theta theta^T`` and ``tau = E|theta|^2 + sigma2`` (which is also ``E y_q^2``).
    """

    mu: np.ndarray
    M: np.ndarray
    tau: float
    sigma2: float

    def same_as(self, other: "TaskMoments") -> bool:
        """Whether ``other`` has the same ``(mu, M, tau)``, so that every closed form of the
        two is the same (the loss and its gradient share their work for such tasks)."""
        return self is other or (self.tau == other.tau and np.array_equal(self.mu, other.mu)
                                 and np.array_equal(self.M, other.M))


def fixed_task(theta: np.ndarray, sigma2: float) -> TaskMoments:
    """Moments of a deterministic task: ``mu = theta``, ``M = theta theta^T``,
    ``tau = |theta|^2 + sigma2``."""
    return TaskMoments(theta, np.outer(theta, theta), float(theta @ theta) + sigma2, sigma2)


def sphere_task(d: int, sigma2: float) -> TaskMoments:
    """Moments of ``theta ~ Uniform(S^{d-1})``: ``mu = 0``, ``M = I/d``,
    ``tau = 1 + sigma2``."""
    return TaskMoments(np.zeros(d), np.eye(d) / d, 1.0 + sigma2, sigma2)


@dataclass(frozen=True)
class QueryPolynomial:
    """The query term ``t_q = (p0 + p.x)(c0 + c1.x + x^T Q x)`` and its Gaussian moments.

    Built from the value row ``v`` and ``W``; see the module docstring for the formulas.
    One point (``v`` (D,), ``W`` (D, D): the scalars are floats) or a stack of points
    (leading axes; the scalars are arrays ``(B, 1)``), as in :mod:`numerics.batching`.
    """

    p0: float
    p: np.ndarray
    c0: float
    c1: np.ndarray
    Q: np.ndarray
    tq: float

    @classmethod
    def from_params(cls, v: np.ndarray, W: np.ndarray) -> "QueryPolynomial":
        """``p0 = v_0``, ``p = v_x``, ``c0 = W_00``, ``c1 = W_{0x}^T + W_{x0}``,
        ``Q = sym(W_xx)``, ``tq = tr W_xx``."""
        Wxx = W[..., 1:-1, 1:-1]
        return cls(
            p0=el(v, 0),
            p=v[..., 1:-1],
            c0=el2(W, 0, 0),
            c1=W[..., 0, 1:-1] + W[..., 1:-1, 0],
            Q=0.5 * (Wxx + T(Wxx)),
            tq=trace(Wxx),
        )

    @property
    def k0(self):
        """``k0 = p0 (c0 + tq) + p.c1`` (so ``E[t_q] = k0`` and ``E[a0 t_q] = a0 k0``)."""
        return self.p0 * (self.c0 + self.tq) + dot(self.p, self.c1)

    @property
    def k(self) -> np.ndarray:
        """``k = p0 c1 + (c0 + tq) p + 2 Q p`` (so ``E[(a.x) t_q] = a.k``)."""
        return self.p0 * self.c1 + (self.c0 + self.tq) * self.p + 2.0 * mv(self.Q, self.p)

    def second_moment(self):
        """``E[t_q^2] = p0^2 F + 4 p0 H + J`` (module docstring)."""
        p0, p, c0, c1, Q, tq = self.p0, self.p, self.c0, self.c1, self.Q, self.tq
        Qp = mv(Q, p)
        F = c0 * c0 + dot(c1, c1) + tq * tq + 2.0 * fro(Q, Q) + 2.0 * c0 * tq
        H = (c0 + tq) * dot(p, c1) + 2.0 * dot(Qp, c1)
        J = F * dot(p, p) + 2.0 * dot(p, c1) ** 2 + 4.0 * (tq + c0) * dot(p, Qp) + 8.0 * dot(Qp, Qp)
        return p0 * p0 * F + 4.0 * p0 * H + J

    def second_moment_grad(self):
        """Partial derivatives of ``E[t_q^2]`` with respect to
        ``(p0, p, c0, c1, Q)``; the ``Q`` part is the symmetric gradient (``tq = tr Q``).

        ``d/dp0 = 2 p0 F + 4 H``;
        ``d/dp = 4 p0 ((c0+tq) c1 + 2 Q c1) + 2 F p + 4 (p.c1) c1 + 8 (tq+c0) Q p + 16 Q^2 p``;
        ``d/dc0 = (2 c0 + 2 tq)(p0^2 + |p|^2) + 4 p0 (p.c1) + 4 p^TQp``;
        ``d/dc1 = 2 (p0^2 + |p|^2) c1 + 4 p0 ((c0+tq) p + 2 Q p) + 4 (p.c1) p``;
        ``d/dQ = (p0^2 + |p|^2)((2 tq + 2 c0) I + 4 Q) + 4 p0 ((p.c1) I + p c1^T + c1 p^T)
        + 4 (p^TQp) I + 4 (tq + c0) p p^T + 8 (Q p p^T + p p^T Q)``.
        """
        p0, p, c0, c1, Q, tq = self.p0, self.p, self.c0, self.c1, self.Q, self.tq
        dot, mv, _, fro = ONE_POINT if p.ndim == 1 else STACKED
        Qp = mv(Q, p)
        Qc1 = mv(Q, c1)
        pc1 = dot(p, c1)
        pp = dot(p, p)
        pQp = dot(p, Qp)
        ct = c0 + tq
        F = c0 * c0 + dot(c1, c1) + tq * tq + 2.0 * fro(Q, Q) + 2.0 * c0 * tq
        H = ct * pc1 + 2.0 * dot(Qp, c1)
        w = p0 * p0 + pp
        g_p0 = 2.0 * p0 * F + 4.0 * H
        g_p = (4.0 * p0 * (ct * c1 + 2.0 * Qc1) + 2.0 * F * p + 4.0 * pc1 * c1
               + 8.0 * ct * Qp + 16.0 * mv(Q, Qp))
        g_c0 = 2.0 * ct * w + 4.0 * p0 * pc1 + 4.0 * pQp
        g_c1 = 2.0 * w * c1 + 4.0 * p0 * (ct * p + 2.0 * Qp) + 4.0 * pc1 * p
        # the outer products: 4 p0 (p c1^T + c1 p^T) + 4 ct p p^T + 8 (Qp p^T + p Qp^T)
        # = u p^T + p u^T with u = 4 p0 c1 + 2 ct p + 8 Q p
        g_Q = (4.0 * p0 * c1 + 2.0 * ct * p + 8.0 * Qp)[..., :, None] * p[..., None, :]
        g_Q += T(g_Q)
        g_Q += smat(4.0 * w) * Q
        add_diag(g_Q, w * 2.0 * ct + 4.0 * p0 * pc1 + 4.0 * pQp)
        return g_p0, g_p, g_c0, g_c1, g_Q
