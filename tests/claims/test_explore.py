"""``iclft explore``: counterexample search with hypothesis, checked against independent
computations; exit statuses, JSON keys, determinism and bad input.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
import json

import numpy as np
import pytest

import numerics
from numerics.manifold import merged_point
from proofs_check.cli import main as cli
from proofs_check.claims.explore import explore


def _json(capsys, *argv):
    code = cli.main(["explore", *argv, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("seed", [0, 7, 2026])
def test_paper_wording_of_v_tradeoff_has_a_counterexample_for_any_seed(capsys, seed):
    code, out = _json(capsys, "zsfs.v.tradeoff", "--statement", "paper", "--examples", "300", "--seed", str(seed))
    assert code == 1
    assert set(out) == {"claim", "statement", "examples", "seed", "counterexample", "excluded"}
    assert (out["claim"], out["statement"], out["examples"], out["seed"]) == ("zsfs.v.tradeoff", "paper", 300, seed)
    cx = out["counterexample"]
    assert set(cx["config"]) == {"d", "m", "N", "sigma2", "lam"}
    # independent check at the counterexample: the NumPy closed form at large n (plain
    # float losses of the two end points, no SymPy) says adding FS does not raise the
    # -theta0 error, while it does lower the target error at n = N
    cfg, det = cx["config"], cx["details"]
    d, s2 = cfg["d"], cfg["sigma2"]
    c = float(det["c_star"].split("/")[0]) / float(det["c_star"].split("/")[1])

    def frac(x):
        p, _, q = x.partition("/")
        return float(p) / float(q or 1)

    e1 = np.eye(d)[0]
    base = {"q": 0.0, "alpha": c, "beta": c, "h": 0.0}
    Vz, Wz = merged_point({**base, "a": frac(det["a_zs"]), "b": 1.0}, e1)
    Vf, Wf = merged_point({**base, "a": frac(det["a_fs"]), "b": frac(det["b_fs"])}, e1)
    big = 10**7
    assert numerics.expected_loss(Vf, Wf, -e1, big, s2) <= numerics.expected_loss(Vz, Wz, -e1, big, s2)
    assert numerics.expected_loss(Vf, Wf, e1, cfg["N"], s2) < numerics.expected_loss(Vz, Wz, e1, cfg["N"], s2)
    assert det["numpy_confirms_not_raised"] is True


def test_same_seed_same_result():
    a = explore("zsfs.v.tradeoff", "paper", 100, seed=5)
    b = explore("zsfs.v.tradeoff", "paper", 100, seed=5)
    assert a == b and a["counterexample"] is not None


def test_statement_of_pretrained_curve_has_no_counterexample(capsys):
    """The claim's statement is the derived threshold itself: only ``paper`` is offered."""
    code, out = _json(capsys, "pretrain.fewshot_vs_zeroshot", "--statement", "paper", "--examples", "200")
    assert code == 0 and out["counterexample"] is None and out["excluded"]["count"] == 0


def test_derived_condition_of_v_tradeoff_has_no_counterexample():
    assert explore("zsfs.v.tradeoff", "derived", 150, seed=1)["counterexample"] is None


def test_v_only_icl_preserved_paper_wording_fails_at_small_m():
    cx = explore("zs.v.icl_preserved", "paper", 200, seed=0)["counterexample"]
    assert cx is not None and any(v.startswith("-") for k, v in cx["details"].items() if k.startswith("B_"))


@pytest.mark.parametrize("argv, word", [
    (["zsfs.v.tradeof"], "did you mean 'zsfs.v.tradeoff'"),
    (["gradients.agree"], "no configuration-dependent condition"),
    (["zsfs.v.tradeoff", "--examples", "0"], "examples must be >= 1"),
    (["zsfs.v.tradeoff", "--seed", "-1"], "seed"),
    (["zsfs.v.tradeoff", "--statement", "wrong"], "statement"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, word):
    assert cli.main(["explore", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and word in err


def test_api_rejects_bad_arguments():
    with pytest.raises(ValueError, match="examples"):
        explore("zsfs.v.tradeoff", examples=0)
    with pytest.raises(ValueError, match="statement"):
        explore("zsfs.v.tradeoff", statement="both")
