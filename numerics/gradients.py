r"""Exact Frobenius gradients of the closed-form losses, merged and separate forms.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

Gradients are Frobenius gradients of full ``D x D`` matrices: ``dL = tr(dV^T G_V) +
tr(dW^T G_W)``.  Only row ``y`` of ``G_V`` can be nonzero; column ``y`` of ``G_W`` is 0.

Derivation (reverse mode, by hand, on the terms of :mod:`numerics.objectives`)
------------------------------------------------------------------------------
All ``C``-dependent terms form ``tr(C Gamma)`` with ``C = W J_q W^T`` and

``Gamma = n/(n+1)^2 [ (s_1 + 2 v_y v_x.mu) A_1 + e_y (2 s_1 P mu + 4 v_y P M v_x)^T
           + 4 v_0 (r_1 + R mu) e_0^T + 2 (r_1 r_1^T + 2 R mu r_1^T + R M R^T) ]
        + n(n-1)/(n+1)^2 [ a_1 a_1^T + 2 R mu a_1^T + R M R^T ]``,

so ``G_W += (Gamma + Gamma^T) W J_q``.  With ``L_mu y = P mu y_y + e_y mu.y_x``
(so ``R mu = L_mu v``), ``Sigma_mu = Sigma_1 + L_mu`` and ``A_mu = A_1 + L_mu``:

* ``grad_v E[s tr AC] = 2 t_1 (a_1 + R mu) + 4 (c_xy.mu) a_1 + 4 (e_y c_xy^T M v_x + v_y P M c_xy)``;
* ``grad_v 4 v_0 e_0^T C Sigma_mu v = 4 (e_0 e_0^T C Sigma_mu v + v_0 Sigma_mu C e_0)``;
* ``grad_v E[r^T C r] = 2 Sigma_1 C r_1 + 2 (Sigma_1 C R mu + L_mu C r_1) + grad T_R``;
* ``grad_v E[m1^2] = 2 A_1 C a_1 + 2 (A_1 C R mu + L_mu C a_1) + grad T_R``;
* ``grad_v T_R = e_y (2 v_y tr(M C_xx) + 2 v_x^T M c_xy) + P (2 v_y M c_xy + 2 C_yy M v_x)``.

The query terms are ``2n (A_mu v).omega``, ``omega = W e_0 k0 + W_x k``; ``E t_q^2``;
``-2n (a_1^T W_x mu + v_y tr(M W_xx) + W_{yx} M v_x)`` and ``-2 mu.k``.  They depend on
``W`` through ``W e_0``, ``W_x`` and ``(c0, c1, Q)``, with ``dc0 -> W_00``,
``dc1 -> W_{0x}`` and ``W_{x0}``, ``dQ`` (symmetric) ``-> W_xx``.  With
``b0 = (A_mu v).W e_0`` and ``b = W_x^T A_mu v``:

* ``grad (2n (A_mu v).omega)``: ``v``: ``2n A_mu omega``; ``W e_0``: ``2n k0 A_mu v``;
  ``W_x``: ``2n A_mu v k^T``; ``p0``: ``2n (b0 (c0+tq) + b.c1)``;
  ``p``: ``2n (b0 c1 + (c0+tq) b + 2 Q b)``; ``c0``: ``2n (b0 p0 + b.p)``;
  ``c1``: ``2n (b0 p + p0 b)``; ``Q``: ``2n (b0 p0 I + (b.p) I + b p^T + p b^T)``;
* ``grad (-2 mu.k)``: ``p0``: ``-2 mu.c1``; ``p``: ``-2 ((c0+tq) mu + 2 Q mu)``;
  ``c0``: ``-2 mu.p``; ``c1``: ``-2 p0 mu``; ``Q``: ``-2 ((mu.p) I + mu p^T + p mu^T)``;
* ``grad E t_q^2`` is :meth:`numerics.moments.QueryPolynomial.second_moment_grad`.

The separate form uses the chain rule of ``W = K^T Q``: ``G_K = Q G_W^T``, ``G_Q = K G_W``.
Every step is a matrix-vector product except ``C``, ``Gamma W`` and the chain rule, so
one gradient costs a few ``D x D`` matmuls.

Stacks of points.  The one implementation of the formula (:func:`_grad`, with
:class:`numerics.objectives.LossTerms` and :class:`numerics.moments.QueryPolynomial`) also
takes ``B`` points at once, ``V, W`` of shape ``(B, D, D)``: every product carries the
leading axis (:mod:`numerics.batching`), so a stack costs a few batched matmuls instead of
``B`` Python-level calls (:meth:`numerics.problem.Problem.grad_many`).  One point keeps
float scalars and plain indexing: it is the right-hand side of the flows.
"""
from __future__ import annotations

import numpy as np

from . import batching
from .batching import ONE_POINT, STACKED, T, add_at, add_at2, add_diag, el, el2, smat
from .moments import TaskMoments, fixed_task, sphere_task
from .objectives import LossTerms
from .validation import check_count, check_matrix, check_nonneg, check_pair, check_theta

__all__ = ["expected_loss_grad", "pretrain_loss_grad", "expected_loss_grad_kq",
           "generalized_loss_grad", "weighted_loss_grad", "shot_weights", "loss_grad_with_weights"]


def shot_weights(n: int) -> np.ndarray:
    """The ``n``-dependence of ``L_n`` for fixed task moments (module docstring of
    :mod:`numerics.objectives`): ``L_n = cn E m2 + cK E m1^2 + 2 cn E(m1 t_q) + c2 E t_q^2
    - 2 e E(m1 theta.x_q) - 2 c1 E(t_q theta.x_q) + tau`` with

    ``(cn, cK, c2, c1, e) = (n/(n+1)^2, n(n-1)/(n+1)^2, 1/(n+1)^2, 1/(n+1), n/(n+1))``.

    ``L_n`` is linear in these five numbers, so a weighted sum ``sum_k w_k L_{n_k}`` over
    terms with the same task moments is one closed form with ``sum_k w_k (cn, ...)_k``."""
    return np.array([n / (n + 1) ** 2, n * (n - 1) / (n + 1) ** 2, 1.0 / (n + 1) ** 2,
                     1.0 / (n + 1), n / (n + 1)])


def _grad(t: LossTerms, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of ``cn E m2 + cK E m1^2 + 2 cn E(m1 t_q) + c2 E t_q^2 - 2 e E(m1 theta.x_q)
    - 2 c1 E(t_q theta.x_q)`` for ``coef = (cn, cK, c2, c1, e)`` (:func:`shot_weights`).

    The terms of the module docstring, with the vectors that enter through ``L_mu``, ``A_1``
    or ``Sigma_1`` (and the outer products) summed first, so that each is applied once.
    ``t`` holds one point or a stack of points (:mod:`numerics.batching`): the returned
    ``(G_V, G_W)`` have the leading axes of ``t.v``."""
    tm, v, W, C = t.tm, t.v, t.W, t.C
    dot, mv, vm, fro = ONE_POINT if v.ndim == 1 else STACKED
    mu, M = tm.mu, tm.M
    D = v.shape[-1]
    v0, vy = el(v, 0), el(v, -1)
    vx = v[..., 1:-1]
    a1, r1, Rmu, cxy, Mvx = t.a1, t.r1, t.Rmu, t.cxy, t.Mvx
    a_diag, s_diag = t.a_diag, t.s_diag
    cn, cK, c2, c1f, e_n = coef.tolist()[:5]
    # a sixth weight, where given, replaces cn on the cross term E(m1 t_q) (0 when the query
    # token is not in S: numerics.conventions)
    f3 = 2.0 * (coef[5] if len(coef) > 5 else cn)   # 2n (A_mu v).omega, scaled by 1/(n+1)^2
    f5 = -2.0 * e_n  # -2n (a_1^T W_x mu + v_y tr(M W_xx) + W_yx M v_x), scaled by 1/(n+1)
    Mcxy = mv(M, cxy)
    C0 = C[..., 0, :]
    sig_mu_v = r1 + Rmu
    abar = a1 + Rmu  # A_mu v
    Cr1, CRmu, Ca1 = vm(np.array((r1, Rmu, a1)), C)  # C = W J_q W^T is symmetric
    Wx = W[..., :, 1:-1]
    Wxmu = Wx @ mu

    # ---- the gradient in v ---------------------------------------------------------
    # cn (E[s tr AC] + 4 v0 e0^T C Sigma_mu v + 2 E[r^T C r]) + cK E[m1^2]
    # + f3 (A_mu v).omega + f5 a_1^T W_x mu, each term as in the module docstring
    gTR = np.zeros(v.shape)  # grad T_R, in E[r^T C r] (weight 2 cn) and E[m1^2] (weight cK)
    add_at(gTR, -1, 2.0 * vy * fro(M, C[..., 1:-1, 1:-1]) + 2.0 * dot(vx, Mcxy))
    gTR[..., 1:-1] = 2.0 * vy * Mcxy + 2.0 * el2(C, -1, -1) * Mvx
    s_part = 4.0 * cn * (v0 * C0 + Cr1 + CRmu)
    a_part = 2.0 * cK * (Ca1 + CRmu) + f3 * t.omega + f5 * Wxmu
    L_arg = 4.0 * cn * (v0 * C0 + Cr1) + 2.0 * cK * Ca1 + f3 * t.omega
    gv = (2.0 * cn * t.t1) * abar + (4.0 * cn * dot(cxy, mu)) * a1 + s_diag * s_part \
        + a_diag * a_part + (2.0 * cn + cK) * gTR
    gv[..., 1:-1] += mu * el(L_arg, -1)   # L_mu applied to the sum of its arguments
    add_at(gv, -1, dot(L_arg[..., 1:-1], mu) + 4.0 * cn * dot(cxy, Mvx)
           + f5 * fro(M, W[..., 1:-1, 1:-1]))
    gv[..., 1:-1] += 4.0 * cn * vy * Mcxy + f5 * mv(M, W[..., -1, 1:-1])

    # ---- the gradient in W through C: (Gamma + Gamma^T) W J_q --------------------------
    Gam = (2.0 * cn * r1 + 4.0 * cn * Rmu)[..., :, None] * r1[..., None, :] \
        + (cK * a1 + 2.0 * cK * Rmu)[..., :, None] * a1[..., None, :]
    add_diag(Gam, (cn * (t.s1 + 2.0 * vy * dot(vx, mu))) * a_diag)
    Gam[..., -1, 1:-1] += cn * (2.0 * t.s1 * mu + 4.0 * vy * Mvx)
    Gam[..., :, 0] += (4.0 * cn * v0) * sig_mu_v
    wR = 2.0 * cn + cK  # R M R^T, in both
    Gam[..., 1:-1, 1:-1] += smat(wR * vy * vy) * M
    Gam[..., 1:-1, -1] += (wR * vy) * Mvx
    Gam[..., -1, 1:-1] += (wR * vy) * Mvx
    add_at2(Gam, -1, -1, wR * dot(vx, Mvx))
    gW = (Gam + T(Gam)) @ W
    gW[..., :, -1] = 0.0  # W J_q: column y never enters

    # ---- query terms: W e_0, W_x and (p0, p, c0, c1, Q) ------------------------------
    qp = t.qp
    p0, p, c0, c1, Q, tq = qp.p0, qp.p, qp.c0, qp.c1, qp.Q, qp.tq
    k0, k = t.k0, t.k
    b0 = dot(abar, W[..., :, 0])
    b = batching.vm(abar, Wx)  # a strided slice: @, not np.dot (ONE_POINT)
    e_p0, e_p, e_c0, e_c1, e_Q = qp.second_moment_grad()   # E t_q^2, weight c2
    bp, mup = dot(b, p), dot(mu, p)
    # f3 (A_mu v).omega, c2 E t_q^2 and -2 c1 mu.k
    g_p0 = f3 * (b0 * (c0 + tq) + dot(b, c1)) + c2 * e_p0 - 2.0 * c1f * dot(mu, c1)
    u = f3 * b - 2.0 * c1f * mu
    g_p = b0 * f3 * c1 + (c0 + tq) * u + 2.0 * mv(Q, u) + c2 * e_p
    g_c0 = f3 * (b0 * p0 + bp) + c2 * e_c0 - 2.0 * c1f * mup
    g_c1 = (f3 * b0) * p + p0 * u + c2 * e_c1
    g_Q = u[..., :, None] * p[..., None, :]
    g_Q += T(g_Q)
    g_Q += c2 * e_Q + smat(f5 * vy) * M
    add_diag(g_Q, f3 * (b0 * p0 + bp) - 2.0 * c1f * mup)
    gW[..., :, 0] += (f3 * k0) * abar
    gW[..., :, 1:-1] += (f3 * abar)[..., :, None] * k[..., None, :] + (f5 * a1)[..., :, None] * mu
    gW[..., -1, 1:-1] += f5 * Mvx
    # scatter (p0, p, c0, c1, Q) onto v and W
    add_at(gv, 0, g_p0 + 4.0 * cn * dot(C0, sig_mu_v))
    gv[..., 1:-1] += g_p
    add_at2(gW, 0, 0, g_c0)
    gW[..., 0, 1:-1] += g_c1
    gW[..., 1:-1, 0] += g_c1
    gW[..., 1:-1, 1:-1] += g_Q

    gV = np.zeros(v.shape[:-1] + (D, D))
    gV[..., -1, :] = gv
    return gV, gW


def loss_grad_with_weights(V: np.ndarray, W: np.ndarray, tm: TaskMoments, coef) -> tuple[np.ndarray, np.ndarray]:
    """Frobenius gradient of ``cn E m2 + cK E m1^2 + 2 cx E(m1 t_q) + c2 E t_q^2
    - 2 e E(m1 theta.x_q) - 2 c1 E(t_q theta.x_q)`` for ``coef = (cn, cK, c2, c1, e[, cx])``
    (``cx = cn`` when omitted, :func:`shot_weights`); another convention's ``n``-dependence is
    another set of weights (:mod:`numerics.conventions`)."""
    return _grad(LossTerms.build(V[..., -1, :].copy(), W, tm, 0), np.asarray(coef, dtype=float))


def generalized_loss_grad(V: np.ndarray, W: np.ndarray, tm: TaskMoments, n: int):
    """Frobenius gradient ``(G_V, G_W)`` of ``E_theta L_n`` for task moments ``tm`` (one
    point, or a stack ``V, W`` of shape ``(B, D, D)``: see :func:`weighted_loss_grad`)."""
    return _grad(LossTerms.build(V[..., -1, :].copy(), W, tm, n), shot_weights(n))


def weighted_loss_grad(V: np.ndarray, W: np.ndarray, terms):
    """Frobenius gradient of ``sum_k w_k E_theta L_{n_k}(task_k)`` for ``terms`` ``[(n, tm, w)]``.

    Terms with equal task moments share one evaluation: their gradient is that of the
    closed form with the summed weights ``sum_k w_k shot_weights(n_k)`` (linearity in
    :func:`shot_weights`), so ``L_0 + lam L_N`` on one task costs one gradient.  Zero
    weights are skipped.

    Args:
        V, W: one point (``D x D`` each) or a stack of points (``(B, D, D)`` each, no Python
            loop over ``B``: every product carries the leading axis, :mod:`numerics.batching`).
        terms: ``[(n, TaskMoments, weight)]``, shared by the stack.

    Returns:
        ``(G_V, G_W)`` of the shapes of ``V`` and ``W``; row ``i`` of a stack is the
        gradient at ``(V[i], W[i])``.
    """
    groups: list[list] = []
    for n, tm, w in terms:
        if w == 0.0:
            continue
        for g in groups:
            if g[0].same_as(tm):
                g[1] = g[1] + w * shot_weights(n)
                break
        else:
            groups.append([tm, w * shot_weights(n)])
    gV = np.zeros_like(V, dtype=float)
    gW = np.zeros_like(W, dtype=float)
    v = V[..., -1, :].copy()
    for tm, coef in groups:
        a, b = _grad(LossTerms.build(v, W, tm, 0), coef)
        gV += a
        gW += b
    return gV, gW


def expected_loss_grad(V, W, theta, n, sigma2=0.0):
    """Exact Frobenius gradient ``(dL/dV, dL/dW)`` of ``L_n(V, W; theta)`` (module docstring).

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        theta: the task, a vector of length ``d``.
        n: number of demonstrations, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.

    Returns:
        ``(G_V, G_W)``, arrays of the shapes of ``V`` and ``W`` with
        ``dL = tr(dV^T G_V) + tr(dW^T G_W)``.  Only row ``y`` of ``G_V`` and columns
        ``0..d`` of ``G_W`` can be nonzero.

    Raises:
        ValueError: an argument has the wrong shape or type, is not finite, or breaks its
            rule (``n < 0``, ``sigma2 < 0``, ``d < 1``, ``len(theta) != d``); the message
            names the argument.

    Example: at the pretrained point the zero-shot gradient is ``-2c(d+2) theta0`` in
    ``V[y, x]`` and zero in ``W`` (claim ``zs.initial_gradient``).

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> gV, gW = expected_loss_grad(V, W, theta0, n=0)
    >>> np.round(gV[-1], 9).tolist(), float(abs(gW).max())
    ([0.0, -5.0, 0.0, 0.0, 0.0], 0.0)
    """
    V, W = check_pair(V, W)
    theta = check_theta(theta, V.shape[0] - 2)
    n = check_count("n", n)
    sigma2 = check_nonneg("sigma2", sigma2)
    return generalized_loss_grad(V, W, fixed_task(theta, sigma2), n)


def pretrain_loss_grad(V, W, m, sigma2=0.0):
    """Exact Frobenius gradient ``(dL_pre/dV, dL_pre/dW)`` with ``theta ~ U(S^{d-1})``
    (task moments ``mu = 0``, ``M = I/d``).

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        m: number of pretraining demonstrations, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.

    Returns:
        ``(G_V, G_W)``, arrays of the shapes of ``V`` and ``W``.

    Raises:
        ValueError: bad shapes, non-finite entries, ``m < 0`` or ``sigma2 < 0`` (the
            message names the argument).

    Example: the gradient vanishes at ``c* = (m+1)/(m+1+d(1+sigma2))`` (claim
    ``pretrain.optimum``) and not at another ``c``.

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> c_star = 21 / (21 + 3 * 1.1)
    >>> gV, gW = pretrain_loss_grad(V, W * c_star / 0.5, m=20, sigma2=0.1)
    >>> bool(abs(gV).max() < 1e-12 and abs(gW).max() < 1e-12)
    True
    >>> gV, gW = pretrain_loss_grad(V, W, m=20, sigma2=0.1)
    >>> bool(abs(gW).max() > 0.1)
    True
    """
    V, W = check_pair(V, W)
    m = check_count("m", m)
    sigma2 = check_nonneg("sigma2", sigma2)
    return generalized_loss_grad(V, W, sphere_task(V.shape[0] - 2, sigma2), m)


def expected_loss_grad_kq(V, K, Q, theta, n, sigma2=0.0):
    """Exact gradient ``(dL/dV, dL/dK, dL/dQ)`` of ``L_n`` in the separate form ``W = K^T Q``:
    ``dL/dK = Q (dL/dW)^T`` and ``dL/dQ = K (dL/dW)`` (chain rule).

    Args:
        V: value matrix, ``D x D``.
        K, Q: key and query matrices, ``D x D``; the model uses ``W = K^T Q``.
        theta: the task, a vector of length ``d``.
        n: number of demonstrations, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.

    Returns:
        ``(G_V, G_K, G_Q)``, arrays of the shapes of ``V``, ``K``, ``Q``.

    Raises:
        ValueError: an argument has the wrong shape or type, is not finite, or breaks its
            rule (``n < 0``, ``sigma2 < 0``, ``d < 1``, ``len(theta) != d``); the message
            names the argument.

    Example: the balanced pretrained point ``K = Q = sqrt(c) diag(0, I, 0)``.

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> K = np.sqrt(0.5) * np.diag([0.0, 1, 1, 1, 0])
    >>> gV, gK, gQ = expected_loss_grad_kq(V, K, K, theta0, n=0)
    >>> np.round(gV[-1], 9).tolist(), float(abs(gK).max()), float(abs(gQ).max())
    ([0.0, -5.0, 0.0, 0.0, 0.0], 0.0, 0.0)
    """
    V = check_matrix("V", V)
    K = check_matrix("K", K, dim=V.shape[0])
    Q = check_matrix("Q", Q, dim=V.shape[0])
    theta = check_theta(theta, V.shape[0] - 2)
    n = check_count("n", n)
    sigma2 = check_nonneg("sigma2", sigma2)
    gV, gW = generalized_loss_grad(V, K.T @ Q, fixed_task(theta, sigma2), n)
    return gV, Q @ gW.T, K @ gW
