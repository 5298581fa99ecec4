"""The H-head closed form (numerics.multihead) against three independent routes:
the single-head closed form (H = 1), the exact polynomial expansion of
tests/helpers/exact_gaussian.py (every monomial replaced by its Gaussian moment) and Monte Carlo
with a head-averaged forward pass written here."""
from __future__ import annotations

import numpy as np
import pytest

import numerics
from numerics.multihead import (check_heads, multihead_cross_moments, multihead_loss,
                                multihead_pretrain_loss)
from helpers.exact_gaussian import Poly, Variables, dot, linear, token


def _random_heads(rng, H, d, scale=0.7):
    D = d + 2
    return scale * rng.standard_normal((H, D, D)), scale * rng.standard_normal((H, D, D))


@pytest.mark.parametrize("n", [0, 1, 3, 7])
def test_one_head_is_the_single_head_closed_form(n):
    rng = np.random.default_rng(10 + n)
    for d in (1, 2, 4):
        V, W = _random_heads(rng, 1, d)
        th = rng.standard_normal(d)
        assert multihead_loss(V, W, th, n, 0.2) == pytest.approx(
            numerics.expected_loss(V[0], W[0], th, n, 0.2), rel=1e-11)
        assert multihead_pretrain_loss(V, W, n, 0.2) == pytest.approx(
            numerics.pretrain_loss(V[0], W[0], n, 0.2), rel=1e-11)


def test_cross_moments_assemble_the_loss_and_are_symmetric():
    rng = np.random.default_rng(3)
    Vs, Ws = _random_heads(rng, 3, 3)
    th = rng.standard_normal(3)
    C, b = multihead_cross_moments(Vs, Ws, th, 4, 0.1)
    H = 3
    assert np.allclose(C, C.T, rtol=1e-12, atol=1e-12)
    loss = C.sum() / H**2 - 2.0 * b.sum() / H + th @ th + 0.1
    assert loss == pytest.approx(multihead_loss(Vs, Ws, th, 4, 0.1), rel=1e-11)
    # diagonal entries are single-head second moments: L_n(head h) = C_hh - 2 b_h + tau
    for h in range(H):
        single = numerics.expected_loss(Vs[h], Ws[h], th, 4, 0.1)
        assert C[h, h] - 2 * b[h] + th @ th + 0.1 == pytest.approx(single, rel=1e-11)


def test_polarisation_of_the_single_head_moment_gives_only_the_w_symmetric_part():
    """Polarising E[f(v, W)^2] in (v, W) gives 8 (E[f11 f22] + E[f12 f21]) (fij = f(v_i, W_j));
    swapping W between the heads keeps that sum and changes the cross moment E[f11 f22]."""
    rng = np.random.default_rng(4)
    (v1, v2), (W1, W2) = _random_heads(rng, 2, 2)
    th = rng.standard_normal(2)

    def sq(V, W):  # E[f(V, W)^2], one head
        return multihead_cross_moments(V[None], W[None], th, 2, 0.1)[0][0, 0]

    polar = sum(s * t * sq(v1 + s * v2, W1 + t * W2) for s in (1, -1) for t in (1, -1))
    C = multihead_cross_moments(np.stack([v1, v2]), np.stack([W1, W2]), th, 2, 0.1)[0]
    Cs = multihead_cross_moments(np.stack([v1, v2]), np.stack([W2, W1]), th, 2, 0.1)[0]
    assert polar == pytest.approx(8.0 * (C[0, 1] + Cs[0, 1]), rel=1e-10)
    assert abs(C[0, 1] - Cs[0, 1]) > 1e-3 * max(1.0, abs(C[0, 1]))


def _multihead_exact_expansion(Vs, Ws, theta, n, sigma2):
    """(yhat - y_q)^2 with yhat = mean_h e_y^T V_h S W_h z_q, expanded over all Gaussian
    variables of the prompt and reduced monomial by monomial."""
    vs = Variables()
    zq, xq = token(theta, sigma2, vs, label=False)
    eq = vs.new(1)[0]
    yq = linear(list(theta) + [np.sqrt(sigma2)], xq + [eq])
    demos = [token(theta, sigma2, vs)[0] for _ in range(n)]
    H = Vs.shape[0]
    total = Poly()
    for h in range(H):
        u = [dot(Ws[h][a], zq) for a in range(len(zq))]
        for z in demos + [zq]:
            zu = Poly()
            for a in range(len(z)):
                zu = zu + z[a] * u[a]
            total = total + dot(Vs[h][-1], z) * zu
    err = total.scale(1.0 / (H * (n + 1))) + yq.scale(-1.0)
    return (err * err).expect()


@pytest.mark.parametrize("H,n", [(2, 0), (2, 2), (3, 1)])
def test_multihead_matches_exact_polynomial_expansion(H, n):
    rng = np.random.default_rng(20 + H + n)
    d = 2
    Vs, Ws = _random_heads(rng, H, d)
    th = rng.standard_normal(d)
    exact = _multihead_exact_expansion(Vs, Ws, th, n, 0.3)
    assert multihead_loss(Vs, Ws, th, n, 0.3) == pytest.approx(exact, rel=1e-10)


def _mc_multihead(Vs, Ws, theta_fn, n, sigma2, samples, rng):
    d = Vs.shape[1] - 2
    th = theta_fn(samples)
    X = rng.standard_normal((samples, n, d))
    xq = rng.standard_normal((samples, d))
    y = np.einsum("bnd,bd->bn", X, th) + np.sqrt(sigma2) * rng.standard_normal((samples, n))
    yq = np.einsum("bd,bd->b", xq, th) + np.sqrt(sigma2) * rng.standard_normal(samples)
    Z = np.concatenate([np.ones((samples, n + 1, 1)),
                        np.concatenate([X, xq[:, None]], 1),
                        np.concatenate([y, np.zeros((samples, 1))], 1)[..., None]], axis=2)
    zq = Z[:, -1]
    pred = 0.0
    for V, W in zip(Vs, Ws):
        s = Z @ V[-1]                                   # v.z_j
        r = np.einsum("btk,bk->bt", Z, zq @ W.T)        # z_j.(W z_q)
        pred = pred + np.sum(s * r, axis=1) / (n + 1)
    err = (pred / Vs.shape[0] - yq) ** 2
    return err.mean(), err.std(ddof=1) / np.sqrt(samples)


@pytest.mark.parametrize("H", [2, 3])
def test_multihead_matches_monte_carlo(H):
    rng = np.random.default_rng(40 + H)
    d, n, s2 = 3, 4, 0.2
    Vs, Ws = _random_heads(rng, H, d, scale=0.5)
    th = rng.standard_normal(d)
    th /= np.linalg.norm(th)
    mean, se = _mc_multihead(Vs, Ws, lambda b: np.broadcast_to(th, (b, d)), n, s2, 200_000, rng)
    assert abs(multihead_loss(Vs, Ws, th, n, s2) - mean) < 5 * se
    sph = lambda b: (lambda g: g / np.linalg.norm(g, axis=1, keepdims=True))(rng.standard_normal((b, d)))
    mean, se = _mc_multihead(Vs, Ws, sph, n, s2, 200_000, rng)
    assert abs(multihead_pretrain_loss(Vs, Ws, n, s2) - mean) < 5 * se


def test_bad_heads_raise_value_error_naming_the_argument():
    with pytest.raises(ValueError, match="V must have shape"):
        check_heads(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="W must have only finite"):
        check_heads(np.zeros((1, 4, 4)), np.full((1, 4, 4), np.nan))
    with pytest.raises(ValueError, match="same shape"):
        check_heads(np.zeros((1, 4, 4)), np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="n must be"):
        multihead_loss(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), np.zeros(2), -1)
