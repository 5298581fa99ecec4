"""Symmetries of the exact loss: each compares the loss at two different points."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics
from helpers.strategies import problems


def _block(R):
    D = R.shape[0] + 2
    B = np.eye(D)
    B[1:-1, 1:-1] = R
    return B


@settings(max_examples=40)
@given(problems(), st.floats(0.2, 5.0))
def test_scaling_V_up_W_down(pb, lam):
    V, W, theta, n, sigma2 = pb
    assert numerics.expected_loss(lam * V, W / lam, theta, n, sigma2) == pytest.approx(
        numerics.expected_loss(V, W, theta, n, sigma2), rel=1e-10)


@settings(max_examples=40)
@given(problems(), st.integers(0, 2**32 - 1))
def test_rotation_of_x_block(pb, seed):
    """(V, W, theta) -> (B V B^T, B W B^T, R theta) with B = diag(1, R, 1), R orthogonal."""
    V, W, theta, n, sigma2 = pb
    d = theta.shape[0]
    R, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    B = _block(R)
    assert numerics.expected_loss(B @ V @ B.T, B @ W @ B.T, R @ theta, n, sigma2) == pytest.approx(
        numerics.expected_loss(V, W, theta, n, sigma2), rel=1e-10)
    gV, gW = numerics.expected_loss_grad(V, W, theta, n, sigma2)
    rV, rW = numerics.expected_loss_grad(B @ V @ B.T, B @ W @ B.T, R @ theta, n, sigma2)
    assert np.allclose(rV, B @ gV @ B.T, rtol=1e-9, atol=1e-9 * np.abs(gV).max())
    assert np.allclose(rW, B @ gW @ B.T, rtol=1e-9, atol=1e-9 * np.abs(gW).max())


@settings(max_examples=40)
@given(problems())
def test_flip_x_and_y(pb):
    """(x, y) -> (-x, -y) maps the data distribution to itself, so with
    F = diag(1, -I, -1) the loss at (F V F, F W F) equals the loss at (V, W)."""
    V, W, theta, n, sigma2 = pb
    F = np.diag([1.0] + [-1.0] * (V.shape[0] - 1))
    assert numerics.expected_loss(F @ V @ F, F @ W @ F, theta, n, sigma2) == pytest.approx(
        numerics.expected_loss(V, W, theta, n, sigma2), rel=1e-10)


@settings(max_examples=30)
@given(problems())
def test_pretrain_loss_rotation_invariant(pb):
    V, W, _theta, m, sigma2 = pb
    d = V.shape[0] - 2
    R, _ = np.linalg.qr(np.random.default_rng(d + m).standard_normal((d, d)))
    B = _block(R)
    assert numerics.pretrain_loss(B @ V @ B.T, B @ W @ B.T, m, sigma2) == pytest.approx(
        numerics.pretrain_loss(V, W, m, sigma2), rel=1e-10)
