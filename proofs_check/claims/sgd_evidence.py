"""Training evidence: minibatch SGD on sampled prompts against the exact flow end point.

Used by the claims of both fine-tuning topics (:mod:`proofs_check.claims.zs`,
:mod:`proofs_check.claims.zsfs`): a route that shares no code with the closed forms (sampled
prompts, full ``D x D`` matrices) must end where the exact population flow ends.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import numpy as np

from numerics.sgd import sgd_finetune

from proofs_check.claims.claim import Evidence
from proofs_check.export.prose import tx
from proofs_check.methods import models
from vocabulary import DEFAULT_CONFIG

__all__ = ["SGD_EVIDENCE_SETTINGS", "sgd_endpoint_evidence"]

#: step size, steps, batch and seed of the SGD runs of the claims' evidence
SGD_EVIDENCE_SETTINGS = {"lr": 0.01, "steps": 2000, "batch": 64, "seed": 2026}


def sgd_endpoint_evidence(objective, train, keys, cfg=None, tol_se=4.0) -> Evidence:
    """Minibatch SGD on sampled prompts (full matrices, Polyak average of the last half)
    against the exact flow end point, within ``tol_se`` batch-means standard errors.

    Args:
        objective: ``"zs"`` or ``"zsfs"``.
        train: the trained block (``"v"``, ``"w"``, ``"all"``).
        keys: the reduced coordinates compared (``("a", "b")``).
        cfg: the configuration (default :data:`vocabulary.DEFAULT_CONFIG`).
        tol_se: the tolerance in standard errors: ``|sgd - flow| / stderr <= tol_se`` per key.

    Returns:
        An asserted ``monte-carlo`` :class:`Evidence`.
    """
    s = SGD_EVIDENCE_SETTINGS
    cfg = cfg or DEFAULT_CONFIG
    r = sgd_finetune(objective, "merged", train, cfg, **s)
    flow = models.endpoint(f"{objective}-{train}", cfg)[0]
    zs_ = {k: abs(r.coords[k] - flow[k]) / r.stderr[k] if r.stderr[k] > 0 else
           (0.0 if r.coords[k] == flow[k] else np.inf) for k in keys}
    details = {"lr": s["lr"], "steps": s["steps"], "batch": s["batch"],
               "seed": s["seed"], "tolerance": f"{tol_se:g} standard errors"}
    for k in keys:
        details[f"sgd_{k}"] = r.coords[k]
        details[f"flow_{k}"] = flow[k]
        details[f"stderr_{k}"] = r.stderr[k]
    details["off_manifold"] = r.off_manifold
    return Evidence("monte-carlo", tx("minibatch SGD on sampled prompts from the pretrained point (full $D times D$ "
                                      "matrices, seed {}) ends within {:g} standard errors of the exact flow end point",
                                      s['seed'], tol_se),
                    all(z <= tol_se for z in zs_.values()), details)
