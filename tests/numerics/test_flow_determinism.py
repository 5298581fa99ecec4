"""Same input, same answer: flows stop on flow time or on an evaluation count, never on the
clock, and report why they stopped."""
import json
import os
import subprocess
import sys

import pytest

from numerics import flow
from vocabulary import Config

CURVE = ["curve", "--method", "zsfs-all", "--task", "orthogonal", "--sigma2", "0", "--d", "3",
         "--m", "10", "--N", "5", "--shots", "1:1", "--format", "json"]


def _run(argv, seed):
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    r = subprocess.run([sys.executable, "-m", "proofs_check", *argv], capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_curve_json_is_byte_identical_under_two_hash_seeds():
    """The sigma2 = 0 full ZS+FS flow never converges: it must stop on the evaluation cap
    (not on the clock) and give the same bytes under PYTHONHASHSEED=0 and =1."""
    out0, out1 = _run(CURVE, 0), _run(CURVE, 1)
    assert out0 == out1
    fl = json.loads(out0)["flow"]
    assert fl["stop_reason"] == "evaluation cap" and not fl["converged"]
    assert fl["nfev"] == flow.DEFAULT_MAX_NFEV  # the whole budget, never more


def test_finetune_prints_the_stop_reason():
    out = json.loads(_run(["finetune", "--objective", "zs", "--train", "v", "--format", "json"], 0))
    assert out["stop_reason"] == "converged" and out["converged"]
    text = _run(["finetune", "--objective", "zs", "--train", "v"], 0)
    assert "stop reason" in text and "converged" in text


@pytest.mark.parametrize("kwargs, reason", [({"t_max": 1.0}, "t cap"), ({"max_nfev": 50}, "evaluation cap"),
                                            ({}, "converged")])
def test_stop_reasons(kwargs, reason):
    r = flow.gradient_flow("zsfs", "merged", "v", Config(3, 10, 5, 0.1, 1.0), **kwargs)
    assert r.stop_reason == reason and r.stop_reason in flow.STOP_REASONS
    assert r.converged == (reason == "converged")
    if reason == "t cap":
        assert r.t_final == pytest.approx(1.0)
    if reason == "evaluation cap":
        assert r.nfev >= 50 and r.t_final < r.t_max


def test_no_wall_clock_cap_is_accepted():
    with pytest.raises(TypeError):
        flow.gradient_flow("zs", "merged", "v", Config(3, 10, 5, 0.1, 1.0), max_wall=1.0)
    with pytest.raises(ValueError, match="max_nfev"):
        flow.gradient_flow("zs", "merged", "v", Config(3, 10, 5, 0.1, 1.0), max_nfev=0)


def test_same_flow_twice_gives_the_same_summary():
    a = flow.gradient_flow("zsfs", "merged", "all", Config(3, 10, 5, 0.1, 1.0), max_nfev=3000).summary()
    b = flow.gradient_flow("zsfs", "merged", "all", Config(3, 10, 5, 0.1, 1.0), max_nfev=3000).summary()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
