"""The ladder of exact predictions (:mod:`experiment.ladder`) and the finite-data loss
(:mod:`numerics.finite_data`): each rung against an independent computation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

from numerics.finite_data import dataset_loss  # noqa: E402
from experiment import ladder as Lad  # noqa: E402
from experiment import protocol as P  # noqa: E402


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


@pytest.mark.parametrize("n", [0, 3])
def test_population_moments_give_the_closed_form_loss(n):
    """Quadrature moments + the conditional-variance organisation = the Wick closed form."""
    import numerics

    rng = np.random.default_rng(9)
    d, sigma2 = 2, 0.3
    V, W = 0.8 * rng.standard_normal((2, d + 2, d + 2))
    theta = rng.standard_normal(d)
    theta /= np.linalg.norm(theta)
    _, jnp, _ = P.require_jax()
    mom = tuple(jnp.asarray(a) for a in Lad.DataMoments.population(theta, sigma2).arrays())
    got = float(Lad.data_loss(jnp.asarray(V), jnp.asarray(W), mom, n))
    assert got == pytest.approx(numerics.expected_loss(V, W, theta, n, sigma2), rel=1e-11)


def _tiny(**kw):
    base = dict(d=2, m=6, N=4, sigma2=0.1, finetune_steps=40, lr_finetune=0.02, dataset_size=30)
    base.update(kw)
    return P.Protocol(**base)


def _start(proto, seed=2):
    rng = np.random.default_rng(seed)
    from numerics.flow import pretrained_point
    mats = pretrained_point(proto.d, proto.m, proto.sigma2, form="separate")
    return {k: A + 0.05 * rng.standard_normal(A.shape) for k, A in zip(("V", "K", "Q"), mats)}


@pytest.mark.parametrize("method", ["zsfs-all", "zs-q"])
def test_same_optimizer_jax_route_equals_the_numpy_gradient_loop(method):
    proto = _tiny()
    theta0 = P.sample_theta0(0, proto.d)
    start = _start(proto)
    pop = Lad.DataMoments.population(theta0, proto.sigma2)
    Va, Wa, _ = Lad.same_optimizer(method, proto, theta0, start, pop)
    Vb, Wb, _ = Lad.same_optimizer(method, proto, theta0, start, None)
    assert np.max(np.abs(Va - Vb)) < 1e-9 and np.max(np.abs(Wa - Wb)) < 1e-9


def test_same_optimizer_with_a_small_learning_rate_approaches_from_start():
    """Plain gradient descent (no momentum, no clipping, constant lam) with lr -> 0 and
    lr * steps past convergence is the exact flow: its end point is from_start's (zs-v:
    ZS is convex in V, one minimiser of the read entries)."""
    proto = _tiny(momentum=0.0, clip=1e6, lam_schedule="constant", lr_finetune=0.05, finetune_steps=4000)
    theta0 = P.sample_theta0(0, proto.d)
    start = _start(proto)
    from experiment.run import exact_curves
    shots = list(range(0, 6))
    for method in ("zs-v", "zsfs-v"):
        V1, W1, info = Lad.from_start(method, proto, theta0, start)
        V2, W2, _ = Lad.same_optimizer(method, proto, theta0, start, Lad.DataMoments.population(theta0, proto.sigma2))
        a = exact_curves(V1[None], W1[None], theta0, shots, proto.sigma2)
        b = exact_curves(V2[None], W2[None], theta0, shots, proto.sigma2)
        assert info["stop"] == "converged"
        for task in ("target", "negated", "sphere"):
            assert np.allclose(a[task], b[task], rtol=1e-6, atol=1e-8)


def test_same_data_on_one_repeated_point_descends_the_hand_computed_loss():
    """A dataset of one point repeated: same_data's loss is (yhat - y)^2 with every prompt the
    point itself; one SGD step (no momentum, no clipping) from the start is
    start - lr * gradient of that hand-computed loss."""
    jax, jnp, _ = P.require_jax()
    proto = _tiny(momentum=0.0, clip=1e6, finetune_steps=1, lr_finetune=0.01, lam_schedule="constant")
    start = _start(proto)
    x, yv = np.array([0.3, -1.2]), 0.4
    X, y = np.repeat(x[None], 4, axis=0), np.full(4, yv)
    z = jnp.asarray(np.concatenate([[1.0], x, [yv]]))
    p = z.at[-1].set(0.0)

    def hand(V, K, Q, n):
        S = (n * jnp.outer(z, z) + jnp.outer(p, p)) / (n + 1)
        return (V[-1] @ S @ (K.T @ Q) @ p - yv) ** 2

    g = jax.grad(lambda V, K, Q: hand(V, K, Q, 0) + proto.lam * hand(V, K, Q, proto.N), argnums=(0, 1, 2))(
        *(jnp.asarray(start[k]) for k in "VKQ"))
    V1, W1, _ = Lad.same_data("zsfs-all", proto, start, Lad.DataMoments(X, y))
    Vw = start["V"] - 0.01 * np.asarray(g[0])
    Ww = (start["K"] - 0.01 * np.asarray(g[1])).T @ (start["Q"] - 0.01 * np.asarray(g[2]))
    assert np.allclose(V1, Vw, atol=1e-12) and np.allclose(W1, Ww, atol=1e-12)


def test_vmapped_seeds_equal_a_loop_over_seeds():
    """Four fine-tuning seeds trained together (one vmapped program) against each seed run
    alone: equal to 1e-12 (XLA may reorder the batched reductions; measured: bit for bit here
    is not promised)."""
    proto = P.Protocol(d=2, m=4, N=3, pretrain_steps=20, finetune_steps=30, batch=16, dataset_size=20,
                       lr_pretrain=0.05)
    pre, _ = P.pretrain(proto)
    theta0 = P.sample_theta0(0, proto.d)
    data = P.make_dataset(0, theta0, proto)
    stack, losses = P.finetune_many({k: v[None] for k, v in pre.items()}, "zsfs-all", theta0, data, proto, seeds=4)
    for s in range(4):
        rng = P.rng_for(P.pretrain_seed(proto, 0), "finetune", P.finetune_stream("zsfs-all", s))
        one, l1 = P.train(pre, "zsfs", P.trainable_for("zsfs-all", proto.form),
                          lambda k, r=rng: P.finetune_prompts(r, (k, proto.batch), theta0, data, proto),
                          proto, proto.lr_finetune, proto.finetune_steps, "x")
        for k in one:
            assert np.max(np.abs(one[k] - stack[k][s])) <= 1e-12
        assert np.max(np.abs(np.asarray(l1) - losses[s])) <= 1e-12
