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


def test_check_json_keys_are_the_documented_ones():
    """The keys listed in README.md ("JSON output") and in proofs_check/report.py."""
    r = run("check", "--only", "pretrain.fewshot_vs_zeroshot", "--only", "zs.initial_gradient", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"claims", "summary"}
    assert set(out["summary"]) == {"total", "verified", "refined", "refuted", "error", "all_verified",
                                   "all_passing", "seconds"}
    assert [c["id"] for c in out["claims"]] == ["pretrain.fewshot_vs_zeroshot", "zs.initial_gradient"]
    for c in out["claims"]:
        assert set(c) == {"id", "title", "status", "statement", "latex", "evidence", "grid", "region",
                          "disagreements", "seconds", "error", "counterexample"}
        assert c["status"] == "verified"
        for e in c["evidence"]:
            assert set(e) == {"kind", "description", "passed", "asserted", "details"}
            assert e["kind"] in {"symbolic", "numeric", "monte-carlo"}


def test_check_markdown_is_a_table():
    r = run("check", "--only", "zs.initial_gradient", "--format", "markdown")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "| claim | status | evidence | grid |" and lines[1] == "|---|---|---|---|"
    assert lines[2].startswith("| `zs.initial_gradient`") and "| verified |" in lines[2]
    assert lines[-1].startswith("**1/1 verified**")


def test_registry_has_the_fourteen_ids():
    from proofs_check.claims import claim_ids
    assert claim_ids() == [
        "pretrain.optimum", "pretrain.fewshot_vs_zeroshot", "zs.initial_gradient", "zs.w_only_stationary",
        "zs.all.minimizers", "zs.all.flow_limit", "zs.all.icl_degraded", "zs.v.optimum", "zs.v.icl_preserved",
        "zsfs.v.optimum", "zsfs.v.tradeoff", "zsfs.all.tradeoff", "zsfs.w.tradeoff", "gradients.agree"]


@pytest.mark.slow
def test_full_check_verifies_every_claim():
    """The main job end to end: every claim is re-derived and verified, except
    zs.v.icl_preserved and zsfs.v.tradeoff, refined with a counterexample (exit status 0)."""
    r = run("check", "--format", "json")
    out = json.loads(r.stdout)
    refined_ids = {"zs.v.icl_preserved", "zsfs.v.tradeoff"}
    want = {c["id"]: "refined" if c["id"] in refined_ids else "verified" for c in out["claims"]}
    bad = [(c["id"], c["status"], c["error"]) for c in out["claims"] if c["status"] != want[c["id"]]]
    assert r.returncode == 0 and not bad, bad
    s = out["summary"]
    assert s["total"] == 14 and s["refined"] == 2 and s["verified"] == 12 and s["all_passing"] is True
    for refined in (c for c in out["claims"] if c["id"] in refined_ids):
        assert set(refined["counterexample"]["config"]) == {"d", "m", "N", "sigma2", "lam"}
