"""Internal consistency of the full-matrix gradients (metric, chain rule, subsets, flow)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.theory_points import orthonormal_pair, rationals
from theory.gradients import (OBJECTIVE_NAMES, SUBSETS, flow_lambdified, gradient,
                              separate_substitution)
from theory.manifold import BASIS_SQNORM, basis_matrix
from theory.objectives import objective
from theory.symbols import (INV_KEYS, K, N, PRETRAINED, Q, SEPARATE_COORDS, a, alpha, b, d,
                            lam, m, sigma2)



def _params(draw_vals):
    dim, shots, s2, lam_ = draw_vals
    return {d: dim, N: shots, m: shots, sigma2: s2, lam: lam_}


params_st = st.tuples(st.integers(2, 6), st.integers(0, 12), rationals(0, 1), rationals(0, 2))


@pytest.mark.parametrize("obj", OBJECTIVE_NAMES)
@settings(max_examples=10, deadline=None)
@given(vals=st.tuples(*[rationals(-1, 1) for _ in SEPARATE_COORDS]), prm=params_st)
def test_separate_gradient_is_chain_rule_of_loss(obj, vals, prm):
    """coefficient * |basis|_F^2 == d L(K^T Q)/d coordinate, for every K and Q coordinate:
    an independent route (direct differentiation of the composed loss) to Q G^T and K G."""
    point = {**dict(zip(SEPARATE_COORDS, vals)), **_params(prm)}
    Lsep = objective(obj).subs(separate_substitution(), simultaneous=True)
    res = gradient(obj, "all", "separate")
    for mat, syms in (("K", K), ("Q", Q)):
        for key in INV_KEYS:
            lhs = (res.matrices[mat][key] * BASIS_SQNORM[key]).xreplace(point)
            rhs = sp.diff(Lsep, syms[key]).xreplace(point)
            assert sp.nsimplify(lhs - rhs) == 0, (obj, mat, key)


@pytest.mark.parametrize("obj", OBJECTIVE_NAMES)
def test_alpha_coefficient_is_polynomial_and_metric_weighted(obj):
    """The x-block coefficient is dL/dalpha divided by |I - theta0 theta0^T|_F^2 = d - 1,
    and that division is exact (the coefficient has no pole at d = 1)."""
    res = gradient(obj, "all", "merged")
    coef = res.matrices["W"]["perp"]
    assert sp.cancel(coef * (d - 1) - sp.diff(objective(obj), alpha)) == 0
    _, den = sp.fraction(sp.cancel(coef))
    assert not den.has(d - 1) and sp.Poly(den, d).eval(1) != 0


def test_basis_frobenius_norms_match_explicit_matrices():
    dim = 5
    t0, _ = orthonormal_pair(dim, 3)
    for name, sq in BASIS_SQNORM.items():
        B = np.array(basis_matrix(name, dim, t0))
        assert abs((B * B).sum() - float(sq.subs(d, dim))) < 1e-12
        for other in BASIS_SQNORM:
            if other != name:
                B2 = np.array(basis_matrix(other, dim, t0))
                assert abs((B * B2).sum()) < 1e-12


@pytest.mark.parametrize("form", ["merged", "separate"])
@pytest.mark.parametrize("obj", OBJECTIVE_NAMES)
def test_flow_is_minus_coefficients_and_frozen_coords_do_not_move(obj, form):
    full = gradient(obj, "all", form)
    for subset in SUBSETS[form]:
        res = gradient(obj, subset, form)
        moving = {s for s, v in res.flow.items() if v != 0}
        for s in res.coords:
            if s in moving:
                assert sp.simplify(res.flow[s] - full.flow[s]) == 0
        # V coordinates move only if V is trained
        if "V" not in res.matrices:
            assert res.flow[a] == 0 and res.flow[b] == 0


@pytest.mark.parametrize("obj", OBJECTIVE_NAMES)
def test_flow_lambdified_matches_exact_flow(obj):
    f, args = flow_lambdified(obj, "all", "merged")
    vals = [0.3, -0.7, 0.2, 0.9, -0.4, 0.5, 4, 7, 9, 0.25, 1.5]
    got = f(*vals)
    exact = gradient(obj, "all", "merged").flow
    sub = dict(zip(args, [sp.nsimplify(v) for v in vals]))
    for s, g in zip(gradient(obj, "all", "merged").coords, got):
        assert abs(float(exact[s].xreplace(sub)) - g) < 1e-9 * max(1, abs(g))


def test_zs_initial_gradient_structure():
    """At the pretrained point grad_W ZS = 0 and grad_V ZS has only the e_y theta0^T part,
    cross-checked against a direct derivative of ZS along V[y, x] = a theta0."""
    res = gradient("zs", "all", "merged")
    at = {k: sp.simplify(v.subs(PRETRAINED)) for k, v in res.matrices["W"].items()}
    assert all(v == 0 for v in at.values())
    assert res.matrices["V"]["yy"].subs(PRETRAINED) == 0
    direct = sp.diff(objective("zs"), a).subs(PRETRAINED)
    assert sp.simplify(res.matrices["V"]["yt"].subs(PRETRAINED) - direct) == 0
    assert direct != 0


def test_bad_arguments_raise_value_error():
    with pytest.raises(ValueError, match="objective"):
        gradient("nope", "all")
    with pytest.raises(ValueError, match="subset"):
        gradient("zs", "kq", "merged")
    with pytest.raises(ValueError, match="form"):
        gradient("zs", "all", "other")
