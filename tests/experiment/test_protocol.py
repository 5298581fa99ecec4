"""The experiment's bookkeeping against independent computations: the compiled-program cache
key, the curve distance, the Monte Carlo standard error, the multi-head loss and the
experiment's head evaluation (against single-head closed forms), the merged heads of the
separate form and the lam schedule (against its formula).

``benchmarks/mutation.py`` (mutants R10, R15, R16, R21, R23-R25) plants one bug of each.
Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import numerics


def test_compiled_experiment_programs_are_rebuilt_for_every_setting_they_read():
    """A compiled training program is cached per setting; any Protocol field whose change
    changes the step (the loss weight at some step, the optimiser's update, the shapes) must
    give another program, and only the others may share it."""
    pytest.importorskip("jax")
    pytest.importorskip("optax")
    import jax.numpy as jnp

    from experiment import protocol as P

    base = P.Protocol(d=2, m=3, N=2, finetune_steps=6, lam=1.0, lam_schedule="linear-decay", momentum=0.9,
                      clip=1.0)
    alt = {"lam": 2.0, "lam_schedule": "constant", "finetune_steps": 9, "clip": 0.01, "momentum": 0.5,
           "optimizer": "adam", "form": "merged", "heads": 2, "layers": 2, "d": 3, "sigma2": 0.5, "seed": 3,
           "batch": 7, "dataset_size": 5, "N": 4, "m": 4, "init_std": 0.1, "pretrain_steps": 3, "lr_pretrain": 0.5,
           "lr_finetune": 0.5}
    assert set(alt) | {"methods"} == set(f.name for f in dataclasses.fields(P.Protocol))

    def signature(p):
        w = P.lam_weight(p)
        shape = (p.layers, p.heads, p.D, p.D)  # the parameter shapes; the update on fixed small ones
        params = {"V": jnp.full((1, 1, 2, 2), 0.3)}
        g = {"V": jnp.full((1, 1, 2, 2), 2.0)}
        opt = P.optimizer_for(p, 0.01)
        s = opt.init(params)
        u, s = opt.update(g, s, params)
        u, s = opt.update(g, s, params)
        return ([float(w(t)) for t in range(12)], [np.asarray(u[k]).tolist() for k in sorted(u)], p.form, shape)

    lr = 0.01
    prog, ref = P._chunk_program("zsfs", base, lr)[1], signature(base)  # the compiled step
    assert P._chunk_program("zsfs", dataclasses.replace(base, seed=5), lr)[1] is prog
    read = []
    for name, value in alt.items():
        p = dataclasses.replace(base, **{name: value})
        if signature(p) != ref:
            read.append(name)
            assert P._chunk_program("zsfs", p, lr)[1] is not prog, f"{name} changes the step, same program"
    assert {"lam", "lam_schedule", "finetune_steps", "clip", "momentum", "optimizer", "form", "heads"} <= set(read)


def test_curve_distance_against_an_independent_computation():
    from experiment.run import curve_distance

    rng = np.random.default_rng(1)
    a = {t: list(rng.uniform(0, 2, 5)) for t in ("target", "negated", "orthogonal", "sphere")}
    b = {t: list(np.asarray(v) + rng.normal(0, 0.1, 5)) for t, v in a.items()}
    b["orthogonal"] = None
    dist = curve_distance(a, b)
    diffs = {t: [abs(x - y) for x, y in zip(a[t], b[t])] for t in ("target", "negated", "sphere")}
    flat = [x for v in diffs.values() for x in v]
    assert dist["per_task_max_abs"] == {t: max(v) for t, v in diffs.items()}
    assert dist["per_shot_max_abs"] == [max(v[i] for v in diffs.values()) for i in range(5)]
    assert dist["max_abs"] == max(flat)
    assert dist["rms"] == pytest.approx((sum(x * x for x in flat) / len(flat)) ** 0.5, rel=1e-12)


def test_monte_carlo_standard_error_is_that_of_the_mean():
    """``monte_carlo_errors`` reports the mean squared error and the standard error of that
    mean, ``std(e, ddof=1) / sqrt(samples)``, of the very samples it drew."""
    from experiment import protocol as P

    proto = P.Protocol(d=2, m=3, N=2, sigma2=0.2, heads=2, layers=2)
    rng = np.random.default_rng(4)
    params = {k: 0.3 * rng.standard_normal((2, 2, 4, 4)) for k in ("V", "W")}
    theta = np.array([0.6, 0.8])
    means, ses = P.monte_carlo_errors(params, theta, [0, 3], proto, np.random.default_rng(9), samples=400, chunk=150)
    draw = np.random.default_rng(9)
    for k, n in enumerate([0, 3]):
        errs = []
        for b in (150, 150, 100):
            Z, yq = P.sphere_prompts(draw, (b,), n + 1, 2, 0.2, theta=theta)
            errs.append((P.forward_numpy(params, Z)[:, -1, -1] - yq) ** 2)
        e = np.concatenate(errs)
        assert means[k] == pytest.approx(e.mean(), rel=1e-12)
        assert ses[k] == pytest.approx(e.std(ddof=1) / np.sqrt(e.size), rel=1e-9)


def _model(d, seed):
    rng = np.random.default_rng(seed)
    D = d + 2
    return 0.5 * rng.standard_normal((D, D)), 0.5 * rng.standard_normal((D, D))


def test_heads_are_averaged_in_the_loss_and_in_the_experiment_evaluation():
    """Heads ``(V, W)`` and ``(V, 0)`` average to one head ``(V, W/2)``; ``H`` identical heads
    are one head: against the single-head closed form, for the multi-head loss and for the
    experiment's exact evaluation of every task."""
    from numerics.multihead import multihead_loss, multihead_pretrain_loss
    from experiment.run import exact_curves, task_vectors

    d, s2 = 3, 0.2
    V, W = _model(d, 0)
    th = np.array([0.6, 0.0, 0.8])
    Vs, Ws = np.stack([V, V]), np.stack([W, np.zeros_like(W)])
    for n in (0, 2):
        assert multihead_loss(Vs, Ws, th, n, s2) == pytest.approx(numerics.expected_loss(V, W / 2, th, n, s2),
                                                                  rel=1e-10)
        assert multihead_loss(np.stack([V] * 3), np.stack([W] * 3), th, n, s2) == \
            pytest.approx(numerics.expected_loss(V, W, th, n, s2), rel=1e-10)
        assert multihead_pretrain_loss(Vs, Ws, n, s2) == pytest.approx(numerics.pretrain_loss(V, W / 2, n, s2),
                                                                      rel=1e-10)
    curves = exact_curves(Vs, Ws, th, [0, 2], s2)
    for task, vec in task_vectors(th).items():
        want = [numerics.pretrain_loss(V, W / 2, n, s2) if vec is None else
                numerics.expected_loss(V, W / 2, vec, n, s2) for n in (0, 2)]
        assert curves[task] == pytest.approx(want, rel=1e-10), task


def test_merged_heads_of_the_separate_form_are_k_transpose_q_per_head():
    from experiment import protocol as P

    rng = np.random.default_rng(2)
    K, Q, V = (rng.standard_normal((2, 3, 4, 4)) for _ in range(3))
    Vm, Wm = P.merged_heads({"V": V, "K": K, "Q": Q})
    assert np.array_equal(Vm, V)
    for layer in range(2):
        for h in range(3):
            assert np.allclose(Wm[layer, h], K[layer, h].T @ Q[layer, h], rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("T", [1, 2, 5, 50])
def test_lam_schedule_values_at_every_step(T):
    """linear-decay: ``w_t = lam (T-1-t)/(T-1)`` at steps ``t = 0..T-1`` (``0`` at the last
    step; ``0`` throughout for ``T = 1``); constant: ``lam`` at every step."""
    pytest.importorskip("optax")
    from experiment import protocol as P

    lam = 2.5
    dec = P.lam_weight(P.Protocol(lam=lam, lam_schedule="linear-decay", finetune_steps=T))
    const = P.lam_weight(P.Protocol(lam=lam, lam_schedule="constant", finetune_steps=T))
    for t in range(T):
        want = 0.0 if T == 1 else lam * (T - 1 - t) / (T - 1)
        assert float(dec(t)) == pytest.approx(want, abs=1e-12), t
        assert float(const(t)) == lam
