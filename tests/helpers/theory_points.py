"""Helpers shared by the theory tests (no tests here).

``embed`` maps reduced coordinates to full ``D x D`` NumPy matrices (token layout
``(1, x, y)``, merged ``W``; see ``theory.manifold``)."""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from theory import manifold
from theory.symbols import INV_KEYS


def orthonormal_pair(d: int, seed: int):
    """A unit ``theta0`` and a unit ``theta_perp`` orthogonal to it (``d >= 2``)."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, 2))
    Qm, _ = np.linalg.qr(A)
    return Qm[:, 0].copy(), Qm[:, 1].copy()


def embed(d, theta0, theta_perp, a, b, q, alpha, beta, h):
    """``(V, W)`` NumPy matrices of the manifold point (column ``y`` of ``W`` zero)."""
    V, W = manifold.embed(d, theta0, theta_perp, a, b, q, alpha, beta, h)
    return np.array(V, dtype=float), np.array(W, dtype=float)


def embed_separate(d, theta0, a, b, kc: dict, qc: dict):
    V, K, Q = manifold.embed_separate(d, theta0, a, b, kc, qc)
    return np.array(V, dtype=float), np.array(K, dtype=float), np.array(Q, dtype=float)


def inv_numpy(M, d, theta0, subs):
    """Evaluate an ``InvMat`` to a NumPy ``D x D`` matrix."""
    return np.array(manifold.inv_to_list(M, d, theta0, subs), dtype=float)


def rationals(lo=-2, hi=2, max_den=8):
    """Hypothesis strategy for exact rationals in ``[lo, hi]`` with small denominators: a
    denominator ``den <= max_den``, then a numerator in ``[lo den, hi den]`` (no filtering, so
    a tuple of many of them never trips hypothesis' filter health check)."""
    return st.integers(1, max_den).flatmap(
        lambda den: st.integers(lo * den, hi * den).map(lambda num: sp.Rational(num, den)))


def unit_pair():
    """Strategy for exact rational ``(kappa, rho)`` on the unit circle (Pythagorean)."""
    def mk(t):
        return (1 - t**2) / (1 + t**2), 2 * t / (1 + t**2)
    return rationals(-3, 3, 6).map(mk)


def rel_close(x: float, y: float, rel: float = 1e-10) -> bool:
    return abs(x - y) <= rel * max(1.0, abs(x), abs(y))


def mat_close(A, B, rel: float = 1e-10) -> bool:
    scale = max(1.0, float(np.abs(A).max(initial=0)), float(np.abs(B).max(initial=0)))
    return bool(np.abs(np.asarray(A) - np.asarray(B)).max(initial=0) <= rel * scale)


INV = INV_KEYS
