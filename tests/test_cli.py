"""The ``iclft`` command line: exit statuses, one-line errors, and output formats."""
import json
import subprocess
import sys

import pytest

from proofs_check.cli import main


def run(*argv):
    return subprocess.run([sys.executable, "-m", "proofs_check", *argv], capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("argv", [
    ["curve", "--method", "nope", "--task", "target"],
    ["curve", "--method", "zs-v", "--task", "target", "--d", "0"],
    ["curve", "--method", "zs-v", "--task", "target", "--shots", "5:2"],
    ["curve", "--method", "zs-v", "--task", "target", "--sigma2", "nan"],
    ["curve", "--method", "zs-v", "--task", "target", "--sigma2", "-1"],
    ["curve", "--method", "zs-v", "--task", "orthogonal", "--d", "1"],
    ["finetune", "--objective", "zs", "--train", "kq", "--form", "merged"],
    ["finetune", "--objective", "zs", "--train", "w", "--form", "separate"],
    ["check", "--only", "no.such.claim"],
    ["frobnicate"],
    [],
])
def test_bad_arguments_exit_2_with_one_line(argv):
    r = run(*argv)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iclft: error:")
    assert "Traceback" not in r.stderr


def test_curve_json_matches_text():
    r = run("curve", "--method", "zs-v", "--task", "target", "--shots", "0:3", "--format", "json")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["shots"] == [0, 1, 2, 3] and len(out["error"]) == 4
    t = run("curve", "--method", "zs-v", "--task", "target", "--shots", "0:3")
    vals = [float(line.split()[1]) for line in t.stdout.strip().splitlines()[-4:]]
    assert vals == pytest.approx(out["error"], rel=1e-9)


def test_main_returns_status_in_process(capsys):
    assert main(["derive", "--objective", "zs", "--train", "v", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["gradient"]) == {"V"}
