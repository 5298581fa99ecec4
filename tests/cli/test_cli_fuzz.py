"""Fuzzed command lines: every argument list with an invalid element exits 2 with one clean
stderr line, never a traceback."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proofs_check.cli import main as cli

SUBCOMMANDS = ["check", "curve", "finetune", "derive", "export-latex", "figures"]
FLAGS = ["--method", "--task", "--d", "--m", "--N", "--sigma2", "--lam", "--shots", "--objective",
         "--train", "--form", "--format", "--only", "--out", "--latex", "--sgd"]
BAD_VALUES = ["-1", "0x10", "nan", "inf", "-inf", "1e999", "", " ", "abc", "2.5", "3:1", "-2:4", "1:2:3",
              "zs-everything", "target2", "ALL", "json5", "--", "\x00", "é", "1e-400", "999999999",
              "'; rm -rf /'", "__import__('os')", "1/0"]
GOOD = {"--method": ["zs-v", "pretrained"], "--task": ["target", "sphere"], "--d": ["2", "5"],
        "--m": ["5", "20"], "--N": ["3"], "--sigma2": ["0.1"], "--lam": ["1"], "--shots": ["0:2"],
        "--objective": ["zs"], "--train": ["v"], "--form": ["merged"], "--format": ["json", "text"]}


@st.composite
def bad_argv(draw):
    """An argument list that contains at least one invalid element."""
    argv = []
    if draw(st.booleans()):
        argv.append(draw(st.sampled_from(SUBCOMMANDS)))
    for _ in range(draw(st.integers(0, 5))):
        flag = draw(st.sampled_from(FLAGS))
        vals = GOOD.get(flag, []) + BAD_VALUES
        argv += [flag, draw(st.sampled_from(vals))]
    # inject one element that is certainly invalid at a random place
    poison = draw(st.sampled_from([
        ["--d", draw(st.sampled_from(["0", "-3", "x", "2.0", "nan"]))],
        ["--sigma2", draw(st.sampled_from(["-0.5", "nan", "inf", "abc"]))],
        ["--shots", draw(st.sampled_from(["5:1", "a:b", "3", "-1:2"]))],
        ["--no-such-flag"],
        [draw(st.text(alphabet="abcxyz-_!", min_size=1, max_size=8)).lstrip("-") or "x"],
        ["--method", "zs-nope"],
        ["--format", "yaml"],
    ]))
    pos = draw(st.integers(0, len(argv)))
    return argv[:pos] + poison + argv[pos:]


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(bad_argv())
def test_fuzzed_bad_arguments_exit_2_with_one_clean_line(argv):
    import contextlib
    import io

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # --help may exit 0; nothing else may raise
            code = exc.code
    text = err.getvalue()
    if code == 0 and ("-h" in argv or "--help" in argv):
        return
    assert code == 2, (argv, code, text)
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("iclft: error:"), (argv, text)
    assert "Traceback" not in text
