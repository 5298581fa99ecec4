r"""Classification of stationary points modulo symmetries, and the invariant subspaces.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.  Parameters are the
full trained matrices of a :class:`numerics.problem.Problem`.

Symmetries (only those acting within the trained matrices count)
----------------------------------------------------------------
``yhat = e_y^T V S W z_q``, so at a point ``x`` the following tangents lie in the null space
of the Hessian at a stationary point (``L(g x) = L(x)`` gives ``H xi(x) = -(D xi)^T grad L``,
which vanishes where ``grad L = 0``):

* *scaling* ``(s V, W / s)``: tangent ``(V, -W)`` (merged, both trained); separate:
  ``(s V, K / s, Q)`` and ``(s V, K, Q / s)``: tangents ``(V, -K, 0)``, ``(V, 0, -Q)``;
* *gauge* ``K -> A K``, ``Q -> A^{-T} Q`` (``W`` unchanged): tangents ``(X K, -X^T Q)`` for
  every ``X`` in ``gl(D)`` (both ``K`` and ``Q`` trained);
* *rotations* ``B = diag(1, R, 1)`` with ``R theta0 = theta0`` (any ``R`` for ``pretrain``):
  ``L_n(B V B^T, B W B^T; theta0) = L_n(V, W; R^T theta0)``, tangent ``(xi V - V xi,
  xi W - W xi)`` with ``xi = diag(0, Omega, 0)``, ``Omega`` antisymmetric, ``Omega theta0 = 0``
  (separate: ``K -> K B^T``, ``Q -> Q B^T``, tangent ``(-K xi, -Q xi)``), counted only when it
  leaves the frozen matrices fixed;
* *zero-shot only* (every term has ``n = 0``): ``yhat = (v.z_q)(z_q^T W z_q)`` reads ``W``
  only through ``sym(P W P)``, ``P = diag(1, I_d, 0)``.  In the separate form
  ``sym(K^T Q) = (U^T U - Z^T Z)/4`` with ``U = K + Q``, ``Z = K - Q``, which is invariant
  under the indefinite orthogonal group ``O(D, D)`` acting on ``[U; Z]`` from the left:
  tangents ``dU = A U + B Z``, ``dZ = B^T U + C Z`` (``A, C`` antisymmetric, ``B`` any),
  i.e. ``dK = (dU + dZ)/2``, ``dQ = (dU - dZ)/2`` (both ``K`` and ``Q`` trained);
* *unread parameters*: a direction ``u`` with ``grad L(y) . u = 0`` for *every* ``y`` is a
  translation symmetry.  These directions are the orthogonal complement of the span of
  the gradients, which is computed from the exact gradients at ``P + 8`` seeded random
  points (a polynomial's gradients at generic points span the span of all of them).  The
  derivation predicts: rows of ``V`` other than ``y``; column ``y`` of ``W`` (``z_q[y] = 0``);
  column ``y`` of ``Q`` in the separate form (column ``y`` of ``W = K^T Q`` is
  ``K^T Q e_y``); for ``n = 0`` also ``v_y`` (the query has no label), row ``y`` of ``W``,
  the antisymmetric part of ``P W P`` and column ``y`` of ``K``; with frozen matrices, all
  that the frozen values hide (e.g. ``W`` entirely when ``V = e_y e_y^T`` and ``n = 0``).
  The tests compare the computed space with this prediction.

Verdict
-------
With ``lambda`` the eigenvalues of ``H``, ``Lambda = max|lambda|`` and ``g = |grad L|``, the
tolerance is ``tol = max(1e-8 Lambda, 10 g^(2/3) Lambda^(1/3))``.  The second term is the
size of the Hessian eigenvalues that an *approximate* stationary point can show in
directions that are exactly flat at the limit: in a valley where the loss grows like
``k r^4`` with the distance ``r`` (the degenerate minima met here), ``g ~ 4 k r^3`` and
``lambda ~ 12 k r^2 ~ g^(2/3) k^(1/3)``; symmetry directions show ``O(g)``.  A point with
``g > 1e-6 max(1, Lambda)`` is not treated as stationary (verdict ``degenerate``, reason
says so).

* ``saddle``: some ``lambda < -tol``; ``index`` counts them, ``escape_direction`` is the
  eigenvector of the most negative one;
* ``minimum``: ``H`` restricted to the orthogonal complement of the symmetry span ``S`` has
  no eigenvalue in ``[-tol, tol]`` (strict modulo symmetries; ``null_dim = symmetry_dim``);
* otherwise, ``minimum`` if the objective attains its derived lower bound (a global
  minimum; reason ``global: attains the noise floor``), else ``degenerate``.

Lower bound (derived): ``eps_q`` is independent of ``yhat`` and ``x_q`` with mean 0, so
``L_n = E[(yhat - theta.x_q)^2] + sigma2 >= sigma2`` for every task; hence
``ZS, FS, L_pre >= sigma2`` and ``ZS + lam FS >= (1 + lam) sigma2``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .hessian import hessian
from .problem import Problem

__all__ = ["Stability", "classify", "complement", "symmetry_basis", "unread_basis", "lower_bound",
           "invariant_basis", "unclassified", "zero_shot_only", "MAX_CLASSIFIED_PARAMETERS"]


# ----------------------------------------------------------------------------- symmetries
def lower_bound(problem: Problem) -> float:
    """The derived lower bound of the objective: ``sigma2 * sum_k w_k`` (module docstring).

    Args:
        problem: a :class:`numerics.problem.Problem`.

    Returns:
        ``sigma2 (sum of the term weights)``: ``sigma2`` for zs/fs/pretrain,
        ``(1 + lam) sigma2`` for zsfs.
    """
    return problem.sigma2 * float(sum(w for _, _, w in problem.terms))


def _orth(rows: np.ndarray, rel: float = 1e-8) -> np.ndarray:
    """Orthonormal basis (columns) of the row span, rank by ``sigma > rel sigma_max``."""
    if rows.size == 0:
        return np.zeros((rows.shape[1] if rows.ndim == 2 else 0, 0))
    U, s, Vt = np.linalg.svd(rows, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((rows.shape[1], 0))
    r = int(np.sum(s > rel * s[0]))
    return Vt[:r].T


def unread_basis(problem: Problem, seed: int = 0, extra: int = 8) -> np.ndarray:
    """Orthonormal basis (columns) of the directions the objective never reads.

    ``u`` is unread iff ``grad L(y).u = 0`` for all ``y``: the orthogonal complement of the
    span of the gradients at ``P + extra`` random points (entries ``N(0, 1)``, seeded),
    frozen matrices kept.  Rank threshold: singular values above ``1e-9`` of the largest
    (after normalising each gradient).

    Args:
        problem: a :class:`numerics.problem.Problem`.
        seed: the seed of the random points.
        extra: points beyond ``P``.

    Returns:
        A ``P x k`` array with orthonormal columns (computed once per problem, seed and
        ``extra``: it does not depend on the point).
    """
    cache = problem.__dict__.setdefault("_unread_bases", {})
    if (seed, extra) not in cache:
        cache[(seed, extra)] = _unread_basis(problem, seed, extra)
    return cache[(seed, extra)].copy()


def _unread_basis(problem: Problem, seed: int, extra: int) -> np.ndarray:
    """:func:`unread_basis`: the gradients at the ``P + extra`` seeded points (drawn in one
    call: the same numbers as ``P + extra`` draws of ``P``) in one batched evaluation
    (:meth:`Problem.grad_many`), each normalised, zero ones dropped."""
    rng = np.random.default_rng(seed)
    P = problem.size
    G = problem.grad_many(rng.standard_normal((P + extra, P)))
    nrm = np.linalg.norm(G, axis=1)
    G = G[nrm > 0] / nrm[nrm > 0, None]
    if not G.shape[0]:
        return np.eye(P)
    _, s, Vt = np.linalg.svd(G, full_matrices=True)
    r = int(np.sum(s > 1e-9 * s[0]))
    return Vt[r:].T


def zero_shot_only(problem: Problem) -> bool:
    """Whether every term of the objective has ``n = 0`` (module docstring: the zero-shot symmetries)."""
    return all(n == 0 for n, _, _ in problem.terms)


def _rotation_generators(problem: Problem):
    d = problem.d
    if problem.objective == "pretrain":
        basis = np.eye(d)
    else:  # the orthogonal complement of theta0
        U, _, _ = np.linalg.svd(np.eye(d) - np.outer(problem.theta0, problem.theta0))
        basis = U[:, :d - 1]
    k = basis.shape[1]
    out = []
    for i in range(k):
        for j in range(i + 1, k):
            Om = np.outer(basis[:, i], basis[:, j]) - np.outer(basis[:, j], basis[:, i])
            xi = np.zeros((d + 2, d + 2))
            xi[1:-1, 1:-1] = Om
            out.append(xi)
    return out


def symmetry_basis(problem: Problem, x) -> tuple[np.ndarray, dict]:
    """Orthonormal basis of the symmetry span at ``x`` and the dimension of each family.

    Args:
        problem: a :class:`numerics.problem.Problem`.
        x: flat point.

    Returns:
        ``(S, dims)``: ``S`` is ``P x k`` with orthonormal columns; ``dims`` maps each family
        (``scaling``, ``gauge``, ``rotation``, ``zero_shot_odd``, ``unread``) to the rank of
        its own tangents.
    """
    x = np.asarray(x, dtype=float)
    mt = problem.matrices(x)
    tr = set(problem.trained)
    D = problem.D
    sl = problem.block_slices()
    P = problem.size
    fams: dict[str, list] = {"scaling": [], "gauge": [], "rotation": [], "zero_shot_odd": [], "unread": []}

    def vec(parts: dict):
        u = np.zeros(P)
        for k, M in parts.items():
            if k in tr:
                u[sl[k]] = M.ravel()
            elif np.max(np.abs(M)) > 1e-12 * max(1.0, float(np.max(np.abs(mt[k])))):
                return None  # moves a frozen matrix: not a symmetry of this problem
        return u

    Z0 = np.zeros((D, D))
    if problem.form == "merged":
        fams["scaling"].append(vec({"V": mt["V"], "W": -mt["W"]}))
    else:
        fams["scaling"].append(vec({"V": mt["V"], "K": -mt["K"], "Q": Z0}))
        fams["scaling"].append(vec({"V": mt["V"], "K": Z0, "Q": -mt["Q"]}))
        if {"K", "Q"} <= tr:
            for i in range(D):
                for j in range(D):
                    X = np.zeros((D, D))
                    X[i, j] = 1.0
                    fams["gauge"].append(vec({"K": X @ mt["K"], "Q": -X.T @ mt["Q"]}))
            if zero_shot_only(problem):
                U, Zm = mt["K"] + mt["Q"], mt["K"] - mt["Q"]
                gens = []
                for i in range(D):
                    for j in range(D):
                        E = np.zeros((D, D))
                        E[i, j] = 1.0
                        gens.append((E, Z0, Z0))          # B = E_ij
                        if i < j:
                            A = E - E.T
                            gens.append((Z0, A, Z0))      # A antisymmetric
                            gens.append((Z0, Z0, A))      # C antisymmetric
                for B, A, C in gens:
                    dU = A @ U + B @ Zm
                    dZ = B.T @ U + C @ Zm
                    fams["zero_shot_odd"].append(vec({"K": (dU + dZ) / 2, "Q": (dU - dZ) / 2}))
    for xi in _rotation_generators(problem):
        if problem.form == "merged":
            parts = {k: xi @ mt[k] - mt[k] @ xi for k in ("V", "W")}
            fams["rotation"].append(vec(parts))
        else:
            parts = {"V": xi @ mt["V"] - mt["V"] @ xi, "K": -mt["K"] @ xi, "Q": -mt["Q"] @ xi}
            u = vec(parts)
            if u is None:
                parts = {k: xi @ mt[k] - mt[k] @ xi for k in ("V", "K", "Q")}
                u = vec(parts)
            fams["rotation"].append(u)
    unread = unread_basis(problem)
    dims = {}
    rows = []
    floor = 1e-9 * max(1.0, float(np.linalg.norm(x)))  # tangents this small are rounding, not directions
    for name, lst in fams.items():
        lst = [u for u in lst if u is not None and np.linalg.norm(u) > floor]
        if lst:
            M = np.array(lst)
            dims[name] = _orth(M).shape[1]
            rows.append(M / np.linalg.norm(M, axis=1, keepdims=True))
        else:
            dims[name] = 0
    dims["unread"] = unread.shape[1]
    if unread.shape[1]:
        rows.append(unread.T)
    S = _orth(np.vstack(rows)) if rows else np.zeros((P, 0))
    return S, dims


# ----------------------------------------------------------------------------- verdict
@dataclass
class Stability:
    """The classification of a point (module docstring).

    ``verdict`` (``minimum``/``saddle``/``degenerate``), ``index`` (number of eigenvalues
    below ``-tolerance``), ``min_eigenvalue``, ``null_dim`` (eigenvalues in
    ``[-tolerance, tolerance]``), ``symmetry_dim`` (rank of the symmetry span),
    ``tolerance``, ``reason``, ``escape_direction`` (dict of matrices, the eigenvector of the
    most negative eigenvalue; ``None`` unless a saddle); diagnostics: ``eigenvalues``,
    ``extra_null`` (near-zero eigenvalues of ``H`` on the complement of the symmetry span),
    ``symmetry_residual`` (``max |H s|`` over the orthonormal symmetry basis),
    ``symmetry_families``, ``grad_norm``, ``value``, ``bound``, ``stencil``."""

    verdict: str
    index: int
    min_eigenvalue: float
    null_dim: int
    symmetry_dim: int
    tolerance: float
    reason: str
    escape_direction: dict | None
    eigenvalues: np.ndarray = field(repr=False, default=None)
    escape_vector: np.ndarray = field(repr=False, default=None)
    extra_null: int = 0
    symmetry_residual: float = 0.0
    symmetry_families: dict = field(default_factory=dict)
    grad_norm: float = 0.0
    value: float = 0.0
    bound: float = 0.0
    stencil: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready: the contract keys plus ``tolerance``, ``reason`` and diagnostics."""
        return {"verdict": self.verdict, "index": self.index, "min_eigenvalue": self.min_eigenvalue,
                "null_dim": self.null_dim, "symmetry_dim": self.symmetry_dim,
                "tolerance": self.tolerance, "reason": self.reason, "extra_null": self.extra_null,
                "symmetry_residual": self.symmetry_residual,
                "symmetry_families": dict(self.symmetry_families), "grad_norm": self.grad_norm,
                "value": self.value, "lower_bound": self.bound}


def complement(S: np.ndarray, P: int) -> np.ndarray:
    """Orthonormal basis (columns, ``P x (P - k)``) of the orthogonal complement of the span
    of the ``k`` orthonormal columns of ``S`` (QR of ``[S, I]``)."""
    k = S.shape[1]
    if k >= P:
        return np.zeros((P, 0))
    Q, _ = np.linalg.qr(np.hstack([S, np.eye(P)]))
    return Q[:, k:P]


def _sign_fixed(u: np.ndarray) -> np.ndarray:
    """``u`` with the sign that makes its largest-magnitude entry (first such) positive."""
    k = int(np.argmax(np.abs(u)))
    return u if u[k] >= 0 else -u


#: the most trained parameters ``P`` whose ``P x P`` Hessian :func:`classify` assembles and
#: diagonalises (the cost grows like ``P^2`` to ``P^3``)
MAX_CLASSIFIED_PARAMETERS = 1200


def unclassified(problem: Problem, x) -> Stability:
    """The :class:`Stability` of a point that is not classified because ``problem`` has more
    than :data:`MAX_CLASSIFIED_PARAMETERS` trained parameters (verdict ``unclassified``;
    the gradient norm and value are exact, the spectral fields are NaN)."""
    x = np.asarray(x, dtype=float)
    nan = float("nan")
    return Stability(verdict="unclassified", index=0, min_eigenvalue=nan, null_dim=0, symmetry_dim=0,
                     tolerance=nan, escape_direction=None,
                     reason=(f"not classified: {problem.size} trained parameters, above the "
                             f"{MAX_CLASSIFIED_PARAMETERS} whose exact Hessian is assembled"),
                     grad_norm=float(np.linalg.norm(problem.grad(x))), value=problem.loss(x),
                     bound=lower_bound(problem))


def classify(problem: Problem, x=None, *, bound_rtol: float = 1e-8) -> Stability:
    """Classify the point ``x`` of ``problem`` (module docstring).

    Args:
        problem: a :class:`numerics.problem.Problem`.
        x: flat point (default: the problem's reference point).
        bound_rtol: the objective attains its lower bound when
            ``value - bound <= bound_rtol * max(1, bound)``.

    Returns:
        A :class:`Stability`.

    Raises:
        ValueError: the problem has more than :data:`MAX_CLASSIFIED_PARAMETERS` trained
            parameters (the message names ``d``).
    """
    if problem.size > MAX_CLASSIFIED_PARAMETERS:
        raise ValueError(f"d: classifying an end point needs the exact P x P Hessian over the trained "
                         f"matrices; at d = {problem.d} P = {problem.size}, above the limit "
                         f"{MAX_CLASSIFIED_PARAMETERS}")
    x = problem.pack() if x is None else np.asarray(x, dtype=float)
    hr = hessian(problem, x)
    H = hr.H
    lam, vecs = np.linalg.eigh(H)
    g = problem.grad(x)
    gn = float(np.linalg.norm(g))
    scale = float(np.max(np.abs(lam))) if lam.size else 0.0
    tol = max(1e-8 * scale, 10.0 * gn ** (2.0 / 3.0) * scale ** (1.0 / 3.0), 1e-300)
    S, fams = symmetry_basis(problem, x)
    k = S.shape[1]
    sym_res = float(np.max(np.abs(H @ S))) if k else 0.0
    # H on the orthogonal complement of the symmetry span
    C = complement(S, problem.size)
    lam_c = np.linalg.eigvalsh(C.T @ H @ C) if C.shape[1] else np.zeros(0)
    extra_null = int(np.sum(np.abs(lam_c) <= tol))
    index = int(np.sum(lam < -tol))
    null_dim = int(np.sum(np.abs(lam) <= tol))
    value = problem.loss(x)
    bound = lower_bound(problem)
    at_floor = value - bound <= bound_rtol * max(1.0, abs(bound))
    image = None
    if index == 0 and extra_null > 0 and not at_floor and problem.form == "separate" and \
            ({"K", "Q"} & set(problem.trained)):
        image = _merged_image(problem, x, bound_rtol)
    escape = esc_vec = None
    if gn > 1e-6 * max(1.0, scale):
        verdict = "degenerate"
        reason = f"not a stationary point: |grad| = {gn:.3g} (> 1e-6 max(1, max|eig|))"
    elif index > 0:
        verdict = "saddle"
        esc_vec = _sign_fixed(vecs[:, 0])
        escape = {kk: esc_vec[s].reshape(problem.D, problem.D) for kk, s in problem.block_slices().items()}
        reason = f"{index} negative eigenvalue(s) below -{tol:.3g}; most negative {lam[0]:.6g}"
    elif extra_null == 0:
        verdict = "minimum"
        reason = (f"Hessian PSD to {tol:.3g}; null space ({null_dim}) = symmetry span ({k})"
                  + ("; global: attains the noise floor" if at_floor else ""))
    elif image is not None and image.verdict == "minimum":
        verdict = "minimum"
        reason = (f"Hessian PSD to {tol:.3g} with {extra_null} flat direction(s) beyond the symmetries; "
                  f"the image (V, K^T Q) is a minimum of the merged objective over all of W "
                  f"({image.reason}), so the point is a local minimum of f(V, K^T Q)")
    elif at_floor:
        verdict = "minimum"
        reason = (f"global: attains the noise floor {bound:.6g} (value {value:.12g}); Hessian PSD to "
                  f"{tol:.3g} with {extra_null} flat direction(s) beyond the symmetries")
    else:
        verdict = "degenerate"
        reason = (f"Hessian PSD to {tol:.3g} but {extra_null} flat direction(s) beyond the symmetry span; "
                  "second order cannot decide"
                  + ("" if image is None else f" (merged image: {image.verdict}: {image.reason})"))
    return Stability(verdict=verdict, index=index, min_eigenvalue=float(lam[0]) if lam.size else 0.0,
                     null_dim=null_dim, symmetry_dim=k, tolerance=tol, reason=reason,
                     escape_direction=escape, eigenvalues=lam, escape_vector=esc_vec,
                     extra_null=extra_null, symmetry_residual=sym_res, symmetry_families=fams,
                     grad_norm=gn, value=value, bound=bound,
                     stencil={"points": hr.points, "step": hr.step, "asymmetry": hr.asymmetry})


def _merged_image(problem: Problem, x, bound_rtol) -> "Stability":
    """Classify ``(V, W = K^T Q)`` in the merged form with ``W`` (and ``V`` if trained) trained.

    The separate loss is ``f(V, K^T Q)``; if ``(V, K^T Q)`` is a local minimum of ``f`` over
    all ``W`` (and ``V`` when trained), the separate point is a local minimum too, whatever
    extra flat directions the factorisation adds (they change ``W`` at second order only)."""
    V, W = problem.merged(x)
    train = "all" if "V" in problem.trained else "w"
    pm = Problem.build(problem.objective, "merged", train, problem.config, {"V": V, "W": W},
                       theta0=problem.theta0)
    return classify(pm, bound_rtol=bound_rtol)


# ----------------------------------------------------------------------------- subspaces
def invariant_basis(problem: Problem, *, flip: bool = False) -> np.ndarray:
    """Orthonormal basis (columns) of the trained directions fixed by the rotations about
    ``theta0`` (``X -> B X B^T``, ``B = diag(1, R, 1)``, ``R theta0 = theta0``; every rotation
    for ``pretrain``) and, with ``flip``, by ``F = diag(1, -I_d, -1)``, with the unread
    directions removed.

    A point of this subspace has its gradient in it (the loss is invariant under these
    maps, and the gradient is orthogonal to the unread directions), so a flow started in
    ``x0 + span`` stays there: integrating the coordinates on this basis is the full-space
    flow, with a smaller Jacobian.

    Args:
        problem: a :class:`numerics.problem.Problem`.
        flip: also require invariance under the flip ``F``.

    Returns:
        A ``P x r`` array with orthonormal columns.
    """
    D, P = problem.D, problem.size
    sl = problem.block_slices()
    gens = _rotation_generators(problem)
    # every constraint is a linear map L on one trained block (D^2 entries); a block's fixed
    # directions are the null space of its stacked maps, i.e. of the Gram sum of L^T L
    # (D^2 x D^2, never the tall stack: that has #generators D^2 rows)
    gram = {k: np.zeros((D * D, D * D)) for k in sl}

    def add(L, blocks):
        G = L.T @ L
        for k in blocks:
            if k in gram:
                gram[k] += G
    for xi in gens:
        # the linear map X -> xi X - X xi on each trained block
        add(np.kron(xi, np.eye(D)) - np.kron(np.eye(D), xi.T), sl)
    if flip:
        F = np.diag([1.0] + [-1.0] * (D - 2) + [-1.0])
        add(np.kron(F, F) - np.eye(D * D), sl)
        if problem.form == "separate":
            # gauge reflections K -> A K, Q -> A Q (A = A^{-T}) with A = diag(-1, I, 1) or
            # diag(1, I, -1): they fix the balanced start (rows 0 and y of K, Q vanish)
            for pos in (0, D - 1):
                A = np.eye(D)
                A[pos, pos] = -1.0
                add(np.kron(A, np.eye(D)) - np.eye(D * D), ("K", "Q"))
    cols = []
    for k, s_ in sl.items():
        G = gram[k]
        if not G.any():
            null = np.eye(D * D)
        else:
            # singular values of the stack below 1e-5 of the largest (their squares here);
            # the nonzero ones are differences of generator eigenvalues, of order 1
            ev, vec = np.linalg.eigh(G)
            null = vec[:, ev <= 1e-10 * max(1.0, float(ev[-1]))]
        block = np.zeros((P, null.shape[1]))
        block[s_] = null
        cols.append(block)
    fix = np.hstack(cols) if cols else np.eye(P)
    un = unread_basis(problem)
    if un.shape[1] and fix.shape[1]:
        M = un.T @ fix
        _, sv, Vt = np.linalg.svd(M, full_matrices=True)
        r = int(np.sum(sv > 1e-10))
        fix = fix @ Vt[r:].T
    if fix.shape[1]:
        # drop rounding-level entries so that coordinates outside the subspace stay exactly 0
        # (a saddle inside an invariant set must not be escaped through rounding noise)
        fix = np.where(np.abs(fix) < 1e-12, 0.0, fix)
        fix, _ = np.linalg.qr(fix)
        fix = np.where(np.abs(fix) < 1e-12, 0.0, fix)
    return fix
