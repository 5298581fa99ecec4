"""Symbolic (dimension-free) results against the lead's NumPy closed forms (``numerics``)
at random concrete sizes d in 2..5, shot counts up to 20 and random manifold points."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.theory_points import (embed, embed_separate, inv_numpy, mat_close, orthonormal_pair,
                                 rationals, rel_close, unit_pair)
from proofs_check.claims.exact import exact_at
from theory.gradients import SUBSETS, gradient
from theory.objectives import expected_loss, pretrain_objective, sphere_loss
from theory.symbols import (INV_KEYS, K, N, Q, a, alpha, b, beta, d, h, kappa, lam, m, n, q,
                            rho, sigma2)

numerics = pytest.importorskip("numerics")

COORDS = (a, b, q, alpha, beta, h)
point_st = st.tuples(*[rationals() for _ in COORDS])
sep_st = st.tuples(*[rationals(-1, 1) for _ in range(2 + 12)])
common = dict(dim=st.integers(2, 5), shots=st.integers(0, 20),
              s2=rationals(0, 1), seed=st.integers(0, 10_000))


@settings(max_examples=40, deadline=None)
@given(point=point_st, kr=unit_pair(), **common)
def test_expected_loss_matches_numerics(point, kr, dim, shots, s2, seed):
    t0, tp = orthonormal_pair(dim, seed)
    vals = dict(zip(COORDS, point))
    exact = exact_at(expected_loss(), {**vals, kappa: kr[0], rho: kr[1], d: dim, n: shots,
                                       sigma2: s2})
    assert exact.is_Rational
    V, W = embed(dim, t0, tp, *point)
    theta = float(kr[0]) * t0 + float(kr[1]) * tp
    assert rel_close(float(exact), numerics.expected_loss(V, W, theta, shots, float(s2)))


@settings(max_examples=30, deadline=None)
@given(point=point_st, **common)
def test_sphere_loss_matches_numerics_pretrain_loss(point, dim, shots, s2, seed):
    t0, tp = orthonormal_pair(dim, seed)
    vals = dict(zip(COORDS, point))
    exact = exact_at(sphere_loss(), {**vals, d: dim, n: shots, sigma2: s2})
    V, W = embed(dim, t0, tp, *point)
    assert rel_close(float(exact), numerics.pretrain_loss(V, W, shots, float(s2)))


def _numeric_merged_grad(obj, V, W, t0, shots, s2, lam_):
    if obj == "pretrain":
        return numerics.pretrain_loss_grad(V, W, shots, s2)
    z = numerics.expected_loss_grad(V, W, t0, 0, s2)
    if obj == "zs":
        return z
    f = numerics.expected_loss_grad(V, W, t0, shots, s2)
    if obj == "fs":
        return f
    return z[0] + lam_ * f[0], z[1] + lam_ * f[1]


def _subs(vals, dim, shots, s2, lam_):
    return {**vals, d: dim, N: shots, m: shots, sigma2: s2, lam: lam_}


@pytest.mark.parametrize("obj", ["pretrain", "zs", "fs", "zsfs"])
@settings(max_examples=20, deadline=None)
@given(point=point_st, lam_=rationals(0, 2), **common)
def test_merged_gradients_match_numerics(obj, point, lam_, dim, shots, s2, seed):
    t0, tp = orthonormal_pair(dim, seed)
    vals = dict(zip(COORDS, point))
    V, W = embed(dim, t0, tp, *point)
    gV, gW = _numeric_merged_grad(obj, V, W, t0, shots, float(s2), float(lam_))
    numeric = {"V": gV, "W": gW}
    sub = _subs(vals, dim, shots, s2, lam_)
    for subset in SUBSETS["merged"]:
        res = gradient(obj, subset, "merged")
        expected_trained = {"all": {"V", "W"}, "v": {"V"}, "w": {"W"}}[subset]
        assert set(res.matrices) == expected_trained
        for name in expected_trained:
            sym = inv_numpy(res.invmats[name], dim, t0, sub)
            assert mat_close(sym, numeric[name]), (obj, subset, name)


def _sep_point(vals14):
    a_, b_ = vals14[:2]
    kc = dict(zip(INV_KEYS, vals14[2:8]))
    qc = dict(zip(INV_KEYS, vals14[8:14]))
    return a_, b_, kc, qc


@pytest.mark.parametrize("obj", ["pretrain", "zs", "fs", "zsfs"])
@settings(max_examples=15, deadline=None)
@given(point=sep_st, lam_=rationals(0, 2), **common)
def test_separate_gradients_match_numerics(obj, point, lam_, dim, shots, s2, seed):
    t0, _ = orthonormal_pair(dim, seed)
    a_, b_, kc, qc = _sep_point(point)
    V, Km, Qm = embed_separate(dim, t0, a_, b_, kc, qc)
    s2f, lf = float(s2), float(lam_)
    if obj == "pretrain":
        gV, gW = numerics.pretrain_loss_grad(V, Km.T @ Qm, shots, s2f)
        gK, gQ = Qm @ gW.T, Km @ gW
    else:
        z = numerics.expected_loss_grad_kq(V, Km, Qm, t0, 0, s2f)
        f = numerics.expected_loss_grad_kq(V, Km, Qm, t0, shots, s2f)
        w = {"zs": (1.0, 0.0), "fs": (0.0, 1.0), "zsfs": (1.0, lf)}[obj]
        gV, gK, gQ = (w[0] * z[i] + w[1] * f[i] for i in range(3))
    numeric = {"V": gV, "K": gK, "Q": gQ}
    vals = {a: a_, b: b_, **{K[k]: kc[k] for k in INV_KEYS}, **{Q[k]: qc[k] for k in INV_KEYS}}
    sub = _subs(vals, dim, shots, s2, lam_)
    trained_of = {"all": {"V", "K", "Q"}, "v": {"V"}, "kq": {"K", "Q"}, "k": {"K"},
                  "q": {"Q"}}
    for subset in SUBSETS["separate"]:
        res = gradient(obj, subset, "separate")
        assert set(res.matrices) == trained_of[subset]
        for name in trained_of[subset]:
            sym = inv_numpy(res.invmats[name], dim, t0, sub)
            assert mat_close(sym, numeric[name]), (obj, subset, name)


@settings(max_examples=20, deadline=None)
@given(point=point_st, **common)
def test_pretrain_objective_matches_numerics(point, dim, shots, s2, seed):
    t0, tp = orthonormal_pair(dim, seed)
    vals = dict(zip(COORDS, point))
    exact = pretrain_objective().subs({**vals, d: dim, m: shots, sigma2: s2})
    V, W = embed(dim, t0, tp, *point)
    assert rel_close(float(exact), numerics.pretrain_loss(V, W, shots, float(s2)))
