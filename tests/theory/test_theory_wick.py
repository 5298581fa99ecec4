"""The symbolic-d Wick engine against brute-force coordinate expansion at concrete d."""
from __future__ import annotations

import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.symbols import d
from theory.wick import expect_monomial, perfect_matchings

VECS = ("x1", "x2", "xq", "t0", "tp")
GAUSS = ("x1", "x2", "xq")
FIXED = ("t0", "tp")


def _moment(k):
    if k % 2:
        return 0
    out = 1
    for j in range(k - 1, 0, -2):
        out *= j
    return out


def brute_force(factors, dim):
    """Expand each inner product in coordinates (theta0 = e_1, theta_perp = e_2) and replace
    each monomial by the product of standard-normal moments."""
    coords = {g: [sp.Symbol(f"{g}_{r}") for r in range(dim)] for g in GAUSS}
    coords["t0"] = [1] + [0] * (dim - 1)
    coords["tp"] = [0, 1] + [0] * (dim - 2)
    expr = sp.Integer(1)
    for u, w in factors:
        expr *= sum(coords[u][r] * coords[w][r] for r in range(dim))
    gens = [s for g in GAUSS for s in coords[g]]
    poly = sp.Poly(sp.expand(expr), *gens)
    return sum(cf * sp.prod([_moment(k) for k in mon]) for mon, cf in poly.terms())


factor_st = st.tuples(st.sampled_from(VECS), st.sampled_from(VECS)).filter(
    lambda f: not (f[0] in FIXED and f[1] in FIXED))


@settings(max_examples=40, deadline=None)
@given(st.lists(factor_st, min_size=1, max_size=4), st.integers(2, 3))
def test_wick_matches_brute_force(factors, dim):
    sym = expect_monomial(factors, GAUSS, FIXED).subs(d, dim)
    assert sp.expand(sym - brute_force(factors, dim)) == 0


def test_matching_count_is_double_factorial():
    for k in range(0, 7):
        got = len(perfect_matchings(tuple(range(2 * k))))
        assert got == _moment(2 * k)
    assert perfect_matchings((1, 2, 3)) == []


def test_wick_is_polynomial_in_d_matching_each_dimension():
    # the same monomial, evaluated symbolically, must agree at several concrete d at once
    factors = [("xq", "xq"), ("xq", "x1"), ("x1", "t0"), ("xq", "t0"), ("x1", "xq"),
               ("x1", "x1")]
    sym = expect_monomial(factors, GAUSS, FIXED)
    assert sym.free_symbols <= {d}
    for dim in (2, 3):
        assert sp.expand(sym.subs(d, dim) - brute_force(factors, dim)) == 0
