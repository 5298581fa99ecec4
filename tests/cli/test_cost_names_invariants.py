"""Issue 19 items 4, 5, 8: refusal before long work, one BLAS thread, advertised names that
work, invariants that are invariant, evaluation caps that hold, the stiff kq flow."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from proofs_check.cli.main import main


def _no_flow(*_a, **_k):
    raise AssertionError("a flow was started before the refusal")


@pytest.mark.parametrize("argv,limit", [
    (["curve", "--method", "zs-all", "--task", "target", "--d", "2000", "--quiet"], "d <= 800"),
    (["curve", "--method", "zs-all", "--task", "target", "--d", "2000", "--start", "symmetric"], "d <= 800"),
    (["curve", "--method", "zs-all", "--task", "target", "--d", "30"], "limit 1200"),
    (["finetune", "--objective", "zs", "--train", "all", "--d", "900"], "d <= 800"),
    (["curve", "--d", "2000"], "d <= 800"),  # the command: the limit before missing options
    (["figures", "--out", "x", "--d", "801"], "d <= 800"),
])
def test_long_work_is_refused_at_once(capsys, monkeypatch, argv, limit):
    import numerics.flow
    import numerics.endpoints
    import numerics.stability

    for mod, name in ((numerics.flow, "gradient_flow"), (numerics.endpoints, "generic_outcome"),
                      (numerics.endpoints, "symmetric_outcome"), (numerics.stability, "full_flow")):
        monkeypatch.setattr(mod, name, _no_flow)
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - t0 < 30  # a sanity bound only; the monkeypatch is the test
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and limit in err[0]


def test_a_long_flow_warns_first(capsys, monkeypatch):
    from proofs_check.cli import commands

    monkeypatch.setattr(commands, "run", lambda args: ("", 0))
    assert main(["curve", "--method", "zs-v", "--task", "target", "--d", "500", "--start", "symmetric"]) == 0
    assert "warning: a flow at d = 500" in capsys.readouterr().err
    assert main(["curve", "--method", "zs-v", "--task", "target", "--d", "500", "--start", "symmetric",
                 "--quiet"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("user", [None, "3"])
def test_one_blas_thread_unless_the_user_chose(user):
    env = {k: v for k, v in os.environ.items() if k not in
           ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}
    if user:
        env["OPENBLAS_NUM_THREADS"] = user
    code = ("import os, sys; from proofs_check.cli import main as cli; cli._single_threaded_blas(); "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'), "
            "'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == (["1", "1", "False"] if user is None else ["3", "None", "False"])


def test_every_advertised_name_works_in_every_function_that_takes_names():
    import sympy as sp

    import theory

    names = list(theory.registry()) + list(theory.gradient_names())
    assert "grad.zsfs.merged.v.V" in names
    for name in names:
        expr = theory.derived(name)
        assert isinstance(expr, (sp.Basic, sp.MatrixBase)), name
        assert isinstance(theory.latex(name), str) and theory.latex(name), name
    import vocabulary

    for name in vocabulary.OBJECTIVES:  # theory.objective takes every objective name
        assert isinstance(theory.objective(name), sp.Basic), name
    # the error message advertises exactly these
    with pytest.raises(ValueError, match=r"grad\.<objective>\.<form>\.<subset>\.<matrix>"):
        theory.derived("nope")
    with pytest.raises(ValueError):
        theory.derived("grad.zs.merged.v.W")  # W is not trained by v


@pytest.mark.parametrize("form,train", [("merged", t) for t in ("all", "v", "w")]
                         + [("separate", t) for t in ("all", "v", "kq", "k", "q")])
def test_printed_invariants_are_conserved_along_the_flow(form, train):
    """Each invariant a flow reports as conserved is constant along its trajectory; one the
    subset does not conserve is not reported (K-only moved v2 - |K|^2 from 0 to -3.01)."""
    from numerics.flow import gradient_flow, setup_problem

    objective = "zsfs"
    r = gradient_flow(objective, train, 3, 10, 5, 0.3, 1.0, form=form)
    pb = setup_problem(objective, train, 3, 10, 5, 0.3, 1.0, form, None)[0]
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
        r = gradient_flow("zsfs", "all", 3, 10, 5, 0.0, 1.0, max_nfev=cap)
        assert r.stop_reason == "evaluation cap" and r.nfev <= cap


def test_stiff_kq_flow_at_the_top_of_the_lam_range_reaches_the_merged_end_point(capsys):
    from numerics.flow import gradient_flow

    kq = gradient_flow("zsfs", "kq", 3, 10, 5, 0.3, 1000.0, form="separate")
    w = gradient_flow("zsfs", "w", 3, 10, 5, 0.3, 1000.0)
    assert kq.converged and w.converged and kq.stop_reason == "converged"
    assert abs(kq.loss_end - w.loss_end) <= 1e-7 * w.loss_end
    assert np.isclose(w.loss_end, 587.0142857, atol=1e-7)
    assert main(["finetune", "--objective", "zsfs", "--train", "kq", "--d", "3", "--m", "10", "--N", "5",
                 "--sigma2", "0.3", "--lam", "1000"]) == 0
    out = capsys.readouterr().out
    rows = dict(ln.split(None, 1) for ln in out.splitlines() if ln and not ln.startswith(" "))
    assert rows["loss"].endswith("-> 587.0142857") and rows["stability"].strip() == "minimum"
    assert rows["status"].startswith("converged")


def test_pretrained_scale_keeps_the_exact_start_labels(capsys):
    assert main(["finetune", "--objective", "zs", "--train", "w", "--pretrained-scale", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "final b            1/2 (not trained: exact start value)" in out
