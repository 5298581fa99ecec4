"""A new objective costs one vocabulary entry: both routes compute it from its terms.

This is the path of the README section "How to add an objective": the test adds entries to
``vocabulary.OBJECTIVES`` (and nothing else), then checks that the symbolic objective and
gradient (theory) agree with the closed-form NumPy ones (numerics) at a generic manifold
point, that the flow runs, and that the command line offers the new name.
"""
import json

import numpy as np
import pytest
import sympy as sp

import vocabulary
from vocabulary import Objective, Term

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
    num = objective_value(name, V, W, t0, CFG["N"], float(CFG["sigma2"]), float(CFG["lam"]), m=CFG["m"])
    assert num == pytest.approx(float(exact), rel=1e-12)


@pytest.mark.parametrize("name", tuple(NEW))
def test_symbolic_and_numpy_gradients_agree(new_objectives, name):
    from numerics.finetune_objective import objective_grad
    from numerics.manifold import project
    from theory import gradient, symbols as S

    res = gradient(name, "all", "merged")
    V, W, t0 = _numeric_point()
    gV, gW = objective_grad(name, V, W, t0, CFG["N"], float(CFG["sigma2"]), float(CFG["lam"]), m=CFG["m"])
    proj = project(gV, gW, t0)
    assert proj.residual < 1e-10 * max(1.0, proj.norm)  # the gradient is tangent to the manifold
    for nm in vocabulary.coordinate_names("merged"):
        sym = -res.flow[getattr(S, nm)].xreplace(_subs())
        assert proj.coeffs[nm] == pytest.approx(float(sym), rel=1e-10, abs=1e-12), nm


@pytest.mark.parametrize("name", tuple(NEW))
def test_flow_runs_and_decreases_the_new_objective(new_objectives, name):
    from numerics import flow

    r = flow.gradient_flow(name, "v", 3, 10, 5, 0.1, 1.0)
    assert r.stop_reason == "converged" and r.loss_end < r.loss_start
    # the exact flow of the merged-all subset runs too (within its evaluation budget)
    r = flow.gradient_flow(name, "all", 3, 10, 5, 0.1, 1.0, max_nfev=2000)
    assert r.stop_reason in flow.STOP_REASONS and r.loss_end < r.loss_start


@pytest.mark.parametrize("name", tuple(NEW))
def test_sgd_runs_on_the_new_objective(new_objectives, name):
    from numerics.finetune_objective import objective_value
    from numerics.sgd import sgd_finetune

    from numerics.pretrained import pretrained_point

    t0 = np.eye(3)[0]
    start = objective_value(name, *pretrained_point(3, 10, 0.1), t0, 5, 0.1, 1.0, m=10)
    r = sgd_finetune(name, "v", 3, 10, 5, 0.1, 1.0, lr=0.01, steps=400, batch=32, seed=1)
    assert r.loss_end == pytest.approx(objective_value(name, r.V, r.W, t0, 5, 0.1, 1.0, m=10))
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
        flow.gradient_flow("ls", "v", 3, 10, 5)
    from theory import symbols as S
    coords = {getattr(S, k): 0.5 for k in vocabulary.coordinate_names("merged")}
    with pytest.raises(ValueError, match="objective"):  # it used to compute zsfs silently
        numeric_gradient("ls", "merged", Config(3, 10, 5, 0.1, 1.0), coords, np.eye(3)[0])
