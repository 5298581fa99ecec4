r"""The pretrained point: the exact minimiser of the pretraining loss on the isotropic family.

The pretrained model is ``V = e_y e_y^T``, ``W = c diag(0, I_d, 0)`` (separate form:
``K = Q = sqrt(c) diag(0, I_d, 0)``), ``c`` the exact minimiser of
``L_pre(c) = pretrain_loss(e_y e_y^T, c diag(0, I, 0), m, sigma2)``.  ``L_pre`` is a
quadratic polynomial in ``c`` (``yhat`` is linear in ``W``), so with ``f_k = L_pre(k)``,
``k = -1, 0, 1``, the curvature is ``A = (f_1 + f_{-1} - 2 f_0)/2``, the slope at 0 is
``B = (f_1 - f_{-1})/2`` and ``c = -B/(2A)``: computed by the engine, not typed in.
"""
from __future__ import annotations

import numpy as np

import vocabulary

from .objectives import pretrain_loss
from .validation import check_count, check_form, check_nonneg, check_positive_int

__all__ = ["pretrain_family", "pretrained_c", "pretrained_point", "pretrained_state"]


def pretrain_family(d: int, c: float):
    """``(V, W) = (e_y e_y^T, c diag(0, I_d, 0))``: the isotropic pretraining family.

    Args:
        d: feature dimension (not checked).
        c: the scale of ``W``.

    Returns:
        ``(V, W)``, two ``(d+2) x (d+2)`` arrays.
    """
    D = d + 2
    V = np.zeros((D, D))
    V[-1, -1] = 1.0
    W = np.zeros((D, D))
    W[1:-1, 1:-1] = c * np.eye(d)
    return V, W


def pretrained_c(d, m, sigma2=0.0) -> float:
    """Exact minimiser ``c`` of ``L_pre(c) = pretrain_loss(e_y e_y^T, c diag(0, I, 0), m)``.

    ``L_pre`` is quadratic in ``c``; with ``f_k = L_pre(k)`` for ``k = -1, 0, 1``:
    ``c = -B/(2A)``, ``A = (f_1 + f_{-1} - 2 f_0)/2``, ``B = (f_1 - f_{-1})/2``.

    Args:
        d: feature dimension, ``>= 1``.
        m: pretraining shots, ``>= 1``.
        sigma2: label-noise variance, ``>= 0``.

    Returns:
        ``c`` as a float.

    Raises:
        ValueError: a bad argument, or ``m = 0`` (``L_pre`` does not depend on ``c``: the
            value row ``e_y`` reads the label slot, which the query does not carry).
    """
    d = check_positive_int("d", d)
    m = check_count("m", m)
    sigma2 = check_nonneg("sigma2", sigma2)
    f = [pretrain_loss(*pretrain_family(d, float(k)), m, sigma2) for k in (-1, 0, 1)]
    A = (f[2] + f[0] - 2.0 * f[1]) / 2.0
    B = (f[2] - f[0]) / 2.0
    if not A > 1e-14 * max(1.0, abs(f[1])):
        raise ValueError(f"m must be >= 1: L_pre is flat in c for m = {m}")
    return float(-B / (2.0 * A))


def pretrained_point(d, m, sigma2=0.0, form="merged"):
    """The pretrained point: merged ``(V, W)`` with ``V = e_y e_y^T``,
    ``W = c diag(0, I_d, 0)``; separate ``(V, K, Q)`` with ``K = Q = sqrt(c) diag(0, I_d, 0)``
    (the balanced factorisation; requires ``c > 0``).

    Args:
        d, m, sigma2: as in :func:`pretrained_c`.
        form: ``merged`` or ``separate``.

    Returns:
        ``(V, W)`` or ``(V, K, Q)``.
    """
    form = check_form(form)
    c = pretrained_c(d, m, sigma2)
    V, W = pretrain_family(d, c)
    if form == "merged":
        return V, W
    if c <= 0:
        raise ValueError(f"the separate form needs c > 0, got c = {c}")
    _, K = pretrain_family(d, np.sqrt(c))
    return V, K, K.copy()


def pretrained_state(form: str, c: float) -> np.ndarray:
    """Reduced coordinates of the pretrained point, in the order of
    :func:`vocabulary.coordinate_names`: merged ``a = 0, b = 1, q = 0, alpha = beta = c,
    h = 0``; separate ``a = 0, b = 1``, ``K_tt = K_perp = Q_tt = Q_perp = sqrt(c)``, the
    other ``K_<basis>``, ``Q_<basis>`` zero.

    Args:
        form: ``merged`` or ``separate``.
        c: the pretrained constant (``> 0`` for the separate form).

    Returns:
        A float array of the form's coordinates.
    """
    form = check_form(form)
    if form == "merged":
        values = {"a": 0.0, "b": 1.0, "q": 0.0, "alpha": c, "beta": c, "h": 0.0}
    else:
        s = float(np.sqrt(c))
        values = {"a": 0.0, "b": 1.0}
        for M in ("K", "Q"):
            values.update({f"{M}_tt": s, f"{M}_perp": s})
    return np.array([values.get(nm, 0.0) for nm in vocabulary.coordinate_names(form)])
