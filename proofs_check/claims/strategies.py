"""Hypothesis strategies for property tests of the paper's setting (public API).

Use them in your own tests::

    from hypothesis import given, settings
    from proofs_check.claims.strategies import configs

    @given(configs(d_max=6))
    @settings(max_examples=20, deadline=None)
    def test_c_star_is_in_the_unit_interval(cfg):
        ...

Strategies:

* :func:`configs`: a :class:`vocabulary.Config` ``(d, m, N, sigma2, lam)`` in
  the claims' domain (``d <= 12``, ``m, N <= 60``, ``sigma2`` in ``[0, 2]``, ``lam`` in
  ``(0, 8]``); ``sigma2`` and ``lam`` are multiples of ``1/20``, so their decimal strings
  are exact rationals and exact evaluation stays small.
* :func:`problems`: a random unstructured problem ``(V, W, theta, n, sigma2)`` (Gaussian
  ``D x D`` matrices, ``D = d + 2``, from a drawn seed).
* :func:`tasks`: a task as ``(name, kappa, rho)``, the unit vector ``kappa theta0 + rho
  theta_perp`` (``target``, ``negated``, ``orthogonal`` or a rational point of the circle).
* :func:`manifold_models`: a model on the reduced manifold, the coordinates ``{a, b, q,
  alpha, beta, h}`` as exact rationals (``fractions.Fraction``).

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
Every strategy shrinks towards small ``d, m, N``, ``sigma2 = 0`` and small coordinates.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

from vocabulary import Config

__all__ = ["configs", "problems", "tasks", "manifold_models", "SIGMA2_MAX", "LAM_MAX", "STEP"]

#: upper ends of the domain of sigma2 and lam, and the grid step of both
SIGMA2_MAX, LAM_MAX, STEP = 2, 8, Fraction(1, 20)


def _check_range(name, lo, hi, lo_min):
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo < lo_min or hi < lo:
        raise ValueError(f"{name}: need integers {lo_min} <= {name}_min <= {name}_max, got ({lo!r}, {hi!r})")


def configs(d_min: int = 1, d_max: int = 12, m_min: int = 1, m_max: int = 60, N_min: int = 0,
            N_max: int = 60, sigma2_max=SIGMA2_MAX, lam_max=LAM_MAX, sigma2_min=0,
            lam_min=STEP) -> st.SearchStrategy[Config]:
    """Configurations ``(d, m, N, sigma2, lam)``.

    Args:
        d_min, d_max: feature dimension range (``d_min >= 1``; ``theta_perp`` needs ``d >= 2``).
        m_min, m_max: pretraining shots (``m_min >= 1``: at ``m = 0`` ``L_pre`` is flat in ``c``).
        N_min, N_max: fine-tuning shots.
        sigma2_max: ``sigma2`` is drawn from ``{sigma2_min, sigma2_min + 1/20, ..., sigma2_max}``.
        lam_max: ``lam`` is drawn from ``{1/20, 2/20, ..., lam_max}`` (never 0).
        sigma2_min: least ``sigma2`` (e.g. ``1/10`` where a flow has no finite limit at 0).
        lam_min: least ``lam`` (a positive multiple of 1/20).

    Returns:
        A strategy of :class:`~vocabulary.Config`.
    """
    _check_range("d", d_min, d_max, 1)
    _check_range("m", m_min, m_max, 1)
    _check_range("N", N_min, N_max, 0)
    s_hi = int(Fraction(sigma2_max) / STEP)
    s_lo = int(Fraction(sigma2_min) / STEP)
    l_hi = int(Fraction(lam_max) / STEP)
    l_lo = int(Fraction(lam_min) / STEP)
    if s_lo < 0 or s_hi < s_lo or l_lo < 1 or l_hi < l_lo:
        raise ValueError(f"sigma2_max must be >= 0 and lam_max >= {STEP}, got {sigma2_max!r}, {lam_max!r}")
    return st.builds(
        lambda d, m, N, s, lam: Config(d, m, N, float(s * STEP), float(lam * STEP)),
        st.integers(d_min, d_max), st.integers(m_min, m_max), st.integers(N_min, N_max),
        st.integers(s_lo, s_hi), st.integers(l_lo, l_hi))


@st.composite
def problems(draw, d_range=(1, 4), n_range=(0, 6), scale=1.0):
    """A random problem ``(V, W, theta, n, sigma2)``.

    Args:
        d_range: inclusive range of ``d``.
        n_range: inclusive range of the shot count ``n``.
        scale: standard deviation of the Gaussian entries of ``V`` and ``W``.

    Returns:
        ``(V, W, theta, n, sigma2)``: ``D x D`` arrays (``D = d + 2``), a Gaussian (not unit)
        ``theta`` of length ``d``, an int ``n`` and a float ``sigma2`` in ``[0, 1]``.
    """
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


#: rational points (kappa, rho) of the unit circle besides the three named tasks
_PYTHAGOREAN = ((Fraction(3, 5), Fraction(4, 5)), (Fraction(-4, 5), Fraction(3, 5)),
                (Fraction(5, 13), Fraction(12, 13)), (Fraction(-12, 13), Fraction(-5, 13)))


def tasks(named_only: bool = False) -> st.SearchStrategy[tuple]:
    """Tasks ``theta = kappa theta0 + rho theta_perp`` with ``kappa^2 + rho^2 = 1`` exactly.

    Args:
        named_only: only ``target`` (1, 0), ``negated`` (-1, 0) and ``orthogonal`` (0, 1).

    Returns:
        A strategy of ``(name, kappa, rho)`` with ``kappa``, ``rho`` as ``Fraction``.
    """
    named = [("target", Fraction(1), Fraction(0)), ("negated", Fraction(-1), Fraction(0)),
             ("orthogonal", Fraction(0), Fraction(1))]
    if named_only:
        return st.sampled_from(named)
    return st.sampled_from(named + [(f"circle({k},{r})", k, r) for k, r in _PYTHAGOREAN])


def manifold_models(bound: int = 2, denominator: int = 16) -> st.SearchStrategy[dict]:
    """Models on the reduced manifold: ``{"a", "b", "q", "alpha", "beta", "h"}`` as ``Fraction``.

    Args:
        bound: every coordinate lies in ``[-bound, bound]``.
        denominator: coordinates are multiples of ``1/denominator``.

    Returns:
        A strategy of coordinate dicts (embed with :func:`numerics.manifold.merged_point`).
    """
    if not isinstance(bound, int) or bound < 1 or not isinstance(denominator, int) or denominator < 1:
        raise ValueError(f"bound and denominator must be positive integers, got {bound!r}, {denominator!r}")
    k = bound * denominator
    coord = st.integers(-k, k).map(lambda i: Fraction(i, denominator))
    return st.fixed_dictionaries({name: coord for name in ("a", "b", "q", "alpha", "beta", "h")})
