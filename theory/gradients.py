"""Frobenius gradients of the full ``D x D`` attention matrices at manifold points.

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.

Derivation (why coefficients on a basis are the *full* gradient)
----------------------------------------------------------------
Let ``G`` be the group of :mod:`theory.manifold` (rotations/reflections fixing ``theta0``,
and the flip ``(x, y) -> (-x, -y)``), acting on tokens by orthogonal ``g``.  Each objective
``F`` here (``L_n(theta0)``, and the sphere average) satisfies
``F(g V g^T, g W g^T) = F(V, W)``: substitute ``z_i = g z'_i`` (the data law is
``g``-invariant: ``R theta0 = theta0``; for the flip ``eps -> -eps`` is symmetric) and use
``e_y^T g = +-e_y^T`` with ``y_q -> +-y_q`` (same sign).  Differentiating,
``grad F(g X g^T) = g grad F(X) g^T``; at a ``G``-invariant point ``X`` the gradient is
therefore ``G``-invariant, i.e. lies in the 6-dimensional invariant algebra.  Moreover only
row ``y`` of ``V`` enters ``yhat`` and column ``y`` of ``W`` never does (``z_q[y] = 0``), so

* ``grad_V F`` is in ``span{e_y e_y^T, e_y t^T}`` (basis names ``"yy"``, ``"yt"``),
* ``grad_W F`` is in ``span{e_0 e_0^T, P, t t^T, e_y t^T}`` (``"0"``, ``"perp"``,
  ``"tt"``, ``"yt"``), where ``t = (0,theta0,0)`` and ``P`` is the x-block
  ``I - theta0 theta0^T``.

These basis matrices are Frobenius-orthogonal, so the coefficient of ``B`` is
``<grad F, B>_F / |B|_F^2 = (directional derivative of F along B) / |B|_F^2``.  On the
manifold ``V = a e_y t^T + b e_y e_y^T`` and ``W = q e_0e_0^T + alpha P + beta t t^T + h e_y t^T``,
so the directional derivatives are the partial derivatives in ``a, b, q, alpha, beta, h`` and

    grad_V = dF/db e_y e_y^T + dF/da e_y t^T
    grad_W = dF/dq e_0 e_0^T + (dF/dalpha)/(d-1) P + dF/dbeta t t^T + dF/dh e_y t^T

(``|P|_F^2 = d-1``; ``dF/dalpha`` is divisible by ``d-1`` because ``P = 0`` at ``d = 1``, and
the quotient is returned cancelled).  Gradient flow ``dX/dt = -grad F`` keeps the manifold
invariant, and in reduced coordinates reads ``d(coord)/dt = -(coefficient)``; in particular
``d alpha/dt = -(dF/dalpha)/(d-1)`` (the metric weights ``alpha`` by ``d-1``).

Separate form ``W = K^T Q``: ``dF = <G, dK^T Q + K^T dQ>`` gives ``grad_K = Q G^T`` and
``grad_Q = K G`` with ``G = grad_W`` (full Frobenius gradient, column ``y`` zero).  For ``K, Q``
in the invariant algebra these products stay in it and are computed exactly with
:class:`theory.manifold.InvMat`; the reduced coordinates ``K_0 ... K_perp`` then flow by
``d K_key/dt = -(coefficient of the corresponding basis matrix)``.  ``W = K^T Q`` has
``q = K_0 Q_0``, ``beta = K_tt Q_tt + K_yt Q_yt``, ``h = K_ty Q_tt + K_yy Q_yt``,
``alpha = K_perp Q_perp``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

import vocabulary

from .memo import derivation
from .manifold import InvMat, separate_K, separate_Q
from .objectives import objective_fraction
from .symbols import (MERGED_COORDS, SEPARATE_COORDS, N, alpha, beta, d, h, lam, m, q,
                      sigma2, to_expr)

__all__ = ["GradientResult", "gradient", "merged_gradient_invmats", "merged_gradient_numerators", "separate_substitution",
           "flow_lambdified", "SUBSETS", "OBJECTIVE_NAMES", "PARAM_SYMBOLS"]

#: trained subsets per form (``vocabulary.TRAIN``)
SUBSETS = {form: tuple(subsets) for form, subsets in vocabulary.TRAIN.items()}
#: the objectives of ``vocabulary.OBJECTIVES`` at import time (any later entry works too)
OBJECTIVE_NAMES = tuple(vocabulary.OBJECTIVES)

#: the non-coordinate symbols any flow field may depend on (lambdify argument tail)
PARAM_SYMBOLS = (d, m, N, sigma2, lam)


@dataclass(frozen=True)
class GradientResult:
    """Full-matrix Frobenius gradient of one objective for one trainable subset
    (returned by :func:`gradient`).

    Attributes:
        objective, form, subset: what was differentiated.
        matrices: matrix name (``"V"``, ``"W"``, ``"K"``, ``"Q"``; only the trainable ones)
            -> basis name (see :mod:`theory.manifold`) -> SymPy coefficient, so that
            ``grad_M = sum coef * basis_matrix``.
        invmats: the same gradients as :class:`InvMat`.
        flow: reduced coordinate -> ``d coord/dt`` under Frobenius gradient flow (0 for
            frozen coordinates; ``alpha``'s carries the metric factor ``1/(d-1)``).
        coords: all reduced coordinates of the form, in canonical order.
    """
    objective: str
    form: str
    subset: str
    matrices: dict
    invmats: dict = field(repr=False)
    flow: dict
    coords: tuple


def _check(obj: str, form: str, subset: str) -> None:
    if obj not in vocabulary.OBJECTIVES:
        raise ValueError(f"objective must be one of {tuple(vocabulary.OBJECTIVES)}, got {obj!r}")
    if form not in SUBSETS:
        raise ValueError(f"form must be 'merged' or 'separate', got {form!r}")
    if subset not in SUBSETS[form]:
        raise ValueError(f"subset for form {form!r} must be one of {SUBSETS[form]}, "
                         f"got {subset!r}")


def _quo_d1(P: sp.Expr) -> sp.Expr:
    """Exact quotient ``P / (d - 1)`` of a polynomial divisible by ``d - 1``."""
    quo, rem = sp.div(sp.Poly(P, d), sp.Poly(d - 1, d))
    if not rem.is_zero:
        raise AssertionError("dF/dalpha is not divisible by d-1")  # pragma: no cover
    return sp.expand(quo.as_expr())


@derivation
def merged_gradient_numerators(obj: str, convention=None) -> tuple[InvMat, InvMat, sp.Expr]:
    """``(Den*grad_V, Den*grad_W, Den)``: polynomial numerators of the merged gradient
    (``Den`` from :func:`theory.objectives.objective_fraction`)."""
    P, Den = objective_fraction(obj, convention)
    dP = {s: sp.diff(P, s) for s in MERGED_COORDS}
    sym = dict(zip(vocabulary.coordinate_names("merged"), MERGED_COORDS))
    gV, gW = ({c_.basis: (_quo_d1 if c_.basis == "perp" else lambda e: e)(dP[sym[c_.name]])
               for c_ in vocabulary.MERGED_COORDS if c_.matrix == M} for M in ("V", "W"))
    gV, gW = InvMat.from_coords(gV), InvMat.from_coords(gW)
    return gV, gW, Den


def merged_gradient_invmats(obj: str, convention=None) -> tuple[InvMat, InvMat]:
    """``(grad_V, grad_W)`` of objective ``obj`` at a generic manifold point (merged coords)."""
    gV, gW, Den = merged_gradient_numerators(obj, convention)
    return gV.applyfunc(lambda e: e / Den), gW.applyfunc(lambda e: e / Den)


def separate_substitution() -> dict:
    """Merged coordinates of ``W = K^T Q`` in terms of the separate coordinates."""
    W = separate_K().T @ separate_Q()
    return {q: W.B[0, 0], beta: W.B[1, 1], h: W.B[2, 1], alpha: W.p}


@derivation
def gradient(obj: str, subset: str = "all", form: str = "merged", convention=None) -> GradientResult:
    """Frobenius gradient of ``obj`` (``pretrain|zs|fs|zsfs``) w.r.t. the trainable matrices.

    Each coefficient is ``polynomial / Den`` with ``Den`` from
    :func:`theory.objectives.objective_fraction`.  Formulas: module docstring.  Cached.

    Args:
        obj: the objective, ``"pretrain"``, ``"zs"``, ``"fs"`` or ``"zsfs"``.
        subset: the trained matrices: ``"all"``, ``"v"``, ``"w"`` (merged) or ``"all"``,
            ``"v"``, ``"kq"``, ``"k"``, ``"q"`` (separate).
        form: ``"merged"`` (coordinates ``a b q alpha beta h``) or ``"separate"``
            (``W = K^T Q``; coordinates ``a, b`` and the ``K``, ``Q`` coordinates of
            :mod:`theory.symbols`).
        convention: a :class:`vocabulary.Convention` or its name (default: today's); the
            invariance argument holds for every convention with isotropic features.

    Returns:
        A :class:`GradientResult`.

    Raises:
        ValueError: an unknown objective, form, or a subset the form does not have.

    Example: V-only ZS from the pretrained point moves ``a`` at rate ``2c(d+2)``.

    >>> import sympy as sp
    >>> from theory import gradient
    >>> from theory.symbols import PRETRAINED, a
    >>> g = gradient("zs", "v")
    >>> list(g.matrices)
    ['V']
    >>> sp.factor(g.flow[a].subs(PRETRAINED))
    2*c*(d + 2)
    """
    _check(obj, form, subset)
    gV, gW, Den = merged_gradient_numerators(obj, convention)
    trained = vocabulary.trained_matrices(form, subset)
    sym = dict(zip(vocabulary.coordinate_names(form), MERGED_COORDS if form == "merged" else SEPARATE_COORDS))
    coords_v = vocabulary.MERGED_COORDS if form == "merged" else vocabulary.SEPARATE_COORDS
    coord_of = {}
    for c_ in coords_v:
        coord_of.setdefault(c_.matrix, {})[c_.basis] = sym[c_.name]
    if form == "merged":
        coords = MERGED_COORDS
        inv = {"V": gV, "W": gW}
    else:
        coords = SEPARATE_COORDS
        sub = separate_substitution()
        ssub = lambda e: sp.expand(to_expr(e).subs(sub, simultaneous=True))  # noqa: E731
        inv = {}
        if "V" in trained:
            inv["V"] = gV.applyfunc(ssub)
        if "K" in trained or "Q" in trained:
            G = gW.applyfunc(ssub)
            if "K" in trained:
                inv["K"] = (separate_Q() @ G.T).applyfunc(sp.expand)
            if "Q" in trained:
                inv["Q"] = (separate_K() @ G).applyfunc(sp.expand)
    inv = {k: v.applyfunc(lambda e: e / Den) for k, v in inv.items() if k in trained}
    matrices = {}
    for name, M in inv.items():
        named = M.named()
        matrices[name] = {k: v for k, v in named.items() if k in coord_of[name]}
    flow = {s: sp.Integer(0) for s in coords}
    for name, M in inv.items():
        cc = M.coords()
        for key, sym in coord_of[name].items():
            flow[sym] = -cc[key]
    return GradientResult(obj, form, subset, matrices, inv, flow, coords)


def flow_lambdified(obj: str, subset: str = "all", form: str = "merged", convention=None):
    """The reduced flow field of :func:`gradient` as a NumPy function.

    Args:
        obj, subset, form: as for :func:`gradient`.

    Returns:
        ``(f, args)``: ``f(*coords, d, m, N, sigma2, lam)`` returns the list of
        ``d coord/dt`` (in the order of ``GradientResult.coords``) as floats
        (NumPy-vectorised); ``args`` is the tuple of SymPy symbols in that call order.

    Raises:
        ValueError: as for :func:`gradient`.

    Example: the V-only ZS rate of ``a`` at the pretrained point, ``2c(d+2)`` with
    ``c = 1/2``, ``d = 3``.

    >>> from theory import flow_lambdified
    >>> f, args = flow_lambdified("zs", "v")
    >>> [str(s) for s in args]
    ['a', 'b', 'q', 'alpha', 'beta', 'h', 'd', 'm', 'N', 'sigma2', 'lam']
    >>> float(f(0.0, 1.0, 0.0, 0.5, 0.5, 0.0, 3, 20, 20, 0.1, 1.0)[0])
    5.0
    """
    res = gradient(obj, subset, form, convention)
    args = tuple(res.coords) + PARAM_SYMBOLS
    exprs = [res.flow[s] for s in res.coords]
    return sp.lambdify(args, exprs, modules="math"), args
