"""Deciding helpers of ``numerics.stability``, driven down every branch: the zero-shot test
(every term at n = 0) and the stop rule of the full flow.

``benchmarks/mutation.py`` (mutants R06, R19) plants one bug of this class.
"""
from __future__ import annotations

import numpy as np

from numerics.endpoints import pretrained_problem
from vocabulary import Config


def test_zero_shot_test_of_the_stability_helper_needs_every_term_at_n_zero():
    """The zero-shot symmetries (the odd family of the separate form with K and Q trained) are
    counted only for an objective whose every term is at n = 0: ZS, not FS, pretraining or
    ZS + FS (which has one term at n = 0 and one at n = N)."""
    from numerics.stability import symmetry_basis

    cases = {"zs": True, "fs": False, "zsfs": False, "pretrain": False}
    for objective, want in cases.items():
        pb = pretrained_problem(objective, "separate", "all", Config(2, 5, 3, 0.1, 1.0))[0]
        _, dims = symmetry_basis(pb, pb.pack())
        assert (dims["zero_shot_odd"] > 0) is want, objective


def test_full_flow_stop_rule_on_each_branch():
    """``converged`` only when the gradient norm reached ``gtol``: a flow stopped by its time
    cap, by its evaluation cap, or started at the target says so."""
    from numerics.full_space import full_flow

    pb = pretrained_problem("zs", "merged", "all", Config(2, 5, 3, 0.1, 1.0))[0]
    x0 = pb.pack()
    g0 = float(np.linalg.norm(pb.grad(x0)))
    short = full_flow(pb, x0, gtol=1e-10, t_max=1e-3)
    assert short.stop == "t cap" and not short.converged and short.grad_norm > 1e-10
    capped = full_flow(pb, x0, gtol=1e-10, max_nfev=5)
    assert capped.stop != "converged" and not capped.converged
    done = full_flow(pb, x0, gtol=1e-8)
    assert done.stop == "converged" and done.converged and done.grad_norm <= 1e-8 * (1 + 1e-6)  # located crossing
    at = full_flow(pb, x0, gtol=2 * g0)
    assert at.converged and at.t_final == 0.0
