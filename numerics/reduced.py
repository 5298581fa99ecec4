r"""The reduced fine-tuning problem on the invariant manifold, and its exact polynomial field.

The symmetries of :mod:`numerics.manifold` keep the full-space flow ``dX/dt = -grad_X F``
on the invariant manifold, so it is integrated in the reduced coordinates ``x_c`` with
``dx_c/dt = -<G_X, B_c>/<B_c, B_c>``: the Frobenius coefficients of the *full* NumPy
gradient on the orthogonal basis, which is the flow of the full space restricted to the
span (``alpha``, ``K_perp``, ``Q_perp`` carry the weight ``<B, B> = d - 1``).  The norm of
the projected trainable gradient is ``|grad| = sqrt(sum_c g_c^2 <B_c, B_c>)`` over trainable
``c``.

Invariants.  ``yhat`` depends on ``(v, W)`` only through ``v W^T``-type products and is
unchanged under ``(v, W) -> (s v, W/s)``; differentiating at ``s = 1`` gives
``v.g_v = <W, G_W>`` so ``d/dt (|v|^2 - |W|_F^2) = -2 v.g_v + 2 <W, G_W> = 0`` when both
train.  In the separate form ``W = K^T Q`` is unchanged under ``K -> A K``,
``Q -> A^{-T} Q``, which gives ``d/dt (K K^T - Q Q^T) = 0`` when both train, and the
scalings ``(v, K) -> (s v, K/s)``, ``(v, Q) -> (s v, Q/s)`` give conservation of
``|v|^2 - |K|_F^2`` and ``|v|^2 - |Q|_F^2`` when all three train.

Fast field.  ``yhat`` is linear in ``v`` and linear in ``W``, so every loss is a polynomial of
bidegree ``(2, 2)`` in ``((a, b), (q, alpha, beta, h))`` and each merged gradient
coefficient is a polynomial in the 90 monomials of :func:`merged_exponents`
(:class:`Interpolant`).
"""
from __future__ import annotations

import numpy as np

import vocabulary

from .batching import chunked
from .conservation import conserved_names
from .finetune_objective import weighted_grad, weighted_loss
from .manifold import (ALGEBRA_NAMES, MERGED_NAMES, PERP, SEPARATE_NAMES, V_BASIS, W_BASIS,
                       algebra_matrices, frobenius_coeffs, merged_slots, project_merged_arrays,
                       project_separate_arrays)

__all__ = ["ReducedProblem", "Interpolant", "merged_exponents", "monomials", "interpolant"]


class ReducedProblem:
    """The reduced flow of one objective and trained subset: coordinates, masks,
    right-hand side, invariants.

    Args:
        terms: the objective's terms, from :func:`numerics.finetune_objective.loss_terms`.
        train: the trained subset (a key of ``vocabulary.TRAIN[form]``).
        form: ``merged`` or ``separate``.
        d: feature dimension.
        theta0: the unit target (not checked).
    """

    def __init__(self, terms, train, form, d, theta0):
        self.train, self.form, self.d = train, form, d
        self.t = theta0
        self.terms = terms
        self.trained = vocabulary.trained_matrices(form, train)
        self._A = algebra_matrices(theta0)
        D = d + 2
        self._Af = self._A.reshape(len(ALGEBRA_NAMES), D * D)  # flat basis, for the fast path
        alg_nsq = np.diag(self._Af @ self._Af.T)  # <B_c, B_c>, 0 for the perp element at d = 1
        self._inv_nsq = np.where(alg_nsq > 0, 1.0 / np.where(alg_nsq > 0, alg_nsq, 1.0), 0.0)
        self._AWf = self._Af[list(W_BASIS)]
        nsq_alg = np.ones(len(ALGEBRA_NAMES))
        nsq_alg[PERP] = d - 1.0
        if form == "merged":
            self.names = MERGED_NAMES
            self._BV, self._BW = merged_slots(theta0)
            slot = [c.matrix for c in vocabulary.MERGED_COORDS]
            self.nsq = np.array([nsq_alg[i] for i in V_BASIS + W_BASIS])
        else:
            self.names = SEPARATE_NAMES
            slot = [c.matrix for c in vocabulary.SEPARATE_COORDS]
            self.nsq = np.concatenate([[1.0, 1.0], nsq_alg, nsq_alg])
        self.mask = np.array([s in self.trained for s in slot], dtype=float)
        if d == 1:  # the 'perp' element is the zero matrix: its coordinate is inert
            self.mask[self.nsq == 0] = 0.0
        self.nfev = 0        # exact gradient evaluations
        self.nfev_fast = 0   # polynomial-field evaluations
        self.n_rhs = 0       # right-hand-side calls of the integrator (both fields)
        self._cache_key = None
        self._cache_val = None
        self.interp = None

    # matrices -------------------------------------------------------------------------
    def matrices(self, x):
        """merged: (V, W); separate: (V, K, Q).  ``x`` is one point ``(k,)`` or a stack
        ``(B, k)`` (then every matrix is ``(B, D, D)``)."""
        if self.form == "merged":
            return (np.einsum("...c,cij->...ij", x[..., :2], self._BV),
                    np.einsum("...c,cij->...ij", x[..., 2:], self._BW))
        A = self._A
        V = np.einsum("...c,cij->...ij", x[..., :2], A[list(V_BASIS)])
        return V, np.einsum("...c,cij->...ij", x[..., 2:8], A), np.einsum("...c,cij->...ij", x[..., 8:14], A)

    def merged_VW(self, x):
        """``(V, W)``, with ``W = K^T Q`` in the separate form (one point or a stack)."""
        mats = self.matrices(x)
        if self.form == "merged":
            return mats
        V, K, Q = mats
        return V, np.swapaxes(K, -1, -2) @ Q

    # gradient -------------------------------------------------------------------------
    def full_grad(self, x):
        """The exact full-matrix gradient at the point ``x`` (chain rule in the separate
        form; a stack of points gives stacks, :mod:`numerics.batching`)."""
        mats = self.matrices(x)
        if self.form == "merged":
            return weighted_grad(mats[0], mats[1], self.terms)
        V, K, Q = mats
        gV, gW = weighted_grad(V, np.swapaxes(K, -1, -2) @ Q, self.terms)
        return gV, Q @ np.swapaxes(gW, -1, -2), K @ gW

    @chunked
    def raw_coeffs(self, x) -> np.ndarray:
        """Unmasked exact projected coefficients (merged form only; for the fit), at one
        point or a stack of points (batched gradients, in chunks of bounded memory)."""
        g, _, _ = project_merged_arrays(*self.full_grad(x), self.t)
        return g

    def fast_coeffs(self, x) -> np.ndarray:
        """Masked coefficients from the exact polynomial fit (:class:`Interpolant`);
        the separate form uses the chain rule ``G_K = Q G_W^T``, ``G_Q = K G_W`` on the
        merged fit at ``W = K^T Q``."""
        self.nfev_fast += 1
        if self.form == "merged":
            return self.interp(x) * self.mask
        D = self.d + 2
        Af = self._Af
        K = (x[2:8] @ Af).reshape(D, D)
        Q = (x[8:14] @ Af).reshape(D, D)
        W = K.T @ Q
        t = self.t
        y = np.array([x[0], x[1], W[0, 0], float(Af[PERP] @ W.ravel()) / max(self.d - 1, 1),
                      t @ W[1:-1, 1:-1] @ t, W[-1, 1:-1] @ t])
        g = self.interp(y)
        gW = (g[2:] @ self._AWf).reshape(D, D)
        gk = (Af @ (Q @ gW.T).ravel()) * self._inv_nsq   # <G_K, B_c>/<B_c, B_c>
        gq = (Af @ (K @ gW).ravel()) * self._inv_nsq
        return np.concatenate([g[:2], gk, gq]) * self.mask

    @chunked
    def coeffs(self, x):
        """(masked coefficients g_c, off-manifold residual of the trainable gradient); for a
        stack ``x`` of shape ``(B, k)``, ``(B, k)`` and ``(B,)`` from one batched gradient."""
        key = x.tobytes() if x.ndim == 1 else None
        if key is not None and key == self._cache_key:
            return self._cache_val
        self.nfev += 1 if x.ndim == 1 else x.shape[0]
        grads = self.full_grad(x)
        if self.form == "merged":
            g, res, _ = project_merged_arrays(grads[0], grads[1], self.t)
        else:
            g, res, _ = project_separate_arrays(*grads, self.t)
        resid = np.sqrt(sum(res[s] ** 2 for s in self.trained))
        val = (g * self.mask, float(resid) if x.ndim == 1 else resid)
        if key is not None:
            self._cache_key, self._cache_val = key, val
        return val

    def rhs(self, _t, x):
        """``dx/dt = -g(x)`` with the exact gradient."""
        self.n_rhs += 1
        return -self.coeffs(x)[0]

    def rhs_fast(self, _t, x):
        """``dx/dt = -g(x)`` with the polynomial field."""
        self.n_rhs += 1
        return -self.fast_coeffs(x)

    def norm_of(self, g):
        """``sqrt(sum_c g_c^2 <B_c, B_c>)``, the Frobenius norm of ``sum_c g_c B_c`` (a
        float, or ``(B,)`` for coefficients ``(B, k)``)."""
        nrm = np.sqrt(np.sum(g * g * self.nsq, axis=-1))
        return float(nrm) if g.ndim == 1 else nrm

    def grad_norm_fast(self, x) -> float:
        """:meth:`norm_of` the polynomial field."""
        return self.norm_of(self.fast_coeffs(x))

    def grad_norm(self, x):
        """:meth:`norm_of` the exact gradient (one point or a stack)."""
        return self.norm_of(self.coeffs(x)[0])

    @chunked
    def loss(self, x):
        """The objective at ``x`` (a float, or ``(B,)`` for a stack)."""
        V, W = self.merged_VW(x)
        return weighted_loss(V, W, self.terms)

    # invariants -----------------------------------------------------------------------
    def invariants(self, x) -> dict:
        """``v2_minus_W2`` (merged) or ``v2_minus_K2``, ``v2_minus_Q2``, ``K2_minus_Q2`` and
        the algebra coordinates ``KKt_minus_QQt_<basis>`` of ``K K^T - Q Q^T``."""
        mats = self.matrices(x)
        v2 = float(mats[0][-1] @ mats[0][-1])
        if self.form == "merged":
            W = mats[1].copy()
            return {"v2_minus_W2": v2 - float(np.sum(W * W))}
        _, K, Q = mats
        K2, Q2 = float(np.sum(K * K)), float(np.sum(Q * Q))
        out = {"v2_minus_K2": v2 - K2, "v2_minus_Q2": v2 - Q2, "K2_minus_Q2": K2 - Q2}
        g, _, _ = frobenius_coeffs(K @ K.T - Q @ Q.T, self._A)
        for nm, val in zip(ALGEBRA_NAMES, g):
            out["KKt_minus_QQt_" + nm] = float(val)
        return out

    def conserved(self) -> tuple:
        """The invariants the flow of this subset must conserve
        (:func:`numerics.conservation.conserved_names`)."""
        names = ("v2_minus_W2",) if self.form == "merged" else \
            ("v2_minus_K2", "v2_minus_Q2", "K2_minus_Q2") + tuple("KKt_minus_QQt_" + nm for nm in ALGEBRA_NAMES)
        return conserved_names(names, self.trained)

    def merged_final(self, x) -> dict:
        """The merged coordinates of the point (of ``W = K^T Q`` in the separate form)."""
        if self.form == "merged":
            return dict(zip(MERGED_NAMES, map(float, x)))
        V, W = self.merged_VW(x)
        g, _, _ = project_merged_arrays(V, W, self.t)
        return dict(zip(MERGED_NAMES, map(float, g)))

    def merged_offmanifold(self, x) -> float:
        """Residual of the point ``(V, W)`` off the merged manifold (0 for merged)."""
        V, W = self.merged_VW(x)
        _, res, _ = project_merged_arrays(V, W, self.t)
        return float(np.hypot(res["V"], res["W"]))


# ----------------------------------------------------------------------------- fast path
def merged_exponents() -> np.ndarray:
    """Exponents of the monomials of bidegree <= (2, 2) in ``(a, b) x (q, alpha, beta, h)``.

    Returns:
        An array (90, 6).
    """
    ev = [(i, j) for i in range(3) for j in range(3) if i + j <= 2]
    ew = [e for e in np.ndindex(3, 3, 3, 3) if sum(e) <= 2]
    return np.array([list(a) + list(w) for a in ev for w in ew], dtype=float)


# the 90 monomials are (monomial in a, b) x (monomial in q, alpha, beta, h), in the order of
# merged_exponents: an outer product of 6 and 15 monomials, each a product of <= 2 factors
# (_group_monomials writes them out)


def monomials(x: np.ndarray) -> np.ndarray:
    """The 90 monomials ``prod_i x_i^{e_i}`` of :func:`merged_exponents` at the merged point
    ``x`` (6,), as the outer product of the monomials in ``(a, b)`` and in
    ``(q, alpha, beta, h)``."""
    mv, mw = _group_monomials(x)
    return np.outer(mv, mw).ravel()


def _group_monomials(x):
    """The 6 monomials in ``(a, b)`` and the 15 in ``(q, alpha, beta, h)``, in the order of
    :func:`merged_exponents` (written out: the fast right-hand side calls this at every
    step; ``tests/numerics/test_numerics_flow.py`` checks them against the exponent table)."""
    a, b, q, al, be, h = np.asarray(x, dtype=float).tolist()
    return (np.array((1.0, b, b * b, a, a * b, a * a)),
            np.array((1.0, h, h * h, be, be * h, be * be, al, al * h, al * be, al * al,
                      q, q * h, q * be, q * al, q * q)))


class Interpolant:
    """The merged projected gradient ``g_c(a, b, q, alpha, beta, h)`` as an exact polynomial.

    The 90 x 6 coefficient table (module docstring) is solved for from the exact numerics
    gradient on a tensor grid: 6 pseudo-random points of ``[-1.5, 1.5]^2`` in ``(a, b)``
    times 15 of ``[-1.5, 1.5]^4`` in ``(q, alpha, beta, h)`` (a fixed seed).  The monomials
    are products of one in each group, so the 90 x 90 system is the Kronecker product of a
    6 x 6 and a 15 x 15 Vandermonde matrix and is solvable exactly.  The fit is then checked
    at 12 fresh points: ``max_rel_error`` is the largest discrepancy there relative to the
    largest gradient coefficient.  A fit off by more than 1e-9 (a gradient that is not a
    polynomial of that bidegree) raises ``RuntimeError``.

    Args:
        pb_merged: a merged :class:`ReducedProblem` training ``all``.
    """

    def __init__(self, pb_merged: ReducedProblem):
        rng = np.random.default_rng(20260223)
        ab = rng.uniform(-1.5, 1.5, size=(6, 2))
        rest = rng.uniform(-1.5, 1.5, size=(15, 4))
        pts = np.array([np.concatenate([u, w]) for u in ab for w in rest])
        test = rng.uniform(-1.5, 1.5, size=(12, 6))
        # the exact gradient at the 90 grid points and the 12 test points, in one batch
        G_all = pb_merged.raw_coeffs(np.concatenate([pts, test]))
        A = np.array([monomials(p) for p in pts])
        G = G_all[:len(pts)]
        self.coef = np.linalg.solve(A, G)
        self._coef2 = self.coef.reshape(6, -1)  # rows: monomials in (a, b); columns: (q..h, coordinate)
        exact = G_all[len(pts):]
        approx = np.array([monomials(p) for p in test]) @ self.coef
        self.max_rel_error = float(np.abs(exact - approx).max() / max(np.abs(exact).max(), 1e-300))
        if not self.max_rel_error < 1e-9:
            raise RuntimeError(f"polynomial fit of the gradient is off by {self.max_rel_error:.2e}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        # sum_{i,j} mv_i mw_j coef[15 i + j]: two small contractions instead of 90 products
        mv, mw = _group_monomials(x)
        return mw @ (mv @ self._coef2).reshape(15, -1)


_INTERP_CACHE: dict = {}


def interpolant(key, terms, d, theta0) -> Interpolant:
    """The :class:`Interpolant` of an objective, cached under ``key`` (a hashable
    description of ``terms``, ``d`` and ``theta0``; at most 257 entries are kept)."""
    if key not in _INTERP_CACHE:
        if len(_INTERP_CACHE) > 256:
            _INTERP_CACHE.clear()
        _INTERP_CACHE[key] = Interpolant(ReducedProblem(terms, "all", "merged", d, theta0))
    return _INTERP_CACHE[key]
