"""Helpers shared by the tests; the hypothesis strategies are the public ones of
:mod:`proofs_check.claims.strategies` (re-exported here)."""
from proofs_check.claims.strategies import configs, manifold_models, problems, tasks  # noqa: F401


def five_point(f, h=0.25):
    """Five-point central stencil ``(f(-2h) - 8f(-h) + 8f(h) - f(2h)) / (12h)`` for f'(0).

    It is exact for polynomials of degree <= 4, which the loss is along any line."""
    return (f(-2 * h) - 8 * f(-h) + 8 * f(h) - f(2 * h)) / (12 * h)
