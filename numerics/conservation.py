r"""The quantities a gradient flow conserves, per trained subset.

Conventions: see :mod:`numerics` (stated once there).

Noether for gradient flows: if ``L(g_s x) = L(x)`` for a one-parameter group ``g_s`` that
acts on the *trained* matrices only, then ``d/dt`` of the matching quadratic form vanishes
along ``dx/dt = -grad L``.  The groups of this model (``yhat = e_y^T V S W z_q``,
``W = K^T Q``):

* ``(s V, W / s)``: ``<V, G_V> = <W, G_W>``, so ``|V|^2 - |W|^2`` is conserved when ``V``
  and ``W`` are both trained (merged ``all``);
* ``(s V, K / s, Q)``: ``|V|^2 - |K|^2`` when ``V`` and ``K`` are trained;
  ``(s V, K, Q / s)``: ``|V|^2 - |Q|^2`` when ``V`` and ``Q`` are trained;
* the gauge ``K -> A K``, ``Q -> A^{-T} Q``: ``K K^T - Q Q^T`` (every entry, hence also
  ``|K|^2 - |Q|^2``) when ``K`` and ``Q`` are both trained.

A group that would move a frozen matrix is no symmetry of the subset's flow, and its
quantity changes (e.g. ``v2 - |K|^2`` under ``--train k``).  Rows of ``V`` other than the
label row are never read (zero gradient), so ``v2 = |V e_y|^2`` stands for ``|V|^2``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["CONSERVED_BY", "conserved_names", "scalar_invariants"]

#: invariant name (or name prefix) -> the matrices that must all be trained for the flow to
#: conserve it (module docstring)
CONSERVED_BY = {"v2_minus_W2": ("V", "W"), "v2_minus_K2": ("V", "K"), "v2_minus_Q2": ("V", "Q"),
                "K2_minus_Q2": ("K", "Q"), "KKt_minus_QQt_": ("K", "Q")}


def conserved_names(names, trained) -> tuple:
    """The names among ``names`` that the flow training ``trained`` conserves.

    Args:
        names: invariant names (``KKt_minus_QQt_<basis>`` matched by its prefix).
        trained: the trained matrix names.

    Returns:
        Those of ``names`` whose matrices (:data:`CONSERVED_BY`) are all trained, in order.
    """
    trained = set(trained)

    def needs(name):
        for key, mats in CONSERVED_BY.items():
            if name == key or (key.endswith("_") and name.startswith(key)):
                return mats
        raise ValueError(f"unknown invariant {name!r}")
    return tuple(n for n in names if set(needs(n)) <= trained)


def scalar_invariants(mats: dict) -> dict:
    """``v2_minus_W2`` (merged: ``V, W`` given) or ``v2_minus_K2``, ``v2_minus_Q2``,
    ``K2_minus_Q2`` (separate: ``V, K, Q``) of full matrices, ``v2 = |V e_y|^2``."""
    V = np.asarray(mats["V"], dtype=float)
    v2 = float(V[-1] @ V[-1])
    if "W" in mats and "K" not in mats:
        return {"v2_minus_W2": v2 - float(np.sum(np.asarray(mats["W"]) ** 2))}
    K2, Q2 = float(np.sum(np.asarray(mats["K"]) ** 2)), float(np.sum(np.asarray(mats["Q"]) ** 2))
    return {"v2_minus_K2": v2 - K2, "v2_minus_Q2": v2 - Q2, "K2_minus_Q2": K2 - Q2}
