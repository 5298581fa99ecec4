"""The shared pieces of the convention-aware checks (:mod:`proofs_check.claims.convention_checks`,
:mod:`proofs_check.claims.convention_curve_checks`): their grid, Monte Carlo settings and helpers.

Conventions: a :class:`vocabulary.Convention` is an input of every function here; today's
convention is stated in :mod:`proofs_check` and docs/theory.md section 1.
"""
from __future__ import annotations

import numpy as np

from numerics.conventions import convention_loss, monte_carlo_convention_loss
from theory import optima

from proofs_check.claims.claim import Evidence
from proofs_check.claims.exact import num
from vocabulary import DEFAULT_CONFIG, Config

__all__ = ["MC_SAMPLES", "MC_SEED", "CONV_GRID", "vertex", "isotropic", "unit_theta0", "config_of", "c_star_value",
           "sampled_curve", "max_z_score"]


#: prompts and first seed of the Monte Carlo items of the convention-aware checks
MC_SAMPLES = 200_000
MC_SEED = 2026


#: the configurations of the numeric comparisons (a small grid: d, m, sigma2)
CONV_GRID = [(dd, mm, s2) for dd in (2, 3, 5) for mm in (5, 20) for s2 in (0.0, 0.1, 0.5)]


def vertex(f) -> float:
    """The minimiser of a quadratic ``f(c)`` from its values at ``c = 0, 1, 2``."""
    f0, f1, f2 = f(0.0), f(1.0), f(2.0)
    return (3 * f0 - 4 * f1 + f2) / (2 * (f0 - 2 * f1 + f2))


def isotropic(conv) -> None:
    """Raise ``NotImplementedError`` for an anisotropic feature covariance (no reduced manifold:
    the claim is ``not derived`` there)."""
    if conv.covariance is not None:
        raise NotImplementedError


def unit_theta0(dd: int) -> np.ndarray:
    """``theta0 = e_1`` in dimension ``dd``."""
    t = np.zeros(dd)
    t[0] = 1.0
    return t


def config_of(cfg) -> Config:
    """The :class:`vocabulary.Config` of a ``(d, m, sigma2)`` triple of the convention grids."""
    dd, mm, s2 = cfg
    return Config(d=dd, m=mm, sigma2=s2)


def c_star_value(conv, cfg) -> float:
    """The convention's derived ``c*`` (:func:`theory.optima.pretrain_c_star`) at a ``(d, m, sigma2)`` triple."""
    return num(optima.pretrain_c_star(conv), config_of(cfg))


def sampled_curve(V, W, conv, shots, what: str, samples: int = 20_000) -> Evidence:
    """Monte Carlo evidence: the sampled ``L_n`` on ``theta0 = e_1`` at the default configuration
    within 5 standard errors of the NumPy closed form, for ``n`` in ``shots`` (seeds from MC_SEED)."""
    cfg = DEFAULT_CONFIG
    t0 = unit_theta0(cfg.d)
    zs_ = []
    for k, nn in enumerate(shots):
        mean, se = monte_carlo_convention_loss(V, W, t0, nn, cfg.sigma2, conv, samples=samples, seed=MC_SEED + k)
        zs_.append(abs(mean - convention_loss(V, W, t0, nn, cfg.sigma2, conv)) / se)
    return Evidence("monte-carlo", f"sampled {what} ({conv.name}, n = {', '.join(map(str, shots))}, {samples} "
                    "prompts each) within 5 standard errors of the NumPy closed form", max(zs_) < 5,
                    {"max_z_score": max(zs_)})


def max_z_score(exact, mc, se) -> float:
    """The largest ``|exact - mc| / se`` over the entries with ``se > 0``; an entry with
    ``se = 0`` counts its absolute difference times ``1e12``."""
    mask = se > 0
    z = float(np.max(np.abs(exact[mask] - mc[mask]) / se[mask])) if mask.any() else 0.0
    if (~mask).any():
        z = max(z, float(np.max(np.abs(exact[~mask] - mc[~mask]))) * 1e12)
    return z
