"""Closed forms against Monte Carlo (the sampling witness), at fixed seeds, within
5 standard errors.  Sampling never uses a moment identity."""
import numpy as np
import pytest

import numerics

CASES = [  # (d, n, sigma2, matrix seed, scale)
    (1, 0, 0.0, 11, 0.5),
    (2, 3, 0.25, 12, 0.5),
    (3, 5, 0.1, 13, 0.4),
    (5, 20, 0.1, 14, 0.2),
]


def _params(d, seed, scale):
    rng = np.random.default_rng(seed)
    D = d + 2
    return scale * rng.standard_normal((D, D)), scale * rng.standard_normal((D, D)), rng.standard_normal(d)


@pytest.mark.parametrize("d,n,sigma2,seed,scale", CASES)
def test_expected_loss_within_five_standard_errors(d, n, sigma2, seed, scale):
    V, W, theta = _params(d, seed, scale)
    mean, se = numerics.monte_carlo_loss(V, W, theta, n, sigma2, samples=200_000, seed=seed)
    assert abs(numerics.expected_loss(V, W, theta, n, sigma2) - mean) < 5 * se


@pytest.mark.parametrize("d,n,sigma2,seed,scale", CASES)
def test_pretrain_loss_within_five_standard_errors(d, n, sigma2, seed, scale):
    V, W, _ = _params(d, seed, scale)
    mean, se = numerics.monte_carlo_pretrain_loss(V, W, n, sigma2, samples=200_000, seed=seed + 100)
    assert abs(numerics.pretrain_loss(V, W, n, sigma2) - mean) < 5 * se


def test_monte_carlo_detects_a_wrong_value():
    """The 5-SE test has power: a 2% perturbation of the closed form is rejected."""
    V, W, theta = _params(2, 3, 0.5)
    mean, se = numerics.monte_carlo_loss(V, W, theta, 4, 0.1, samples=400_000, seed=1)
    assert abs(1.02 * numerics.expected_loss(V, W, theta, 4, 0.1) - mean) > 5 * se


def test_predict_matches_matrix_definition():
    """The batched forward pass equals e_y^T V S W z_q written with explicit matrices."""
    rng = np.random.default_rng(5)
    d, n = 3, 4
    D = d + 2
    V, W = rng.standard_normal((D, D)), rng.standard_normal((D, D))
    pr = numerics.sample_prompts(rng.standard_normal(d), n, 6, 0.3, seed=rng)
    out = numerics.predict(V, W, pr.X, pr.y, pr.xq)
    for b in range(6):
        Z = np.zeros((n + 1, D))
        Z[:, 0] = 1.0
        Z[:n, 1:-1], Z[:n, -1], Z[n, 1:-1] = pr.X[b], pr.y[b], pr.xq[b]
        S = Z.T @ Z / (n + 1)
        assert out[b] == pytest.approx((V @ S @ W @ Z[n])[-1], rel=1e-12)


def test_sampler_is_reproducible_from_seed():
    a = numerics.sample_prompts([1.0, 0.0], 3, 5, 0.1, seed=42)
    b = numerics.sample_prompts([1.0, 0.0], 3, 5, 0.1, seed=np.random.default_rng(42))
    assert np.array_equal(a.X, b.X) and np.array_equal(a.yq, b.yq)
