"""Bad input raises ValueError naming the argument."""
import numpy as np
import pytest

import numerics

D = 4
V = np.eye(D)
W = np.eye(D)
TH = np.array([1.0, 0.0])


@pytest.mark.parametrize("call,name", [
    (lambda: numerics.expected_loss(np.eye(3), W, TH, 1), "W"),
    (lambda: numerics.expected_loss(V[:3], W, TH, 1), "V"),
    (lambda: numerics.expected_loss(np.full((D, D), np.nan), W, TH, 1), "V"),
    (lambda: numerics.expected_loss(V, np.full((D, D), np.inf), TH, 1), "W"),
    (lambda: numerics.expected_loss(V, W, [1.0, 0.0, 0.0], 1), "theta"),
    (lambda: numerics.expected_loss(V, W, [np.nan, 0.0], 1), "theta"),
    (lambda: numerics.expected_loss(V, W, TH, -1), "n"),
    (lambda: numerics.expected_loss(V, W, TH, 1.5), "n"),
    (lambda: numerics.expected_loss(V, W, TH, True), "n"),
    (lambda: numerics.expected_loss(V, W, TH, 1, -0.1), "sigma2"),
    (lambda: numerics.expected_loss(V, W, TH, 1, float("nan")), "sigma2"),
    (lambda: numerics.expected_loss(np.eye(2), np.eye(2), [], 1), "V"),
    (lambda: numerics.expected_loss_grad(V, W, TH, -2), "n"),
    (lambda: numerics.pretrain_loss(V, W, -1), "m"),
    (lambda: numerics.pretrain_loss_grad(V, W, 2, -1.0), "sigma2"),
    (lambda: numerics.expected_loss_grad_kq(V, np.eye(3), W, TH, 1), "K"),
    (lambda: numerics.expected_loss_grad_kq(V, W, np.ones((D, D)) * np.inf, TH, 1), "Q"),
    (lambda: numerics.monte_carlo_loss(V, W, TH, 1, samples=0), "samples"),
    (lambda: numerics.monte_carlo_loss(V, W, TH, 1, seed=-3), "seed"),
    (lambda: numerics.monte_carlo_loss(V, W, TH, 1, seed="x"), "seed"),
    (lambda: numerics.sample_prompts(TH, 2, 0), "size"),
    (lambda: numerics.predict(V, W, np.zeros((2, 3, 5)), np.zeros((2, 3)), np.zeros((2, 2))), "X"),
    (lambda: numerics.predict(V, W, np.zeros((2, 3, 2)), np.zeros((2, 4)), np.zeros((2, 2))), "y"),
    (lambda: numerics.predict(V, W, np.zeros((2, 3, 2)), np.zeros((2, 3)), np.zeros((3, 2))), "xq"),
    (lambda: numerics.expected_loss("abc", W, TH, 1), "V"),
])
def test_value_error_names_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        call()
