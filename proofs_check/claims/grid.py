"""The declared grids of configurations and exact evaluation of derived expressions.

A configuration is ``(d, m, N, sigma2, lam)`` (docs/theory.md section 5).  Derived SymPy
expressions are evaluated *exactly* at a configuration (``sigma2`` and ``lam`` become
the rationals of their decimal strings) and turned into floats only for display.
"""
from __future__ import annotations

import itertools

import sympy as sp

from theory.symbols import N, d, lam, m, sigma2, to_expr

from .base import Config

__all__ = ["GRID", "FLOW_GRID", "exact", "exact_subs", "num", "rational"]

#: closed-form claims: 4 x 3 x 2 x 3 x 2 = 144 configurations
GRID = [Config(dd, mm, NN, s2, ll) for dd, mm, NN, s2, ll in itertools.product(
    (2, 3, 5, 10), (5, 20, 40), (5, 20), (0.0, 0.1, 0.5), (1.0, 4.0))]

#: claims that need a gradient-flow end point (each flow is integrated): 6 configurations,
#: all with sigma2 > 0 (at sigma2 = 0 the full ZS + FS flow has no finite limit; the
#: claims report that case separately)
FLOW_GRID = [Config(dd, mm, NN, s2, ll) for dd, mm, NN, s2, ll in (
    (5, 20, 20, 0.1, 1.0), (2, 20, 20, 0.1, 1.0), (10, 40, 20, 0.5, 1.0), (3, 20, 10, 0.5, 4.0),
    (8, 20, 20, 0.1, 0.5), (4, 30, 10, 0.1, 2.0))]


def rational(x: float) -> sp.Rational:
    """The rational of a float's shortest decimal string: ``0.1 -> 1/10``."""
    return sp.Rational(repr(float(x)))


def exact_subs(cfg: Config) -> dict:
    return {d: sp.Integer(cfg.d), m: sp.Integer(cfg.m), N: sp.Integer(cfg.N),
            sigma2: rational(cfg.sigma2), lam: rational(cfg.lam)}


def exact(expr, cfg: Config, extra: dict | None = None):
    """``expr`` at ``cfg`` (and ``extra``), exactly, simplified by ``cancel``."""
    sub = exact_subs(cfg)
    if extra:
        sub.update(extra)
    return sp.cancel(to_expr(expr).subs(sub))


def num(expr, cfg: Config, extra: dict | None = None) -> float:
    return float(sp.N(exact(expr, cfg, extra), 30))



_LOSS_GENS = None


def _loss_poly():
    """``(n+1)^2 L_n`` as a ``Poly`` over ``QQ`` in ``a b q alpha beta h kappa rho d n sigma2``."""
    global _LOSS_GENS
    if _LOSS_GENS is None:
        from theory.objectives import expected_loss_numerator
        from theory.symbols import a, alpha, b, beta, h, kappa, n, q, rho
        from theory.symbols import d as d_, sigma2 as s2_
        gens = (a, b, q, alpha, beta, h, kappa, rho, d_, n, s2_)
        _LOSS_GENS = (gens, sp.Poly(expected_loss_numerator(), *gens, domain="QQ"))
    return _LOSS_GENS


def exact_loss(coords: dict, kappa_, rho_, d_: int, n_: int, sigma2_) -> sp.Rational:
    """``L_n`` at rational reduced coordinates ``coords`` (keys ``a b q alpha beta h``),
    exactly: the derived numerator polynomial evaluated over ``QQ``, divided by ``(n+1)^2``."""
    gens, P = _loss_poly()
    vals = [sp.nsimplify(coords[g.name]) if isinstance(coords[g.name], float) else coords[g.name]
            for g in gens[:6]]
    vals += [to_expr(kappa_), to_expr(rho_), sp.Integer(d_), sp.Integer(n_),
             rational(sigma2_) if isinstance(sigma2_, float) else to_expr(sigma2_)]
    return P.eval(dict(zip(gens, vals))) / sp.Integer(n_ + 1) ** 2
