"""Closed form against an independent exact computation (polynomial expansion), and the
exact gradient against a five-point stencil, which is exact for the quartic loss."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics
from helpers.exact_gaussian import loss_by_exchangeability, loss_direct
from helpers.strategies import five_point, problems


@settings(max_examples=60)
@given(problems())
def test_closed_form_equals_polynomial_expansion(pb):
    V, W, theta, n, sigma2 = pb
    exact = loss_by_exchangeability(V, W, theta, n, sigma2)
    closed = numerics.expected_loss(V, W, theta, n, sigma2)
    assert closed == pytest.approx(exact, rel=1e-9)


@settings(max_examples=20)
@given(problems(d_range=(1, 2), n_range=(0, 2)))
def test_closed_form_equals_full_prompt_expansion(pb):
    """No exchangeability argument at all: the whole prompt is expanded."""
    V, W, theta, n, sigma2 = pb
    assert numerics.expected_loss(V, W, theta, n, sigma2) == pytest.approx(
        loss_direct(V, W, theta, n, sigma2), rel=1e-9)


@settings(max_examples=60)
@given(problems(), st.integers(0, 2**32 - 1))
def test_gradient_matches_exact_directional_derivative(pb, seed):
    V, W, theta, n, sigma2 = pb
    rng = np.random.default_rng(seed)
    dV = np.zeros_like(V)
    dV[-1] = rng.standard_normal(V.shape[0])  # only the value row can matter
    dV[:-1] = rng.standard_normal((V.shape[0] - 1, V.shape[0]))
    dW = rng.standard_normal(W.shape)
    gV, gW = numerics.expected_loss_grad(V, W, theta, n, sigma2)
    analytic = np.sum(gV * dV) + np.sum(gW * dW)
    stencil = five_point(lambda t: numerics.expected_loss(V + t * dV, W + t * dW, theta, n, sigma2))
    scale = np.sqrt(np.sum(gV**2) + np.sum(gW**2)) * np.sqrt(np.sum(dV**2) + np.sum(dW**2))
    assert abs(analytic - stencil) <= 1e-9 * scale


@settings(max_examples=30)
@given(problems(), st.integers(0, 2**32 - 1))
def test_pretrain_gradient_matches_exact_directional_derivative(pb, seed):
    V, W, _theta, m, sigma2 = pb
    rng = np.random.default_rng(seed)
    dV, dW = rng.standard_normal(V.shape), rng.standard_normal(W.shape)
    gV, gW = numerics.pretrain_loss_grad(V, W, m, sigma2)
    analytic = np.sum(gV * dV) + np.sum(gW * dW)
    stencil = five_point(lambda t: numerics.pretrain_loss(V + t * dV, W + t * dW, m, sigma2))
    scale = np.sqrt(np.sum(gV**2) + np.sum(gW**2)) * np.sqrt(np.sum(dV**2) + np.sum(dW**2))
    assert abs(analytic - stencil) <= 1e-9 * scale


@settings(max_examples=40)
@given(problems(d_range=(1, 3), n_range=(0, 4)))
def test_pretrain_loss_is_the_sphere_average(pb):
    """On the sphere ``|theta| = 1`` and the loss is a polynomial of degree <= 2 in theta
    there plus odd terms, so the 2d points ``+-e_k`` integrate it exactly.  Independently
    of that argument, an 8-point antipodal design from a random rotation must agree too."""
    V, W, _theta, m, sigma2 = pb
    d = V.shape[0] - 2
    pts = np.vstack([np.eye(d), -np.eye(d)])
    design = np.mean([numerics.expected_loss(V, W, t, m, sigma2) for t in pts])
    assert numerics.pretrain_loss(V, W, m, sigma2) == pytest.approx(design, rel=1e-10)
    Rot, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((d, d)))
    pts2 = np.vstack([Rot, -Rot])
    design2 = np.mean([numerics.expected_loss(V, W, t, m, sigma2) for t in pts2])
    assert design2 == pytest.approx(design, rel=1e-10)


@settings(max_examples=30)
@given(problems(), st.integers(0, 2**32 - 1))
def test_kq_chain_rule(pb, seed):
    V, _W, theta, n, sigma2 = pb
    rng = np.random.default_rng(seed)
    D = V.shape[0]
    K, Q = rng.standard_normal((D, D)), rng.standard_normal((D, D))
    dK, dQ = rng.standard_normal((D, D)), rng.standard_normal((D, D))
    _, gK, gQ = numerics.expected_loss_grad_kq(V, K, Q, theta, n, sigma2)
    analytic = np.sum(gK * dK) + np.sum(gQ * dQ)
    # W(t) = (K + t dK)^T (Q + t dQ) is quadratic in t, so the loss has degree 8 along
    # this line: use a small step and a tolerance set by the stencil's h^4 error.
    h = 1e-3
    f = lambda t: numerics.expected_loss(V, (K + t * dK).T @ (Q + t * dQ), theta, n, sigma2)
    stencil = five_point(f, h=h)
    scale = np.sqrt(np.sum(gK**2) + np.sum(gQ**2)) * np.sqrt(np.sum(dK**2) + np.sum(dQ**2))
    assert abs(analytic - stencil) <= 1e-6 * scale


def test_gradient_entrywise_small_case():
    """Every entry of the gradient, one coordinate direction at a time."""
    rng = np.random.default_rng(3)
    d, n, sigma2 = 2, 3, 0.2
    D = d + 2
    V, W, theta = rng.standard_normal((D, D)), rng.standard_normal((D, D)), rng.standard_normal(d)
    gV, gW = numerics.expected_loss_grad(V, W, theta, n, sigma2)
    for G, which in ((gV, 0), (gW, 1)):
        for idx in np.ndindex(D, D):
            E = np.zeros((D, D))
            E[idx] = 1.0
            if which == 0:
                f = lambda t: numerics.expected_loss(V + t * E, W, theta, n, sigma2)
            else:
                f = lambda t: numerics.expected_loss(V, W + t * E, theta, n, sigma2)
            assert G[idx] == pytest.approx(five_point(f), rel=1e-8, abs=1e-8 * np.abs(G).max())
