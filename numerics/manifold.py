r"""Reduced coordinates of the invariant fine-tuning manifold (docs/theory.md section 4).

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.
``P`` embeds ``x``: ``P x = (0, x, 0)``.  Only the value row ``v = V[y, :]`` and the
columns ``0..d`` of ``W`` enter ``yhat``.

The manifold
------------
With ``t = theta0`` (unit) and ``Pi = I_d - t t^T``, the symmetries that fix the
fine-tuning problem are ``B_R = diag(1, R, 1)`` for orthogonal ``R`` with ``R t = t`` and
the flip ``F = diag(1, -I_d, -1)`` acting by ``X -> B X B^T``.  The matrices invariant
under both form the *invariant algebra*, spanned by the six mutually Frobenius-orthogonal

=========  ==========================  ================
name       matrix                      squared norm
=========  ==========================  ================
``0``      ``e_0 e_0^T``               1
``tt``     ``P t t^T P^T``             1
``ty``     ``(P t) e_y^T``             1
``yt``     ``e_y (P t)^T``             1
``yy``     ``e_y e_y^T``               1
``perp``   ``P Pi P^T``                ``d - 1``
=========  ==========================  ================

The names and their order are those of :data:`vocabulary.BASIS_NAMES`.

(``e_0 e_y^T``, ``e_0 (Pt)^T`` and their transposes change sign under ``F``).

*Merged form* ``(a, b, q, alpha, beta, h)``:

``V = a B_a + b B_b`` with ``B_a = e_y (P t)^T``, ``B_b = e_y e_y^T`` (so
``v = (0, a t, b)``) and ``W = q B_q + alpha B_alpha + beta B_beta + h B_h`` with
``B_q = e_0 e_0^T``, ``B_alpha = P Pi P^T`` (squared norm ``d-1``),
``B_beta = P t t^T P^T``, ``B_h = e_y (P t)^T``.  Column ``y`` of ``W`` never enters the
loss; the merged projection ignores it (it is set to 0 in the residual).

*Separate form*: ``V`` as above, ``K = sum_c k_c A_c`` and ``Q = sum_c q_c A_c`` over the
six algebra elements ``A_c``; here column ``y`` of ``K`` does matter (``W = K^T Q``).

Projection
----------
Because the basis is Frobenius-orthogonal, the orthogonal projection of a matrix ``G``
onto the span has coefficients ``g_c = <G, B_c> / <B_c, B_c>``, and the residual
``G - sum_c g_c B_c`` is the off-manifold part.  A gradient flow ``dX/dt = -G`` that stays
on the span moves its coordinates by ``dx_c/dt = -g_c``; this is the correct metric of the
full matrix space (``alpha`` is weighted by ``d - 1``).  For ``d = 1`` the element ``perp``
is the zero matrix: its coefficient is defined as 0 and ``alpha`` (``K_perp``, ``Q_perp``)
is inert.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import vocabulary

from .validation import check_matrix, check_pair, check_theta

__all__ = [
    "MERGED_NAMES", "ALGEBRA_NAMES", "SEPARATE_NAMES", "PERP", "V_BASIS", "W_BASIS",
    "Projection", "unit_theta0",
    "merged_basis", "algebra_basis", "algebra_matrices", "merged_slots", "frobenius_coeffs",
    "project_merged_arrays", "project_separate_arrays", "merged_matrices", "separate_matrices",
    "merged_point", "merged_coords", "project",
    "separate_point", "separate_coords", "project_kq",
]

#: merged reduced coordinates ``a b q alpha beta h`` (:func:`vocabulary.coordinate_names`)
MERGED_NAMES = vocabulary.coordinate_names("merged")
#: the invariant algebra's basis names ``0 tt ty yt yy perp`` (:data:`vocabulary.BASIS_NAMES`)
ALGEBRA_NAMES = vocabulary.BASIS_NAMES
#: separate reduced coordinates ``a b K_0 .. K_perp Q_0 .. Q_perp``
SEPARATE_NAMES = vocabulary.coordinate_names("separate")
_IDX = {name: i for i, name in enumerate(ALGEBRA_NAMES)}
#: positions in :data:`ALGEBRA_NAMES` of the V coordinates (a, b) and the W coordinates
#: (q, alpha, beta, h) of the merged form, read from :data:`vocabulary.MERGED_COORDS`
V_BASIS = tuple(_IDX[c.basis] for c in vocabulary.MERGED_COORDS if c.matrix == "V")
W_BASIS = tuple(_IDX[c.basis] for c in vocabulary.MERGED_COORDS if c.matrix == "W")
PERP = _IDX["perp"]


@dataclass(frozen=True)
class Projection:
    """Orthogonal projection onto the manifold basis.

    ``coeffs``: name -> ``<G, B_c>/<B_c, B_c>``; ``residual``: Frobenius norm of the
    off-manifold part (all slots together); ``residuals``: the same per slot;
    ``norm``: Frobenius norm of the projected part ``sum_c g_c B_c``
    (``sqrt(sum_c g_c^2 <B_c, B_c>)``)."""

    coeffs: dict
    residual: float
    residuals: dict
    norm: float


def unit_theta0(theta0, d: int | None = None, name: str = "theta0") -> np.ndarray:
    """Check ``theta0``: a finite vector (of length ``d`` if given) with ``|theta0| = 1``
    to 1e-10."""
    arr = np.asarray(theta0, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {arr.shape}")
    arr = check_theta(arr, arr.shape[0] if d is None else d, name)
    if arr.shape[0] < 1:
        raise ValueError(f"{name} must have length d >= 1")
    if abs(float(arr @ arr) - 1.0) > 1e-10:
        raise ValueError(f"{name} must be a unit vector, got |{name}| = {np.linalg.norm(arr)!r}")
    return arr


def algebra_matrices(t: np.ndarray) -> np.ndarray:
    """The six algebra elements as an array of shape (6, D, D), order ``ALGEBRA_NAMES``.

    Args:
        t: a unit vector ``theta0`` of length ``d`` (not checked).

    Returns:
        ``A`` with ``A[i]`` the basis matrix named ``ALGEBRA_NAMES[i]`` (module table).
    """
    d = t.shape[0]
    D = d + 2
    A = np.zeros((6, D, D))
    A[_IDX["0"], 0, 0] = 1.0
    A[_IDX["tt"], 1:-1, 1:-1] = np.outer(t, t)
    A[_IDX["ty"], 1:-1, -1] = t
    A[_IDX["yt"], -1, 1:-1] = t
    A[_IDX["yy"], -1, -1] = 1.0
    A[_IDX["perp"], 1:-1, 1:-1] = np.eye(d) - np.outer(t, t)
    return A


_algebra = algebra_matrices


def algebra_basis(theta0) -> dict:
    """The invariant algebra: name -> ``D x D`` matrix (module docstring table)."""
    t = unit_theta0(theta0)
    return dict(zip(ALGEBRA_NAMES, algebra_matrices(t)))


def merged_slots(t: np.ndarray):
    """The merged basis per slot, in the order of ``MERGED_NAMES``.

    Args:
        t: a unit ``theta0`` (not checked).

    Returns:
        ``(BV, BW)``: arrays (2, D, D) for ``a, b`` and (4, D, D) for ``q, alpha, beta, h``.
    """
    A = algebra_matrices(t)
    return A[list(V_BASIS)], A[list(W_BASIS)]


_merged_slots = merged_slots


def merged_basis(theta0) -> dict:
    """Merged basis: name -> ``(slot, matrix)`` with slot ``'V'`` or ``'W'``."""
    t = unit_theta0(theta0)
    BV, BW = _merged_slots(t)
    out = {"a": ("V", BV[0]), "b": ("V", BV[1])}
    for nm, B in zip(MERGED_NAMES[2:], BW):
        out[nm] = ("W", B)
    return out


def frobenius_coeffs(G: np.ndarray, basis: np.ndarray):
    """``g_c = <G, B_c>/<B_c, B_c>`` (0 for a zero ``B_c``) and the residual matrix.

    Args:
        G: a ``D x D`` matrix, or a stack of them ``(B, D, D)``.
        basis: Frobenius-orthogonal matrices, shape (k, D, D).

    Returns:
        ``(g, residual matrix G - sum_c g_c B_c, norm sqrt(sum_c g_c^2 <B_c, B_c>))``, with
        the leading axis of a stack (the norm a float for one matrix).
    """
    nsq = np.einsum("cij,cij->c", basis, basis)
    dots = np.einsum("cij,...ij->...c", basis, G)
    g = np.where(nsq > 0, dots / np.where(nsq > 0, nsq, 1.0), 0.0)
    resid = G - np.einsum("...c,cij->...ij", g, basis)
    norm = np.sqrt(np.sum(g * g * nsq, axis=-1))
    return g, resid, float(norm) if G.ndim == 2 else norm


def _fro(R: np.ndarray):
    """Frobenius norm of a matrix (a float) or of each matrix of a stack."""
    return float(np.linalg.norm(R)) if R.ndim == 2 else np.linalg.norm(R, axis=(-2, -1))


_coeffs = frobenius_coeffs


def project_merged_arrays(gV, gW, t):
    """Unchecked :func:`project`: ``(coefficients (6,), {"V", "W"} residual norms, norm)``;
    for stacks ``(B, D, D)`` the coefficients are ``(B, 6)`` and the norms arrays ``(B,)``."""
    BV, BW = merged_slots(t)
    GW = gW.copy()
    GW[..., :, -1] = 0.0  # column y of W never enters the loss
    cv, rv, nv = frobenius_coeffs(gV, BV)
    cw, rw, nw = frobenius_coeffs(GW, BW)
    coeffs = np.concatenate([cv, cw], axis=-1)
    res = {"V": _fro(rv), "W": _fro(rw)}
    return coeffs, res, np.hypot(nv, nw) if gV.ndim > 2 else float(np.hypot(nv, nw))


_project_merged = project_merged_arrays


def project(gV, gW, theta0) -> Projection:
    """Project a pair ``(G_V, G_W)`` (a gradient or a point) on the merged basis.

    ``g_c = <G, B_c>/<B_c, B_c>`` for ``c`` in ``(a, b, q, alpha, beta, h)``; the residual
    is ``|G_V - g_a B_a - g_b B_b|_F`` and ``|G_W' - sum g_c B_c|_F`` with ``G_W'`` equal to
    ``G_W`` with column ``y`` set to 0 (it never enters the loss)."""
    gV, gW = check_pair(gV, gW, names=("gV", "gW"))
    t = unit_theta0(theta0, gV.shape[0] - 2)
    c, res, nrm = project_merged_arrays(gV, gW, t)
    return Projection(dict(zip(MERGED_NAMES, map(float, c))),
                      float(np.hypot(res["V"], res["W"])), res, nrm)


def merged_matrices(x: np.ndarray, t: np.ndarray):
    """Unchecked :func:`merged_point`: ``(V, W)`` from the coordinate vector ``x`` (6,)."""
    BV, BW = merged_slots(t)
    return np.einsum("c,cij->ij", x[:2], BV), np.einsum("c,cij->ij", x[2:], BW)


def merged_point(coords, theta0):
    """``(V, W)`` from ``coords`` (a mapping with keys ``a b q alpha beta h`` or a
    sequence in that order): ``v = V[y,:] = (0, a theta0, b)`` and
    ``W = [[q, 0, 0], [0, alpha (I - t t^T) + beta t t^T, 0], [0, h t^T, 0]]``."""
    t = unit_theta0(theta0)
    x = _as_vector(coords, MERGED_NAMES)
    return merged_matrices(x, t)


def merged_coords(V, W, theta0) -> Projection:
    """Coordinates of a point ``(V, W)``: the projection of :func:`project`."""
    return project(V, W, theta0)


def separate_matrices(x: np.ndarray, t: np.ndarray):
    """Unchecked :func:`separate_point`: ``(V, K, Q)`` from the coordinate vector ``x`` (14,)."""
    A = algebra_matrices(t)
    V = x[0] * A[V_BASIS[0]] + x[1] * A[V_BASIS[1]]
    K = np.einsum("c,cij->ij", x[2:8], A)
    Q = np.einsum("c,cij->ij", x[8:14], A)
    return V, K, Q


def separate_point(coords, theta0):
    """``(V, K, Q)`` from ``coords`` (keys ``a, b, K_0 .. K_perp, Q_0 .. Q_perp`` or a
    sequence in the order of ``SEPARATE_NAMES``): ``V = a e_y (Pt)^T + b e_y e_y^T``,
    ``K = sum_c K_c A_c``, ``Q = sum_c Q_c A_c``."""
    t = unit_theta0(theta0)
    x = _as_vector(coords, SEPARATE_NAMES)
    return separate_matrices(x, t)


def project_separate_arrays(gV, gK, gQ, t):
    """Unchecked :func:`project_kq`: ``(coefficients (14,), {"V", "K", "Q"} residual norms, norm)``;
    for stacks ``(B, D, D)`` the coefficients are ``(B, 14)`` and the norms arrays ``(B,)``."""
    A = algebra_matrices(t)
    BV = A[list(V_BASIS)]
    cv, rv, nv = frobenius_coeffs(gV, BV)
    ck, rk, nk = frobenius_coeffs(gK, A)
    cq, rq, nq = frobenius_coeffs(gQ, A)
    res = {"V": _fro(rv), "K": _fro(rk), "Q": _fro(rq)}
    nrm = np.sqrt(nv ** 2 + nk ** 2 + nq ** 2)
    return np.concatenate([cv, ck, cq], axis=-1), res, nrm if gV.ndim > 2 else float(nrm)


_project_separate = project_separate_arrays


def project_kq(gV, gK, gQ, theta0) -> Projection:
    """Project ``(G_V, G_K, G_Q)`` (a gradient or a point of the separate form):
    ``g_c = <G, A_c>/<A_c, A_c>`` per slot, residuals of the full matrices (column ``y``
    of ``K`` and ``Q`` included: it matters in ``W = K^T Q``)."""
    gV = check_matrix("gV", gV)
    gK = check_matrix("gK", gK, dim=gV.shape[0])
    gQ = check_matrix("gQ", gQ, dim=gV.shape[0])
    t = unit_theta0(theta0, gV.shape[0] - 2)
    c, res, nrm = project_separate_arrays(gV, gK, gQ, t)
    return Projection(dict(zip(SEPARATE_NAMES, map(float, c))),
                      float(np.sqrt(sum(r * r for r in res.values()))), res, nrm)


def separate_coords(V, K, Q, theta0) -> Projection:
    """Coordinates of a separate-form point: the projection of :func:`project_kq`."""
    return project_kq(V, K, Q, theta0)


def _as_vector(coords, names) -> np.ndarray:
    if isinstance(coords, dict):
        missing = [k for k in names if k not in coords]
        extra = [k for k in coords if k not in names]
        if missing or extra:
            raise ValueError(f"coords must have exactly the keys {names}; missing {missing}, unknown {extra}")
        x = np.array([coords[k] for k in names], dtype=np.float64)
    else:
        x = np.asarray(coords, dtype=np.float64)
        if x.shape != (len(names),):
            raise ValueError(f"coords must have length {len(names)} ({', '.join(names)}), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("coords must have only finite entries")
    return x
