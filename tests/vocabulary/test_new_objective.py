"""A new objective costs one vocabulary entry: both routes compute it from its terms, and
every command runs with it.

This is the path of the README section "How to add an objective".  Two ways in:

* :func:`test_one_vocabulary_entry_is_all_a_new_objective_takes` copies
  ``vocabulary/__init__.py``, adds ONE ``Objective`` entry to its ``OBJECTIVES`` table (the
  only difference, checked) and runs ``derive``, ``curve``, ``finetune``, ``figures`` and
  ``check --only gradients.agree`` with the new objective in a fresh interpreter that
  imports that copy and every other package unchanged (so tables built at import time from
  the vocabulary, the methods and the CLI choices among them, see the new entry).
* The other tests add entries to ``vocabulary.OBJECTIVES`` in this process (monkeypatch)
  and check that the symbolic objective and gradient (theory) agree with the closed-form
  NumPy ones (numerics) at a generic manifold point, that the flow and SGD run, and that the
  command line offers the new name.
"""
import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import vocabulary
from vocabulary import Config, Objective, Term

NEW = {
    "fs_sphere": Objective("fs_sphere", (Term("N", "sphere"),), "FS_sphere", r"\mathrm{FS}_{S}",
                           "FS-sphere", "few-shot error averaged over theta ~ U(S^{d-1})"),
    "zsfs7": Objective("zsfs7", (Term(0, "target"), Term(7, "target", "lam"), Term(2, "negated", 0.25)),
                       "ZS + lam FS_7 + FS_2(-theta0)/4", r"\mathrm{ZS} + \lambda\,\mathrm{FS}_7",
                       "ZS+FS7", "ZS plus lam times the 7-shot error plus a quarter of the 2-shot error on -theta0"),
}
POINT = {"a": sp.Rational(3, 8), "b": sp.Rational(7, 8), "q": sp.Rational(-1, 4),
         "alpha": sp.Rational(5, 8), "beta": sp.Rational(9, 16), "h": sp.Rational(1, 8)}
CFG = {"d": 4, "m": 9, "N": 5, "sigma2": sp.Rational(1, 10), "lam": sp.Rational(3, 2)}


@pytest.fixture
def new_objectives(monkeypatch):
    for name, obj in NEW.items():
        monkeypatch.setitem(vocabulary.OBJECTIVES, name, obj)
    return tuple(NEW)


def _subs():
    from theory import symbols as S
    return {**{getattr(S, k): v for k, v in POINT.items()},
            S.d: CFG["d"], S.m: CFG["m"], S.N: CFG["N"], S.sigma2: CFG["sigma2"], S.lam: CFG["lam"]}


def _numeric_point():
    from numerics.manifold import merged_point
    t0 = np.array([0.6, 0.0, 0.8, 0.0])
    V, W = merged_point({k: float(v) for k, v in POINT.items()}, t0)
    return V, W, t0


@pytest.mark.parametrize("name", tuple(NEW))
def test_symbolic_and_numpy_objectives_agree(new_objectives, name):
    import theory
    from numerics.finetune_objective import objective_value

    exact = theory.objective(name).xreplace(_subs())
    assert exact.is_Rational  # exact all the way
    V, W, t0 = _numeric_point()
    num = objective_value(name, V, W, t0, Config(CFG["d"], CFG["m"], CFG["N"], float(CFG["sigma2"]), float(CFG["lam"])))
    assert num == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize("name", tuple(NEW))
def test_symbolic_and_numpy_gradients_agree(new_objectives, name):
    from numerics.finetune_objective import objective_grad
    from numerics.manifold import project
    from theory import gradient, symbols as S

    res = gradient(name, "all", "merged")
    V, W, t0 = _numeric_point()
    cfg = Config(CFG["d"], CFG["m"], CFG["N"], float(CFG["sigma2"]), float(CFG["lam"]))
    gV, gW = objective_grad(name, V, W, t0, cfg)
    proj = project(gV, gW, t0)
    assert proj.residual < 1e-10 * max(1.0, proj.norm)  # the gradient is tangent to the manifold
    for nm in vocabulary.coordinate_names("merged"):
        sym = -res.flow[getattr(S, nm)].xreplace(_subs())
        assert proj.coeffs[nm] == pytest.approx(float(sym), rel=1e-10, abs=1e-12), nm


@pytest.mark.parametrize("name", tuple(NEW))
def test_flow_runs_and_decreases_the_new_objective(new_objectives, name):
    from numerics import flow

    r = flow.gradient_flow(name, "merged", "v", Config(3, 10, 5, 0.1, 1.0))
    assert r.stop_reason == "converged" and r.loss_end < r.loss_start
    # the exact flow of the merged-all subset runs too (within its evaluation budget)
    r = flow.gradient_flow(name, "merged", "all", Config(3, 10, 5, 0.1, 1.0), max_nfev=2000)
    assert r.stop_reason in flow.STOP_REASONS and r.loss_end < r.loss_start


@pytest.mark.parametrize("name", tuple(NEW))
def test_sgd_runs_on_the_new_objective(new_objectives, name):
    from numerics.finetune_objective import objective_value
    from numerics.sgd import sgd_finetune

    from numerics.pretrained import pretrained_point

    t0 = np.eye(3)[0]
    start = objective_value(name, *pretrained_point(3, 10, 0.1), t0, Config(3, 10, 5, 0.1, 1.0))
    r = sgd_finetune(name, "merged", "v", Config(3, 10, 5, 0.1, 1.0), lr=0.01, steps=400, batch=32, seed=1)
    assert r.loss_end == pytest.approx(objective_value(name, r.V, r.W, t0, Config(3, 10, 5, 0.1, 1.0)))
    assert r.loss_end < start


def test_cli_offers_the_new_objectives(new_objectives, capsys):
    from proofs_check.cli.main import main

    assert main(["finetune", "--objective", "fs_sphere", "--train", "v", "--d", "3", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == "fs_sphere" and out["stop_reason"] == "converged"
    assert main(["derive", "--objective", "zsfs7", "--train", "v", "--format", "json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["gradient"]) == {"V"}


def test_unknown_objectives_are_refused_everywhere():
    import theory
    from numerics import flow
    from vocabulary import Config
    from proofs_check.claims.gradients import numeric_gradient

    with pytest.raises(ValueError, match="objective"):
        theory.objective("ls")
    with pytest.raises(ValueError, match="objective"):
        theory.gradient("ls")
    with pytest.raises(ValueError, match="objective"):
        flow.gradient_flow("ls", "merged", "v", Config(3, 10, 5, 0.0, 1.0))
    from theory import symbols as S
    coords = {getattr(S, k): 0.5 for k in vocabulary.coordinate_names("merged")}
    with pytest.raises(ValueError, match="objective"):  # it used to compute zsfs silently
        numeric_gradient("ls", "merged", Config(3, 10, 5, 0.1, 1.0), coords, np.eye(3)[0])


# ----------------------------------------------------------------------------- one file edited
#: the entry added to the ``OBJECTIVES`` table of a copy of ``vocabulary/__init__.py``: ZS on
#: theta0 plus lam times FS on -theta0; it declares no line style and no SGD settings
ENTRY = '''
    Objective("zsfsneg", (Term(0, "target"), Term("N", "negated", "lam")), "ZS + lam FS(-theta0)",
              r"\\mathrm{ZS} + \\lambda\\,\\mathrm{FS}_{-\\theta_0}", "ZS+FSneg",
              "zero-shot error on theta0 plus lam times the few-shot error on -theta0"),'''

#: run in the fresh interpreter: each command through ``proofs_check.cli.main.main``, its
#: exit status and output collected as JSON on stdout
DRIVER = '''
import contextlib, io, json, sys
from proofs_check.cli.main import main

out = {}
for name, argv in json.loads(sys.argv[1]).items():
    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        rc = main(argv)
    out[name] = {"rc": rc, "out": buf.getvalue(), "err": err.getvalue()}

import vocabulary, theory, numerics, proofs_check
from proofs_check.export import figure_style, figures
from vocabulary import Config
out["files"] = {m.__name__: m.__file__ for m in (vocabulary, theory, numerics, proofs_check)}
out["styles"] = {m: repr(tuple(figure_style.method_style(m).__dict__.values())) for m in vocabulary.METHODS}
run = figures.icl_curves_data(Config(d=2, m=20, N=20, sigma2=0.1, lam=1.0), sgd=True, methods=("zsfsneg-v",),
                              sgd_shots=(0, 20))["sgd"]["zsfsneg-v"]
out["sgd"] = {k: run[k] for k in ("lr", "steps", "batch")}
print(json.dumps(out))
'''


def _vocabulary_with_entry(folder: Path) -> Path:
    """``folder/vocabulary``: a copy of the package with :data:`ENTRY` appended to the
    ``OBJECTIVES`` table, and nothing else changed."""
    src = Path(vocabulary.__file__).parent
    dst = folder / "vocabulary"
    dst.mkdir()
    for f in src.glob("*.py"):
        (dst / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    text = (src / "__init__.py").read_text(encoding="utf-8")
    table = text.index("OBJECTIVES: dict[str, Objective] = {o.name: o for o in (")
    end = text.index("\n)}\n", table)
    (dst / "__init__.py").write_text(text[:end] + ENTRY + text[end:], encoding="utf-8")
    return dst


def test_one_vocabulary_entry_is_all_a_new_objective_takes(tmp_path):
    new = _vocabulary_with_entry(tmp_path)
    old = Path(vocabulary.__file__).parent
    diff = [ln for ln in difflib.unified_diff((old / "__init__.py").read_text().splitlines(),
                                              (new / "__init__.py").read_text().splitlines(), lineterm="", n=0)
            if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    assert diff == ["+" + ln for ln in ENTRY.splitlines()[1:]]  # one entry added, nothing else

    figs = tmp_path / "figs"
    commands = {
        "derive": ["derive", "--objective", "zsfsneg", "--train", "v", "--no-cache", "--format", "json"],
        "curve": ["curve", "--method", "zsfsneg-all", "--task", "negated", "--d", "2", "--shots", "0:4",
                  "--format", "json"],
        "finetune": ["finetune", "--objective", "zsfsneg", "--train", "v", "--d", "2", "--format", "json"],
        "figures": ["figures", "--out", str(figs), "--sgd", "off", "--d", "2", "--format", "json"],
        "check": ["check", "--only", "gradients.agree", "--no-cache", "--jobs", "1", "--format", "json"],
    }
    root = Path(vocabulary.__file__).resolve().parent.parent  # where the other packages are
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)]),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(commands)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(res["files"]["vocabulary"]).parent == new
    assert all(Path(f).parent.parent == root for k, f in res["files"].items() if k != "vocabulary")
    for name in commands:
        assert res[name]["rc"] == 0, (name, res[name]["err"][-2000:])
    out = {name: json.loads(res[name]["out"]) for name in commands}

    assert out["derive"]["objective"] == "zsfsneg" and set(out["derive"]["gradient"]) == {"V"}
    assert out["curve"]["shots"] == [0, 1, 2, 3, 4] and all(np.isfinite(out["curve"]["error"]))
    assert out["finetune"]["objective"] == "zsfsneg" and out["finetune"]["stop_reason"] == "converged"
    assert out["finetune"]["loss_end"] < out["finetune"]["loss_start"]
    # the figures draw the new methods (merged form), each with a style of its own
    assert {"zsfsneg-all", "zsfsneg-v", "zsfsneg-w"} <= set(out["figures"]["methods"])
    assert sorted(p.name for p in figs.iterdir()) == sorted(f"{n}.{e}" for n in ("icl_curves", "w_star",
                                                            "flow_trajectories", "pretrained_threshold")
                                                            for e in ("png", "pdf"))
    assert len(set(res["styles"].values())) == len(res["styles"]) and "zsfsneg-q" in res["styles"]
    # an objective that declares no SGD settings runs with the default (lr at d = 2 unscaled)
    assert (res["sgd"]["lr"], res["sgd"]["steps"]) == vocabulary.DEFAULT_SGD
    # gradients.agree covers every objective of the vocabulary, the new one too
    (claim,) = out["check"]["claims"]
    assert claim["id"] == "gradients.agree" and claim["status"] == "verified"
    assert f"{len(vocabulary.OBJECTIVES) + 1} objectives" in json.dumps(claim)
