"""The ``iclft`` command line: exit statuses, one-line errors, and output formats."""
import json
import re
import subprocess
import sys

import pytest

from proofs_check.cli.main import main


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
    ["check", "--only", "zs.v.optimum,,pretrain.optimum"],
    ["frobnicate"],
    ["curve", "--method", "zs-v", "--task", "target", "--shots", "-1:3"],
    ["curve", "--method", "zs-v", "--task", "target", "--m", "0"],
    ["finetune", "--objective", "zs", "--train", "all", "--m", "0"],
    ["figures", "--out", "/nonexistent-parent/figs"],
    ["export-latex", "/nonexistent-parent/x.tex", "--no-claims"],
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
    assert vals == pytest.approx(out["error"], abs=1e-7)  # text is rounded to the flow's accuracy


def test_main_returns_status_in_process(capsys):
    assert main(["derive", "--objective", "zs", "--train", "v", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["gradient"]) == {"V"}


def test_check_json_keys_are_the_documented_ones():
    """The keys listed in README.md ("JSON output") and in proofs_check/cli/report.py."""
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
            assert e["kind"] in {"symbolic", "numeric", "monte-carlo", "search"}


def test_check_markdown_is_a_table():
    r = run("check", "--only", "zs.initial_gradient", "--format", "markdown")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "| claim | status | evidence | grid |" and lines[1] == "|---|---|---|---|"
    assert lines[2].startswith("| `zs.initial_gradient`") and "| verified |" in lines[2]
    assert lines[-1].startswith("**1/1 verified**")


def test_registry_ids_are_unique_and_documented_in_order():
    """The registry's ids are unique and follow docs/theory.md section 5 (the order of the report)."""
    from pathlib import Path

    from proofs_check.claims import claim_ids

    ids = claim_ids()
    assert len(ids) == len(set(ids))
    text = (Path(__file__).resolve().parents[2] / "docs" / "theory.md").read_text(encoding="utf-8")
    section = text.split("## 5.", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"\*\*`([a-z_.]+)`\*\*", section) == ids


@pytest.mark.slow
def test_full_check_verifies_every_claim():
    """The main job end to end: every claim gets the status its registry entry expects
    (``Claim.expected``: ``refined`` with a counterexample where the paper's wording fails,
    else ``verified``); exit status 0."""
    from proofs_check.claims import registry

    r = run("check", "--format", "json")
    out = json.loads(r.stdout)
    want = {c.id: c.expected for c in registry()}
    assert [c["id"] for c in out["claims"]] == list(want)
    bad = [(c["id"], c["status"], c["error"]) for c in out["claims"] if c["status"] != want[c["id"]]]
    assert r.returncode == 0 and not bad, bad
    s = out["summary"]
    refined = sum(v == "refined" for v in want.values())
    assert (s["total"], s["refined"], s["verified"]) == (len(want), refined, len(want) - refined)
    assert s["all_passing"] is True
    for c in out["claims"]:
        if c["status"] == "refined":
            assert set(c["counterexample"]["config"]) == {"d", "m", "N", "sigma2", "lam"}


# --------------------------------------------------------------------------- a CLI that explains itself
def test_no_arguments_prints_usage_with_subcommands():
    r = run()
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("usage: iclft")
    for cmd in ("check", "curve", "finetune", "derive", "export-latex", "figures"):
        assert cmd in r.stdout


def test_version_comes_from_package_metadata():
    from importlib import metadata
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"iclft {metadata.version('iclft')}"


def _subparsers():
    import argparse

    from proofs_check.cli.main import build_parser
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, action.choices


def test_every_option_has_help_and_every_subcommand_an_example():
    parser, subs = _subparsers()
    for name, sp_ in subs.items():
        for action in sp_._actions:
            assert action.help, (name, action.dest)
        text = sp_.format_help()
        assert "examples:" in text and f"iclft {name}" in text.split("examples:")[1], name
        # examples are printed verbatim (RawDescriptionHelpFormatter), one per line
        for ex in text.split("examples:")[1].strip("\n").splitlines():
            assert ex.startswith("  iclft "), ex


def test_choices_list_their_meanings_from_vocabulary():
    import vocabulary as V
    _, subs = _subparsers()
    help_text = " ".join(subs["curve"].format_help().split())
    for name in V.methods_for("merged"):
        assert f"{name}:" in help_text
    for name, task in V.TASKS.items():
        assert f"{name}: {task.text}" in help_text
    ft = " ".join(subs["finetune"].format_help().split())
    for name in V.FINETUNE_OBJECTIVES:
        assert f"{name}: {V.OBJECTIVES[name].description}" in ft
    for key in ("all", "v", "w", "kq", "k", "q"):
        assert f"{key}:" in ft


def test_unknown_claim_id_suggests_and_lists():
    from proofs_check.claims import registry
    r = run("check", "--only", "zs.v.optimun")
    assert r.returncode == 2
    line = r.stderr.strip()
    assert "did you mean 'zs.v.optimum'?" in line
    for c in registry():
        assert c.id in line


def test_only_takes_comma_separated_ids():
    from proofs_check.cli.main import check_claim_ids
    assert check_claim_ids([["a", "b"], ["a"]], ["a", "b", "c"]) == ["a", "b"]
    r = run("check", "--only", "zs.v.optimum,pretrain.optimum", "--format", "json")
    assert r.returncode == 0, r.stderr
    ids = [c["id"] for c in json.loads(r.stdout)["claims"]]
    assert ids == ["pretrain.optimum", "zs.v.optimum"]  # registry order


def test_negative_shots_reach_their_own_validator():
    r = run("curve", "--method", "zs-v", "--task", "target", "--shots", "-1:3")
    assert "expected one argument" not in r.stderr
    assert "0 <= A <= B" in r.stderr and "'-1:3'" in r.stderr


@pytest.mark.parametrize("argv, expected", [
    (["--m", "0"], "argument --m: m must be >= 1, got 0"),
    (["--d", "0"], "argument --d: d must be >= 1, got 0"),
    (["--N", "-1"], "argument --N: N must be >= 0, got -1"),
    (["--sigma2", "-1"], "argument --sigma2: sigma2 must be in [0.0, 1000], got '-1'"),
    (["--task", "orthogonal", "--d", "1"], "argument --d: the orthogonal task needs d >= 2, got 1"),
])
def test_domain_rules_in_the_parser_one_format(argv, expected, capsys):
    base = ["curve", "--method", "zs-v"] + ([] if "--task" in argv else ["--task", "target"])
    assert main(base + argv) == 2
    assert capsys.readouterr().err.strip() == f"iclft: error: {expected}"


# --------------------------------------------------------------------------- valid and complete output
def _md_rows(text):
    return [ln for ln in text.splitlines() if ln.startswith("|")]


def _unescaped_pipes(row):
    import re
    return len(re.findall(r"(?<!\\)\|", row))


def test_markdown_cells_are_escaped():
    from proofs_check.export.table_cells import md_cell
    assert md_cell("|g| = 1") == "\\|g\\| = 1"
    assert md_cell("a\nb") == "a<br>b"
    r = run("finetune", "--objective", "zs", "--train", "v", "--format", "markdown")
    assert r.returncode == 0, r.stderr
    rows = _md_rows(r.stdout)
    assert len(rows) > 5 and "\\|grad\\|" in r.stdout
    assert all(_unescaped_pipes(row) == 3 for row in rows), rows  # two cells per row


def test_finetune_names_precision_and_full_trajectory():
    import vocabulary as V
    r = run("finetune", "--objective", "zs", "--train", "all", "--form", "separate", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert list(out["final_separate"]) == list(V.coordinate_names("separate"))
    traj = out["trajectory"]
    assert traj["points"] == len(traj["t"]) == len(traj["loss"]) == len(traj["grad_norm"]) >= 2
    for series in traj.get("coords", {}).values():
        assert len(series) == traj["points"]
    assert set(traj.get("coords", {})) <= set(V.coordinate_names("separate"))
    assert "stop_reason" in out
    t = run("finetune", "--objective", "zs", "--train", "v")
    text = t.stdout
    assert re.search(r"final q +0 \(not trained: exact start value\)", text)
    assert re.search(r"final alpha +42/53 \(not trained: exact start value\)", text)
    finals = [ln for ln in text.splitlines() if ln.startswith("final")]
    assert finals and not any("e-" in ln for ln in finals)  # no sub-tolerance noise such as -8.37e-27
    for line in text.splitlines():
        if line.startswith("final a"):
            assert len(line.split()[-1].split(".")[-1]) <= 7  # printed to the 1e-7 accuracy


def test_fmt_tol_rounds_to_the_accuracy():
    from proofs_check.cli.endpoint_text import fmt_tol, vocab_name
    assert fmt_tol(-8.37e-27) == "0"
    assert fmt_tol(0.53984389612) == "0.5398439"
    assert fmt_tol(1.0) == "1"
    assert fmt_tol(0.539843896, 1e-3) == "0.54"
    assert [vocab_name(k) for k in ("K_00", "K_par", "K_xy", "K_yx", "Q_perp", "KKt_minus_QQt_par", "a")] == \
        ["K_0", "K_tt", "K_ty", "K_yt", "Q_perp", "KKt_minus_QQt_tt", "a"]


def test_derive_uses_the_vocabulary_names():
    r = run("derive", "--objective", "zs", "--train", "kq", "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["gradient"]["K"]) == {"0", "tt", "ty", "yt", "yy", "perp"}
    assert "K_perp" in out["flow"] and "K_00" not in out["flow"] and "K_p" not in out["flow"]
    assert "K_00" not in r.stdout and "K_{p}" not in r.stdout and "\\cdot" not in r.stdout
    t = run("derive", "--objective", "zs", "--train", "w", "--latex")
    # one name per basis matrix: its subscript, as in G_{\perp} and K_{\perp}
    assert "]_{\\perp}" in t.stdout and "\\Pi" not in t.stdout and "\\cdot" not in t.stdout
