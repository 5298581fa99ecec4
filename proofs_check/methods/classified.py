"""Fine-tuned models that rest on classified end points, in both forms.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query
(``M = W^T`` in row-token code), ``W = K^T Q`` in the separate form; ``theta0 = e_1``,
``theta_perp = e_2``.  A method (:data:`vocabulary.METHODS`) in a form, from a start
(``symmetric``: the exact flow from the pretrained member, which stays on the invariant
manifold; ``generic``: the end point after escaping every saddle along its most negative
eigenvector, :func:`numerics.endpoints.generic_outcome`) and a pretrained member
(``scale``: ``s > 0`` or ``balanced``).  The model is the full matrices of the end point;
its curves use the exact closed forms.
"""
from __future__ import annotations

import functools

import numpy as np

from numerics.manifold import merged_coords
from numerics.endpoints import STARTS, generic_outcome, pretrained_member, symmetric_outcome
from vocabulary import METHODS, methods_for

from vocabulary import Config
from proofs_check.methods.flow_models import exact_curve, task_vector

__all__ = ["outcome", "model", "curve", "coords", "STARTS"]


def _check(method, form, start):
    if form not in ("merged", "separate"):
        raise ValueError(f"form must be merged or separate, got {form!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method not in methods_for(form):
        raise ValueError(f"method {method} needs --form separate (it trains K or Q alone)")
    if start not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}, got {start!r}")


def outcome(method: str, cfg: Config, form: str = "merged", start: str = "generic", scale=1.0):
    """The :class:`numerics.endpoints.ClassifiedEndpoint` of ``method`` (``None`` for ``pretrained``).

    Args:
        method: a key of :data:`vocabulary.METHODS` available in ``form``.
        cfg: the configuration.
        form: ``merged`` or ``separate``.
        start: ``symmetric`` or ``generic``.
        scale: the pretrained member, ``s > 0`` or ``balanced``.

    Returns:
        An outcome, or ``None`` for the pretrained model.
    """
    _check(method, form, start)
    return _outcome(method, cfg, form, start, scale)


@functools.lru_cache(maxsize=64)
def _outcome(method, cfg, form, start, scale):
    """:func:`outcome`, memoised on its arguments spelled out in full (one entry per outcome
    however the caller spelled them)."""
    meth = METHODS[method]
    if meth.objective is None:
        return None
    fn = generic_outcome if start == "generic" else symmetric_outcome
    return fn(meth.objective, form, meth.train_for(form), cfg, scale=scale)


def model(method: str, cfg: Config, form: str = "merged", start: str = "generic", scale=1.0):
    """``(V, W)`` of the model (``W = K^T Q`` in the separate form), full matrices."""
    o = outcome(method, cfg, form, start, scale)
    if o is None:
        mats = pretrained_member(cfg.d, cfg.m, cfg.sigma2, form, scale)
        return (mats["V"], mats["W"]) if form == "merged" else (mats["V"], mats["K"].T @ mats["Q"])
    return o.merged


def coords(V, W, d: int) -> tuple[dict, float]:
    """Merged reduced coordinates of ``(V, W)`` (projection) and the off-manifold residual."""
    pr = merged_coords(V, W, np.eye(d)[0])
    return dict(pr.coeffs), float(pr.residual)


def curve(method: str, task: str, cfg: Config, shots: tuple[int, int], form: str = "merged",
          start: str = "generic", scale=1.0) -> list[float]:
    """Exact ``n``-shot error for ``n = shots[0] .. shots[1]`` (``sphere``: ``L_pre``-type average)."""
    V, W = model(method, cfg, form, start, scale)
    return exact_curve(V, W, task_vector(task, cfg.d), cfg.sigma2, shots)
