r"""Fine-tuning outcomes that rest on stable end points: the symmetric flow end point, its
classification, and the generic outcome reached after escaping saddles.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

The pretrained family
---------------------
``yhat`` is unchanged by ``(V, W) -> (s V, W / s)``, so with ``c`` the pretraining constant
(:func:`numerics.pretrained.pretrained_c`) every member ``V = s e_y e_y^T``,
``W = (c / s) diag(0, I_d, 0)``, ``s > 0``, minimises ``L_pre`` in the family; the separate
form takes the balanced factorisation ``K = Q = sqrt(c / s) diag(0, I_d, 0)``.
``s = 1`` is the project's default.  *Balanced* (``|V|_F = |W|_F``) means
``s = c sqrt(d) / s``, i.e. ``s^2 = c sqrt(d)`` (merged); in the separate form
``|V|_F = |K|_F = |Q|_F`` means ``s^2 = c d / s``, i.e. ``s^3 = c d``.

Outcomes
--------
*Symmetric*: the exact flow from the pretrained member, integrated on the subspace fixed
by the rotations about ``theta0`` and the flip ``F = diag(1, -I, -1)`` (the invariant
manifold; :func:`numerics.stability.invariant_basis`), to ``|grad| <= gtol_symmetric``.
*Generic*: while the current end point is a saddle (:func:`numerics.stability.classify`),
step ``eps`` along its most negative eigenvector (sign fixed: largest entry positive) and
run the full-space flow again (on the rotation-invariant subspace when the eigenvector
lies in it, otherwise on every entry), at most ``max_escapes`` times.  The result is the
limit of vanishing perturbations along the saddle's unstable manifold; the tests and the
report compare it with seeded random perturbations of the pretrained point.
"""
from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from vocabulary import MATRICES, TRAIN

from .flow import DEFAULT_GTOL, DEFAULT_T_MAX, gradient_flow
from .full_space import FullFlow, full_flow
from .hessian import hessian
from .pretrained import pretrained_c
from .problem import Problem
from .stability import MAX_CLASSIFIED_PARAMETERS, Stability, classify, invariant_basis, unclassified
from .validation import check_config, check_nonneg, check_positive_int

__all__ = ["STARTS", "pretrained_member", "balanced_scale", "check_scale", "Stage", "ClassifiedEndpoint",
           "symmetric_outcome", "generic_outcome", "perturbed_outcome", "escape_saddles", "outcome_from",
           "nearest_stationary", "reduced_flow", "pretrained_problem", "ESCAPE_RTOL", "ESCAPE_ATOL"]

STARTS = ("symmetric", "generic")


def balanced_scale(d: int, c: float, form: str = "merged") -> float:
    """The member with ``|V|_F = |W|_F`` (merged: ``s = (c sqrt(d))^(1/2)``) or
    ``|V|_F = |K|_F = |Q|_F`` (separate: ``s = (c d)^(1/3)``).

    Args:
        d: feature dimension.
        c: the pretraining constant (> 0).
        form: ``merged`` or ``separate``.

    Returns:
        The scale ``s``.
    """
    if form not in MATRICES:
        raise ValueError(f"form must be one of {', '.join(MATRICES)}, got {form!r}")
    if not c > 0:
        raise ValueError(f"c must be > 0 for a balanced member, got {c}")
    return math.sqrt(c * math.sqrt(d)) if form == "merged" else (c * d) ** (1.0 / 3.0)


def check_scale(scale, d: int, c: float, form: str) -> float:
    """``scale`` as a float > 0 (``'balanced'`` resolved by :func:`balanced_scale`).

    Raises:
        ValueError: naming ``pretrained_scale`` when not a finite number > 0 or ``balanced``.
    """
    if isinstance(scale, str):
        if scale == "balanced":
            return balanced_scale(d, c, form)
        try:
            scale = float(scale)
        except ValueError:
            raise ValueError(f"pretrained_scale must be a number > 0 or 'balanced', got {scale!r}") from None
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(float(scale)) \
            or float(scale) <= 0:
        raise ValueError(f"pretrained_scale must be a finite number > 0 or 'balanced', got {scale!r}")
    return float(scale)


def pretrained_member(d, m, sigma2, form="merged", scale=1.0) -> dict:
    """The pretrained member of scale ``s``: ``V = s e_y e_y^T`` and ``W = (c/s) diag(0, I, 0)``
    (separate: ``K = Q = sqrt(c/s) diag(0, I, 0)``).

    Args:
        d, m, sigma2: the configuration.
        form: ``merged`` or ``separate``.
        scale: ``s > 0`` or ``'balanced'``.

    Returns:
        A dict of the form's matrices.
    """
    d = check_positive_int("d", d)
    c = pretrained_c(d, m, sigma2)
    s = check_scale(scale, d, c, form)
    D = d + 2
    V = np.zeros((D, D))
    V[-1, -1] = s
    if form == "merged":
        W = np.zeros((D, D))
        W[1:-1, 1:-1] = (c / s) * np.eye(d)
        return {"V": V, "W": W}
    if form != "separate":
        raise ValueError(f"form must be one of {', '.join(MATRICES)}, got {form!r}")
    if c <= 0:
        raise ValueError(f"the separate form needs c > 0, got c = {c}")
    K = np.zeros((D, D))
    K[1:-1, 1:-1] = math.sqrt(c / s) * np.eye(d)
    return {"V": V, "K": K, "Q": K.copy()}


@dataclass
class Stage:
    """One flow stage: ``label``, its :class:`numerics.full_space.FullFlow` and the
    :class:`numerics.stability.Stability` of its end point."""

    label: str
    flow: FullFlow
    stability: Stability


@dataclass
class ClassifiedEndpoint:
    """A fine-tuning end point with its stability: ``start`` (``symmetric``/``generic``/
    ``perturbed``/``given``), the ``problem``, the ``stages`` run, the end point ``x`` and its
    ``matrices``, its ``stability`` (:func:`numerics.stability.classify`), ``scale`` (the
    pretrained member) and ``c``."""

    start: str
    problem: Problem
    stages: list
    x: np.ndarray
    stability: Stability
    scale: float
    c: float
    notes: list = field(default_factory=list)

    @property
    def matrices(self) -> dict:
        return self.problem.matrices(self.x)

    @property
    def merged(self):
        """``(V, W)`` of the end point (``W = K^T Q`` in the separate form)."""
        return self.problem.merged(self.x)

    @property
    def flow(self) -> FullFlow:
        return self.stages[-1].flow


def pretrained_problem(objective, form, train, config, *, scale=1.0):
    """The :class:`numerics.problem.Problem` of ``objective`` over ``train`` with the pretrained
    member of scale ``scale`` as its reference point.

    Args:
        objective, form, train, config: as :func:`symmetric_outcome`.
        scale: the pretrained member (``s > 0`` or ``'balanced'``).

    Returns:
        ``(problem, s, c)``: the problem, the scale and the pretraining constant.
    """
    config = check_config(config)
    if form not in TRAIN:
        raise ValueError(f"form must be one of {', '.join(TRAIN)}, got {form!r}")
    c = pretrained_c(config.d, config.m, config.sigma2)
    s = check_scale(scale, config.d, c, form)
    mats = pretrained_member(config.d, config.m, config.sigma2, form, s)
    return Problem.build(objective, form, train, config, mats), s, c


def reduced_flow(objective, form, train, config, *, gtol=DEFAULT_GTOL, t_max=DEFAULT_T_MAX):
    """:func:`numerics.flow.gradient_flow` from the pretrained point ``s = 1``, memoised in
    this process (the flow is deterministic; the same object is returned, do not modify it).
    Every argument is passed on positionally, so a call that spells out the defaults and
    one that omits them share one entry.

    Args:
        objective, form, train, config: as :func:`numerics.flow.gradient_flow`.
        gtol, t_max: its caps (default: its defaults).

    Returns:
        A :class:`numerics.flow.FlowResult`.
    """
    return _reduced_flow(objective, form, train, check_config(config), gtol, t_max)


@functools.lru_cache(maxsize=128)
def _reduced_flow(objective, form, train, config, gtol, t_max):
    return gradient_flow(objective, form, train, config, gtol=gtol, t_max=t_max)


#: empties the memo of :func:`reduced_flow` (for a caller that replaces the flow it calls)
reduced_flow.cache_clear = _reduced_flow.cache_clear


def _reduced(pb, objective, form, train, config, gtol, t_max) -> FullFlow:
    """The member ``s = 1`` through :func:`reduced_flow` (the reduced flow on the manifold
    coordinates), packaged as a :class:`FullFlow`."""
    fr = reduced_flow(objective, form, train, config, gtol=gtol, t_max=t_max)
    mats = {"V": fr.V, "W": fr.W} if form == "merged" else {"V": fr.V, "K": fr.K, "Q": fr.Q}
    x = pb.pack(mats)
    x0 = pb.pack()
    return FullFlow(x, fr.t_final, fr.nfev, float(np.linalg.norm(pb.grad(x))), fr.stop_reason,
                    f"reduced flow: {fr.message}",
                    np.array([0.0, fr.t_final]), np.array([pb.loss(x0), pb.loss(x)]), np.vstack([x0, x]),
                    fr.max_nfev, fr.t_max)


def symmetric_outcome(objective, form, train, config, *, scale=1.0, gtol=1e-10, max_nfev=100_000, t_max=1e8,
                      engine="auto") -> ClassifiedEndpoint:
    """The symmetric flow end point (module docstring), classified.

    Args:
        objective, form, train: what is fine-tuned (:data:`vocabulary.TRAIN`).
        config: the configuration, a :class:`vocabulary.Config` (required).
        scale: the pretrained member (``s > 0`` or ``'balanced'``).
        gtol, max_nfev, t_max: the flow's caps.
        engine: ``reduced`` (:func:`numerics.flow.gradient_flow`, member ``s = 1`` only),
            ``subspace`` (the full-space flow on the invariant subspace, any member) or
            ``auto`` (reduced for ``s = 1``); the tests check that both agree.

    Returns:
        A :class:`ClassifiedEndpoint` with ``start = 'symmetric'``.
    """
    pb, s, c = pretrained_problem(objective, form, train, config, scale=scale)
    if engine not in ("auto", "reduced", "subspace"):
        raise ValueError(f"engine must be auto, reduced or subspace, got {engine!r}")
    if engine == "reduced" or (engine == "auto" and s == 1.0):
        fl = _reduced(pb, objective, form, train, pb.config, gtol, t_max)
    else:
        B = invariant_basis(pb, flip=True)
        fl = full_flow(pb, pb.pack(), gtol=gtol, max_nfev=max_nfev, t_max=t_max, basis=B)
    st = classify(pb, fl.x) if pb.size <= MAX_CLASSIFIED_PARAMETERS else unclassified(pb, fl.x)
    return ClassifiedEndpoint("symmetric", pb, [Stage("symmetric", fl, st)], fl.x, st, s, c)


#: integrator tolerances of an escape flow: it only has to reach the end point of the basin
#: it enters (classified afterwards, and stopped by its gradient norm, not by these), not
#: to follow a trajectory (tighter tolerances cost more gradient evaluations and give the
#: same verdicts)
ESCAPE_RTOL, ESCAPE_ATOL = 1e-6, 1e-9


def generic_outcome(objective, form, train, config, *, scale=1.0, eps=1e-4, gtol=1e-8, max_escapes=3,
                    max_nfev=100_000, t_max=1e8) -> ClassifiedEndpoint:
    """The generic outcome: escape every saddle along its most negative eigenvector.

    Args:
        objective, form, train, config, scale: as :func:`symmetric_outcome`.
        eps: the step along the unit escape direction.
        gtol, max_nfev, t_max: the caps of each escape flow (the symmetric stage uses 1e-10);
            an escape flow integrates with :data:`ESCAPE_RTOL`, :data:`ESCAPE_ATOL`.
        max_escapes: at most this many escapes.

    Returns:
        A :class:`ClassifiedEndpoint` with ``start = 'generic'``; ``stages[0]`` is the symmetric stage.
    """
    eps = check_nonneg("eps", eps)
    if eps <= 0:
        raise ValueError("eps must be > 0")
    sym = symmetric_outcome(objective, form, train, config, scale=scale, max_nfev=max_nfev, t_max=t_max)
    if sym.stability.verdict == "unclassified":
        raise ValueError(f"d: the generic outcome escapes saddles found by the exact Hessian over the "
                         f"{sym.problem.size} trained parameters at d = {sym.problem.d}, above the limit "
                         f"{MAX_CLASSIFIED_PARAMETERS}; use a smaller d, or the symmetric start (unclassified)")
    stages, x, st = escape_saddles(sym.problem, sym.x, sym.stability, list(sym.stages), eps=eps, gtol=gtol,
                                   max_escapes=max_escapes, max_nfev=max_nfev, t_max=t_max)
    return ClassifiedEndpoint("generic", sym.problem, stages, x, st, sym.scale, sym.c)


def escape_saddles(pb: Problem, x, st: Stability, stages: list, *, eps=1e-4, gtol=1e-8, max_escapes=3,
                   max_nfev=100_000, t_max=1e8):
    """While ``st`` (the classification of ``x``) is a saddle, step ``eps`` along its most
    negative eigenvector and run the full-space flow again (on the rotation-invariant
    subspace when the eigenvector lies in it), at most ``max_escapes`` times.

    Returns:
        ``(stages, x, st)``: ``stages`` with one :class:`Stage` appended per escape.
    """
    rot = invariant_basis(pb)
    for k in range(max_escapes):
        if st.verdict != "saddle":
            break
        e = st.escape_vector
        inside = float(np.linalg.norm(e - rot @ (rot.T @ e))) <= 1e-9
        fl = full_flow(pb, x + eps * e, gtol=gtol, max_nfev=max_nfev, t_max=t_max,
                       basis=rot if inside else None, rtol=ESCAPE_RTOL, atol=ESCAPE_ATOL)
        x = fl.x
        st = classify(pb, x)
        stages.append(Stage(f"escape {k + 1} ({'rotation-invariant subspace' if inside else 'every entry'})",
                            fl, st))
    return stages, x, st


def outcome_from(pb: Problem, x0, *, eps=1e-4, gtol=1e-8, max_escapes=3, max_nfev=100_000,
                 t_max=1e8) -> ClassifiedEndpoint:
    """The stable outcome of the exact flow of ``pb`` from an arbitrary start ``x0`` (for
    example a trained model's weights): the full-space flow (every entry, the escape
    tolerances :data:`ESCAPE_RTOL`, :data:`ESCAPE_ATOL`), classified, and every saddle
    escaped (:func:`escape_saddles`).  Problems above
    :data:`numerics.stability.MAX_CLASSIFIED_PARAMETERS` are left unclassified.

    Returns:
        A :class:`ClassifiedEndpoint` with ``start = 'given'`` (``scale`` and ``c`` are NaN).
    """
    fl = full_flow(pb, np.asarray(x0, dtype=float), gtol=gtol, max_nfev=max_nfev, t_max=t_max,
                   rtol=ESCAPE_RTOL, atol=ESCAPE_ATOL)
    if pb.size > MAX_CLASSIFIED_PARAMETERS:
        st = unclassified(pb, fl.x)
        return ClassifiedEndpoint("given", pb, [Stage("flow from the given start", fl, st)], fl.x, st, math.nan,
                                  math.nan)
    st = classify(pb, fl.x)
    stages, x, st = escape_saddles(pb, fl.x, st, [Stage("flow from the given start", fl, st)], eps=eps,
                                   gtol=gtol, max_escapes=max_escapes, max_nfev=max_nfev, t_max=t_max)
    return ClassifiedEndpoint("given", pb, stages, x, st, math.nan, math.nan)


def perturbed_outcome(objective, form, train, config, *, scale=1.0, size=1e-6, seed=0, gtol=1e-8,
                      max_nfev=200_000, t_max=1e8) -> ClassifiedEndpoint:
    """The full-space flow (every entry) from the pretrained member plus ``size`` times a
    seeded standard normal matrix on every trained matrix, classified.

    Args:
        objective, form, train, config, scale: as :func:`symmetric_outcome`.
        size: the perturbation size (> 0).
        seed: the NumPy seed.
        gtol, max_nfev, t_max: the flow's caps.

    Returns:
        A :class:`ClassifiedEndpoint` with ``start = 'perturbed'``.
    """
    size = check_nonneg("size", size)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    pb, s, c = pretrained_problem(objective, form, train, config, scale=scale)
    x0 = pb.pack() + size * np.random.default_rng(seed).standard_normal(pb.size)
    fl = full_flow(pb, x0, gtol=gtol, max_nfev=max_nfev, t_max=t_max)
    st = classify(pb, fl.x)
    return ClassifiedEndpoint("perturbed", pb, [Stage(f"perturbed size={size:g} seed={seed}", fl, st)], fl.x, st, s, c,
                   notes=[f"size={size:g}", f"seed={seed}"])


def nearest_stationary(pb: Problem, x0, *, max_nfev: int = 200, gtol: float = 1e-10):
    """The stationary point near ``x0`` (for example where SGD stopped): Levenberg-Marquardt
    on ``grad L(x) = 0`` (:func:`scipy.optimize.least_squares`, the exact Hessian of
    :func:`numerics.hessian.hessian` as the Jacobian), then classified.

    Returns:
        ``(x, stability)``, or ``(x, None)`` when ``|grad L(x)| > gtol max(1, |x|)`` (no
        stationary point found within ``max_nfev`` iterations).
    """
    from scipy.optimize import least_squares  # deferred: SciPy's optimisers only when a point is polished

    x0 = np.asarray(x0, dtype=float)
    r = least_squares(pb.grad, x0, jac=lambda x: hessian(pb, x).H, method="lm", xtol=1e-15, ftol=1e-15,
                      gtol=1e-15, max_nfev=max_nfev)
    x = r.x
    if float(np.linalg.norm(pb.grad(x))) > gtol * max(1.0, float(np.linalg.norm(x))):
        return x, None
    if pb.size > MAX_CLASSIFIED_PARAMETERS:
        return x, unclassified(pb, x)
    return x, classify(pb, x)
