"""The fast flow's interpolant cache key covers every input of the problem.

``benchmarks/mutation.py`` (mutant R11) plants one bug of this class.
"""
from __future__ import annotations

import numpy as np

from vocabulary import Config


def test_interpolant_cache_key_covers_every_input():
    """The fast flow's polynomial gradient is cached under a key; a problem that differs in
    any input (objective, N, m, lam, sigma2, d, theta0) must get its own polynomial, equal to
    the exact gradient of *that* problem."""
    from numerics.flow import setup_problem
    from numerics.reduced import ReducedProblem, interpolant

    base = dict(objective="zsfs", train="all", d=2, m=5, N=3, sigma2=0.1, lam=1.0, form="merged", theta0=None)
    X = np.random.default_rng(0).uniform(-1.2, 1.2, size=(4, 6))
    for change in ({}, {"objective": "zs"}, {"N": 4}, {"lam": 2.0}, {"sigma2": 0.35}, {"d": 3}, {"m": 7},
                   {"theta0": np.array([0.6, 0.8])}, {"objective": "fs"}, {"objective": "fs", "N": 5}):
        args = {**base, **change}
        keys = ("d", "m", "N", "sigma2", "lam")
        pb, _, _, key = setup_problem(args["objective"], args["form"], args["train"],
                                      Config(*(args[k] for k in keys)), theta0=args["theta0"])
        fit = interpolant(key, pb.terms, args["d"], pb.t)
        exact = ReducedProblem(pb.terms, "all", "merged", args["d"], pb.t).raw_coeffs(X)
        assert np.abs(np.array([fit(x) for x in X]) - exact).max() <= 1e-8 * np.abs(exact).max(), change
