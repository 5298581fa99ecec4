"""Every option of ``curve``, ``finetune`` and ``explore`` changes the output when it should
(and leaves it alone when it should not), and the output reports the value it used.

``benchmarks/mutation.py`` (mutants R01-R04) plants one bug of this class.
"""
from __future__ import annotations

import numpy as np
import pytest

import numerics
from helpers.commands import CURVE, FINETUNE
from vocabulary import Config


def _get(out: dict, path: tuple):
    for k in path:
        out = out[k]
    return out


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
def test_every_option_changes_the_output_when_it_should_and_is_reported(cli_json, base, extra, option, value,
                                                                        reported, quantity, changes):
    ref = cli_json(base + extra)
    out = cli_json(base + extra + [option, value])
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
def test_finetune_and_curve_return_the_start_they_report(cli_json, start):
    """Separate ZS-all at d = 2: the symmetric end point is a saddle above the noise floor,
    the generic one a minimum at it (ZS attains ``sigma2``); ``curve`` prints the exact errors
    of that end point (:func:`numerics.expected_loss` at the outcome of the named start)."""
    from numerics.endpoints import generic_outcome, symmetric_outcome

    out = cli_json(FINETUNE + ["--form", "separate", "--start", start])
    assert out["start"] == start
    sigma2 = out["config"]["sigma2"]
    if start == "generic":
        assert out["stability"]["verdict"] == "minimum"
        assert out["loss_end"] == pytest.approx(sigma2, abs=1e-6)
    else:
        assert out["stability"]["verdict"] == "saddle"
        assert out["loss_end"] > sigma2 + 0.1
    fn = generic_outcome if start == "generic" else symmetric_outcome
    V, W = fn("zs", "separate", "all", Config(2, 5, 3, sigma2, 1.0)).merged
    cur = cli_json(CURVE + ["--form", "separate", "--start", start])
    assert cur["start"] == start
    e1 = np.eye(2)[0]
    want = [numerics.expected_loss(V, W, e1, n, sigma2) for n in (1, 2)]
    assert cur["error"] == pytest.approx(want, rel=1e-9)


def _recorded_configs(monkeypatch, **kw):
    import proofs_check.claims.explore as ex
    from proofs_check.claims.conditions import Condition

    seen = []
    cond = ex.condition_of(kw["claim_id"])

    def spy(statement, cfg):
        seen.append(cfg.as_dict())
        return Condition.evaluate(cond, statement, cfg)

    monkeypatch.setattr(cond, "evaluate", spy)
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
