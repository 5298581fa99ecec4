r"""The exact loss of a model on a *finite* dataset, prompts drawn with replacement.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

Setting (the authors' fine-tuning protocol)
-------------------------------------------
A dataset of ``M`` pairs ``(x_j, y_j)`` gives full tokens ``z_j = (1, x_j, y_j)``.  A prompt
is ``n + 1`` points drawn i.i.d. uniformly, with replacement, from the dataset; the last is
the query, whose token is ``p = P z_q`` with ``P = diag(1, I_d, 0)`` (label zeroed) and whose
label ``y_q`` is the target.  The model has ``H`` heads averaged (``H = 1``: one head),
``yhat = (1/H) sum_h e_y^T V_h S W_h p`` with ``S = (sum_i z_i z_i^T + p p^T)/(n + 1)``.

Derivation (empirical moments, not Wick)
----------------------------------------
With ``v_h = V_h^T e_y`` (row ``y`` of ``V_h``) and ``u_h = W_h p``, each token contributes
``g(z) = (1/H) sum_h (v_h . z)(z . u_h)``, and ``yhat = (sum_{i<=n} g(z_i) + g(p))/(n + 1)``.
Conditional on the query, the ``g(z_i)`` are i.i.d. over the empirical distribution, so

* ``E[g | q] = (1/H) sum_h v_h^T M_2 u_h``, ``M_2 = (1/M) sum_j z_j z_j^T``;
* ``E[g^2 | q] = (1/H^2) sum_{h,k} u_h^T A_{hk} u_k``,
  ``A_{hk} = (1/M) sum_j (v_h . z_j)(v_k . z_j) z_j z_j^T``;
* ``E[yhat | q] = (n E[g | q] + g(p))/(n + 1)``, ``Var[yhat | q] = n Var[g | q]/(n + 1)^2``;

and the loss is the average over the dataset as query of
``E[(yhat - y_q)^2 | q] = n (E[g^2|q] - E[g|q]^2)/(n + 1)^2 + (E[yhat|q] - y_q)^2``.
``n = 0`` is the zero-shot loss ``(1/M) sum_q (g(p_q) - y_q)^2``.  The label noise is in the
data, so there is no separate ``sigma2`` term.  Cost: ``O(H^2 M D^2)``.

The tests compare this with the enumeration of every prompt of a three-point dataset, with
Monte Carlo over the authors' sampler, and with a dataset of one repeated point (by hand).
"""
from __future__ import annotations

import numpy as np

from .validation import check_count

__all__ = ["dataset_tokens", "dataset_loss"]


def dataset_tokens(X, y) -> np.ndarray:
    """The full tokens ``z_j = (1, x_j, y_j)`` of a dataset, shape ``(M, d + 2)``.

    Raises:
        ValueError: ``X`` is not a finite ``(M, d)`` array with ``M, d >= 1``, or ``y`` not a
            finite ``(M,)`` array.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1 or not np.all(np.isfinite(X)):
        raise ValueError(f"X must be a finite (M, d) array with M, d >= 1, got shape {X.shape}")
    if y.shape != (X.shape[0],) or not np.all(np.isfinite(y)):
        raise ValueError(f"y must be a finite array of shape ({X.shape[0]},), got shape {y.shape}")
    return np.concatenate([np.ones((X.shape[0], 1)), X, y[:, None]], axis=1)


def dataset_loss(V, W, X, y, n) -> float:
    """The exact expected squared error on the dataset ``(X, y)`` with ``n`` demonstrations
    drawn with replacement (module docstring).

    Args:
        V, W: ``D x D`` (one head) or ``(H, D, D)`` (heads averaged), ``D = d + 2``.
        X: ``(M, d)`` inputs; y: ``(M,)`` labels.
        n: demonstrations per prompt (``>= 0``).

    Returns:
        ``E[(yhat - y_q)^2]`` over the prompts of the protocol.

    Raises:
        ValueError: bad shapes, non-finite entries, ``n < 0``.

    Example:
        >>> import numpy as np
        >>> V = np.zeros((3, 3)); V[-1, -1] = 1.0
        >>> W = np.zeros((3, 3)); W[1, 1] = 1.0
        >>> dataset_loss(V, W, np.array([[1.0]]), np.array([1.0]), 0)  # yhat = 0 at n = 0
        1.0
    """
    n = check_count("n", n)
    Z = dataset_tokens(X, y)
    D = Z.shape[1]
    V = np.asarray(V, dtype=float)
    W = np.asarray(W, dtype=float)
    if V.ndim == 2:
        V, W = V[None], W[None]
    if V.ndim != 3 or V.shape[1:] != (D, D) or W.shape != V.shape:
        raise ValueError(f"V and W must both be {D} x {D} or (H, {D}, {D}), got {V.shape} and {W.shape}")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(W))):
        raise ValueError("V and W must be finite")
    H, M = V.shape[0], Z.shape[0]
    p = Z.copy()
    p[:, -1] = 0.0                                   # query tokens
    v = V[:, -1, :]                                  # (H, D) rows y
    u = np.einsum("hij,mj->mhi", W, p)               # u_h = W_h p per query
    g_q = np.sum((p @ v.T) * np.einsum("mi,mhi->mh", p, u), axis=1) / H  # (1/H) sum_h (v_h.p)(p.u_h)
    M2 = Z.T @ Z / M
    mean_g = np.einsum("hi,ij,mhj->m", v, M2, u) / H
    s = Z @ v.T                                      # (M, H): v_h . z_j
    A = np.einsum("jh,jk,ja,jb->hkab", s, s, Z, Z) / M
    eg2 = np.einsum("mha,hkab,mkb->m", u, A, u) / H ** 2
    var = eg2 - mean_g ** 2
    mean_pred = (n * mean_g + g_q) / (n + 1)
    return float(np.mean(n * var / (n + 1) ** 2 + (mean_pred - Z[:, -1]) ** 2))
