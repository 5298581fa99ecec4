r"""Array helpers that let one closed form serve one point or a stack of points.

The closed forms of :mod:`numerics.moments`, :mod:`numerics.objectives` and
:mod:`numerics.gradients` take the value row ``v`` and ``W`` either for one point
(``v`` of shape ``(D,)``, ``W`` of shape ``(D, D)``) or for ``B`` points at once (leading
axes: ``v`` of shape ``(B, D)``, ``W`` of shape ``(B, D, D)``).  The task moments
``(mu, M, tau)`` are shared by the whole stack.  The formulas are written once, in terms of
these helpers, with the conventions

* vectors have shape ``(..., n)``, matrices ``(..., n, n)``;
* a per-point *scalar* is a Python or NumPy float for one point and an array ``(B, 1)`` for
  a stack (a trailing axis of length 1), so that ``scalar * vector`` broadcasts in both cases
  and the one-point path keeps cheap float arithmetic (it is the right-hand side of the
  flows);
* a scalar is written into a vector slot through a length-1 slice (``g[..., -1:] += s``).

Every helper picks its NumPy call from the number of axes only, so the arithmetic is the
same for one point and for each row of a stack (up to the order of floating-point sums
inside BLAS).  The hot functions bind the four products once per call,
``dot, mv, vm, fro = ONE_POINT if v.ndim == 1 else STACKED``: for one point they are then
NumPy's own ``dot``/``vdot`` (no Python frame per product, about 2% of a gradient).
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["ONE_POINT", "STACKED", "el", "el2", "add_at", "add_at2", "dot", "fro", "mv", "vm", "trace", "diag", "smat",
           "add_diag", "T", "STACK_FLOATS", "in_chunks", "chunked"]

#: entries of one ``(B, D, D)`` stack that a batched evaluation materialises at once
#: (8 MB): larger stacks are evaluated in row chunks (:func:`in_chunks`), so that memory
#: stays bounded at large ``d`` (at ``d = 400`` a chunk is 6 points)
STACK_FLOATS = 2 ** 20


def in_chunks(fn, X: np.ndarray, D: int):
    """``fn(X)`` for a stack of points ``X`` (rows), evaluated on consecutive chunks of at
    most ``max(1, STACK_FLOATS // D^2)`` rows and concatenated along the first axis (``fn``
    returns an array or a tuple of arrays).  Row ``i`` of the result is ``fn`` of a stack
    holding row ``i``: the same numbers as one call, up to the order of sums inside BLAS."""
    rows = max(1, STACK_FLOATS // (D * D))
    if X.shape[0] <= rows:
        return fn(X)
    parts = [fn(X[i:i + rows]) for i in range(0, X.shape[0], rows)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)


def chunked(method):
    """Decorator for a method ``f(self, x)`` of a problem at feature dimension ``self.d``
    (matrices ``D x D``, ``D = d + 2``) that takes one point ``x`` of shape ``(k,)`` or a
    stack ``(B, k)``: a stack is evaluated through :func:`in_chunks`."""
    @functools.wraps(method)
    def wrapper(self, x):
        if np.ndim(x) == 2:
            return in_chunks(lambda X: method(self, X), x, self.d + 2)
        return method(self, x)
    return wrapper


def el(x: np.ndarray, i: int):
    """The per-point scalar ``x[..., i]`` of a vector (float, or ``(B, 1)``)."""
    return float(x[i]) if x.ndim == 1 else x[..., i, None]


def el2(A: np.ndarray, i: int, j: int):
    """The per-point scalar ``A[..., i, j]`` of a matrix (float, or ``(B, 1)``)."""
    return float(A[i, j]) if A.ndim == 2 else A[..., i, j, None]


def add_at(x: np.ndarray, i: int, s) -> None:
    """``x[..., i] += s`` in place for a per-point scalar ``s`` (a slice with an ellipsis
    would cost ten times the plain index on the one-point path)."""
    if x.ndim == 1:
        x[i] += s
    else:
        x[..., i] += s[..., 0]


def add_at2(A: np.ndarray, i: int, j: int, s) -> None:
    """``A[..., i, j] += s`` in place for a per-point scalar ``s``."""
    if A.ndim == 2:
        A[i, j] += s
    else:
        A[..., i, j] += s[..., 0]


def dot(a: np.ndarray, b: np.ndarray):
    """``sum_i a_i b_i`` over the last axis, as a per-point scalar (either factor may be
    shared by the stack)."""
    if a.ndim == 1 and b.ndim == 1:
        return float(a @ b)
    return np.einsum("...i,...i->...", a, b)[..., None]


def fro(A: np.ndarray, C: np.ndarray):
    """``sum_ij A_ij C_ij`` (Frobenius product), as a per-point scalar."""
    if A.ndim == 2 and C.ndim == 2:
        return float(np.vdot(A, C))
    return np.einsum("...ij,...ij->...", A, C)[..., None]


def mv(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``A x`` (matrix times vector) per point; ``A`` or ``x`` may be shared."""
    if x.ndim == 1:
        return A @ x
    if A.ndim == 2:
        return x @ A.T
    return (A @ x[..., None])[..., 0]


def vm(x: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``x^T A`` (vector times matrix) per point; ``A`` or ``x`` may be shared (``x`` may
    carry extra leading axes in front of the stack's, e.g. a few vectors stacked)."""
    if x.ndim == 1 or A.ndim == 2:
        return x @ A
    return (x[..., None, :] @ A)[..., 0, :]


def T(A: np.ndarray) -> np.ndarray:
    """The transpose of the last two axes."""
    return A.T if A.ndim == 2 else A.swapaxes(-1, -2)


def trace(A: np.ndarray):
    """``tr A`` as a per-point scalar."""
    return float(A.trace()) if A.ndim == 2 else A.trace(0, -2, -1)[..., None]


def diag(A: np.ndarray) -> np.ndarray:
    """The diagonal of the last two axes, a vector per point (a read-only view)."""
    return A.diagonal(0, -2, -1)


def smat(s):
    """A per-point scalar made broadcastable against matrices (``(B, 1, 1)`` for a stack)."""
    return s[..., None] if isinstance(s, np.ndarray) else s


def add_diag(A: np.ndarray, x) -> None:
    """``A[..., i, i] += x[..., i]`` in place (``x`` a vector or a per-point scalar)."""
    if A.ndim == 2:
        A.flat[::A.shape[-1] + 1] += x
    else:
        diag = np.einsum("...ii->...i", A)  # a writeable view
        diag += x


#: ``(dot, mv, vm, fro)`` for one point: NumPy's C functions (the same products as the
#: one-point branches of the helpers above).  ``np.dot`` copies a strided matrix such as
#: ``W[:, 1:-1]`` (``@`` does not): products with such a slice call the
#: helpers :func:`mv`/:func:`vm` themselves, whose one-point branch is ``@``.
ONE_POINT = (np.dot, np.dot, np.dot, np.vdot)
#: ``(dot, mv, vm, fro)`` for a stack of points
STACKED = (dot, mv, vm, fro)
