"""Configurations of the paper's synthetic setting: the defaults, :class:`Config` and the
declared grids the claims evaluate (plain data, no formulas).

A configuration is ``(d, m, N, sigma2, lam)``: feature dimension, pretraining prompt length,
fine-tuning prompt length of the few-shot term, label noise variance and the weight of the
auxiliary few-shot loss (docs/theory.md sections 1 and 5).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = ["DEFAULTS", "Config", "DEFAULT_CONFIG", "EDGES", "GRID", "FLOW_GRID"]

#: the paper's synthetic setting; the CLI defaults (the Python API takes explicit values)
DEFAULTS = {"d": 5, "m": 20, "N": 20, "sigma2": 0.1, "lam": 1.0, "shots": (0, 40)}


@dataclass(frozen=True)
class Config:
    """One configuration ``(d, m, N, sigma2, lam)`` of the paper's synthetic setting."""

    d: int = DEFAULTS["d"]
    m: int = DEFAULTS["m"]
    N: int = DEFAULTS["N"]
    sigma2: float = DEFAULTS["sigma2"]
    lam: float = DEFAULTS["lam"]

    def as_dict(self) -> dict:
        return {"d": self.d, "m": self.m, "N": self.N, "sigma2": self.sigma2, "lam": self.lam}


#: the configuration of :data:`DEFAULTS`
DEFAULT_CONFIG = Config()


#: the corners of the domain the product grid misses (m = 1, 60; N = 1, 60; d = 12;
#: sigma2 = 2; lam = 0.05, 8), appended after the product grid so that a subsample GRID[::k]
#: of its first 144 configurations does not depend on them
EDGES = [Config(dd, mm, NN, s2, ll) for dd, mm, NN, s2, ll in (
    (2, 1, 1, 0.0, 0.05), (12, 60, 60, 2.0, 8.0), (2, 60, 1, 2.0, 0.05), (12, 1, 60, 0.0, 8.0))]

#: closed-form claims: 4 x 3 x 2 x 3 x 2 = 144 configurations and the 4 EDGES (148)
GRID = [Config(dd, mm, NN, s2, ll) for dd, mm, NN, s2, ll in itertools.product(
    (2, 3, 5, 10), (5, 20, 40), (5, 20), (0.0, 0.1, 0.5), (1.0, 4.0))] + EDGES

#: claims that need a gradient-flow end point (each flow is integrated): 6 configurations,
#: all with sigma2 > 0 (at sigma2 = 0 the full ZS + FS flow has no finite limit; the
#: claims report that case separately)
FLOW_GRID = [Config(dd, mm, NN, s2, ll) for dd, mm, NN, s2, ll in (
    (5, 20, 20, 0.1, 1.0), (2, 20, 20, 0.1, 1.0), (10, 40, 20, 0.5, 1.0), (3, 20, 10, 0.5, 4.0),
    (8, 20, 20, 0.1, 0.5), (4, 30, 10, 0.1, 2.0))]
