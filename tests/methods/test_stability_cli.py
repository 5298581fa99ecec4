"""The generic outcome through the command line: the symmetric separate ZS end point is a
saddle, ``curve`` reports the generic outcome, and that outcome destroys ICL."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics
from numerics.endpoints import perturbed_outcome
from proofs_check.cli.main import main
from vocabulary import Config


@pytest.mark.parametrize("argv", [
    ["curve", "--method", "zs-v", "--task", "target", "--start", "nope"],
    ["curve", "--method", "zs-v", "--task", "target", "--pretrained-scale", "0"],
    ["curve", "--method", "zs-v", "--task", "target", "--pretrained-scale", "-1"],
    ["curve", "--method", "zs-v", "--task", "target", "--pretrained-scale", "nan"],
    ["curve", "--method", "zs-v", "--task", "target", "--pretrained-scale", "heavy"],
    ["curve", "--method", "zs-k", "--task", "target"],
    ["curve", "--method", "zs-v", "--task", "target", "--form", "fused"],
    ["finetune", "--objective", "zs", "--train", "all", "--start", "sideways"],
    ["finetune", "--objective", "zs", "--train", "all", "--pretrained-scale", "inf"],
])
def test_bad_stability_arguments_exit_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("iclft: error:")


def test_finetune_json_has_stability_keys(cli_json):
    out = cli_json(["finetune", "--objective", "zsfs", "--train", "v", "--d", "2", "--format", "json"])
    stab = out["stability"]
    assert {"verdict", "index", "min_eigenvalue", "null_dim", "symmetry_dim"} <= set(stab)
    assert stab["verdict"] == "minimum" and stab["index"] == 0
    assert out["start"] == "symmetric"


def test_pretrained_scale_changes_the_zs_all_limit(cli_json):
    # merged ZS-all from the member of scale s reaches the root of the equation derived in
    # theory (a^4 + (c^2 d / s^2) a^2 - 1 = 0): the numeric flow against the SymPy derivation
    from numerics.flow import pretrained_c
    from theory.optima import zs_all_flow_limit_scaled
    from theory.symbols import a as a_sym, c as c_sym, d as d_sym

    lim = zs_all_flow_limit_scaled()
    assert lim["matches"]
    d, m = 2, 10
    c = pretrained_c(d, m, 0.1)
    for s in (0.5, 2.0):
        out = cli_json(["finetune", "--objective", "zs", "--train", "all", "--d", str(d), "--m", str(m),
                             "--pretrained-scale", str(s), "--format", "json"])
        a = out["final"]["a"]
        a_theory = float(lim["a"].subs({c_sym: c, d_sym: d, lim["s"]: s}))
        assert a == pytest.approx(a_theory, rel=1e-6)
        assert float(lim["equation"].subs({a_sym: a, c_sym: c, d_sym: d, lim["s"]: s})) == pytest.approx(0, abs=1e-6)
        assert out["final"]["b"] == pytest.approx(s, abs=1e-9)
        assert out["stability"]["verdict"] == "minimum"


@pytest.mark.slow
@settings(max_examples=3)
@given(d=st.integers(2, 4), m=st.integers(5, 40), sigma2=st.floats(0.05, 0.5))
def test_generic_separate_zs_destroys_icl(d, m, sigma2):
    import io
    from contextlib import redirect_stdout

    cfg = ["--d", str(d), "--m", str(m), "--N", "20", "--sigma2", repr(sigma2)]

    def run(argv):
        buf = io.StringIO()
        with redirect_stdout(buf):
            assert main(argv + cfg + ["--format", "json"]) == 0
        return json.loads(buf.getvalue())

    fin = run(["finetune", "--objective", "zs", "--train", "all", "--form", "separate"])
    assert fin["stability"]["verdict"] == "saddle" and fin["stability"]["index"] >= 1
    cur = run(["curve", "--method", "zs-all", "--form", "separate", "--task", "orthogonal", "--shots", "40:40"])
    assert cur["start"] == "generic" and cur["stability"]["verdict"] == "minimum"
    L40 = cur["error"][0]
    # an independent route: the full-space flow (every entry) from a seeded random perturbation
    o = perturbed_outcome("zs", "separate", "all", Config(d, m, 20, sigma2, 1.0), size=1e-6, seed=0, gtol=1e-7)
    V, W = o.merged
    ref = numerics.expected_loss(V, W, np.eye(d)[1], 40, sigma2)
    assert L40 == pytest.approx(ref, rel=2e-3)
    assert L40 > 1 + sigma2


def test_classification_limit_is_explicit(monkeypatch, capsys):
    """Above MAX_CLASSIFIED_PARAMETERS trained entries the Hessian is not assembled: classify
    refuses (naming d), the symmetric start is returned 'unclassified', the generic start is
    refused, and the CLI says so in one line with exit 2 (the limit is lowered here so that
    the default d = 5 crosses it: zs-all merged has P = 98)."""
    import numerics.endpoints as nout
    import numerics.stability as nst
    from numerics.endpoints import pretrained_problem
    from proofs_check.methods import models
    from proofs_check.cli.main import main

    models.fine_tune.cache_clear()  # memoised outcomes of other tests must not answer here,
    monkeypatch.setattr(models, "fine_tune", models.fine_tune.__wrapped__)  # nor ours stay behind
    monkeypatch.setattr(nst, "MAX_CLASSIFIED_PARAMETERS", 60)
    monkeypatch.setattr(nout, "MAX_CLASSIFIED_PARAMETERS", 60)
    pb, _, _ = pretrained_problem("zs", "merged", "all", Config(5, 20, 20, 0.1, 1.0), scale=1.0)
    with pytest.raises(ValueError, match="^d: "):
        nst.classify(pb)
    sym = nout.symmetric_outcome("zs", "merged", "all", Config(5, 20, 20, 0.1, 1.0))
    assert sym.stability.verdict == "unclassified" and np.isnan(sym.stability.min_eigenvalue)
    assert sym.stability.grad_norm < 1e-8 and "98 trained parameters" in sym.stability.reason
    with pytest.raises(ValueError, match="symmetric start"):
        nout.generic_outcome("zs", "merged", "all", Config(5, 20, 20, 0.1, 1.0))
    # V only (P = 49) is still classified
    assert nout.symmetric_outcome("zs", "merged", "v", Config(5, 20, 20, 0.1, 1.0)).stability.verdict == "minimum"
    capsys.readouterr()
    assert main(["curve", "--method", "zs-all", "--task", "target", "--quiet", "--shots", "0:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "above the limit 60" in err[0]
    assert main(["curve", "--method", "zs-all", "--task", "target", "--quiet", "--shots", "0:1",
                 "--start", "symmetric"]) == 0
    assert "stability: unclassified" in capsys.readouterr().out
