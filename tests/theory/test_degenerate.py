"""Degenerate starts: the SymPy minimiser of ``theory.degenerate`` against
the closed-form linear flow of ``numerics.degenerate`` (full matrices), and the flow's own
identities (it solves the ODE; Q-only and K-only agree at n = 0).

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.degenerate import degenerate_start_outcome, frozen_value_flow, leftover_start
from numerics.problem import Problem
from helpers.theory_points import orthonormal_pair
from theory import degenerate as tdeg
from theory.symbols import (alpha, beta, d, delta, gamma, kappa, n, q, rho, sigma2, u_par,
                            u_perp)
from vocabulary import Config

METHOD = {"w": "merged", "q": "separate", "k": "separate"}


def _theory_W(train, dim, s2, up, uq, t0, e):
    fit = tdeg.zs_frozen_value_fit(train, uq == 0.0)
    sub = {u_par: sp.nsimplify(up), u_perp: sp.nsimplify(uq), d: dim}
    pt = {k: float(v.subs(sub)) for k, v in fit["point"].items()}
    if uq == 0.0:
        pt.update({gamma: pt[alpha], delta: 0.0})
    Pi2 = np.eye(dim) - np.outer(t0, t0) - np.outer(e, e)
    W = np.zeros((dim + 2, dim + 2))
    W[0, 0] = pt[q]
    W[1:-1, 1:-1] = (pt[beta] * np.outer(t0, t0) + pt[gamma] * np.outer(e, e)
                     + pt[delta] * (np.outer(t0, e) + np.outer(e, t0)) + pt[alpha] * Pi2)
    return W, float(fit["min"].subs({**sub, sigma2: sp.nsimplify(s2)}))


@settings(max_examples=25, deadline=None)
@given(train=st.sampled_from(sorted(METHOD)), dim=st.integers(2, 5), angle=st.integers(0, 11),
       log_u=st.integers(-3, 0), s2=st.sampled_from([0.0, 0.1, 0.5]), seed=st.integers(0, 1000))
def test_end_point_and_minimum_match_the_derivation(train, dim, angle, log_u, s2, seed):
    t0, e = orthonormal_pair(dim, seed)
    s = 10.0 ** log_u
    phi = math.pi * angle / 12
    up, uq = s * math.cos(phi), s * math.sin(phi)
    if abs(uq) < 1e-15:
        uq = 0.0
    form = METHOD[train]
    start = leftover_start(dim, 10, s2, u=up * t0 + uq * e, form=form)
    out = degenerate_start_outcome(start, form=form, train=train, theta0=t0, sigma2=s2, shots=(0,))
    Wt, zmin = _theory_W(train, dim, s2, up, uq, t0, e)
    assert np.abs(out.W - Wt).max() <= 1e-8 * max(1.0, np.abs(Wt).max())
    assert out.zs == pytest.approx(zmin, rel=1e-9, abs=1e-12)
    assert out.curves["target"][0] == pytest.approx(out.zs, rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(train=st.sampled_from(sorted(METHOD)), dim=st.integers(1, 5), u=st.sampled_from([-0.3, 0.05, 0.002]),
       shots=st.integers(0, 20), s2=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 1000))
def test_curves_along_theta0_match_the_derivation(train, dim, u, shots, s2, seed):
    if dim >= 2:
        t0, tp = orthonormal_pair(dim, seed)
    else:
        t0, tp = np.ones(1), None
    form = METHOD[train]
    start = leftover_start(dim, 10, s2, u=u * t0, form=form)
    out = degenerate_start_outcome(start, form=form, train=train, theta0=t0, sigma2=s2, theta_perp=tp,
                                   shots=(shots,))
    sub = {u_par: sp.nsimplify(u), d: dim, n: shots, sigma2: sp.nsimplify(s2)}
    tasks = {"target": (1, 0), "negated": (-1, 0)} | ({"orthogonal": (0, 1)} if dim >= 2 else {})
    for task, (k, r) in tasks.items():
        want = float(tdeg.parallel_loss(train, "line").subs({**sub, kappa: k, rho: r}))
        assert out.curves[task][0] == pytest.approx(want, rel=1e-9)
    assert out.curves["sphere"][0] == pytest.approx(float(tdeg.parallel_loss(train, "sphere").subs(sub)), rel=1e-9)


@pytest.mark.parametrize("train", sorted(METHOD))
def test_error_grows_like_the_leading_coefficient_over_u_squared(train):
    dim, s2, u = 3, 0.1, 1e-4
    t0 = np.eye(dim)[0]
    start = leftover_start(dim, 10, s2, u=u * t0, form=METHOD[train])
    out = degenerate_start_outcome(start, form=METHOD[train], train=train, theta0=t0, sigma2=s2, shots=(5, 20))
    C = tdeg.parallel_leading_coefficient(train, "line")
    for i, shots in enumerate((5, 20)):
        want = float(C.subs({d: dim, n: shots, sigma2: sp.Rational(1, 10), kappa: 1, rho: 0}))
        assert u * u * out.curves["target"][i] == pytest.approx(want, rel=2e-3)
    assert out.w_norm * u == pytest.approx(1.0 if train == "w" else math.sqrt(dim) / (dim + 4), rel=1e-9)


@pytest.mark.parametrize("train", sorted(METHOD))
def test_the_closed_form_solves_the_flow(train):
    """``p(t)`` of :func:`frozen_value_flow` satisfies ``dp/dt = -grad ZS(p)`` (central
    difference in ``t``), starts at the start and tends to the end point; v_0 and every
    off-manifold direction of u included."""
    dim, s2 = 3, 0.1
    rng = np.random.default_rng(7)
    t0 = np.eye(dim)[0]
    form = METHOD[train]
    start = leftover_start(dim, 10, s2, u=0.2 * rng.standard_normal(dim), v0=0.1, form=form)
    pb = Problem.build("zs", form, train, Config(dim, 10, 20, s2, 1.0), start, theta0=t0)
    flat = lambda m: pb.pack(m)  # noqa: E731
    p0, _ = frozen_value_flow(start, form=form, train=train, theta0=t0, sigma2=s2, t=0.0)
    assert np.allclose(flat(p0), pb.pack(), atol=1e-13)
    t, h = 7.0, 1e-3
    pm, _ = frozen_value_flow(start, form=form, train=train, theta0=t0, sigma2=s2, t=t - h)
    pc, _ = frozen_value_flow(start, form=form, train=train, theta0=t0, sigma2=s2, t=t)
    pp, _ = frozen_value_flow(start, form=form, train=train, theta0=t0, sigma2=s2, t=t + h)
    deriv = (flat(pp) - flat(pm)) / (2 * h)
    g = pb.grad(flat(pc))
    assert np.abs(deriv + g).max() <= 1e-6 * max(1.0, np.abs(g).max())
    end, info = frozen_value_flow(start, form=form, train=train, theta0=t0, sigma2=s2)
    late, _ = frozen_value_flow(start, form=form, train=train, theta0=t0, sigma2=s2, t=60.0 / info["rate"])
    assert np.abs(flat(late) - flat(end)).max() <= 1e-9 * max(1.0, np.abs(flat(end)).max())
    assert np.abs(pb.grad(flat(end))).max() <= 1e-10
    assert info["zs"] <= info["zs_start"]


def test_q_and_k_only_agree_at_zero_shots_and_split_through_v0():
    """Q-only moves W_x0, K-only W_0x; ZS reads only their sum, so both reach the same ZS;
    with v_0 = 0 that sum stays 0 and the two end points are equal, with v_0 != 0 the
    n-shot errors differ (the demonstrations read W_x0 and W_0x separately)."""
    dim, s2 = 3, 0.1
    t0 = np.eye(dim)[0]
    u = np.array([0.01, 0.05, -0.02])
    for v0, same in ((0.0, True), (0.03, False)):
        start = leftover_start(dim, 10, s2, u=u, v0=v0, form="separate")
        oq = degenerate_start_outcome(start, form="separate", train="q", theta0=t0, sigma2=s2, shots=(0, 20))
        ok = degenerate_start_outcome(start, form="separate", train="k", theta0=t0, sigma2=s2, shots=(0, 20))
        assert oq.zs == pytest.approx(ok.zs, rel=1e-10)
        assert np.allclose(oq.W, ok.W, atol=1e-8) == same
        assert (abs(oq.curves["target"][1] - ok.curves["target"][1]) < 1e-8) == same


def test_the_exact_pretrained_point_does_not_move():
    t0 = np.eye(3)[0]
    start = leftover_start(3, 10, 0.1, form="separate")
    end, info = frozen_value_flow(start, form="separate", train="q", theta0=t0, sigma2=0.1)
    assert np.array_equal(end["Q"], start["Q"]) and info["rank"] == 0 and info["zs"] == pytest.approx(1.1)


@pytest.mark.parametrize("kwargs, name", [
    ({"form": "separate", "train": "kq"}, "train"), ({"form": "merged", "train": "v"}, "train"),
    ({"form": "other", "train": "w"}, "form"), ({"form": "separate", "train": "q", "t": -1.0}, "t"),
    ({"form": "separate", "train": "q", "theta0": np.array([2.0, 0, 0])}, "theta0"),
])
def test_bad_arguments_are_named(kwargs, name):
    start = leftover_start(3, 10, 0.1, u=[0.1, 0, 0], form="separate")
    args = {"theta0": np.eye(3)[0], "sigma2": 0.1, **kwargs}
    with pytest.raises(ValueError, match=name):
        degenerate_start_outcome(start, **args)


def test_leftover_start_checks_its_arguments():
    with pytest.raises(ValueError, match="u"):
        leftover_start(3, 10, 0.1, u=[0.1, 0.2])
    with pytest.raises(ValueError, match="v0"):
        leftover_start(3, 10, 0.1, v0=float("nan"))
    with pytest.raises(ValueError, match="form"):
        leftover_start(3, 10, 0.1, form="x")


@pytest.mark.parametrize("train", sorted(METHOD))
@pytest.mark.parametrize("dim", [2, 5])
def test_slowest_excited_rate_along_theta0_is_derived(train, dim):
    """The slowest rate the start excites (numerics: eigen-decomposition of the exact Hessian
    of the full matrices) is the smallest eigenvalue of the derived rate matrix times u^2
    (times c for K or Q alone)."""
    from numerics.pretrained import pretrained_c
    s2, u = 0.1, 0.05
    t0 = np.eye(dim)[0]
    start = leftover_start(dim, 20, s2, u=u * t0, form=METHOD[train])
    _, info = frozen_value_flow(start, form=METHOD[train], train=train, theta0=t0, sigma2=s2)
    R = tdeg.parallel_rate_matrix(train).subs(d, dim)
    mu = min(float(sp.re(x)) for x in R.evalf().eigenvals())
    scale = 1.0 if train == "w" else pretrained_c(dim, 20, s2)
    assert info["rate_excited"] == pytest.approx(mu * u * u * scale, rel=1e-8)
