r"""The pretrained family ``V = e_y e_y^T``, ``W = c diag(0, I_d, 0)``.

Derivation of ``L_m(c)`` (independent of the engine).  Here ``v = e_y`` and
``v.z_q = 0``, so ``yhat = c g.x_q`` with ``g = sum_i y_i x_i / (m+1)``.  Averaging over
``x_q`` gives ``E[(yhat - y_q)^2 | g] = |c g - theta|^2 + sigma2``.  Now
``E g = m theta/(m+1)`` and ``E |sum_i y_i x_i|^2 = m E[y^2 |x|^2] + m(m-1)|theta|^2`` with
``E[y^2 |x|^2] = E[(theta.x)^2 |x|^2] + sigma2 d = (d+2)|theta|^2 + d sigma2``.  For a
unit ``theta`` this is ``E|g|^2 = m (m + 1 + d(1+sigma2))/(m+1)^2``, hence

``L_m(c) = c^2 m (m+1+d(1+sigma2))/(m+1)^2 - 2 c m/(m+1) + 1 + sigma2``,

the same for every unit ``theta`` and so also for the sphere average.  Its minimiser in
``c`` is ``c* = (m+1)/(m+1+d(1+sigma2))`` (set the derivative in ``c`` to zero).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics


def pretrained(d, c):
    D = d + 2
    V = np.zeros((D, D))
    V[-1, -1] = 1.0
    W = np.zeros((D, D))
    W[1:-1, 1:-1] = c * np.eye(d)
    return V, W


def L_m(c, d, m, sigma2):
    return c * c * m * (m + 1 + d * (1 + sigma2)) / (m + 1) ** 2 - 2 * c * m / (m + 1) + 1 + sigma2


def c_star(d, m, sigma2):
    return (m + 1) / (m + 1 + d * (1 + sigma2))


@settings(max_examples=50)
@given(st.integers(1, 8), st.integers(0, 40), st.floats(0, 1), st.floats(-2, 2),
       st.integers(0, 2**32 - 1))
def test_pretrained_closed_form(d, m, sigma2, c, seed):
    V, W = pretrained(d, c)
    theta = np.random.default_rng(seed).standard_normal(d)
    theta /= np.linalg.norm(theta)
    assert numerics.expected_loss(V, W, theta, m, sigma2) == pytest.approx(L_m(c, d, m, sigma2), rel=1e-10, abs=1e-12)
    assert numerics.pretrain_loss(V, W, m, sigma2) == pytest.approx(L_m(c, d, m, sigma2), rel=1e-10, abs=1e-12)


@settings(max_examples=50)
@given(st.integers(1, 8), st.integers(1, 40), st.floats(0, 1))
def test_pretrain_gradient_vanishes_at_optimal_c(d, m, sigma2):
    """Stationary over all of (V, W), not only along c."""
    V, W = pretrained(d, c_star(d, m, sigma2))
    gV, gW = numerics.pretrain_loss_grad(V, W, m, sigma2)
    assert np.abs(gV).max() < 1e-12 and np.abs(gW).max() < 1e-12


@settings(max_examples=30)
@given(st.integers(1, 8), st.integers(1, 40), st.floats(0, 1), st.floats(0.05, 0.5))
def test_pretrain_gradient_does_not_vanish_off_optimum(d, m, sigma2, shift):
    """The stationarity test has power: moving c by ``shift`` gives a gradient whose
    x-block trace equals dL_m/dc = 2 m (m+1+d(1+sigma2)) (c - c*)/(m+1)^2."""
    c = c_star(d, m, sigma2) + shift
    V, W = pretrained(d, c)
    _, gW = numerics.pretrain_loss_grad(V, W, m, sigma2)
    dLdc = 2 * m * (m + 1 + d * (1 + sigma2)) * shift / (m + 1) ** 2
    assert np.trace(gW[1:-1, 1:-1]) == pytest.approx(dLdc, rel=1e-9)
