"""``iclft curve`` numbers against an independent exact computation: the symbolic loss of
``theory`` evaluated with rationals at the analytic end point (where one is derived) or
at the flow's end point coordinates (where none is), to 1e-8."""
import json
import subprocess
import sys

import pytest
import sympy as sp

from proofs_check.methods import models
import vocabulary
from vocabulary import Config
from proofs_check.claims.exact import exact_loss, rational
from theory import optima
from theory.symbols import N, a, b, c, d, lam, m, sigma2

TASK_KR = {"target": (1, 0), "negated": (-1, 0), "orthogonal": (0, 1)}


def _analytic(method, cfg):
    sub = {d: cfg.d, m: cfg.m, N: cfg.N, sigma2: rational(cfg.sigma2), lam: rational(cfg.lam)}
    cs = optima.pretrain_c_star().subs(sub)
    base = {"a": 0, "b": 1, "q": 0, "alpha": cs, "beta": cs, "h": 0}
    if method == "pretrained":
        return base
    if method == "zs-v":
        return {**base, "a": optima.zs_v_optimum()[a].subs(sub).subs(c, cs)}
    if method == "zsfs-v":
        opt = optima.zsfs_v_optimum()
        return {**base, "a": opt[a].subs(sub).subs(c, cs), "b": opt[b].subs(sub).subs(c, cs)}
    if method == "zs-all":
        a_ = optima.zs_all_flow_limit()["a"].subs(sub).subs(c, cs)
        return {"a": a_, "b": 1, "q": 1 / a_, "alpha": 0, "beta": 0, "h": 0}
    if method == "zs-w":
        return base
    return None


@pytest.mark.parametrize("method", vocabulary.methods_for("merged"))
@pytest.mark.parametrize("cfg", [Config(), Config(3, 10, 5, 0.25, 2.0)])
def test_curve_equals_symbolic_loss(method, cfg):
    """The curve is the closed-form NumPy loss at the model; the reference is the SymPy
    loss evaluated exactly (rationals) at the same model coordinates."""
    coords = {k: sp.Rational(v) for k, v in models.endpoint(method, cfg)[0].items()}
    for task, (k_, r_) in TASK_KR.items():
        got = models.curve(method, task, cfg, (0, 12))
        for nn, val in enumerate(got):
            ref = float(sp.N(exact_loss(coords, k_, r_, cfg.d, nn, cfg.sigma2), 30))
            assert val == pytest.approx(ref, rel=1e-8), (task, nn)


@pytest.mark.parametrize("method", ["pretrained", "zs-all", "zs-v", "zs-w", "zsfs-v"])
@pytest.mark.parametrize("cfg", [Config(), Config(3, 10, 5, 0.25, 2.0)])
def test_model_is_the_analytic_end_point(method, cfg):
    """Where the end point is derived in closed form, the flow reaches it to 1e-6 and the
    curves agree to the accuracy that implies."""
    want = _analytic(method, cfg)
    got = models.endpoint(method, cfg)[0]
    for k, v in want.items():
        assert got[k] == pytest.approx(float(v), abs=1e-6), k
    # algebraic end points (zs-all) as 50-digit rationals: the exact loss is then evaluated in
    # rational arithmetic, 1e-45 away from the algebraic value and far inside rel=1e-6
    want = {k: sp.Rational(sp.N(v, 50)) for k, v in want.items()}
    for task, (k_, r_) in TASK_KR.items():
        cv = models.curve(method, task, cfg, (0, 12))
        for nn, val in enumerate(cv):
            ref = float(sp.N(exact_loss(want, k_, r_, cfg.d, nn, cfg.sigma2), 30))
            assert val == pytest.approx(ref, rel=1e-6), (task, nn)


def test_sphere_curve_equals_symbolic_sphere_loss():
    from theory.objectives import sphere_loss
    from theory.symbols import alpha, beta, h, n, q
    cfg = Config()
    coords = models.endpoint("zs-v", cfg)[0]
    L = sphere_loss()
    got = models.curve("zs-v", "sphere", cfg, (0, 6))
    for nn, val in enumerate(got):
        ref = L.subs({a: coords["a"], b: coords["b"], q: coords["q"], alpha: coords["alpha"], beta: coords["beta"],
                      h: coords["h"], d: cfg.d, n: nn, sigma2: rational(cfg.sigma2)})
        assert val == pytest.approx(float(ref), rel=1e-8)


def test_cli_curve_json_is_the_model_curve():
    r = subprocess.run([sys.executable, "-m", "proofs_check", "curve", "--method", "zsfs-v", "--task", "negated",
                        "--shots", "3:7", "--format", "json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["error"] == pytest.approx(models.curve("zsfs-v", "negated", Config(), (3, 7)), rel=1e-12)
