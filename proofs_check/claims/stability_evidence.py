"""Evidence that a fine-tuning claim rests on stable end points, in both forms.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query,
``W = K^T Q`` in the separate form.  For a method, the symmetric flow end point and the
generic outcome (saddles escaped along their most negative eigenvector) are classified by
:func:`numerics.stability.classify` in the merged and the separate form.  The evidence
passes only when the generic end point is a ``minimum`` in both forms; a symmetric saddle
is reported as such.
"""
from __future__ import annotations

import numpy as np

import numerics

from proofs_check.methods import models
from proofs_check.export.prose import tx
from vocabulary import Config, DEFAULT_CONFIG
from proofs_check.claims.claim import Evidence

__all__ = ["verdict_evidence", "separate_icl_degraded_evidence"]


def _label(st) -> str:
    return st.verdict + (f" (index {st.index})" if st.verdict == "saddle" else "")


def verdict_evidence(method: str, cfg: Config = DEFAULT_CONFIG) -> Evidence:
    """The stability of ``method``'s end points in both forms (generic must be a minimum).

    Args:
        method: a fine-tuning method (``zs-all``, ``zs-v``, ...).
        cfg: the configuration (default: the paper's).

    Returns:
        An :class:`Evidence` of kind ``numeric``.
    """
    details, parts, ok = {}, [], True
    for form in ("merged", "separate"):
        o = models.outcome(method, cfg, form, "generic")
        sym, gen = o.stages[0].stability, o.stability
        # classify() calls a point whose gradient is not small against the spectrum "not a
        # stationary point", so a minimum verdict is a near-stationary point; a flow stopped by
        # a cap (slow, algebraic convergence) is said so, with its final gradient norm
        ok = ok and gen.verdict == "minimum"
        cap = "" if o.flow.converged else tx(" (a finite-time point: {}, $|grad| = {:.1e}$ at $t = {:.3g}$)",
                                             o.flow.stop, o.flow.grad_norm, o.flow.t_final)
        parts.append(tx("{}: symmetric end point {} at {:.6g}, generic {} at {:.6g}", form, _label(sym), sym.value,
                        _label(gen), gen.value) + cap)
        details[f"{form}_symmetric"] = {"verdict": sym.verdict, "index": sym.index, "value": sym.value,
                                        "min_eigenvalue": sym.min_eigenvalue, "tolerance": sym.tolerance}
        details[f"{form}_generic"] = {"verdict": gen.verdict, "index": gen.index, "value": gen.value,
                                      "min_eigenvalue": gen.min_eigenvalue, "null_dim": gen.null_dim,
                                      "symmetry_dim": gen.symmetry_dim, "tolerance": gen.tolerance,
                                      "reason": gen.reason, "stop": o.flow.stop,
                                      "grad_norm": o.flow.grad_norm}
    desc = tx("stability of the {} end points (exact Hessian over the full matrices, default configuration): ", method)
    for j, p in enumerate(parts):
        desc = desc + ("; " if j else "") + p
    return Evidence("numeric", desc + ". The claim is checked on the generic (stable) end point", ok, details)


def separate_icl_degraded_evidence(cfg: Config = DEFAULT_CONFIG) -> Evidence:
    """Separate form, generic ZS-all end point: worse than pretrained for n = 1..200 on theta0,
    -theta0 and theta_perp, and ``L_40(theta_perp) > 1 + sigma2``.

    Returns:
        An :class:`Evidence` of kind ``numeric``.
    """
    V, W = models.model("zs-all", cfg, "separate", "generic")
    Vp, Wp = models.model("pretrained", cfg, "separate", "generic")
    d = cfg.d
    t0, tp = np.eye(d)[0], np.eye(d)[1]
    worst = np.inf
    far = {}
    for name, th in (("target", t0), ("negated", -t0), ("orthogonal", tp)):
        gap = min(f - p for f, p in zip(models.exact_curve(V, W, th, cfg.sigma2, (1, 200)),
                                        models.exact_curve(Vp, Wp, th, cfg.sigma2, (1, 200))))
        worst = min(worst, gap)
        far[f"L_4000({name})"] = numerics.expected_loss(V, W, th, 4000, cfg.sigma2)
    L40 = numerics.expected_loss(V, W, tp, 40, cfg.sigma2)
    ok = worst > 0 and L40 > 1 + cfg.sigma2
    return Evidence("numeric", tx("separate form $W = K^T Q$, generic ZS-all end point (the symmetric one is a saddle): "
                                  "the $n$-shot error is above the pretrained model's for $n = 1, ..., 200$ on $theta0$, "
                                  "$-theta0$ and $theta_perp$, and $L_40(theta_perp) > 1 + sigma2$: full ZS fine-tuning "
                                  "destroys ICL in the separate form too"), ok, {"min_gap_to_pretrained": worst, "L_40(theta_perp)": L40,
                                     "one_plus_sigma2": 1 + cfg.sigma2, **far})
