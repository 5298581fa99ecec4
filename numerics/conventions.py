r"""Closed forms and Monte Carlo under any :class:`vocabulary.Convention`, at a concrete ``d``.

Conventions: see :mod:`numerics` for today's; the others are those of
:class:`vocabulary.Convention`.  Today's convention goes straight to the functions of
:mod:`numerics.objectives` and :mod:`numerics.gradients` (same values, bit for bit).

**Query left out of S.**  ``yhat = (sum_i g_i)/n`` for ``n >= 1`` (notation of
:mod:`numerics.objectives`), so with the same ``n``-free parts

``L_n = (1/n) E m2 + ((n-1)/n) E m1^2 - 2 E(m1 theta.x_q) + tau``,

and at ``n = 0`` the query token alone: ``L_0 = E t_q^2 - 2 E(t_q theta.x_q) + tau``.  In the
weights of :func:`numerics.gradients.shot_weights` plus a sixth weight for the cross term
``E(m1 t_q)``: ``(1/n, (n-1)/n, 0, 0, 1, 0)``, and ``(0, 0, 1, 1, 0, 0)`` at ``n = 0``.

**Anisotropic features** ``x = Sigma^{1/2} x'`` with ``x' ~ N(0, I)``.  With
``T = diag(1, Sigma^{1/2}, 1)`` every token is ``z = T z'`` and ``y = (Sigma^{1/2} theta).x' + eps``, so

``L^Sigma(V, W; theta) = L^I(V T, T W T; Sigma^{1/2} theta)``,

and by the chain rule ``G_V = G'_V T``, ``G_W = T G'_W T``.

**Task priors.**  For a fixed ``(V, W)`` the loss is a polynomial of degree <= 4 in ``theta``.
On the sphere an exact weighted cubature of degree 5 (Stroud) averages it: the points
``+-e_i`` with weight ``(4-d)/(2d(d+2))`` and ``(+-e_i +- e_j)/sqrt 2`` (``i < j``) with
weight ``1/(d(d+2))`` reproduce ``E u_i^2 = 1/d``, ``E u_i^4 = 3/(d(d+2))``,
``E u_i^2 u_j^2 = 1/(d(d+2))`` and every odd moment 0.  With isotropic features the sphere
average is the task moments of :func:`numerics.moments.sphere_task` instead (one closed form).
``theta ~ N(0, I/d)`` is ``r u`` with ``u`` on the sphere and ``r^2 ~ chi^2_d/d``
(``E r^2 = 1``, ``E r^4 = (d+2)/d``); the sphere average at radius ``t`` is
``A + B t^2 + C t^4``, so the Gaussian average is
``A + B + C (d+2)/d = (1/d) f(0) + (1 - 2/d) f(1) + (1/d) f(sqrt 2)``
with ``f(t)`` the sphere average at radius ``t``.
"""
from __future__ import annotations

import numpy as np

import vocabulary

from .gradients import generalized_loss_grad, loss_grad_with_weights, shot_weights
from .moments import TaskMoments, fixed_task
from .objectives import LossTerms, generalized_loss
from .sampling import rng_from_seed
from .validation import check_count, check_nonneg, check_pair, check_positive_int, check_theta

__all__ = ["covariance_diagonal", "prior_points", "convention_loss", "convention_loss_grad",
           "monte_carlo_convention_loss", "monte_carlo_convention_loss_grad", "family_point",
           "pretrained_gains", "value_only_limit"]


def covariance_diagonal(d: int, convention) -> np.ndarray:
    """The diagonal of ``Sigma_x`` (length ``d``): ones, or ``s`` on the first ``k`` entries."""
    conv = vocabulary.convention_named(convention)
    out = np.ones(d)
    if conv.covariance is not None:
        k, s = conv.covariance
        if not 0 <= int(k) <= d:
            raise ValueError(f"convention {conv.name!r}: k = {k} directions do not fit in d = {d}")
        out[:int(k)] = float(s)
    return out


def _sphere_cubature(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (P, d) and weights (P,) of the degree-5 sphere cubature (module docstring)."""
    pts, wts = [], []
    eye = np.eye(d)
    for i in range(d):
        for sgn in (1.0, -1.0):
            pts.append(sgn * eye[i])
            wts.append((4.0 - d) / (2.0 * d * (d + 2)))
    r = 1.0 / np.sqrt(2.0)
    for i in range(d):
        for j in range(i + 1, d):
            for si in (1.0, -1.0):
                for sj in (1.0, -1.0):
                    pts.append(r * (si * eye[i] + sj * eye[j]))
                    wts.append(1.0 / (d * (d + 2)))
    return np.array(pts), np.array(wts)


def _radii(d: int, prior: str) -> list[tuple[float, float]]:
    """``[(t, weight)]``: the sphere radii whose weighted sphere averages give the prior."""
    if prior == "sphere":
        return [(1.0, 1.0)]
    if prior == "gaussian":
        return [(0.0, 1.0 / d), (1.0, 1.0 - 2.0 / d), (np.sqrt(2.0), 1.0 / d)]
    raise ValueError(f"task_prior must be 'sphere' or 'gaussian', got {prior!r}")


def prior_points(d: int, sigma2: float, convention) -> list[tuple[TaskMoments, float]]:
    """``[(task moments in the primed coordinates, weight)]`` whose weighted losses give the
    average over the convention's task prior (module docstring)."""
    conv = vocabulary.convention_named(convention)
    root = np.sqrt(covariance_diagonal(d, conv))
    out = []
    for t, w in _radii(d, conv.task_prior):
        if conv.covariance is None:
            out.append((TaskMoments(np.zeros(d), (t * t) * np.eye(d) / d, t * t + sigma2, sigma2), w))
            continue
        pts, wts = _sphere_cubature(d)
        for u, wu in zip(pts, wts):
            out.append((fixed_task(t * root * u, sigma2), w * wu))
    return out


def _weights(n: int, conv) -> np.ndarray:
    if conv.query_in_context:
        return shot_weights(n)
    if n == 0:
        return np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    return np.array([1.0 / n, (n - 1.0) / n, 0.0, 0.0, 1.0, 0.0])


def _loss(V, W, tm, n, conv):
    if conv.query_in_context:
        return generalized_loss(V, W, tm, n)
    t = LossTerms.build(V[-1].copy(), W, tm, n)
    E_m2, E_m1sq, E_m1tq, E_tq2, E_m1y, E_tqy = t.parts()
    if n == 0:
        return float(E_tq2 - 2.0 * E_tqy + tm.tau)
    return float(E_m2 / n + (n - 1.0) / n * E_m1sq - 2.0 * E_m1y + tm.tau)


def _tasks(theta, d, sigma2, conv):
    if theta is None:
        return prior_points(d, sigma2, conv)
    return [(fixed_task(np.sqrt(covariance_diagonal(d, conv)) * theta, sigma2), 1.0)]


def _checked(V, W, theta, n, sigma2):
    V, W = check_pair(V, W)
    if theta is not None:
        theta = check_theta(theta, V.shape[0] - 2)
    return V, W, theta, check_count("n", n), check_nonneg("sigma2", sigma2)


def convention_loss(V, W, theta, n, sigma2=0.0, convention=None) -> float:
    """Exact ``L_n(V, W; theta)`` under ``convention``; ``theta = None`` averages over the
    convention's task prior (the pretraining loss at ``n = m``).  Today's convention gives
    :func:`numerics.expected_loss` / :func:`numerics.pretrain_loss` exactly.

    Raises:
        ValueError: as :func:`numerics.expected_loss`, or an unknown convention.
    """
    conv = vocabulary.convention_named(convention)
    V, W, theta, n, sigma2 = _checked(V, W, theta, n, sigma2)
    d = V.shape[0] - 2
    Tdiag = np.concatenate(([1.0], np.sqrt(covariance_diagonal(d, conv)), [1.0]))
    Vp, Wp = V * Tdiag, Tdiag[:, None] * W * Tdiag
    return float(sum(w * _loss(Vp, Wp, tm, n, conv) for tm, w in _tasks(theta, d, sigma2, conv)))


def convention_loss_grad(V, W, theta, n, sigma2=0.0, convention=None):
    """Exact Frobenius gradient ``(G_V, G_W)`` of :func:`convention_loss` (chain rule of the
    module docstring; the weights of each shot from :func:`_weights`)."""
    conv = vocabulary.convention_named(convention)
    V, W, theta, n, sigma2 = _checked(V, W, theta, n, sigma2)
    d = V.shape[0] - 2
    Tdiag = np.concatenate(([1.0], np.sqrt(covariance_diagonal(d, conv)), [1.0]))
    Vp, Wp = V * Tdiag, Tdiag[:, None] * W * Tdiag
    gV, gW = np.zeros_like(V), np.zeros_like(W)
    for tm, w in _tasks(theta, d, sigma2, conv):
        if conv.query_in_context:
            a, b = generalized_loss_grad(Vp, Wp, tm, n)
        else:
            a, b = loss_grad_with_weights(Vp, Wp, tm, _weights(n, conv))
        gV += w * a
        gW += w * b
    return gV * Tdiag, Tdiag[:, None] * gW * Tdiag


def family_point(d: int, gains) -> tuple[np.ndarray, np.ndarray]:
    """``V = e_y e_y^T`` and ``W = diag(0, gains, 0)`` (``gains`` a scalar or length ``d``)."""
    V = np.zeros((d + 2, d + 2))
    V[-1, -1] = 1.0
    W = np.zeros((d + 2, d + 2))
    W[1:-1, 1:-1] = np.diag(np.broadcast_to(np.asarray(gains, dtype=float), (d,)))
    return V, W


def monte_carlo_convention_loss(V, W, theta, n, sigma2=0.0, convention=None, samples=100_000,
                                seed=0) -> tuple[float, float]:
    """Sampled ``(mean, stderr)`` of ``(yhat - y_q)^2`` under ``convention``: features
    ``x ~ N(0, Sigma_x)``, the task ``theta`` (or, for ``None``, one draw of the convention's
    prior per prompt: the sphere or ``N(0, I/d)``), labels ``y = theta.x + eps``, and the
    forward pass ``yhat = v^T S W z_q`` with ``S`` the average of the demonstration tokens'
    ``z z^T`` together with the query token's (``/(n+1)``) or without it (``/n``; the query
    token alone at ``n = 0``).  Shares no formula with the closed forms."""
    conv = vocabulary.convention_named(convention)
    V, W, theta, n, sigma2 = _checked(V, W, theta, n, sigma2)
    samples = check_positive_int("samples", samples)
    rng = rng_from_seed(seed)
    d = V.shape[0] - 2
    v = V[-1]
    chunk = max(1, 1_000_000 // ((n + 1) * (d + 2)))
    total = total_sq = 0.0
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        Z, zq, yq = _draw(conv, theta, n, b, d, sigma2, rng)
        u = zq @ W.T
        num = np.einsum("bj,bj->b", Z @ v, np.einsum("bjD,bD->bj", Z, u))
        qterm = (zq @ v) * np.einsum("bD,bD->b", zq, u)
        if conv.query_in_context:
            yhat = (num + qterm) / (n + 1)
        else:
            yhat = qterm if n == 0 else num / n
        err = (yhat - yq) ** 2
        total += err.sum()
        total_sq += (err * err).sum()
        done += b
    mean = total / samples
    return float(mean), float(np.sqrt(max(total_sq / samples - mean * mean, 0.0) / max(samples - 1, 1)))


def _draw(conv, th_fixed, n, b, d, sigma2, rng):
    """One chunk of prompts under ``conv``: tokens ``Z`` (b, n, D), query tokens ``zq``
    (b, D) and targets ``yq`` (b,)."""
    root = np.sqrt(covariance_diagonal(d, conv))
    if th_fixed is not None:
        th = np.broadcast_to(th_fixed, (b, d))
    else:
        g = rng.standard_normal((b, d))
        th = g / (np.linalg.norm(g, axis=1, keepdims=True) if conv.task_prior == "sphere" else np.sqrt(d))
    X = rng.standard_normal((b, n, d)) * root
    xq = rng.standard_normal((b, d)) * root
    y = np.einsum("bnd,bd->bn", X, th) + np.sqrt(sigma2) * rng.standard_normal((b, n))
    yq = np.einsum("bd,bd->b", xq, th) + np.sqrt(sigma2) * rng.standard_normal(b)
    Z = np.concatenate([np.ones((b, n, 1)), X, y[..., None]], axis=2)
    zq = np.concatenate([np.ones((b, 1)), xq, np.zeros((b, 1))], axis=1)
    return Z, zq, yq


def monte_carlo_convention_loss_grad(V, W, theta, n, sigma2=0.0, convention=None, samples=100_000, seed=0):
    """Sampled Frobenius gradient of ``L_n`` under ``convention``: ``(G_V, G_W, se_V, se_W)``.

    Per prompt, with ``S`` the convention's token average (as :func:`monte_carlo_convention_loss`),
    ``u = W z_q`` and ``err = yhat - y_q``: ``d yhat / dV[y, :] = S u`` and
    ``d yhat / dW = (S v) z_q^T``; the gradient is the mean of ``2 err`` times these."""
    conv = vocabulary.convention_named(convention)
    V, W, theta, n, sigma2 = _checked(V, W, theta, n, sigma2)
    samples = check_positive_int("samples", samples)
    rng = rng_from_seed(seed)
    d = V.shape[0] - 2
    D = d + 2
    v = V[-1]
    chunk = max(1, 1_000_000 // ((n + 1 + D) * D))
    sums = [np.zeros(D), np.zeros((D, D))]
    sqs = [np.zeros(D), np.zeros((D, D))]
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        Z, zq, yq = _draw(conv, theta, n, b, d, sigma2, rng)
        u = zq @ W.T
        Su = np.einsum("bjD,bj->bD", Z, np.einsum("bjD,bD->bj", Z, u))
        Sv = np.einsum("bjD,bj->bD", Z, Z @ v)
        qu, qv = zq * np.einsum("bD,bD->b", zq, u)[:, None], zq * (zq @ v)[:, None]
        if conv.query_in_context:
            Su, Sv = (Su + qu) / (n + 1), (Sv + qv) / (n + 1)
        elif n == 0:
            Su, Sv = qu, qv
        else:
            Su, Sv = Su / n, Sv / n
        err = 2.0 * (Su @ v - yq)
        gv = err[:, None] * Su
        gW = err[:, None, None] * Sv[:, :, None] * zq[:, None, :]
        for k, g in enumerate((gv, gW)):
            sums[k] += g.sum(0)
            sqs[k] += (g * g).sum(0)
        done += b
    means = [s / samples for s in sums]
    ses = [np.sqrt(np.maximum(q / samples - mm * mm, 0.0) / (samples - 1)) for q, mm in zip(sqs, means)]
    GV, SV = np.zeros((D, D)), np.zeros((D, D))
    GV[-1], SV[-1] = means[0], ses[0]
    return GV, means[1], SV, ses[1]


def pretrained_gains(d: int, m: int, sigma2: float, convention=None) -> np.ndarray:
    """The gains of the convention's pretrained point ``V = e_y e_y^T``,
    ``W = diag(0, gains, 0)``, computed here: one gain per level of ``Sigma_x`` (one for an
    isotropic convention).  ``L_pre`` is a quadratic in the gains, so its exact gradient at
    the origin and at the unit vectors gives the linear system ``H g = r`` that the minimiser
    solves (NumPy alone; the same minimiser as the derivations of ``theory``).

    Raises:
        ValueError: ``m < 1`` (``L_pre`` does not depend on the gains) or a bad argument.
    """
    conv = vocabulary.convention_named(convention)
    m = check_count("m", m)
    if m < 1:
        raise ValueError("m must be >= 1: with no demonstrations L_pre does not depend on W")
    diag = covariance_diagonal(d, conv)
    levels = np.unique(diag)
    masks = [diag == lv for lv in levels]

    def grad(g):
        gains = np.zeros(d)
        for mask, gi in zip(masks, g):
            gains[mask] = gi
        V, W = family_point(d, gains)
        gW = convention_loss_grad(V, W, None, m, sigma2, conv)[1][1:-1, 1:-1]
        return np.array([float(np.diag(gW)[mask].sum()) for mask in masks])

    g0 = grad(np.zeros(len(levels)))
    H = np.column_stack([grad(e) - g0 for e in np.eye(len(levels))])
    sol = np.linalg.solve(H, -g0)
    gains = np.zeros(d)
    for mask, gi in zip(masks, sol):
        gains[mask] = gi
    return gains


def value_only_limit(V, W, terms, sigma2: float, convention=None):
    """End point of the gradient flow of ``sum_k w_k L_{n_k}(theta_k)`` in the value row alone
    (``terms`` ``[(n, theta or None, w)]``), from ``V``.  The objective is a quadratic
    ``f(v) = v^T H v / 2 - r^T v + const`` in the value row ``v`` with ``H`` positive
    semidefinite, so the flow ``dv/dt = -(H v - r)`` ends at ``v_0 - H^+ (H v_0 - r)``
    (the component of ``v_0`` in the null space of ``H`` never moves).  ``H`` and the gradient
    are read from the exact gradients (:func:`convention_loss_grad`).

    Returns:
        ``(V_end, grad_norm_end, eigenvalues of H)``.
    """
    conv = vocabulary.convention_named(convention)
    D = V.shape[0]

    def grad(v):
        Vx = V.copy()
        Vx[-1] = v
        out = np.zeros(D)
        for n_, th, w in terms:
            out += w * convention_loss_grad(Vx, W, th, n_, sigma2, conv)[0][-1]
        return out

    v0 = V[-1].copy()
    g0 = grad(v0)
    base = grad(np.zeros(D))
    H = np.column_stack([grad(e) - base for e in np.eye(D)])
    H = 0.5 * (H + H.T)
    v = v0 - np.linalg.pinv(H, rcond=1e-12, hermitian=True) @ g0
    Vend = V.copy()
    Vend[-1] = v
    return Vend, float(np.linalg.norm(grad(v))), np.linalg.eigvalsh(H)
