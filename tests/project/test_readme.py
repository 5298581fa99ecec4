"""The README's "Python API" example runs, and what it prints is checked against
independent computations (the numbers in its comments are not trusted)."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parents[2]


def _python_api_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)
    assert len(section) == 2, "README.md has no '## Python API' section"
    body = section[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    assert blocks, "the Python API section has no ```python block"
    return blocks[0]


def test_readme_python_api_example_runs():
    code = _python_api_block()
    ns: dict = {"__name__": "readme_python_api"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md (Python API)", "exec"), ns)  # the project's own README
    printed = out.getvalue()
    assert printed.strip(), "the example prints nothing"

    from numerics.flow import pretrained_c
    from theory.symbols import c, d, m, sigma2
    c_num = pretrained_c(5, 20, 0.1)
    # c* of the symbolic route equals the closed-form vertex of numerics
    assert abs(float(ns["c_star"].subs({d: 5, m: 20, sigma2: sp.Rational(1, 10)})) - c_num) < 1e-12
    # the zero-shot gradient: -2 c (d+2) theta0 in V[y, x] (claim zs.initial_gradient)
    expected = np.zeros(7)
    expected[1] = -2 * c_num * 7
    assert np.allclose(ns["gV"][-1], expected, atol=1e-10)
    assert np.abs(ns["gW"]).max() < 1e-10
    # the exact loss equals the symbolic one at the same point
    exact = float(ns["L"].subs({c: sp.Float(c_num, 30), d: 5, ns["n"]: 20, sigma2: sp.Rational(1, 10)}))
    assert abs(ns["loss"] - exact) < 1e-10
    # the flow end point is the V-only ZS optimum a = 1/(c (d+4)) (claim zs.v.optimum)
    assert ns["flow"].converged
    assert abs(ns["flow"].final["a"] - 1 / (c_num * 9)) < 1e-6
    assert ns["theory"].latex(ns["c_star"]) in printed


# ------------------------------------------------------------------ README <-> .ci/run
def _readme_commands(readme: str) -> list[str]:
    """The lines of the README's first ```bash block (its two commands)."""
    block = re.search(r"```bash\n(.*?)```", readme, flags=re.S)
    assert block, "README.md has no ```bash block"
    return [ln.strip() for ln in block.group(1).splitlines() if ln.strip()]


def _ci_mismatches(readme: str, ci: str) -> list[str]:
    """What keeps ``.ci/run`` from running the README's two commands, in order, in a fresh
    venv without the system site packages; empty when it does."""
    problems = []
    commands = _readme_commands(readme)
    if len(commands) != 2:
        return [f"the README's first block has {len(commands)} commands, not 2: {commands}"]
    install, test = commands
    if not install.startswith('pip install -e ".[test]"'):
        problems.append(f"the README's first command is not the editable install: {install!r}")
    if "pytest" not in test:
        problems.append(f"the README's second command is not a pytest run: {test!r}")
    lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.strip().startswith("#")]

    def index(pred, what):
        hits = [i for i, ln in enumerate(lines) if pred(ln)]
        if len(hits) != 1:
            problems.append(f".ci/run has {len(hits)} lines that {what}")
            return None
        return hits[0]

    venv = index(lambda ln: "-m venv" in ln, "make a venv")
    activate = index(lambda ln: ln.startswith(". ") and ln.endswith('/bin/activate"'), "activate it")
    i_install = index(lambda ln: ln in (install, install + " || exit $?"), f"run {install!r}")
    i_test = index(lambda ln: ln == test, f"run {test!r}")
    if "--system-site-packages" in ci:
        problems.append(".ci/run makes a venv with the system site packages")
    order = [venv, activate, i_install, i_test]
    if None not in order and order != sorted(order):
        problems.append(f".ci/run runs venv, activate, install, test in the order {order}")
    if i_test is not None and i_test != len(lines) - 1:
        problems.append(".ci/run does something after the README's test command")
    return problems


def test_ci_runs_the_readmes_two_commands_in_a_fresh_venv():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _ci_mismatches(readme, ci) == []


def test_ci_consistency_check_can_fail():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _ci_mismatches(readme.replace("python -m pytest -q -n 2", "python -m pytest -q -n 4", 1), ci)
    assert _ci_mismatches(readme.replace('pip install -e ".[test]" && iclft check',
                                         'pip install -e ".[test]"', 1), ci)
    assert _ci_mismatches(readme, ci.replace('python3 -m venv "$venv"',
                                             'python3 -m venv --system-site-packages "$venv"'))
    assert _ci_mismatches(readme, ci.replace('. "$venv/bin/activate"', "true"))
    assert _ci_mismatches(readme, ci + "echo done\n")
