"""The cost of a command: long work refused before it starts (one stderr line, exit 2), a
long flow warned about first, and one BLAS thread unless the user chose."""
import os
import subprocess
import sys
import time

import pytest

from proofs_check.cli.main import main


def _no_flow(*_a, **_k):
    raise AssertionError("a flow was started before the refusal")


@pytest.mark.parametrize("argv,limit", [
    (["curve", "--method", "zs-all", "--task", "target", "--d", "2000", "--quiet"], "d <= 800"),
    (["curve", "--method", "zs-all", "--task", "target", "--d", "2000", "--start", "symmetric"], "d <= 800"),
    (["curve", "--method", "zs-all", "--task", "target", "--d", "30"], "limit 1200"),
    (["finetune", "--objective", "zs", "--train", "all", "--d", "900"], "d <= 800"),
    (["curve", "--d", "2000"], "d <= 800"),  # the limit is checked before the missing options
    (["figures", "--out", "x", "--d", "801"], "d <= 800"),
])
def test_long_work_is_refused_at_once(capsys, monkeypatch, argv, limit):
    import numerics.flow
    import numerics.endpoints
    import numerics.full_space

    for mod, name in ((numerics.flow, "gradient_flow"), (numerics.endpoints, "generic_outcome"),
                      (numerics.endpoints, "symmetric_outcome"), (numerics.full_space, "full_flow")):
        monkeypatch.setattr(mod, name, _no_flow)
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - t0 < 30  # a sanity bound only; the monkeypatch is the test
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and limit in err[0]


def test_a_long_flow_warns_first(capsys, monkeypatch):
    from proofs_check.cli import main as cli_main

    monkeypatch.setattr(cli_main, "run_command", lambda args: ("", 0))
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
    code = ("import os, sys; from proofs_check.cli import main as cli; cli.single_threaded_blas(); "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'), "
            "'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == (["1", "1", "False"] if user is None else ["3", "None", "False"])
