"""The claims registry: one :class:`~proofs_check.claims.claim.Claim` per id of docs/theory.md
section 5, in the order of that section.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
To add a claim, write its check in the module of its topic (it returns :class:`Findings`),
with its condition and weakenings where it has them, and append a :class:`Claim` to that
module's ``CLAIMS`` list; everything else (``iclft check``, ``explore``, ``export-latex``, the
worker balance, the test expectations) reads the registry.  See README.md.
"""
from __future__ import annotations

import importlib

from proofs_check.claims.claim import Claim, ClaimResult, Evidence, Findings, run_claim

__all__ = ["registry", "claim_ids", "claim_conditions", "TOPIC_MODULES", "Claim", "ClaimResult", "Evidence", "Findings",
           "run_claim"]

#: the topic modules whose ``CLAIMS`` make up the registry, in docs/theory.md order
TOPIC_MODULES = ("pretrain", "zs", "zsfs", "gradients", "degenerate")


def registry() -> list[Claim]:
    """Every registered claim, in docs/theory.md order (modules imported on demand)."""
    out = []
    for mod in TOPIC_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{mod}":
                continue
            raise
        out.extend(module.CLAIMS)
    return out


def claim_ids() -> list[str]:
    """The ids of :func:`registry`, in its order."""
    return [c.id for c in registry()]


def claim_conditions() -> dict:
    """``{claim id: Condition}`` of every registered claim that has a condition, in registry order."""
    return {c.id: c.condition for c in registry() if c.condition is not None}
