"""iclft.theory: dimension-free SymPy derivations for one-layer linear attention ICL.

Conventions (the one statement for the package; modules refer here; the full statement
is docs/theory.md section 1): token ``z = (1, x, y)`` -- index 0 is the constant 1, indices
``1..d`` hold ``x`` and index ``d+1`` the label ``y`` (``D = d + 2``); the attention average
``S = (sum_i z_i z_i^T + z_q z_q^T)/(n+1)`` includes the query token and is normalised by the
token count ``n+1``; ``yhat = e_y^T V S W z_q`` with the merged key-query matrix ``W``
acting on the query (code that keeps tokens as rows and computes ``Attn = Z M Z^T`` uses
``M = W^T``); separate form ``W = K^T Q``; ``L_n = E[(yhat - y_q)^2]`` includes the noise
floor ``sigma2``.  Reduced coordinates ``a b q alpha beta h`` (docs/theory.md section 4).

Modules: :mod:`symbols` (shared Symbols), :mod:`wick` (symbolic-``d`` Gaussian expectations),
:mod:`objectives` (losses), :mod:`manifold` (invariant algebra, embeddings),
:mod:`gradients` (full-matrix Frobenius gradients), :mod:`optima` (derived optima and
invariants), :mod:`conventions` (the anisotropic pretraining family; every derivation takes a
``convention``, :class:`vocabulary.Convention`, default today's), :mod:`limits` (large-``n`` limits and the expressions behind the claims'
conditions), :mod:`printing` (the one LaTeX printer; its :func:`~printing.latex` is ``theory.latex``), :mod:`naive` (brute-force concrete-``d`` reference),
:mod:`degenerate` (ZS of one attention matrix from a leftover value row).
"""
from . import degenerate, gradients, limits, optima
from .gradients import GradientResult, flow_lambdified, gradient
from .printing import derived, gradient_names, latex, registry
from .objectives import (expected_loss, fs, objective, pretrain_loss, pretrain_objective,
                         sphere_loss, zs, zsfs)

__all__ = ["expected_loss", "sphere_loss", "pretrain_loss", "pretrain_objective", "zs", "fs",
           "zsfs", "objective", "gradient", "GradientResult", "flow_lambdified", "latex", "derived",
           "registry", "gradient_names", "build_all"]


def build_all() -> None:
    """Build (and cache) every derived expression: losses, all gradients, all optima, the
    limits and the degenerate-start fits; later calls of the functions above are cache hits.

    Returns:
        None.
    """
    for name in registry():
        derived(name)
    for obj in gradients.OBJECTIVE_NAMES:
        for form, subsets in gradients.SUBSETS.items():
            for sub in subsets:
                gradient(obj, sub, form)
    optima.zs_global_minimisers()
    optima.pretrain_gradient_at_optimum("merged")
    optima.pretrain_gradient_at_optimum("separate")
    for obj in gradients.OBJECTIVE_NAMES:
        optima.balancedness_rate(obj)
    limits.large_n_limit()
    limits.zs_v_inverse_n_coefficient()
    limits.zs_all_gap_polynomial()
    limits.zsfs_v_tradeoff()
    limits.zsfs_w_tradeoff()
    for train in degenerate.DEGENERATE_SUBSETS:
        for parallel in (True, False):
            degenerate.zs_frozen_value_fit(train, parallel)
        for task in ("line", "sphere"):
            degenerate.parallel_leading_coefficient(train, task)
        degenerate.parallel_rate_matrix(train)
