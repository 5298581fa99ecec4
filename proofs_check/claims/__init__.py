"""The claims registry: one :class:`~proofs_check.claims.claim.Claim` per id of docs/theory.md
section 5, in the order of that section.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
To add a claim, write its check in the module of its
topic (it returns an :class:`Outcome` of evidence) and append a :class:`Claim` to that
module's ``CLAIMS`` list; see README.md.
"""
from __future__ import annotations

import importlib

from proofs_check.claims.claim import Claim, ClaimResult, Evidence, Outcome, run_claim

__all__ = ["registry", "claim_ids", "Claim", "ClaimResult", "Evidence", "Outcome", "run_claim"]

_MODULES = ("pretrain", "zs", "zsfs", "gradients", "degenerate")


def registry() -> list[Claim]:
    """Every registered claim, in docs/theory.md order (modules imported on demand)."""
    out = []
    for mod in _MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{mod}":
                continue
            raise
        out.extend(module.CLAIMS)
    return out


def claim_ids() -> list[str]:
    return [c.id for c in registry()]
