"""``iclft experiment``: the JAX forward pass against the closed form's prediction, the
JAX/optax trainer against the hand-written NumPy SGD on the same minibatches, the saved
parameters against an independent NumPy forward pass by Monte Carlo, and bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

import numerics  # noqa: E402
from numerics.flow import pretrained_point  # noqa: E402
from numerics.sampling import draw_prompts, rng_from_seed  # noqa: E402
from numerics.sgd import sgd_finetune  # noqa: E402
from experiment import protocol as P  # noqa: E402
from vocabulary import Config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "proofs_check", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _prompt(rng, n, d, B):
    X = rng.standard_normal((B, n, d))
    y = rng.standard_normal((B, n))
    xq = rng.standard_normal((B, d))
    Z, _ = P.tokens(np.concatenate([X, xq[:, None]], 1), np.concatenate([y, np.zeros((B, 1))], 1))
    return X, y, xq, Z


@pytest.mark.parametrize("form", ["merged", "separate"])
def test_one_layer_one_head_forward_is_the_closed_form_prediction(form):
    """Z_out[-1,-1] = Z[-1,-1] + e_y^T V S W z_q and Z[-1,-1] = 0: the residual does not
    change the prediction of one layer."""
    rng = np.random.default_rng(1)
    d, D = 3, 5
    params = {k: rng.standard_normal((1, 1, D, D)) for k in P.matrices(form)}
    V, W = P.merged_heads(params)
    X, y, xq, Z = _prompt(rng, 4, d, 6)
    out = np.asarray(P.forward(params, Z))
    assert np.all(Z[:, -1, -1] == 0.0)
    assert np.allclose(out[:, -1, -1], numerics.predict(V[0, 0], W[0, 0], X, y, xq), rtol=1e-12, atol=1e-12)


def test_multihead_forward_is_the_mean_of_heads():
    rng = np.random.default_rng(2)
    D = 4
    params = {"V": rng.standard_normal((1, 3, D, D)), "K": rng.standard_normal((1, 3, D, D)),
              "Q": rng.standard_normal((1, 3, D, D))}
    V, W = P.merged_heads(params)
    X, y, xq, Z = _prompt(rng, 3, 2, 5)
    want = np.mean([numerics.predict(V[0, h], W[0, h], X, y, xq) for h in range(3)], axis=0)
    assert np.allclose(np.asarray(P.predict(params, Z)), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("form,train", [("merged", "all"), ("separate", "all"), ("separate", "k")])
def test_optax_trainer_agrees_with_the_numpy_sgd_on_the_same_minibatches(form, train):
    """Plain SGD (no momentum, no clipping), ZS objective, from the pretrained point: the
    JAX/optax trainer fed numerics.sgd's own minibatches ends at the same matrices."""
    d, m, sigma2, lr, steps, batch, seed = 2, 10, 0.1, 0.05, 30, 16, 7
    ref = sgd_finetune("zs", form, train, Config(d, m, 5, sigma2, 1.0), lr=lr, steps=steps, batch=batch, seed=seed,
                       polyak=False)
    proto = P.Protocol(d=d, m=m, N=5, sigma2=sigma2, form=form, optimizer="sgd", momentum=0.0, clip=1e6,
                       batch=batch, finetune_steps=steps, lr_finetune=lr).check()
    rng = rng_from_seed(seed)
    t0 = np.eye(d)[0]

    def draw(k):
        Zs, ys = [], []
        for _ in range(k):
            pr = draw_prompts(t0, 0, batch, sigma2, rng)
            Z, yq = P.tokens(pr.xq[:, None, :], pr.yq[:, None])
            Zs.append(Z)
            ys.append(yq)
        return np.stack(Zs), np.stack(ys)

    start = pretrained_point(d, m, sigma2, form)
    params = {k: np.asarray(M)[None, None] for k, M in zip(P.matrices(form), start)}
    trained = P.matrices(form) if train == "all" else (train.upper(),)
    out, losses = P.train(params, "zs", trained, draw, proto, lr, steps, "test")
    V, W = P.merged_heads(out)
    assert np.allclose(V[0, 0][-1], ref.V[-1], rtol=1e-10, atol=1e-12)
    assert np.allclose(W[0, 0], ref.W, rtol=1e-10, atol=1e-12)
    if form == "separate":
        assert np.allclose(out["K"][0, 0], ref.K, rtol=1e-10, atol=1e-12)
    assert len(losses) == steps and np.all(np.isfinite(losses))


def test_lam_schedule_is_the_authors_linear_decay():
    proto = P.Protocol(finetune_steps=5, lam=2.0).check()
    w = P.lam_weight(proto)
    assert [float(w(t)) for t in range(5)] == pytest.approx([2.0 * (4 - t) / 4 for t in range(5)])


def _forward_rows(V, M, Z):
    """The authors' layer in NumPy, row tokens: Z + mean_h (Z M_h Z^T)(Z V_h^T)/T."""
    T = Z.shape[1]
    out = np.zeros_like(Z)
    for Vh, Mh in zip(V, M):
        out += np.einsum("bts,bsi->bti", Z @ Mh @ np.swapaxes(Z, 1, 2), Z @ Vh.T) / T
    return Z + out / len(V)


def _mc_rows(V, M, theta, n, sigma2, samples, rng):
    d = theta.shape[0]
    X = rng.standard_normal((samples, n + 1, d))
    y = X @ theta + np.sqrt(sigma2) * rng.standard_normal((samples, n + 1))
    Z = np.concatenate([np.ones((samples, n + 1, 1)), X, y[..., None]], axis=2)
    yq = Z[:, -1, -1].copy()
    Z[:, -1, -1] = 0.0
    err = (_forward_rows(V, M, Z)[:, -1, -1] - yq) ** 2
    return err.mean(), err.std(ddof=1) / np.sqrt(samples)


@pytest.fixture(scope="module", params=[1, 2], ids=["heads1", "heads2"])
def quick_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"exp{request.param}")
    r = _cli("experiment", "--quick", "--d", "3", "--heads", str(request.param), "--seed", "3",
             "--methods", "zs-all,zsfs-v", "--pretrain-steps", "200", "--finetune-steps", "60",
             "--shots", "0:5", "--out", str(out), "--format", "json", "--seeds", "2", "--pretrain-seeds", "2")
    assert r.returncode == 0, r.stderr
    return request.param, out, json.loads(r.stdout)


def test_saved_parameters_reproduce_the_exact_errors_by_monte_carlo(quick_run):
    H, out, res = quick_run
    theta0 = np.array(res["theta0"])
    sigma2 = res["config"]["sigma2"]
    rng = np.random.default_rng(11)
    for method in ("zs-all", "zsfs-v"):
        entry = res["methods"][method]
        assert entry["evaluation"] == "exact"
        with np.load(out / "params" / f"{method}.npz") as f:
            V, K, Q = f["V"], f["K"], f["Q"]
        if H == 1:
            assert V.shape == (5, 5)
            V, K, Q = V[None], K[None], Q[None]
        else:
            assert V.shape == (1, H, 5, 5)
            V, K, Q = V[0], K[0], Q[0]
        M = np.einsum("hba,hbc->hac", Q, K)  # row-token M = Q^T K = W^T, W = K^T Q
        for task, th in (("target", theta0), ("negated", -theta0)):
            for n in (0, 5):
                mean, se = _mc_rows(V, M, th, n, sigma2, 100_000, rng)
                exact = entry["first_run_curves"][task][entry["shots"].index(n)]
                assert abs(mean - exact) < 5 * se, (method, task, n, mean, exact, se)


def test_output_files_and_json_keys(quick_run):
    H, out, res = quick_run
    assert set(res) >= {"config", "theta0", "methods"}
    for m, e in res["methods"].items():
        assert set(e) >= {"shots", "curves", "evaluation", "theory", "train_loss"}
        assert set(e["curves"]) == {"target", "negated", "orthogonal", "sphere"}
        assert set(e["theory"]) >= {"curves", "start", "distance"}
        assert len(e["train_loss"]) == res["config"]["finetune_steps"]
        assert set(e["spread"]["target"]) == {"std", "min", "max"}
        if H == 1:
            assert set(e["ladder"]) == {"idealised", "from_start", "same_optimizer", "same_data"}
            assert set(e["ladder"]["same_data"]["distance_to_next"]) >= {"max_abs", "rms"}
            assert set(e["attribution"]) == {"start", "optimizer", "data", "noise"}
        else:
            assert "ladder" not in e and "one-head" in e["theory"]["note"]
    assert set(res["pretraining"]) >= {"loss", "optimum", "gap", "verdict"}
    assert [c["seed"] for c in res["pretraining"]["seeds"]] == [3, 4]
    assert all(e["runs"] == 4 for e in res["methods"].values())
    for e in res["methods"].values():  # the band holds the mean
        sp = e["spread"]["target"]
        assert all(lo <= m <= hi for lo, m, hi in zip(sp["min"], e["curves"]["target"], sp["max"]))
    assert res["compile_seconds"] > 0 and res["train_seconds"] > 0
    assert json.loads((out / "experiment.json").read_text())["methods"].keys() == res["methods"].keys()
    for name in ("linear_tf_thetas_qkv", "train_losses") + (("experiment_ladder", "experiment_attribution")
                                                            if H == 1 else ()):
        for ext in ("png", "pdf"):
            assert (out / f"{name}.{ext}").stat().st_size > 1000
    assert (out / "params" / "pretrained.npz").exists()
    assert not [p for p in out.rglob("*.tmp")]


def test_a_seed_reproduces_a_run():
    proto = P.Protocol(d=2, m=4, N=3, pretrain_steps=60, finetune_steps=20, batch=8, dataset_size=30,
                       methods=("zsfs-all",), seed=5).check()
    runs = []
    for _ in range(2):
        pre, _ = P.pretrain(proto)
        th = P.sample_theta0(proto.seed, proto.d)
        out, losses = P.finetune(pre, "zsfs-all", th, P.make_dataset(proto.seed, th, proto), proto)
        runs.append((out, losses))
    assert runs[0][1] == runs[1][1]
    for k in runs[0][0]:
        assert np.array_equal(runs[0][0][k], runs[1][0][k])


@pytest.mark.parametrize("args,needle", [
    (["--methods", "zs-all,zs-w"], "unknown method 'zs-w'"),
    (["--heads", "0"], "heads must be >= 1"),
    (["--lr-finetune", "0"], "lr-finetune"),
    (["--lr-pretrain", "-1"], "lr-pretrain"),
    (["--sigma2", "nan"], "sigma2 must be finite"),
    (["--out", "/proc/iclft-no"], "--out"),
])
def test_bad_input_exits_2_with_one_line_before_training(args, needle, tmp_path):
    base = ["experiment", "--quick", "--out", str(tmp_path / "o"), "--quiet"]
    if "--out" in args:
        base = ["experiment", "--quick", "--quiet"]
    r = _cli(*base, *args, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_a_diverging_run_names_the_method_and_step_and_writes_nothing(tmp_path):
    out = tmp_path / "div"
    r = _cli("experiment", "--quick", "--methods", "zs-all", "--pretrain-steps", "50", "--finetune-steps", "50",
             "--lr-finetune", "1000", "--clip", "1e300", "--out", str(out), "--quiet")
    assert r.returncode == 1, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert "zs-all" in line and "step" in line and "not finite" in line
    assert not (out / "experiment.json").exists()
    assert not list((out / "params").glob("*.npz"))


def test_numpy_forward_matches_the_jax_forward_for_layers_and_heads():
    rng = np.random.default_rng(5)
    D = 4
    params = {k: 0.5 * rng.standard_normal((2, 3, D, D)) for k in ("V", "K", "Q")}
    _, _, _, Z = _prompt(rng, 3, 2, 4)
    assert np.allclose(P.forward_numpy(params, Z), np.asarray(P.forward(params, Z)), rtol=1e-12, atol=1e-12)


def test_two_layers_are_evaluated_by_monte_carlo_with_a_standard_error(tmp_path):
    r = _cli("experiment", "--quick", "--layers", "2", "--methods", "zs-v", "--pretrain-steps", "50",
             "--finetune-steps", "20", "--shots", "0:2", "--mc-samples", "2000", "--out", str(tmp_path / "l2"),
             "--format", "json")
    assert r.returncode == 0, r.stderr
    e = json.loads(r.stdout)["methods"]["zs-v"]
    assert e["evaluation"] == "monte-carlo"
    assert all(s > 0 for s in e["stderr"]["target"])
    with np.load(tmp_path / "l2" / "params" / "zs-v.npz") as f:
        assert f["V"].shape == (2, 1, 5, 5)


def test_theory_overlay_is_the_generic_outcome_in_the_experiment_frame():
    """The overlay for separate zs-all is the generic (stable) end point, moved to the
    experiment's theta0 by a reflection of the x-block: on theta0 and -theta0 its curve equals
    the generic outcome's curve of :mod:`proofs_check.methods.models` (theta0 = e_1), which is not
    the symmetric saddle's."""
    from experiment import run as E
    from proofs_check.methods import models
    from vocabulary import Config

    proto = P.Protocol(d=3, m=10, N=5, sigma2=0.3, lam=1.0)
    rng = np.random.default_rng(7)
    theta0 = rng.standard_normal(3)
    theta0 /= np.linalg.norm(theta0)
    V, W, info = E.theory_model("zs-all", proto, theta0)
    assert info["start"] == "generic" and info["verdict"] == "minimum"
    cfg = Config(3, 10, 5, 0.3, 1.0)
    for task, sign in (("target", 1.0), ("negated", -1.0)):
        want = models.curve("zs-all", task, cfg, (0, 6), "separate", "generic")
        got = [numerics.expected_loss(V, W, sign * theta0, k, 0.3) for k in range(7)]
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12)
    sym = models.curve("zs-all", "target", cfg, (6, 6), "separate", "symmetric")[0]
    assert abs(sym - got[-1]) > 1e-2


def _proto(preset, **kw):
    from experiment.presets import PRESETS

    fields = {k: v for k, v in PRESETS[preset].items() if k not in ("shots", "mc_samples")}
    fields.update(kw)
    return P.Protocol(**fields).check()


def test_pretraining_check_flags_a_stalled_quick_seed_and_passes_the_optimum():
    """Seed 3 of the quick preset stalls (L_pre about 0.72 against the optimum 0.40): flagged,
    with the stationary point it sits by; the closed-form point is the optimum family."""
    from experiment.ladder import pretraining_check

    proto = _proto("quick", seed=3)
    pre, _ = P.pretrain(proto)
    chk = pretraining_check({k: v for k, v in pre.items()}, proto)
    assert chk["verdict"].startswith("stalled") and chk["gap"] > 0.2
    assert chk["nearest_stationary"]["loss"] > chk["optimum"] + 0.1
    good = pretraining_check(P.closed_form_start(proto), proto)
    assert good["verdict"] == "optimum family" and abs(good["gap"]) < 1e-12


def test_pretrain_steps_zero_starts_at_the_closed_form_point():
    from numerics.flow import pretrained_point

    proto = _proto("quick", pretrain_steps=0, heads=2)
    pre, losses = P.pretrain(proto)
    assert losses == []
    V, K, Q = pretrained_point(proto.d, proto.m, proto.sigma2, form="separate")
    for h in range(2):
        assert np.array_equal(pre["V"][0, h], V) and np.array_equal(pre["K"][0, h], K)


def test_presets_and_help(tmp_path):
    from proofs_check.cli.main import build_parser
    from experiment.command import protocol_from_args

    args = build_parser().parse_args(["experiment", "--preset", "authors", "--out", str(tmp_path)])
    proto, _, _ = protocol_from_args(args)
    assert (proto.pretrain_steps, proto.lr_pretrain, proto.batch, proto.finetune_steps, proto.lr_finetune,
            proto.dataset_size) == (5000, 0.01, 5000, 5000, 0.01, 100_000)
    r = _cli("experiment", "--help", timeout=60)
    flat = " ".join(r.stdout.split())
    for text in ("default 8000; quick 400; authors 5000", "default 256; quick 128; authors 5000",
                 "default 0.02; quick 0.05; authors 0.01", "default 1000; quick 150; authors 5000"):
        assert text in flat, text
    r = _cli("experiment", "--quick", "--preset", "authors", "--out", str(tmp_path / "x"), timeout=60)
    assert r.returncode == 2 and "contradict" in r.stderr


def test_text_run_without_a_terminal_has_no_progress_bar_and_says_the_theory_is_one_head(tmp_path):
    r = _cli("experiment", "--quick", "--heads", "2", "--methods", "zs-v", "--pretrain-steps", "60",
             "--finetune-steps", "20", "--shots", "0:2", "--out", str(tmp_path / "h2"))
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr and "step/s" not in r.stderr and "it/s" not in r.stderr
    assert "one-head" in r.stderr
