"""Hypothesis strategies shared by the tests: random unstructured matrices and tasks."""
import numpy as np
from hypothesis import strategies as st


@st.composite
def problems(draw, d_range=(1, 4), n_range=(0, 6), scale=1.0):
    """``(V, W, theta, n, sigma2)`` with Gaussian entries from a drawn seed."""
    d = draw(st.integers(*d_range))
    n = draw(st.integers(*n_range))
    sigma2 = draw(st.floats(0.0, 1.0, allow_nan=False))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    D = d + 2
    V = scale * rng.standard_normal((D, D))
    W = scale * rng.standard_normal((D, D))
    theta = rng.standard_normal(d)
    return V, W, theta, n, sigma2


def five_point(f, h=0.25):
    """Five-point central stencil ``(f(-2h) - 8f(-h) + 8f(h) - f(2h)) / (12h)`` for f'(0).

    It is exact for polynomials of degree <= 4, which the loss is along any line."""
    return (f(-2 * h) - 8 * f(-h) + 8 * f(h) - f(2 * h)) / (12 * h)
