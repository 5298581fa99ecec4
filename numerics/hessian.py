r"""Exact second order: Hessians of every objective over the full trainable matrices.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

Parametrisation
---------------
A :class:`Problem` fixes an objective (a key of :data:`vocabulary.OBJECTIVES`: ``zs``,
``fs``, ``zsfs``, ``pretrain``), a form (``merged``: ``V, W``; ``separate``: ``V, K, Q``), a
trained subset (:data:`vocabulary.TRAIN`) and the values of the frozen matrices.  The
parameter vector ``x`` is the concatenation of the *full* ``D x D`` trained matrices
(row-major, in the order of :data:`vocabulary.MATRICES`), so ``P = (#trained) D^2``.  The
objective is ``sum_k w_k L_{n_k}(task_k)`` over :func:`vocabulary.objective_terms`, and its
gradient the weighted sum of the exact Frobenius gradients
(:func:`numerics.gradients.weighted_loss_grad`; separate form by the chain rule
``G_K = Q G_W^T``, ``G_Q = K G_W``).

Why a stencil of the exact gradient is exact
--------------------------------------------
``yhat = e_y^T V S W z_q`` is linear in ``V`` and linear in ``W``, so every loss is a
polynomial of total degree 4 in ``(V, W)``; with ``W = K^T Q`` (degree 2) it has degree 6
in ``(V, K, Q)``.  Along any line ``x + t u`` the gradient is therefore a polynomial in
``t`` of degree ``p = 3`` (merged) or ``p = 5`` (separate).  The central stencils

* 5 points: ``g'(0) = [g(-2h) - 8 g(-h) + 8 g(h) - g(2h)] / (12 h)`` (exact to degree 4),
* 7 points: ``g'(0) = [-g(-3h) + 9 g(-2h) - 45 g(-h) + 45 g(h) - 9 g(2h) + g(3h)] / (60 h)``
  (exact to degree 6),

have no truncation error on such polynomials, so ``H u = d/dt grad L(x + t u)|_0`` is exact
up to rounding.  Along a *coordinate* line the degree is lower: ``yhat`` is linear in each
single entry of ``V``, ``W``, ``K`` or ``Q`` (``W = K^T Q`` is linear in each entry of ``K``),
so the loss is quadratic in one entry and the gradient has degree 2 along ``e_j``; the
columns ``H e_j`` are then exact even with 3 points, which :func:`hessian` uses (a test
checks both facts against the 5- and 7-point stencils).  The step is then chosen for rounding alone: the error is about
``eps_mach * max_k |g(x + k h u)| * (sum |coef|) / h``, which *falls* as ``h`` grows, until
the large ``h^p`` terms of ``g`` (which the stencil cancels exactly in exact arithmetic)
dominate the magnitudes.  ``h = 0.05 max(1, |x|_inf)`` (unit ``u``) keeps
``(3 h / max(1, |x|))^5 < 1e-4`` and the rounding error near ``1e-13`` relative; the tests
compare against a second step and a second stencil and against SymPy.  The full Hessian is
assembled column by column (``P`` Hessian-vector products on the unit vectors) and
symmetrised; the asymmetry before symmetrising is returned as a rounding diagnostic.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from vocabulary import MATRICES, OBJECTIVES, TRAIN, objective_terms

from .batching import T, chunked
from .finetune_objective import weighted_loss
from .gradients import weighted_loss_grad
from .moments import fixed_task, sphere_task
from .validation import check_count, check_matrix, check_nonneg, check_theta

__all__ = ["Problem", "hessian", "hessian_vector_product", "hessian_times", "STENCILS", "stencil_points"]

#: central first-derivative stencils ``{points: (offsets, weights)}``: ``g' = sum w g(k h) / h``
STENCILS = {
    3: ((-1, 1), (-0.5, 0.5)),
    5: ((-2, -1, 1, 2), (1 / 12, -8 / 12, 8 / 12, -1 / 12)),
    7: ((-3, -2, -1, 1, 2, 3), (-1 / 60, 9 / 60, -45 / 60, 45 / 60, -9 / 60, 1 / 60)),
}


#: stencil points per batched gradient call in :func:`hessian` (a fixed count: the result
#: does not depend on the machine)
HESSIAN_BATCH = 1024


def stencil_points(form: str) -> int:
    """The smallest central stencil that is exact for the gradient along a line.

    The gradient is a polynomial of degree 3 (merged) or 5 (separate) along a line; the
    ``2k+1``-point central stencil is exact to degree ``2k``.

    Args:
        form: ``merged`` or ``separate``.

    Returns:
        5 for ``merged``, 7 for ``separate``.
    """
    if form not in MATRICES:
        raise ValueError(f"form must be one of {', '.join(MATRICES)}, got {form!r}")
    return 5 if form == "merged" else 7


def _task_moments(task: str, theta0: np.ndarray, sigma2: float):
    if task == "target":
        return fixed_task(theta0, sigma2)
    if task == "negated":
        return fixed_task(-theta0, sigma2)
    if task == "sphere":
        return sphere_task(theta0.shape[0], sigma2)
    raise ValueError(f"task {task!r} has no moments here")  # pragma: no cover


@dataclass
class Problem:
    """An objective over the full trainable matrices of one parametrisation.

    Build it with :meth:`Problem.build`.  ``x`` (a flat vector) holds the trained matrices;
    :meth:`matrices` returns every matrix of the form (frozen ones from ``frozen``).
    """

    objective: str
    form: str
    train: str
    d: int
    N: int
    m: int
    sigma2: float
    lam: float
    theta0: np.ndarray
    frozen: dict
    trained: tuple
    terms: tuple  # ((n, TaskMoments, weight), ...)

    @classmethod
    def build(cls, objective, form, train, mats, theta0=None, *, N=20, m=20, sigma2=0.0,
              lam=1.0) -> "Problem":
        """Args:
            objective: a key of :data:`vocabulary.OBJECTIVES`.
            form, train: a form and one of its subsets (:data:`vocabulary.TRAIN`).
            mats: a dict or tuple of the form's matrices (``V, W`` or ``V, K, Q``), ``D x D``;
                the frozen ones are kept, the trained ones give the reference point.
            theta0: unit target (default ``e_1``); unused by ``pretrain``.
            N, m, sigma2, lam: the configuration (``N`` few-shot, ``m`` pretraining shots).

        Returns:
            A :class:`Problem`.

        Raises:
            ValueError: any bad argument, named.
        """
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        if form not in TRAIN:
            raise ValueError(f"form must be one of {', '.join(TRAIN)}, got {form!r}")
        if train not in TRAIN[form]:
            raise ValueError(f"train must be one of {', '.join(TRAIN[form])} for the {form} form, got {train!r}")
        names = MATRICES[form]
        if isinstance(mats, dict):
            missing = [k for k in names if k not in mats]
            if missing:
                raise ValueError(f"mats: missing matrix {missing[0]}")
            mats = tuple(mats[k] for k in names)
        if len(mats) != len(names):
            raise ValueError(f"mats must hold {len(names)} matrices ({', '.join(names)}), got {len(mats)}")
        first = check_matrix(names[0], mats[0])
        arrs = [first] + [check_matrix(k, M, dim=first.shape[0]) for k, M in zip(names[1:], mats[1:])]
        D = first.shape[0]
        if D < 3:
            raise ValueError(f"{names[0]} must be at least 3 x 3 (D = d + 2, d >= 1), got {D} x {D}")
        d = D - 2
        theta0 = np.eye(d)[0] if theta0 is None else check_theta(theta0, d, "theta0")
        nrm = float(np.linalg.norm(theta0))
        if abs(nrm - 1.0) > 1e-12:
            raise ValueError(f"theta0 must be a unit vector, got |theta0| = {nrm}")
        N = check_count("N", N)
        m = check_count("m", m)
        sigma2 = check_nonneg("sigma2", sigma2)
        lam = check_nonneg("lam", lam)
        terms = tuple((n, _task_moments(task, theta0, sigma2), w) for n, task, w in
                      objective_terms(objective, N=N, m=m, lam=lam) if w != 0.0)
        return cls(objective, form, train, d, N, m, sigma2, lam, theta0,
                   {k: A.copy() for k, A in zip(names, arrs)}, TRAIN[form][train], terms)

    # ---------------------------------------------------------------- packing
    @property
    def D(self) -> int:
        return self.d + 2

    @property
    def size(self) -> int:
        """Number of parameters ``P = (#trained matrices) D^2``."""
        return len(self.trained) * self.D * self.D

    def pack(self, mats=None) -> np.ndarray:
        """The flat vector of the trained matrices (default: the reference point)."""
        src = self.frozen if mats is None else (mats if isinstance(mats, dict) else dict(zip(MATRICES[self.form], mats)))
        return np.concatenate([np.asarray(src[k], dtype=float).ravel() for k in self.trained])

    def matrices(self, x: np.ndarray) -> dict:
        """All matrices of the form at ``x`` (a dict by name).  ``x`` may be a stack of
        points ``(B, P)``: the trained matrices are then ``(B, D, D)`` and the frozen ones
        stay ``D x D``."""
        D2 = self.D * self.D
        out = dict(self.frozen)
        for j, k in enumerate(self.trained):
            out[k] = x[..., j * D2:(j + 1) * D2].reshape(x.shape[:-1] + (self.D, self.D))
        return out

    def merged(self, x: np.ndarray):
        """``(V, W)`` at ``x`` (``W = K^T Q`` in the separate form); at a stack of points
        ``(B, P)`` both are ``(B, D, D)``."""
        return self._merged(self.matrices(x), x.shape[:-1])

    def _merged(self, mt: dict, lead: tuple):
        V = mt["V"]
        W = mt["W"] if self.form == "merged" else T(mt["K"]) @ mt["Q"]
        if lead:  # a stack: a frozen V (or W) is shared by every point
            V = np.broadcast_to(V, lead + V.shape[-2:])
            W = np.broadcast_to(W, V.shape)
        return V, W

    def block_slices(self) -> dict:
        """``{matrix name: slice of x}``."""
        D2 = self.D * self.D
        return {k: slice(j * D2, (j + 1) * D2) for j, k in enumerate(self.trained)}

    # ---------------------------------------------------------------- values
    @chunked
    def loss(self, x: np.ndarray):
        """The objective ``sum_k w_k L_{n_k}(task_k)`` at ``x`` (a float), or at each row of
        a stack ``(B, P)`` (an array ``(B,)``)."""
        return weighted_loss(*self.merged(x), self.terms)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """The exact Frobenius gradient over the trained matrices, flat (``P``,)."""
        return self._grad_at(x)

    def grad_many(self, X) -> np.ndarray:
        """The exact gradient at every row of ``X``, evaluated together.

        One closed-form evaluation per task of the objective for the whole stack
        (:func:`numerics.gradients.weighted_loss_grad` on ``(B, D, D)`` matrices, no Python
        loop over the points); row ``i`` equals :meth:`grad` at ``X[i]`` up to rounding.

        Args:
            X: points, shape ``(B, P)`` with ``P = problem.size`` (``B >= 0``).

        Returns:
            The gradients, shape ``(B, P)``.

        Raises:
            ValueError: ``X`` is not a finite array of shape ``(B, P)``.
        """
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.size:
            raise ValueError(f"X must have shape (B, {self.size}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X must be finite")
        if X.shape[0] == 0:
            return np.zeros((0, self.size))
        return self._grad_at(X)

    @chunked  # bounded memory at large d
    def _grad_at(self, x: np.ndarray) -> np.ndarray:
        """:meth:`grad` at one point ``(P,)`` or at a stack ``(B, P)`` (same code: the
        matrices carry the leading axes, the frozen ones are broadcast).  Separate form:
        ``G_K = Q G_W^T``, ``G_Q = K G_W`` at ``W = K^T Q``."""
        mt = self.matrices(x)
        lead = x.shape[:-1]
        gV, gW = weighted_loss_grad(*self._merged(mt, lead), self.terms)
        if self.form == "merged":
            g = {"V": gV, "W": gW}
        else:
            g = {"V": gV, "K": mt["Q"] @ T(gW), "Q": mt["K"] @ gW}
        return np.concatenate([g[k].reshape(lead + (-1,)) for k in self.trained], axis=-1)


def _step(x: np.ndarray, rel_step: float) -> float:
    return rel_step * max(1.0, float(np.max(np.abs(x))) if x.size else 1.0)


def hessian_vector_product(problem: Problem, x, u, *, points: int | None = None,
                           rel_step: float = 0.05) -> np.ndarray:
    """Exact ``H(x) u`` by a central stencil of the exact gradient along ``x + t u``.

    ``H u = sum_k w_k grad L(x + k h u/|u|) |u| / h`` with the weights of :data:`STENCILS`
    (the stencil's gradients in one :meth:`Problem.grad_many` call); exact up to rounding
    when ``points`` is at least :func:`stencil_points` (module docstring).

    Args:
        problem: a :class:`Problem`.
        x: the point (flat, ``problem.size``).
        u: the direction (flat).
        points: 3, 5 or 7 (default: :func:`stencil_points` of the form).
        rel_step: ``h = rel_step * max(1, |x|_inf)`` along the unit direction.

    Returns:
        ``H u`` (flat).
    """
    u = np.asarray(u, dtype=float)
    return hessian_times(problem, x, u[:, None], points=points, rel_step=rel_step)[:, 0]


def hessian_times(problem: Problem, x, U, *, points: int | None = None, rel_step: float = 0.05) -> np.ndarray:
    """Exact ``H(x) U`` for the columns ``u`` of ``U`` (``P x r``): :func:`hessian_vector_product`
    on every column, the stencil points of all columns in :data:`HESSIAN_BATCH`-point
    :meth:`Problem.grad_many` calls.

    Args:
        problem, x, points, rel_step: as :func:`hessian_vector_product`.
        U: the directions, ``P x r`` (a zero column gives a zero column).

    Returns:
        ``H U``, ``P x r``.
    """
    x = np.asarray(x, dtype=float)
    U = np.asarray(U, dtype=float)
    points = stencil_points(problem.form) if points is None else points
    if points not in STENCILS:
        raise ValueError(f"points must be one of {sorted(STENCILS)}, got {points!r}")
    nu = np.linalg.norm(U, axis=0)
    h = _step(x, rel_step)
    offs, wts = STENCILS[points]
    steps = np.array(offs, dtype=float) * h
    out = np.zeros(U.shape)
    live = np.flatnonzero(nu > 0)
    ncols = max(1, HESSIAN_BATCH // len(offs))
    for j0 in range(0, live.size, ncols):
        js = live[j0:j0 + ncols]
        E = U[:, js] / nu[js]  # unit directions, as columns
        X = x[None, None, :] + steps[None, :, None] * E.T[:, None, :]  # (column, offset, P)
        G = problem.grad_many(X.reshape(-1, x.size)).reshape(js.size, len(offs), x.size)
        acc = np.zeros((js.size, x.size))
        for i, w in enumerate(wts):
            acc += w * G[:, i, :]
        out[:, js] = (acc * (nu[js] / h)[:, None]).T
    return out


@dataclass
class HessianResult:
    """``H`` (symmetrised, ``P x P``), ``asymmetry = max|H_raw - H_raw^T| / max(1, max|H_raw|)``,
    ``points`` and ``step`` of the stencil."""

    H: np.ndarray
    asymmetry: float
    points: int
    step: float


def hessian(problem: Problem, x=None, *, points: int | None = None, rel_step: float = 0.05) -> HessianResult:
    """The full ``P x P`` Hessian of ``problem`` at ``x`` (default: its reference point).

    Column ``j`` is :func:`hessian_vector_product` on the unit vector ``e_j``,
    ``H e_j = sum_k w_k grad L(x + k h e_j) / h``; the result is symmetrised,
    ``H = (H_raw + H_raw^T)/2``.  Along a coordinate line the gradient has degree 2 (module
    docstring), so the 3-point stencil is exact there and is the default: two gradients per
    column.  The gradients at the stencil points of all columns are evaluated together,
    :data:`HESSIAN_BATCH` points per :meth:`Problem.grad_many` call.

    Args:
        problem: a :class:`Problem`.
        x: flat point (default ``problem.pack()``).
        points: 3 (default), 5 or 7.
        rel_step: as in :func:`hessian_vector_product`.

    Returns:
        A :class:`HessianResult`.
    """
    x = problem.pack() if x is None else np.asarray(x, dtype=float)
    if x.shape != (problem.size,):
        raise ValueError(f"x must have shape ({problem.size},), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    points = 3 if points is None else points
    if isinstance(points, bool) or not isinstance(points, numbers.Integral) or points not in STENCILS:
        raise ValueError(f"points must be one of {sorted(STENCILS)}, got {points!r}")
    rel_step = check_nonneg("rel_step", rel_step)
    if rel_step <= 0:
        raise ValueError("rel_step must be > 0")
    h = _step(x, rel_step)
    P = x.size
    offs, wts = STENCILS[points]
    npts = len(offs)
    H = np.zeros((P, P))
    ncols = max(1, HESSIAN_BATCH // npts)  # columns per batched gradient call
    for j0 in range(0, P, ncols):
        js = np.arange(j0, min(P, j0 + ncols))
        # the stencil points x + k h e_j of columns js, as rows (column, offset)
        X = np.repeat(x[None, None, :], len(js) * npts, axis=0).reshape(len(js), npts, P)
        X[np.arange(len(js))[:, None], np.arange(npts)[None, :], js[:, None]] += \
            np.array(offs, dtype=float) * h
        G = problem.grad_many(X.reshape(-1, P)).reshape(len(js), npts, P)
        col = np.zeros((len(js), P))
        for i, w in enumerate(wts):
            col += w * G[:, i, :]
        H[:, js] = (col / h).T
    asym = float(np.max(np.abs(H - H.T)) / max(1.0, float(np.max(np.abs(H)))))
    return HessianResult(0.5 * (H + H.T), asym, int(points), h)

