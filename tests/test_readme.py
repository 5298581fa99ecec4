"""The README's "Python API" example runs, and what it prints is checked against
independent computations (the numbers in its comments are not trusted)."""
from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import sympy as sp

ROOT = Path(__file__).resolve().parent.parent


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
