"""Derived optima are stationary, invariants are conserved, and the full-ZS flow limit agrees
with a numerical integration of the symbolic flow."""
from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.theory_points import embed, orthonormal_pair, rationals
from theory import optima
from theory.gradients import OBJECTIVE_NAMES, flow_lambdified, gradient
from theory.objectives import fs, pretrain_loss, zs
from theory.symbols import (MERGED_COORDS, PRETRAINED, N, a, alpha, b, beta, c, d, h, lam,
                            m, q, sigma2)

W_PRE = {q: 0, alpha: c, beta: c, h: 0}


def _all_zero(matrices):
    return all(sp.cancel(v) == 0 for co in matrices.values() for v in co.values())


@pytest.mark.parametrize("form", ["merged", "separate"])
def test_pretrained_point_is_stationary_for_all_matrices(form):
    assert _all_zero(optima.pretrain_gradient_at_optimum(form))


def test_pretrain_gradient_nonzero_away_from_c_star():
    res = gradient("pretrain", "all", "merged")
    off = {**PRETRAINED, c: optima.pretrain_c_star() + sp.Rational(1, 7)}
    vals = [sp.cancel(v.subs(off)) for co in res.matrices.values() for v in co.values()]
    assert any(v != 0 for v in vals)


def test_c_star_minimises_pretrain_loss():
    L = pretrain_loss()
    cs = optima.pretrain_c_star()
    assert sp.cancel(sp.diff(L, c).subs(c, cs)) == 0
    curv = sp.cancel(sp.diff(L, c, 2))
    assert optima.positive_for_d_at_least(curv.subs(m, m + 1), 1, (m, sigma2))
    assert sp.cancel(L.subs(c, cs) - optima.pretrain_min_loss()) == 0


def test_zs_does_not_depend_on_b_or_h():
    assert optima.zs_independent_of(b) and optima.zs_independent_of(h)
    assert not optima.zs_independent_of(a)


def test_zs_v_optimum_is_stationary_and_minimal():
    opt = optima.zs_v_optimum()
    res = gradient("zs", "v", "merged")
    point = {**W_PRE, **opt}
    assert sp.cancel(res.flow[a].subs(point)) == 0
    assert sp.cancel(res.flow[b].subs(point)) == 0
    assert sp.cancel(sp.diff(zs().subs(W_PRE), a, 2)) != 0
    assert sp.cancel(zs().subs(point) - optima.zs_v_min_loss()) == 0


def test_zsfs_v_optimum_is_stationary_and_unique():
    opt = optima.zsfs_v_optimum()
    res = gradient("zsfs", "v", "merged")
    point = {**W_PRE, a: opt[a], b: opt[b]}
    assert sp.cancel(res.flow[a].subs(point)) == 0
    assert sp.cancel(res.flow[b].subs(point)) == 0
    # unique: Hessian determinant positive for N >= 1, lam > 0, c != 0 (checked on a grid of
    # positive-coefficient substitutions)
    det = opt["hessian_det"]
    assert optima.positive_for_d_at_least(det.subs({N: N + 1, lam: lam + 1, c: 1}), 1,
                                          (N, lam, sigma2))


def test_fs_optimal_b_at_zs_a_is_stationary():
    r = optima.fs_b_at_zs_a()
    point = {**W_PRE, **optima.zs_v_optimum(), b: r[b]}
    assert sp.cancel(sp.diff(fs(), b).subs(point)) == 0
    assert sp.cancel(c * r[b] - r["c*b"]) == 0


def test_zs_global_minimisers():
    g = optima.zs_global_minimisers()
    assert g["identity_holds"] and g["positive_definite_d_ge_2"]
    sol = g["solution"]
    assert sp.simplify(zs().subs(sol) - sigma2) == 0
    res = gradient("zs", "all", "merged")
    assert _all_zero({k: {kk: vv.subs(sol) for kk, vv in co.items()}
                      for k, co in res.matrices.items()})
    # a non-solution is strictly worse
    assert sp.simplify(zs().subs({**sol, alpha: sp.Rational(1, 3)}) - sigma2) != 0


@settings(max_examples=20, deadline=None)
@given(st.tuples(*[rationals() for _ in range(6)]), st.integers(2, 6), st.integers(0, 1000))
def test_balancedness_equals_frobenius_difference(pt, dim, seed):
    t0, tp = orthonormal_pair(dim, seed)
    V, W = embed(dim, t0, tp, *pt)
    val = optima.balancedness().xreplace({**dict(zip(MERGED_COORDS, pt)), d: dim})
    assert abs(float(val) - ((V * V).sum() - (W * W).sum())) < 1e-9


@pytest.mark.parametrize("obj", OBJECTIVE_NAMES)
def test_balancedness_conserved(obj):
    assert optima.balancedness_rate(obj) == 0


def test_balancedness_not_conserved_by_partial_flow():
    # only V trained: |V|^2 - |W|^2 changes, so the test above is not vacuous
    fl = gradient("zs", "v", "merged").flow
    rate = sum(sp.diff(optima.balancedness(), s) * fl[s] for s in MERGED_COORDS)
    assert sp.simplify(rate.subs({**PRETRAINED, a: sp.Rational(1, 2)})) != 0


def test_zs_flow_limit_matches_integrated_flow():
    lim = optima.zs_all_flow_limit()
    assert lim["b_h_frozen"]
    assert sp.simplify(lim["equation"].subs(a, lim["a"])) == 0
    f, _ = flow_lambdified("zs", "all", "merged")
    dd, mm, s2 = 3, 5, 0.1
    cv = float(optima.pretrain_c_star().subs({d: dd, m: mm, sigma2: s2}))
    x = [0.0, 1.0, 0.0, cv, cv, 0.0]
    F = lambda x: f(*x, dd, mm, 0, s2, 1.0)  # noqa: E731
    dt = 0.01
    for _ in range(20000):
        k1 = F(x)
        k2 = F([xi + dt / 2 * ki for xi, ki in zip(x, k1)])
        k3 = F([xi + dt / 2 * ki for xi, ki in zip(x, k2)])
        k4 = F([xi + dt * ki for xi, ki in zip(x, k3)])
        x = [xi + dt / 6 * (p + 2 * r + 2 * s + t) for xi, p, r, s, t in zip(x, k1, k2, k3, k4)]
        if max(abs(v) for v in F(x)) < 1e-11:
            break
    assert max(abs(v) for v in F(x)) < 1e-9
    a_lim = float(lim["a"].subs({d: dd, c: cv}))
    q_lim = float(lim["q"].subs({d: dd, c: cv}))
    assert abs(x[0] - a_lim) < 1e-4 and abs(x[2] - q_lim) < 1e-4
    assert abs(x[3]) < 1e-8 and abs(x[4]) < 1e-8 and x[1] == 1.0 and x[5] == 0.0
