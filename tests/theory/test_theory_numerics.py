"""Symbolic (dimension-free) results against the lead's NumPy closed forms (``numerics``)
at random concrete sizes d in 2..5, shot counts up to 20 and random manifold points."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vocabulary
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


def _terms(obj, shots, lam_, t0, tp):
    """``(weight, n, theta)`` of each term of the objective's vocabulary entry at
    ``N = m = shots`` (``theta = kappa theta0 + rho theta_perp``; ``None`` for the sphere)."""
    out = []
    for term in vocabulary.OBJECTIVES[obj].terms:
        n_ = {"m": shots, "N": shots}.get(term.shots, term.shots)
        w = lam_ if term.weight == "lam" else float(term.weight)
        task = vocabulary.TASKS[term.task]
        out.append((w, n_, None if task.kappa is None else task.kappa * t0 + task.rho * tp))
    return out


def _numeric_merged_grad(obj, V, W, t0, tp, shots, s2, lam_):
    """The objective's gradient term by term, each by numerics' closed form (the sphere
    average for a sphere term, the n-shot error on its task otherwise)."""
    gV, gW = 0.0, 0.0
    for w, n_, theta in _terms(obj, shots, lam_, t0, tp):
        g = (numerics.pretrain_loss_grad(V, W, n_, s2) if theta is None
             else numerics.expected_loss_grad(V, W, theta, n_, s2))
        gV, gW = gV + w * g[0], gW + w * g[1]
    return gV, gW


def _subs(vals, dim, shots, s2, lam_):
    return {**vals, d: dim, N: shots, m: shots, sigma2: s2, lam: lam_}


@pytest.mark.parametrize("obj", list(vocabulary.OBJECTIVES))
@settings(max_examples=20, deadline=None)
@given(point=point_st, lam_=rationals(0, 2), **common)
def test_merged_gradients_match_numerics(obj, point, lam_, dim, shots, s2, seed):
    t0, tp = orthonormal_pair(dim, seed)
    vals = dict(zip(COORDS, point))
    V, W = embed(dim, t0, tp, *point)
    gV, gW = _numeric_merged_grad(obj, V, W, t0, tp, shots, float(s2), float(lam_))
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


@pytest.mark.parametrize("obj", list(vocabulary.OBJECTIVES))
@settings(max_examples=15, deadline=None)
@given(point=sep_st, lam_=rationals(0, 2), **common)
def test_separate_gradients_match_numerics(obj, point, lam_, dim, shots, s2, seed):
    t0, tp = orthonormal_pair(dim, seed)
    a_, b_, kc, qc = _sep_point(point)
    V, Km, Qm = embed_separate(dim, t0, a_, b_, kc, qc)
    s2f, lf = float(s2), float(lam_)
    gV, gK, gQ = 0.0, 0.0, 0.0
    for w, n_, theta in _terms(obj, shots, lf, t0, tp):
        if theta is None:  # the sphere average of the merged W = K^T Q, by the chain rule
            pV, pW = numerics.pretrain_loss_grad(V, Km.T @ Qm, n_, s2f)
            g = (pV, Qm @ pW.T, Km @ pW)
        else:
            g = numerics.expected_loss_grad_kq(V, Km, Qm, theta, n_, s2f)
        gV, gK, gQ = gV + w * g[0], gK + w * g[1], gQ + w * g[2]
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
