"""Flows keep what they print: the invariants reported as conserved are constant along the
trajectory, the evaluation cap is never passed, and the stiff K/Q flow at the top of the lam
range reaches the merged end point (also through ``iclft finetune``)."""
import numpy as np
import pytest

from proofs_check.cli.main import main
from vocabulary import Config


@pytest.mark.parametrize("form,train", [("merged", t) for t in ("all", "v", "w")]
                         + [("separate", t) for t in ("all", "v", "kq", "k", "q")])
def test_printed_invariants_are_conserved_along_the_flow(form, train):
    """Each invariant a flow reports as conserved is constant along its trajectory; one the
    subset does not conserve is not reported (K-only moved v2 - |K|^2 from 0 to -3.01)."""
    from numerics.flow import gradient_flow, setup_problem

    objective = "zsfs"
    r = gradient_flow(objective, form, train, Config(3, 10, 5, 0.3, 1.0))
    pb = setup_problem(objective, form, train, Config(3, 10, 5, 0.3, 1.0), theta0=None)[0]
    for k in r.conserved:
        vals = [pb.invariants(c)[k] for c in r.trajectory["coords"]]
        assert max(vals) - min(vals) <= 1e-6 * max(1.0, abs(vals[0])), k
    allk = pb.invariants(r.trajectory["coords"][0])
    moved = [k for k in allk if k not in r.conserved and
             abs(pb.invariants(r.trajectory["coords"][-1])[k] - allk[k]) > 1e-3]
    if (form, train) in (("separate", "k"), ("separate", "kq"), ("separate", "q")):
        assert moved  # a quantity of a frozen matrix's group moves: not printed as invariant


def test_the_evaluation_cap_is_never_passed():
    from numerics.flow import gradient_flow

    for cap in (37, 300):
        r = gradient_flow("zsfs", "merged", "all", Config(3, 10, 5, 0.0, 1.0), max_nfev=cap)
        assert r.stop_reason == "evaluation cap" and r.nfev <= cap


def test_stiff_kq_flow_at_the_top_of_the_lam_range_reaches_the_merged_end_point(capsys):
    from numerics.flow import gradient_flow

    kq = gradient_flow("zsfs", "separate", "kq", Config(3, 10, 5, 0.3, 1000.0))
    w = gradient_flow("zsfs", "merged", "w", Config(3, 10, 5, 0.3, 1000.0))
    assert kq.converged and w.converged and kq.stop_reason == "converged"
    assert abs(kq.loss_end - w.loss_end) <= 1e-7 * w.loss_end
    assert np.isclose(w.loss_end, 587.0142857, atol=1e-7)
    assert main(["finetune", "--objective", "zsfs", "--train", "kq", "--d", "3", "--m", "10", "--N", "5",
                 "--sigma2", "0.3", "--lam", "1000"]) == 0
    out = capsys.readouterr().out
    rows = dict(ln.split(None, 1) for ln in out.splitlines() if ln and not ln.startswith(" "))
    assert rows["loss"].endswith("-> 587.0142857") and rows["stability"].strip() == "minimum"
    assert rows["status"].startswith("converged")
