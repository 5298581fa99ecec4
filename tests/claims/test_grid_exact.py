"""Compiled exact evaluation (``grid.exact``) against the ``cancel(subs)`` route."""
import pytest
import sympy as sp

from vocabulary import GRID
from proofs_check.claims.exact import exact, exact_subs_route, num
from theory import gradient
from theory.optima import pretrain_c_star, zs_v_optimum, zsfs_v_optimum
from theory.symbols import N, a, alpha, b, beta, c, d, h, q, sigma2


def test_compiled_route_equals_subs_route():
    g = gradient("zsfs", "all", "merged")
    exprs = [pretrain_c_star(), zs_v_optimum()[a], zsfs_v_optimum()[b]]
    exprs += [v for co in g.matrices.values() for v in co.values()]
    pts = [{a: sp.Rational(1, 3), b: 1, q: sp.Rational(-2, 7), alpha: sp.Rational(5, 4), beta: 2,
            h: sp.Rational(1, 9), c: sp.Rational(7, 10)},
           {a: 0, b: 0, q: 0, alpha: 0, beta: 0, h: 0, c: 1}]
    for e in exprs:
        for cfg in GRID[::24]:
            for pt in pts:
                r1, r2 = exact(e, cfg, pt), exact_subs_route(e, cfg, pt)
                assert r1 == r2 and type(r1) is type(r2)


def test_fallback_routes_are_the_subs_route():
    cfg = GRID[0]
    e = (a + sigma2) / (N + 1 - d)
    # a symbol left free, a float value, an irrational value, a zero denominator
    for extra in ({}, {a: sp.Float(0.25, 30)}, {a: sp.sqrt(2)}):
        assert sp.simplify(exact(e, cfg, extra) - exact_subs_route(e, cfg, extra)) == 0
    bad = 1 / (d - cfg.d + a)
    assert exact(bad, cfg, {a: 0}) == exact_subs_route(bad, cfg, {a: 0})  # zoo both ways
    assert exact(sp.Integer(3), cfg) == 3
    assert num(sp.sqrt(d), cfg) == float(sp.sqrt(cfg.d))


def test_exact_loss_compiled_equals_poly_eval():
    from proofs_check.claims import exact as grid
    gens, P, _ = grid._loss_poly()
    coords = {"a": sp.Rational(1, 3), "b": 1, "q": sp.Rational(-2, 7), "alpha": 0.25, "beta": sp.Rational(5, 4),
              "h": 0}
    for cfg in GRID[::11]:
        got = grid.exact_loss(coords, -1, 0, cfg.d, cfg.N, cfg.sigma2)
        vals = [sp.nsimplify(coords[g.name]) if isinstance(coords[g.name], float) else sp.Integer(coords[g.name])
                if isinstance(coords[g.name], int) else coords[g.name] for g in gens[:6]]
        vals += [sp.Integer(-1), sp.Integer(0), sp.Integer(cfg.d), sp.Integer(cfg.N), grid.rational(cfg.sigma2)]
        ref = P.eval(dict(zip(gens, vals))) / sp.Integer(cfg.N + 1) ** 2
        assert got == ref and got.is_Rational


def test_compiled_fraction_equals_substitution_on_a_derived_condition():
    """The V-only trade-off gap (a derived rational function) through the compiled integer
    route equals ``cancel(subs)`` of the same expression, and a non-rational value is refused."""
    from theory import limits
    from theory.symbols import N, c, d, lam, sigma2
    from proofs_check.claims.exact import compile_fraction

    num_, den_ = limits.zsfs_v_tradeoff()["gap"]
    gens = (d, N, sigma2, lam, c)
    comp = compile_fraction(num_, den_, gens)
    for vals in ((3, 5, sp.Rational(1, 10), 1, sp.Rational(2, 7)), (10, 20, 0, sp.Rational(7, 2), sp.Rational(1, 3))):
        ref = sp.cancel((num_ / den_).subs(dict(zip(gens, vals))))
        assert comp.at(vals) == ref
    with pytest.raises(ValueError):
        comp.at((3, 5, sp.sqrt(2), 1, sp.Rational(1, 3)))
