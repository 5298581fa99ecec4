"""Minibatch SGD (numerics.sgd) against the exact population flow (numerics.flow).

Statistical tolerances are stated per test.  The returned SGD point is the Polyak
average of the last half of the iterates; its standard error is estimated by batch means
over 20 consecutive blocks of that window (``SGDResult.stderr``).
"""
import numpy as np
import pytest

import numerics
from numerics import flow, sgd
from vocabulary import Config


def test_minibatch_gradient_matches_finite_differences_of_the_forward_pass():
    """The hand-written backward pass against central differences of numerics.predict
    (an independent forward pass): the minibatch loss is a polynomial of degree 4, so the
    five-point stencil along a direction is exact up to rounding."""
    rng = np.random.default_rng(0)
    d, n, B = 3, 4, 50
    V, W, dV, dW = rng.standard_normal((4, d + 2, d + 2))
    theta = rng.standard_normal(d)
    pr = numerics.sample_prompts(theta, n, B, 0.3, seed=1)
    loss, gV, gW = sgd.minibatch_grad(V, W, pr.X, pr.y, pr.xq, pr.yq)

    def L(s):
        return np.mean((numerics.predict(V + s * dV, W + s * dW, pr.X, pr.y, pr.xq) - pr.yq) ** 2)
    h = 0.25
    fd = (L(-2 * h) - 8 * L(-h) + 8 * L(h) - L(2 * h)) / (12 * h)
    assert loss == pytest.approx(L(0.0), rel=1e-12)
    assert np.sum(gV * dV) + np.sum(gW * dW) == pytest.approx(fd, rel=1e-9)
    assert np.abs(gW[:, -1]).max() == 0.0 and np.abs(gV[:-1]).max() == 0.0


def test_large_batch_gradient_estimates_the_population_gradient():
    """E[minibatch gradient] = exact population gradient: with 200k prompts every entry
    must lie within 5 standard errors (estimated from 20 sub-batches) of the engine."""
    rng = np.random.default_rng(2)
    d, n = 2, 3
    V, W = 0.5 * rng.standard_normal((2, d + 2, d + 2))
    theta = np.array([0.6, 0.8])
    gVe, gWe = numerics.expected_loss_grad(V, W, theta, n, 0.2)
    parts = []
    for k in range(20):
        pr = numerics.sample_prompts(theta, n, 10_000, 0.2, seed=100 + k)
        _, gV, gW = sgd.minibatch_grad(V, W, pr.X, pr.y, pr.xq, pr.yq)
        parts.append(np.concatenate([gV[-1], gW[:, :-1].ravel()]))
    parts = np.array(parts)
    mean, se = parts.mean(0), parts.std(0, ddof=1) / np.sqrt(len(parts))
    exact = np.concatenate([gVe[-1], gWe[:, :-1].ravel()])
    assert np.all(np.abs(mean - exact) <= 5 * se + 1e-12)
    assert np.abs(exact).max() > 20 * se.max()  # the gradient is resolved, not just noise


@pytest.mark.parametrize("seed", [0, 1])
def test_sgd_v_only_zs_agrees_with_flow(seed):
    """V-only ZS is a convex quadratic in v, so the stationary mean of SGD is the optimum
    and the Polyak average is unbiased: |a_sgd - a_flow| <= 4 stderr (seeds 0, 1;
    lr = 0.005, 4000 steps, batch 64).  The pretrained a = 0 is > 100 stderr away."""
    f = flow.gradient_flow("zs", "merged", "v", Config(5, 20, 20, 0.1, 1.0))
    r = sgd.sgd_finetune("zs", "merged", "v", Config(5, 20, 20, 0.1, 1.0), lr=0.005, steps=4000, batch=64, seed=seed)
    se = r.stderr["a"]
    assert 0 < se < 2e-3
    assert abs(r.coords["a"] - f.final["a"]) <= 4 * se
    assert f.final["a"] > 50 * se
    assert r.coords["b"] == 1.0  # b is never read at n = 0: exactly zero gradient
    assert r.off_manifold < 0.01  # only sampling noise leaves the manifold


def test_sgd_v_only_zsfs_agrees_with_flow():
    """Still a quadratic (W frozen): both coordinates within 4 stderr (seed 0,
    lr = 0.01, 6000 steps, batch 32, d = 3, m = 10, N = 5, sigma2 = 0.1, lam = 1)."""
    f = flow.gradient_flow("zsfs", "merged", "v", Config(3, 10, 5, 0.1, 1.0))
    r = sgd.sgd_finetune("zsfs", "merged", "v", Config(3, 10, 5, 0.1, 1.0), lr=0.01, steps=6000, batch=32, seed=0)
    for k in ("a", "b"):
        assert abs(r.coords[k] - f.final[k]) <= 4 * r.stderr[k], k
    assert r.loss_end >= f.loss_end - 1e-12  # the flow end point is the minimum


@pytest.mark.slow
def test_sgd_full_zs_agrees_with_flow_after_bias_extrapolation():
    """Full ZS has a flat valley (a q = 1), and the end point is selected by the conserved
    |v|^2 - |W|^2.  Minibatch noise breaks that conservation by O(lr^2 Var(g)/batch) per
    step, i.e. a bias O(lr/batch) over the fixed flow time lr*steps = 50.  At sigma2 = 0
    the fit is exact at the minimum, so the seed-to-seed spread is ~1e-4 (measured).
    Runs at batch 1024 and 2048 (seed 0, lr 0.005, 10000 steps): the bias must shrink
    with the batch, and the Richardson extrapolation 2 a(2048) - a(1024) must agree with
    the flow within 1.5e-3 in a and 3e-3 in q (the O(lr) step bias is what remains)."""
    d, m, N = 3, 10, 10
    f = flow.gradient_flow("zs", "merged", "all", Config(d, m, N, 0.0, 1.0))
    r1 = sgd.sgd_finetune("zs", "merged", "all", Config(d, m, N, 0.0, 1.0), lr=0.005, steps=10000, batch=1024, seed=0)
    r2 = sgd.sgd_finetune("zs", "merged", "all", Config(d, m, N, 0.0, 1.0), lr=0.005, steps=10000, batch=2048, seed=0)
    for k, tol in (("a", 1.5e-3), ("q", 3e-3)):
        e1, e2 = r1.coords[k] - f.final[k], r2.coords[k] - f.final[k]
        assert abs(e2) < abs(e1), k
        assert abs(2 * r2.coords[k] - r1.coords[k] - f.final[k]) < tol, k
    assert r2.coords["a"] * r2.coords["q"] == pytest.approx(1.0, abs=1e-4)  # on the ZS valley
    assert abs(f.final["a"]) > 0.5  # far from the pretrained a = 0


def test_separate_sgd_step_follows_the_forward_pass():
    """One separate-form sgd_step (K and Q trained) moves (K, Q) by -lr times the gradient
    of its minibatch loss in (K, Q), W = K^T Q.  Checked against central differences of
    numerics.predict (an independent forward pass) on the same prompts, along random
    directions: the loss is of degree 4 in the step, so the five-point stencil is exact up
    to rounding.  A chain rule with G_W for G_W^T fails it (K Q-asymmetric point)."""
    from numerics.sampling import draw_prompts

    rng = np.random.default_rng(4)
    d, n, B, s2, lr = 3, 4, 40, 0.2, 1.0
    V, K, Q = rng.standard_normal((3, d + 2, d + 2))
    v = V[-1].copy()
    theta = rng.standard_normal(d)
    terms = [(n, lambda b, r: theta, 1.0)]
    _, (_, K1, Q1), loss = sgd.sgd_step(v, [V, K, Q], "separate", (False, True, True), terms, B, s2,
                                        np.random.default_rng(9), lr)
    pr = draw_prompts(theta, n, B, s2, np.random.default_rng(9))  # the same prompts
    GK, GQ = (K - K1) / lr, (Q - Q1) / lr

    def L(t, dK, dQ):
        W = (K + t * dK).T @ (Q + t * dQ)
        return np.mean((numerics.predict(V, W, pr.X, pr.y, pr.xq) - pr.yq) ** 2)

    assert loss == pytest.approx(L(0.0, K, Q), rel=1e-12)
    h = 0.25
    for _ in range(3):
        dK, dQ = rng.standard_normal((2, d + 2, d + 2))
        fd = (L(-2 * h, dK, dQ) - 8 * L(-h, dK, dQ) + 8 * L(h, dK, dQ) - L(2 * h, dK, dQ)) / (12 * h)
        assert np.sum(GK * dK) + np.sum(GQ * dQ) == pytest.approx(fd, rel=1e-7)


def test_sgd_separate_form_runs_and_stays_near_manifold():
    r = sgd.sgd_finetune("zsfs", "separate", "kq", Config(2, 5, 3, 0.1, 1.0), lr=0.01, steps=500, batch=32, seed=0)
    assert np.allclose(r.W, r.K.T @ r.Q)
    assert r.off_manifold < 0.05
    assert r.coords_separate is not None and r.coords["b"] == 1.0


def test_sgd_argument_validation_and_determinism():
    with pytest.raises(ValueError, match="lr"):
        sgd.sgd_finetune("zs", "merged", "v", Config(3, 5, 5, 0.1, 1.0), lr=0.0, steps=10)
    with pytest.raises(ValueError, match="seed"):
        sgd.sgd_finetune("zs", "merged", "v", Config(3, 5, 5, 0.1, 1.0), steps=10, seed=-1)
    with pytest.raises(ValueError, match="train"):
        sgd.sgd_finetune("zs", "merged", "kq", Config(3, 5, 5, 0.1, 1.0), steps=10)
    a = sgd.sgd_finetune("zs", "merged", "all", Config(3, 5, 5, 0.1, 1.0), steps=50, seed=3)
    b = sgd.sgd_finetune("zs", "merged", "all", Config(3, 5, 5, 0.1, 1.0), steps=50, seed=3)
    assert np.array_equal(a.V, b.V) and np.array_equal(a.W, b.W)
