"""The ladder of exact predictions (:mod:`proofs_check.ladder`) and the finite-data loss
(:mod:`numerics.finite_data`): each rung against an independent computation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

from numerics.finite_data import dataset_loss  # noqa: E402
from proofs_check import ladder as Lad  # noqa: E402
from proofs_check import protocol as P  # noqa: E402


def _brute(V, W, X, y, n):
    """Every prompt of n + 1 points drawn with replacement, through the protocol's forward pass."""
    M = X.shape[0]
    params = {"V": V[None, None], "W": W[None, None]}
    tot = 0.0
    for idx in itertools.product(range(M), repeat=n + 1):
        Z, yq = P.tokens(X[list(idx)][None], y[list(idx)][None])
        tot += float((P.forward_numpy(params, Z)[0, -1, -1] - yq[0]) ** 2)
    return tot / M ** (n + 1)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_finite_data_loss_is_the_enumeration_of_every_prompt(n):
    rng = np.random.default_rng(3)
    d, M = 2, 3
    V, W = rng.standard_normal((2, d + 2, d + 2))
    X, y = rng.standard_normal((M, d)), rng.standard_normal(M)
    want = _brute(V, W, X, y, n)
    assert dataset_loss(V, W, X, y, n) == pytest.approx(want, rel=1e-12)
    jax, jnp, _ = P.require_jax()
    mom = Lad.DataMoments(X, y)
    got = float(Lad.data_loss(jnp.asarray(V), jnp.asarray(W), tuple(jnp.asarray(a) for a in mom.arrays()), n))
    assert got == pytest.approx(want, rel=1e-11)


def test_finite_data_loss_heads_are_averaged_as_the_protocol_does():
    rng = np.random.default_rng(4)
    d, M, H = 1, 3, 2
    V, W = rng.standard_normal((2, H, d + 2, d + 2))
    X, y = rng.standard_normal((M, d)), rng.standard_normal(M)
    params = {"V": V[None], "W": W[None]}
    tot = 0.0
    for idx in itertools.product(range(M), repeat=3):
        Z, yq = P.tokens(X[list(idx)][None], y[list(idx)][None])
        tot += float((P.forward_numpy(params, Z)[0, -1, -1] - yq[0]) ** 2)
    assert dataset_loss(V, W, X, y, 2) == pytest.approx(tot / 27, rel=1e-12)


def test_finite_data_loss_against_monte_carlo_of_the_authors_sampler():
    rng = np.random.default_rng(5)
    d, M, N = 3, 40, 6
    V, W = 0.5 * rng.standard_normal((2, d + 2, d + 2))
    proto = P.Protocol(d=d, N=N, dataset_size=M)
    theta0 = P.sample_theta0(0, d)
    data = P.make_dataset(0, theta0, proto)
    Z, yq = P.finetune_prompts(np.random.default_rng(6), (200_000,), theta0, data, proto)
    e = (P.forward_numpy({"V": V[None, None], "W": W[None, None]}, Z)[:, -1, -1] - yq) ** 2
    exact = dataset_loss(V, W, data[0], data[1], N)
    assert abs(e.mean() - exact) < 4 * e.std() / np.sqrt(e.size)


def test_one_repeated_point_is_hand_computable():
    """Every prompt is the point z = (1, x, y) repeated: S = (n z z^T + p p^T)/(n+1)."""
    rng = np.random.default_rng(7)
    d, n = 2, 4
    V, W = rng.standard_normal((2, d + 2, d + 2))
    x, yv = rng.standard_normal(d), 0.7
    z = np.concatenate([[1.0], x, [yv]])
    p = z.copy()
    p[-1] = 0.0
    S = (n * np.outer(z, z) + np.outer(p, p)) / (n + 1)
    want = (V[-1] @ S @ W @ p - yv) ** 2
    X, y = np.repeat(x[None], 5, axis=0), np.full(5, yv)
    assert dataset_loss(V, W, X, y, n) == pytest.approx(want, rel=1e-12)
    _, jnp, _ = P.require_jax()
    mom = tuple(jnp.asarray(a) for a in Lad.DataMoments(X, y).arrays())
    assert float(Lad.data_loss(jnp.asarray(V), jnp.asarray(W), mom, n)) == pytest.approx(want, rel=1e-10)


def test_data_loss_gradient_matches_finite_differences_of_the_numpy_route():
    rng = np.random.default_rng(8)
    d, M, n = 2, 7, 3
    V, W = 0.7 * rng.standard_normal((2, d + 2, d + 2))
    X, y = rng.standard_normal((M, d)), rng.standard_normal(M)
    jax, jnp, _ = P.require_jax()
    mom = tuple(jnp.asarray(a) for a in Lad.DataMoments(X, y).arrays())
    gV, gW = jax.grad(lambda a, b: Lad.data_loss(a, b, mom, n), argnums=(0, 1))(jnp.asarray(V), jnp.asarray(W))
    h = 1e-5
    for A, G, which in ((V, gV, 0), (W, gW, 1)):
        for (i, j) in [(3, 0), (3, 2), (1, 2), (0, 1)]:
            E = np.zeros_like(A)
            E[i, j] = h
            args = [V, W]
            args[which] = A + E
            up = dataset_loss(*args, X, y, n)
            args[which] = A - E
            dn = dataset_loss(*args, X, y, n)
            assert float(G[i, j]) == pytest.approx((up - dn) / (2 * h), rel=1e-6, abs=1e-8)
