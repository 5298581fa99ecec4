"""Tests of the classes of bugs that got through before (issue 19, item 7), not of single bugs.

* every option of ``curve``, ``finetune`` and ``explore`` changes the output when it should
  (and leaves it alone when it should not), and the output reports the value it used;
* every deciding helper (the exact-zero test, the zero-shot test of the stability helper,
  the aggregation of the explore conditions, the stop rules) is fed negative cases and
  driven down every branch;
* every cache key (the derivation cache file, the fast flow's interpolant, the experiment's
  compiled programs) changes when any source it depends on changes;
* formatting is tested on the real evidence that stresses it (a measured tolerance that is
  not a power of ten, ``|grad|`` inside a Markdown cell, NumPy booleans in JSON);
* the derived quantities of the experiment (curve distances, Monte Carlo standard errors)
  are read and compared with independent computations;
* ``explore`` reports a counterexample that is minimal: every simpler neighbour satisfies
  the statement;
* the multi-head loss, the experiment's head evaluation and the lam schedule are compared
  with single-head closed forms and the schedule's formula.

``benchmarks/mutation.py`` (mutants R01-R25) plants one bug of each class.
Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import sympy as sp

import numerics
from proofs_check.cli.main import main


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _get(out: dict, path: tuple):
    for k in path:
        out = out[k]
    return out


# ---- every CLI option changes the output when it should, and is reported ------------------
CURVE = ["curve", "--method", "zs-all", "--task", "target", "--d", "2", "--m", "5", "--N", "3",
         "--shots", "1:2", "--quiet", "--format", "json"]
FINETUNE = ["finetune", "--objective", "zs", "--train", "all", "--d", "2", "--m", "5", "--N", "3",
            "--quiet", "--format", "json"]

#: (base command, extra base arguments, option, value, where the JSON reports it, the
#: quantity that must change, whether it must change): "must not change" rows are the
#: negative cases (ZS does not read N or lam; the merged ZS-all end point is a minimum, so
#: the symmetric and generic starts coincide)
OPTION_CASES = [
    (CURVE, [], "--method", "zsfs-all", ("method",), ("error",), True),
    (CURVE, [], "--task", "negated", ("task",), ("error",), True),
    (CURVE, [], "--form", "separate", ("form",), ("error",), True),
    (CURVE, ["--form", "separate"], "--start", "symmetric", ("start",), ("error",), True),
    (CURVE, [], "--start", "symmetric", ("start",), ("error",), False),
    (CURVE, [], "--pretrained-scale", "2", ("pretrained_scale",), ("error",), True),
    (CURVE, [], "--d", "3", ("config", "d"), ("error",), True),
    (CURVE, [], "--m", "6", ("config", "m"), ("error",), True),
    (CURVE, ["--method", "zsfs-all"], "--N", "4", ("config", "N"), ("error",), True),
    (CURVE, [], "--N", "4", ("config", "N"), ("error",), False),
    (CURVE, [], "--sigma2", "0.2", ("config", "sigma2"), ("error",), True),
    (CURVE, ["--method", "zsfs-all"], "--lam", "2", ("config", "lam"), ("error",), True),
    (CURVE, [], "--lam", "2", ("config", "lam"), ("error",), False),
    (CURVE, [], "--shots", "1:3", ("shots",), ("error",), True),
    (FINETUNE, [], "--objective", "zsfs", ("objective",), ("final",), True),
    (FINETUNE, [], "--train", "v", ("train",), ("final",), True),
    (FINETUNE, [], "--form", "separate", ("form",), ("final",), True),
    (FINETUNE, ["--form", "separate"], "--start", "generic", ("start",), ("final",), True),
    (FINETUNE, [], "--pretrained-scale", "2", ("pretrained_scale",), ("final",), True),
    (FINETUNE, [], "--d", "3", ("config", "d"), ("final",), True),
    (FINETUNE, [], "--m", "6", ("config", "m"), ("final",), True),
    (FINETUNE, ["--objective", "zsfs"], "--N", "4", ("config", "N"), ("final",), True),
    (FINETUNE, [], "--sigma2", "0.2", ("config", "sigma2"), ("final",), True),
    (FINETUNE, ["--objective", "zsfs"], "--lam", "2", ("config", "lam"), ("final",), True),
    (FINETUNE, [], "--lam", "2", ("config", "lam"), ("final",), False),
]


def _parsed(value: str):
    if ":" in value:
        lo, hi = map(int, value.split(":"))
        return list(range(lo, hi + 1))
    try:
        return float(value)
    except ValueError:
        return value


@pytest.mark.parametrize("base, extra, option, value, reported, quantity, changes", OPTION_CASES,
                         ids=[f"{c[0][0]}{''.join(c[1])}{c[2]}={c[3]}" for c in OPTION_CASES])
def test_every_option_changes_the_output_when_it_should_and_is_reported(capsys, base, extra, option, value,
                                                                        reported, quantity, changes):
    ref = _json(capsys, base + extra)
    out = _json(capsys, base + extra + [option, value])
    got = _get(out, reported)
    want = _parsed(value)
    assert (float(got) if isinstance(want, float) else got) == want
    assert _get(ref, reported) != got
    a, b = _get(ref, quantity), _get(out, quantity)
    if changes:
        assert a != b, f"{option} {value} left {quantity} unchanged"
    else:
        assert a == b, f"{option} {value} changed {quantity}, which it does not read"


@pytest.mark.parametrize("start", ["symmetric", "generic"])
def test_finetune_and_curve_return_the_start_they_report(capsys, start):
    """Separate ZS-all at d = 2: the symmetric end point is a saddle above the noise floor,
    the generic one a minimum at it (ZS attains ``sigma2``); ``curve`` prints the exact errors
    of that end point (:func:`numerics.expected_loss` at the outcome of the named start)."""
    from numerics.endpoints import generic_outcome, symmetric_outcome

    out = _json(capsys, FINETUNE + ["--form", "separate", "--start", start])
    assert out["start"] == start
    sigma2 = out["config"]["sigma2"]
    if start == "generic":
        assert out["stability"]["verdict"] == "minimum"
        assert out["loss_end"] == pytest.approx(sigma2, abs=1e-6)
    else:
        assert out["stability"]["verdict"] == "saddle"
        assert out["loss_end"] > sigma2 + 0.1
    fn = generic_outcome if start == "generic" else symmetric_outcome
    V, W = fn("zs", "separate", "all", 2, 5, 3, sigma2, 1.0).merged
    cur = _json(capsys, CURVE + ["--form", "separate", "--start", start])
    assert cur["start"] == start
    e1 = np.eye(2)[0]
    want = [numerics.expected_loss(V, W, e1, n, sigma2) for n in (1, 2)]
    assert cur["error"] == pytest.approx(want, rel=1e-9)


def _recorded_configs(monkeypatch, **kw):
    import proofs_check.claims.explore as ex
    from proofs_check.claims import conditions

    seen = []
    real = conditions.evaluate

    def spy(claim_id, statement, cfg):
        seen.append(cfg.as_dict())
        return real(claim_id, statement, cfg)

    monkeypatch.setattr(ex, "evaluate", spy)
    res = ex.explore(**kw)
    return res, seen


def test_explore_seed_and_examples_change_the_search(monkeypatch):
    """``--seed`` picks the configurations tried (same seed, same ones) and ``--examples``
    bounds how many are generated; both are reported."""
    kw = dict(claim_id="pretrain.fewshot_vs_zeroshot", statement="paper")
    r0, s0 = _recorded_configs(monkeypatch, examples=12, seed=0, **kw)
    r0b, s0b = _recorded_configs(monkeypatch, examples=12, seed=0, **kw)
    r1, s1 = _recorded_configs(monkeypatch, examples=12, seed=1, **kw)
    assert (r0["seed"], r1["seed"], r0["examples"]) == (0, 1, 12)
    assert r0["counterexample"] is None and s0 == s0b and s0 != s1
    assert 1 <= len(s0) <= 12
    r3, s3 = _recorded_configs(monkeypatch, examples=3, seed=0, **kw)
    assert r3["examples"] == 3 and 1 <= len(s3) <= 3


# ---- deciding helpers: negative cases and every branch -----------------------------------
def test_is_zero_rejects_every_nonzero_constant_and_expression():
    from proofs_check.claims.exact import is_zero
    from theory.symbols import c, d, sigma2

    assert is_zero(0) and is_zero(d - d) and is_zero(c / (c + 1) - 1 + 1 / (c + 1))
    assert is_zero(sp.sqrt(2) * sp.sqrt(8) - 4)
    for nonzero in (1, sp.Rational(1, 10**30), -3, d / (d + 1) - 1, (c - d) ** 2 - c ** 2 + 2 * c * d - d ** 2 + 1,
                    sigma2 - sigma2 + sp.Rational(2, 7), sp.sqrt(2), sp.sqrt(d) - d, c - 1):
        assert not is_zero(nonzero), nonzero


def test_zero_shot_test_of_the_stability_helper_needs_every_term_at_n_zero():
    from numerics.hessian import Problem
    from numerics.endpoints import pretrained_member
    from numerics.stability import _zero_shot

    mats = pretrained_member(2, 5, 0.1)
    cases = {"zs": True, "fs": False, "zsfs": False, "pretrain": False}
    for objective, want in cases.items():
        pb = Problem.build(objective, "merged", "all", mats, None, N=3, m=5, sigma2=0.1, lam=1.0)
        assert _zero_shot(pb) is want, objective


@pytest.mark.parametrize("failing", [0, 1, 2, None])
def test_zs_all_condition_needs_every_task(monkeypatch, failing):
    """The statement of ``zs.all.icl_degraded`` holds only if the gap is positive on every
    task (``theta0``, ``-theta0``, ``theta_perp``): a failure on any one of them decides."""
    import proofs_check.claims.zs as zs
    from vocabulary import Config
    from proofs_check.claims.conditions import evaluate

    calls = []

    def fake(coeffs, lo):
        calls.append(len(calls))
        return (False, 7) if len(calls) - 1 == failing else (True, None)

    monkeypatch.setattr(zs, "_poly_positive", fake)
    holds, det = evaluate("zs.all.icl_degraded", "paper", Config(3, 5, 2, 0.1, 1.0))
    assert len(calls) == 3
    assert holds is (failing is None)
    for i, name in enumerate(("theta0", "-theta0", "theta_perp")):
        assert det[f"first_failing_n_{name}"] == (7 if i == failing else None)


@pytest.mark.parametrize("negative", [None, "theta0", "-theta0", "theta_perp", "sphere"])
def test_zs_v_condition_needs_b_positive_on_every_task(monkeypatch, negative):
    """paper: ``B > 0`` on every task and the sphere; derived: each task's far-out direction
    matches the sign of its ``B`` (one mismatch decides)."""
    import proofs_check.claims.conditions as cond
    from vocabulary import Config

    B = {k: sp.Rational(1, 3) for k in ("theta0", "-theta0", "theta_perp", "sphere")}
    if negative:
        B[negative] = sp.Rational(-1, 5)
    monkeypatch.setattr(cond, "zs_v_B_values", lambda cfg: dict(B))
    dec = {k: True for k in ("theta0", "-theta0", "theta_perp")}
    monkeypatch.setattr(cond, "zs_v_decreasing_far_out", lambda cfg: dict(dec))
    cfg = Config(3, 5, 2, 0.1, 1.0)
    assert cond.evaluate("zs.v.icl_preserved", "paper", cfg)[0] is (negative is None)
    derived = cond.evaluate("zs.v.icl_preserved", "derived", cfg)[0]
    assert derived is (negative in (None, "sphere"))


def test_full_flow_stop_rule_on_each_branch():
    """``converged`` only when the gradient norm reached ``gtol``: a flow stopped by its time
    cap, by its evaluation cap, or started at the target says so."""
    from numerics.hessian import Problem
    from numerics.endpoints import pretrained_member
    from numerics.stability import full_flow

    pb = Problem.build("zs", "merged", "all", pretrained_member(2, 5, 0.1), None, N=3, m=5, sigma2=0.1, lam=1.0)
    x0 = pb.pack()
    g0 = float(np.linalg.norm(pb.grad(x0)))
    short = full_flow(pb, x0, gtol=1e-10, t_max=1e-3)
    assert short.stop == "t cap" and not short.converged and short.grad_norm > 1e-10
    capped = full_flow(pb, x0, gtol=1e-10, max_nfev=5)
    assert capped.stop != "converged" and not capped.converged
    done = full_flow(pb, x0, gtol=1e-8)
    assert done.stop == "converged" and done.converged and done.grad_norm <= 1e-8 * (1 + 1e-6)  # located crossing
    at = full_flow(pb, x0, gtol=2 * g0)
    assert at.converged and at.t_final == 0.0


# ---- cache keys cover every source ---------------------------------------------------------
def test_derivation_cache_key_changes_with_every_source(tmp_path, monkeypatch):
    """The key of the derivation cache file changes when any file of ``theory`` or
    ``vocabulary`` changes (content, a new file), and with the SymPy and package versions."""
    import importlib.metadata

    import theory
    import vocabulary
    from proofs_check.storage.derivation_cache import cache_key

    for pkg in (theory, vocabulary):
        src = type(tmp_path)(pkg.__file__).parent
        dst = tmp_path / pkg.__name__
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.setattr(pkg, "__file__", str(dst / "__init__.py"))
    base = cache_key()
    assert cache_key() == base
    for pkg in ("theory", "vocabulary"):
        f = sorted((tmp_path / pkg).glob("*.py"))[-1]
        text = f.read_text()
        f.write_text(text + "\n# changed\n")
        assert cache_key() != base, f"an edit of {pkg}/{f.name} kept the key"
        f.write_text(text)
        assert cache_key() == base
        extra = tmp_path / pkg / "zz_new_module.py"
        extra.write_text("X = 1\n")
        assert cache_key() != base, f"a new file in {pkg} kept the key"
        extra.unlink()
    monkeypatch.setattr(sp, "__version__", sp.__version__ + ".post1")
    assert cache_key() != base
    monkeypatch.undo()
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "999.0")
    k = cache_key()
    monkeypatch.undo()
    assert k != cache_key()


def test_interpolant_cache_key_covers_every_input():
    """The fast flow's polynomial gradient is cached under a key; a problem that differs in
    any input (objective, N, m, lam, sigma2, d, theta0) must get its own polynomial, equal to
    the exact gradient of *that* problem."""
    from numerics.flow import setup_problem
    from numerics.reduced import ReducedProblem, interpolant

    base = dict(objective="zsfs", train="all", d=2, m=5, N=3, sigma2=0.1, lam=1.0, form="merged", theta0=None)
    X = np.random.default_rng(0).uniform(-1.2, 1.2, size=(4, 6))
    for change in ({}, {"objective": "zs"}, {"N": 4}, {"lam": 2.0}, {"sigma2": 0.35}, {"d": 3}, {"m": 7},
                   {"theta0": np.array([0.6, 0.8])}, {"objective": "fs"}, {"objective": "fs", "N": 5}):
        args = {**base, **change}
        pb, _, _, key = setup_problem(**args)
        fit = interpolant(key, pb.terms, args["d"], pb.t)
        exact = ReducedProblem(pb.terms, "all", "merged", args["d"], pb.t).raw_coeffs(X)
        assert np.abs(np.array([fit(x) for x in X]) - exact).max() <= 1e-8 * np.abs(exact).max(), change


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


# ---- formatting on the evidence that stresses it -------------------------------------------
def test_fmt_tol_on_measured_tolerances_and_negative_zero():
    """A measured accuracy is rarely a power of ten: ``3.47e-06`` allows 6 decimals (a value
    to 6 decimals is within 5e-7 of the truth), ``0.05`` allows 2; a value below the
    accuracy prints as 0, never ``-0``."""
    from proofs_check.cli.commands import fmt_tol

    for tol, digits in ((1e-7, 7), (3.47e-6, 6), (9.99e-6, 6), (1.2e-5, 5), (0.05, 2), (0.5, 1), (2.0, 0)):
        text = fmt_tol(1.0 / 3.0, tol)
        assert text == (f"{1 / 3:.{digits}f}".rstrip("0").rstrip(".") or "0"), (tol, text)
        assert abs(float(text) - 1 / 3) <= tol
    for x in (-2e-11, -4e-8, 3e-9, -0.0):
        assert fmt_tol(x, 1e-7) == "0"
    assert fmt_tol(-0.25, 1e-7) == "-0.25" and fmt_tol(2.0, 1e-7) == "2"


def test_markdown_of_real_finetune_output_keeps_two_cells_per_row(capsys):
    """``finetune --format markdown`` prints ``|grad|`` inside its cells: every row must still
    have exactly two cells (each ``|`` inside a cell escaped)."""
    import re

    assert main(FINETUNE[:-2] + ["--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "\\|grad\\|" in text
    for line in text.strip().splitlines():
        cells = re.split(r"(?<!\\)\|", line)
        assert len(cells) == 4 and cells[0] == "" and cells[-1] == "", line


def test_json_keeps_numpy_booleans_and_integers_as_json_values():
    """Evidence carries NumPy scalars (``np.bool_`` from comparisons of arrays, ``np.int64``
    counts): JSON must hold ``true``/``3``, not the strings ``"True"``/``"3"``."""
    from proofs_check.cli.report import to_json

    obj = {"flag": np.bool_(True), "off": np.False_, "count": np.int64(3), "x": np.float32(0.5),
           "nan": float("nan"), "arr": np.array([1, 2]), "nested": [{"b": np.bool_(False)}]}
    back = json.loads(to_json(obj))
    assert back == {"flag": True, "off": False, "count": 3, "x": 0.5, "nan": "nan", "arr": [1, 2],
                    "nested": [{"b": False}]}
    assert type(back["flag"]) is bool and type(back["count"]) is int


# ---- derived quantities are read and checked -----------------------------------------------
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


# ---- counterexample shrinking is checked for minimality ------------------------------------
@pytest.mark.parametrize("claim_id, seed", [("zsfs.v.tradeoff", 0), ("zsfs.v.tradeoff", 3),
                                            ("zs.v.icl_preserved", 0)])
def test_explore_counterexample_is_minimal(claim_id, seed):
    """At the reported counterexample the statement fails; lowering any one coordinate to the
    least value of the domain (d, m, N to their minimum, sigma2 to 0, lam to 1/20) or by one
    step gives a configuration where it holds or that is the counterexample itself."""
    from vocabulary import Config
    from proofs_check.claims.conditions import CONDITION_CLAIMS, evaluate
    from proofs_check.claims.explore import explore

    cx = explore(claim_id, "paper", 100, seed=seed)["counterexample"]
    assert cx is not None
    cfg = cx["config"]
    assert not evaluate(claim_id, "paper", Config(**cfg))[0]
    lo = {**CONDITION_CLAIMS[claim_id], "sigma2": 0.0, "lam": 0.05}
    step = {"d": 1, "m": 1, "N": 1, "sigma2": 0.05, "lam": 0.05}
    for key in ("d", "m", "N", "sigma2", "lam"):
        for value in (lo[key], cfg[key] - step[key]):
            value = round(value, 2) if isinstance(value, float) else value
            if value < lo[key] or value == cfg[key]:
                continue
            simpler = Config(**{**cfg, key: value})
            assert evaluate(claim_id, "paper", simpler)[0], f"{claim_id}: {key}={value} also fails: not shrunk"


# ---- multi-head loss, the experiment's head evaluation, the lam schedule -------------------
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
