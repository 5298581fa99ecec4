"""``explore`` reports a counterexample that is minimal: every simpler neighbour satisfies
the statement.

``benchmarks/mutation.py`` (mutant R20) plants one bug of this class.
"""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("claim_id, seed", [("zsfs.v.tradeoff", 0), ("zsfs.v.tradeoff", 3),
                                            ("zs.v.icl_preserved", 0)])
def test_explore_counterexample_is_minimal(claim_id, seed):
    """At the reported counterexample the statement fails; lowering any one coordinate to the
    least value of the domain (d, m, N to their minimum, sigma2 to 0, lam to 1/20) or by one
    step gives a configuration where it holds or that is the counterexample itself."""
    from vocabulary import Config
    from proofs_check.claims.explore import condition_of, evaluate, explore

    cx = explore(claim_id, "paper", 100, seed=seed)["counterexample"]
    assert cx is not None
    cfg = cx["config"]
    assert not evaluate(claim_id, "paper", Config(**cfg))[0]
    lo = {**condition_of(claim_id).least, "sigma2": 0.0, "lam": 0.05}
    step = {"d": 1, "m": 1, "N": 1, "sigma2": 0.05, "lam": 0.05}
    for key in ("d", "m", "N", "sigma2", "lam"):
        for value in (lo[key], cfg[key] - step[key]):
            value = round(value, 2) if isinstance(value, float) else value
            if value < lo[key] or value == cfg[key]:
                continue
            simpler = Config(**{**cfg, key: value})
            assert evaluate(claim_id, "paper", simpler)[0], f"{claim_id}: {key}={value} also fails: not shrunk"
