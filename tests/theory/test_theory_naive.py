"""Exact agreement of the dimension-free derivation with brute-force expansion at concrete
(d, n) -- an independent computation that does not use the lead's numerics."""
from __future__ import annotations

import pytest
import sympy as sp

from theory.naive import naive_expected_loss, naive_sphere_loss
from theory.objectives import expected_loss, pretrain_loss, sphere_loss
from theory.symbols import PRETRAINED, a, alpha, b, beta, d, h, kappa, m, n, q, rho, sigma2


def _mine(dd, nn):
    L = expected_loss().subs({d: dd, n: nn})
    return L.subs(rho, 0) if dd == 1 else L


@pytest.mark.parametrize("dd,nn", [(1, 0), (1, 2), (2, 0), (2, 1), (2, 2), (3, 1)])
def test_expected_loss_equals_naive_expansion(dd, nn):
    assert sp.simplify(naive_expected_loss(dd, nn) - _mine(dd, nn)) == 0


@pytest.mark.slow
@pytest.mark.parametrize("dd,nn", [(2, 3), (3, 2)])
def test_expected_loss_equals_naive_expansion_slow(dd, nn):
    assert sp.simplify(naive_expected_loss(dd, nn) - _mine(dd, nn)) == 0


@pytest.mark.slow
def test_expected_loss_equals_naive_d3_n3_numeric_params():
    R = sp.Rational
    vals = {a: R(1, 3), b: R(-2, 5), q: R(3, 7), alpha: R(5, 4), beta: R(-1, 6), h: R(2, 9),
            kappa: R(3, 5), rho: R(4, 5), sigma2: R(1, 7)}
    ref = naive_expected_loss(3, 3, vals)
    assert ref == expected_loss().subs({d: 3, n: 3, **vals})


@pytest.mark.parametrize("dd,nn", [(1, 1), (2, 1), (3, 1), (2, 2)])
def test_sphere_loss_equals_naive_sphere_average(dd, nn):
    assert sp.simplify(naive_sphere_loss(dd, nn) - sphere_loss().subs({d: dd, n: nn})) == 0


@pytest.mark.parametrize("dd,mm", [(1, 2), (2, 1), (3, 2)])
def test_pretrain_loss_equals_naive(dd, mm):
    ref = naive_sphere_loss(dd, mm, PRETRAINED)
    assert sp.simplify(ref - pretrain_loss().subs({d: dd, m: mm})) == 0


def test_expected_loss_free_symbols_and_form():
    from theory.symbols import LOSS_SYMBOLS
    L = expected_loss()
    assert L.free_symbols <= LOSS_SYMBOLS
    num, den = sp.fraction(sp.together(L))
    # denominator is (n+1)^2 only; numerator is a polynomial in every symbol
    assert sp.simplify(den - (n + 1) ** 2) == 0
    assert num.is_polynomial(*LOSS_SYMBOLS)
    assert not num.has(sp.Sum)
