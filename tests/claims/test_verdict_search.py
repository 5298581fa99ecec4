"""One verdict per claim over its whole domain: ``check`` runs ``explore``'s search, a
configuration where the quantity does not exist is an exclusion (never a counterexample),
every reported counterexample is confirmed by an independent evaluation
(:mod:`helpers.independent_statements`, NumPy only, no condition code), shrinking is minimal,
and the W-only trade-off's derived condition is confirmed on both sides.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
import json
import random

import pytest

from proofs_check.cli import main as cli
from proofs_check.claims import claim_conditions
from proofs_check.claims import explore as explore_mod
from proofs_check.claims import search_evidence
from proofs_check.claims import zsfs as few_shot
from proofs_check.claims import zs as zero_shot
from vocabulary import Config
from proofs_check.claims.claim import Evidence
from proofs_check.claims.explore import evaluate, explore, lower_neighbours, minimise
from proofs_check.claims.zsfs import w_tradeoff_numbers

from helpers.independent_statements import quad_minimiser, statement_fails

import numerics

CONDITIONS = claim_conditions()
CASES = [(cl, st) for cl, cond in CONDITIONS.items() for st in cond.statements]


@pytest.mark.parametrize("claim_id, statement", CASES)
def test_explore_counterexamples_are_confirmed_independently_and_minimal(claim_id, statement):
    """``explore`` on every claim and statement (few examples): each counterexample it reports
    fails under the independent evaluation, and no coordinate can be lowered with the statement
    still failing (the shrinking is minimal where it says so)."""
    k = 8 if CONDITIONS[claim_id].flows else 20
    res = explore(claim_id, statement, k, seed=3)
    cx = res["counterexample"]
    if cx is None:
        return
    cfg = Config(**cx["config"])
    assert statement_fails(claim_id, statement, cfg) is not False, cx
    assert cx["minimal"] is True
    for lower in lower_neighbours(cfg, CONDITIONS[claim_id].least):
        assert evaluate(claim_id, statement, lower)[0] is not False, lower


@pytest.mark.parametrize("claim_id, cfg", [
    ("zsfs.w.tradeoff", Config(2, 1, 1, 0.0, 0.05)), ("zsfs.w.tradeoff", Config(5, 20, 1, 0.1, 1.0)),
    ("zsfs.w.tradeoff", Config(3, 5, 2, 0.2, 0.5)), ("zsfs.v.tradeoff", Config(1, 1, 9, 0.1, 0.05)),
    ("zs.v.icl_preserved", Config(6, 1, 0, 0.5, 1.0))])
def test_known_counterexamples_fail_independently(claim_id, cfg):
    """The paper's wording fails at these configurations (the README's among them), by the
    independent route, and the project's evaluation agrees."""
    assert statement_fails(claim_id, "paper", cfg) is True
    assert evaluate(claim_id, "paper", cfg)[0] is False


def test_w_only_target_error_is_sigma2_plus_2_over_N_plus_2_at_the_issue_config():
    cfg = Config(5, 20, 1, 0.1, 1.0)
    (V, W), _ = quad_minimiser("zsfs", "w", cfg)
    (Vv, Wv), _ = quad_minimiser("zsfs", "v", cfg)
    e1 = [1.0] + [0.0] * 4
    import numpy as np
    assert abs(numerics.expected_loss(V, W, np.array(e1), 1, 0.1) - 0.7666666666666667) < 1e-9
    assert abs(numerics.expected_loss(Vv, Wv, np.array(e1), 1, 0.1) - 0.4139425170561770) < 1e-9


def test_w_tradeoff_condition_is_confirmed_at_20_points_on_each_side():
    """The derived condition (``gap > 0``) against an independent outcome: the W-only and V-only
    ZS + lam FS end points as full-matrix quadratic solves over all entries of W (resp. V) from
    NumPy gradients, their target errors at n = N compared directly."""
    import numpy as np

    rng = random.Random(19)
    sides = {True: [], False: []}
    while min(len(v) for v in sides.values()) < 20:
        cfg = Config(rng.randint(2, 5), rng.randint(1, 60), rng.randint(1, 8), rng.randint(0, 40) / 20,
                     rng.randint(1, 160) / 20)
        cond = bool(w_tradeoff_numbers(cfg)["gap"] > 0)
        if len(sides[cond]) < 20:
            sides[cond].append(cfg)
    for cond, cfgs in sides.items():
        for cfg in cfgs:
            t0 = np.eye(cfg.d)[0]
            (Vw, Ww), _ = quad_minimiser("zsfs", "w", cfg)
            (Vv, Wv), _ = quad_minimiser("zsfs", "v", cfg)
            tw = numerics.expected_loss(Vw, Ww, t0, cfg.N, cfg.sigma2)
            tv = numerics.expected_loss(Vv, Wv, t0, cfg.N, cfg.sigma2)
            assert (tw < tv) == cond, (cfg, tw, tv)
            assert abs(tw - cfg.sigma2 - 2 / (cfg.N + 2)) < 1e-9


def test_zsfs_all_without_a_flow_limit_is_an_exclusion_not_a_counterexample(capsys):
    """The issue's false counterexample: at sigma2 = 0 the full ZS+FS flow has no limit."""
    code = cli.main(["explore", "zsfs.all.tradeoff", "--examples", "20", "--seed", "1", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["counterexample"] is None
    assert out["excluded"]["count"] >= 1 and out["excluded"]["first"]["sigma2"] == 0.0
    assert "not converged" in out["excluded"]["reasons"][0]
    assert cli.main(["explore", "zsfs.all.tradeoff", "--examples", "20", "--seed", "1"]) == 0
    assert "excluded from the domain, not counterexamples" in capsys.readouterr().out
    holds, det = evaluate("zsfs.all.tradeoff", "paper", Config(2, 1, 1, 0.0, 0.05))
    assert holds is None and det["flow_converged"] is False and det["excluded"]


@pytest.mark.parametrize("claim_id", [c for c, cond in CONDITIONS.items() if cond.statements == ("paper",)])
def test_single_statement_claims_refuse_derived_with_exit_2(capsys, small_config, claim_id):
    assert cli.main(["explore", claim_id, "--statement", "derived"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "only the statement 'paper'" in err
    with pytest.raises(ValueError, match="statement"):
        evaluate(claim_id, "derived", small_config)


def test_w_tradeoff_statements_differ():
    """``--statement derived`` is honoured: at a paper counterexample the derived statement holds."""
    cfg = Config(2, 1, 1, 0.1, 0.05)
    paper, pd = evaluate("zsfs.w.tradeoff", "paper", cfg)
    derived, dd = evaluate("zsfs.w.tradeoff", "derived", cfg)
    assert (paper, derived) == (False, True)
    assert "derived_gap" in dd and "derived_gap" not in pd


def _strings(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def test_counterexample_json_holds_real_booleans(capsys):
    code = cli.main(["explore", "zs.v.icl_preserved", "--statement", "derived", "--examples", "5", "--format", "json"])
    assert code == 0
    capsys.readouterr()
    cli.main(["check", "--only", "zs.v.icl_preserved", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    cx = out["claims"][0]["counterexample"]
    assert cx is not None and any(isinstance(v, bool) for v in cx["details"].values())
    assert not {"True", "False"} & set(_strings(out))


# --------------------------------------------------------------------------- minimal shrinking
LO = {"d": 2, "m": 1, "N": 1}


def test_minimise_reaches_the_least_corner_of_a_slab():
    fails = lambda c: c.sigma2 >= 1 and c.lam >= 4  # noqa: E731
    cfg, minimal = minimise(fails, Config(9, 40, 30, 1.95, 7.5), LO)
    assert (cfg, minimal) == (Config(2, 1, 1, 1.0, 4.0), True)


def test_minimise_stays_where_no_lower_neighbour_fails():
    start = Config(4, 3, 5, 0.5, 2.0)
    cfg, minimal = minimise(lambda c: c == start, start, LO)
    assert (cfg, minimal) == (start, True)


def test_minimise_reports_a_spent_budget_as_not_minimal():
    cfg, minimal = minimise(lambda c: True, Config(12, 60, 60, 2.0, 8.0), LO, budget=3)
    assert minimal is False and cfg != Config(2, 1, 1, 0.0, 0.05)


def test_lower_neighbours_respect_the_domain():
    assert lower_neighbours(Config(2, 1, 1, 0.0, 0.05), LO) == []
    got = lower_neighbours(Config(3, 1, 1, 0.1, 0.05), LO)
    assert Config(2, 1, 1, 0.1, 0.05) in got and Config(3, 1, 1, 0.0, 0.05) in got
    assert Config(3, 1, 1, 0.05, 0.05) in got and len(got) == 3  # sigma2: 0 (= halfway) and one step


# --------------------------------------------------------------------------- negative controls
def _cheap(monkeypatch):
    skipped = Evidence("numeric", "skipped in this test", True)
    for mod in (zero_shot, few_shot):
        monkeypatch.setattr(mod, "verdict_evidence", lambda *a, **k: skipped)
    monkeypatch.setattr(zero_shot, "separate_icl_degraded_evidence", lambda *a, **k: skipped)


def _check(capsys, claim_id):
    code = cli.main(["check", "--only", claim_id, "--jobs", "1", "--format", "json"])
    (claim,) = json.loads(capsys.readouterr().out)["claims"]
    return claim, code


def test_check_is_refuted_when_the_domain_search_finds_a_planted_failure(monkeypatch, capsys):
    """A wrong value fed to the search (the statement planted false for d >= 9): the claim's
    grid evidence still passes, only the domain search can notice; refuted, exit 1."""
    _cheap(monkeypatch)
    cond = CONDITIONS["zs.all.icl_degraded"]
    real = cond.holds
    monkeypatch.setattr(cond, "holds", lambda cfg, w: (False, {}) if cfg.d >= 9 else real(cfg, w))
    claim, code = _check(capsys, "zs.all.icl_degraded")
    assert (claim["status"], code) == ("refuted", 1)
    failed = [e for e in claim["evidence"] if e["asserted"] and not e["passed"]]
    assert [e["kind"] for e in failed] == ["search"] and failed[0]["details"]["counterexample"]["d"] == 9


def test_check_is_refuted_when_the_search_is_weakened(monkeypatch, capsys):
    """A search that looks at one example finds nothing (its own item passes); the planted
    negative control notices; refuted, exit 1."""
    import inspect
    import textwrap

    _cheap(monkeypatch)
    src = textwrap.dedent(inspect.getsource(explore_mod.search))
    assert src.count("max_examples=examples") == 1
    ns = dict(vars(explore_mod))
    exec(compile(src.replace("max_examples=examples", "max_examples=1"), "<weakened search>", "exec"), ns)
    monkeypatch.setattr(explore_mod, "search", ns["search"])
    monkeypatch.setattr(search_evidence, "search", ns["search"])
    claim, code = _check(capsys, "pretrain.fewshot_vs_zeroshot")
    assert (claim["status"], code) == ("refuted", 1)
    failed = [e for e in claim["evidence"] if e["asserted"] and not e["passed"]]
    assert failed and all(e["description"].startswith("negative control: the same search") for e in failed)


def test_zsfs_w_tradeoff_is_refined_with_a_counterexample_at_small_N(capsys):
    claim, code = _check(capsys, "zsfs.w.tradeoff")
    assert (claim["status"], code) == ("refined", 0)
    cx = claim["counterexample"]
    assert cx["config"]["N"] <= 2 and cx["details"]["target_gain"] is False
    assert statement_fails("zsfs.w.tradeoff", "paper", Config(**cx["config"])) is True
