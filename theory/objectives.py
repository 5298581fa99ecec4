"""Exact population losses on the reduced manifold, with symbolic ``d``, ``n``, ``sigma2``.

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.

Reduced manifold (docs/theory.md section 4): value row ``v = (0, a theta0, b)`` and
``W = [[q,0,*],[0, alpha (I - theta0 theta0^T) + beta theta0 theta0^T, *],[0, h theta0^T, *]]``
(``*`` = column ``y``, irrelevant because ``z_q[y] = 0``).  Task
``theta = kappa theta0 + rho theta_perp``.

Derivation of :func:`expected_loss`.  With ``t_i = <theta0, x_i>``, ``p_i = <theta_perp, x_i>``,
``s_iq = <x_i, x_q>``, ``r = |x_q|^2`` and ``y_i = kappa t_i + rho p_i + eps_i``::

    u = W z_q,   <z_i, u> = q + alpha s_iq + (beta - alpha) t_i t_q + h y_i t_q
    f_i = <v, z_i><z_i, u> = (a t_i + b y_i)(q + alpha s_iq + (beta-alpha) t_i t_q + h y_i t_q)
    g   = <v, z_q><z_q, u> = a t_q (q + alpha r + (beta - alpha) t_q^2)
    yhat = (sum_i f_i + g)/(n+1),     y_q = kappa t_q + rho p_q + eps_q

so, by exchangeability of the demonstrations,

    (n+1)^2 L_n = n E[f_1^2] + n(n-1) E[f_1 f_2] + 2n E[f_1 g] + E[g^2]
                  - 2(n+1)(n E[f_1 y_q] + E[g y_q]) + (n+1)^2 E[y_q^2],

each expectation being computed exactly by the Wick engine :mod:`theory.wick`.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

import vocabulary

from .memo import derivation
from .symbols import (N, PRETRAINED, a, alpha, b, beta, d, h, kappa, lam, m, n, q, rho,
                      sigma2, to_expr)
from .wick import expect_polynomial

__all__ = ["expected_loss", "expected_loss_numerator", "sphere_loss", "pretrain_loss",
           "pretrain_objective", "objective_fraction", "sphere_loss_numerator", "zs", "fs", "zsfs", "objective", "OBJECTIVE_FUNCTIONS",
           "objective_expr", "term_fraction",
           "sphere_average", "SPHERE_KAPPA_MOMENTS", "NotDerived", "shot_denominator",
           "shot_numerator", "prior_average", "prior_denominator", "GAUSSIAN_MOMENTS"]

# placeholder symbols for inner products and noises (private; never leave this module)
_T = {k: sp.Symbol(f"_t_{k}") for k in ("1", "2", "q")}     # <theta0, x_k>
_P = {k: sp.Symbol(f"_p_{k}") for k in ("1", "2", "q")}     # <theta_perp, x_k>
_S = {k: sp.Symbol(f"_s_{k}q") for k in ("1", "2")}         # <x_k, x_q>
_R = sp.Symbol("_r_qq")                                     # |x_q|^2
_E = {k: sp.Symbol(f"_eps_{k}") for k in ("1", "2", "q")}

_IP = {**{_T[k]: ("t0", "x" + k) for k in _T}, **{_P[k]: ("tp", "x" + k) for k in _P},
       **{_S[k]: ("x" + k, "xq") for k in _S}, _R: ("xq", "xq")}
_NOISE = {_E[k]: sigma2 for k in _E}
_GAUSS = ("x1", "x2", "xq")
_FIXED = ("t0", "tp")


def _E_(expr):
    return expect_polynomial(sp.expand(expr), _IP, _NOISE, _GAUSS, _FIXED)


def _y(k):
    return kappa * _T[k] + rho * _P[k] + _E[k]


def _f(k):
    return (a * _T[k] + b * _y(k)) * (q + alpha * _S[k] + (beta - alpha) * _T[k] * _T["q"]
                                      + h * _y(k) * _T["q"])


class NotDerived(ValueError):
    """The requested expression is not derived under this convention (the reduced manifold
    needs features whose law is invariant under the rotations fixing ``theta0``)."""


def _manifold_convention(convention) -> vocabulary.Convention:
    conv = vocabulary.convention_named(convention)
    if conv.covariance is not None:
        raise NotDerived(f"convention {conv.name!r}: an anisotropic feature covariance breaks the "
                         "rotations about theta0 that define the reduced manifold; only the "
                         "pretraining family is derived (theory.conventions)")
    return conv


@derivation
def expected_loss_numerator(convention=None) -> sp.Expr:
    """``Den_n L_n`` on the reduced manifold, an expanded polynomial in
    ``a b q alpha beta h kappa rho d n sigma2`` (see the module docstring for the formula),
    with ``Den_n`` = :func:`shot_denominator`.

    Today's convention (query token in ``S``): ``Den_n = (n+1)^2`` and the numerator is the
    module docstring's.  Query left out of ``S`` (``convention.query_in_context`` false):
    ``yhat = (sum_i f_i)/n``, so for ``n >= 1``
    ``n^2 L_n = n E[f_1^2] + n(n-1) E[f_1 f_2] - 2 n^2 E[f_1 y_q] + n^2 E[y_q^2]``
    (the ``n = 0`` loss reads the query alone and is today's ``L_0``: :func:`term_fraction`).
    """
    conv = _manifold_convention(convention)
    f1, f2 = _f("1"), _f("2")
    yq = kappa * _T["q"] + rho * _P["q"] + _E["q"]
    E11, E12, E1y, Eyy = _E_(f1 * f1), _E_(f1 * f2), _E_(f1 * yq), _E_(yq * yq)
    if not conv.query_in_context:
        return sp.expand(n * E11 + (n - 1) * n * E12 - 2 * n ** 2 * E1y + n ** 2 * Eyy)
    g = a * _T["q"] * (q + alpha * _R + (beta - alpha) * _T["q"] ** 2)
    E1g, Egg, Egy = _E_(f1 * g), _E_(g * g), _E_(g * yq)
    num = (n * E11 + n * (n - 1) * E12 + 2 * n * E1g + Egg
           - 2 * (n + 1) * (n * E1y + Egy) + (n + 1) ** 2 * Eyy)
    return sp.expand(num)


def shot_denominator(k, convention=None) -> sp.Expr:
    """The denominator ``Den_k`` of :func:`expected_loss_numerator` at ``k`` shots:
    ``(k+1)^2`` with the query token in ``S``; ``k^2`` without it (``1`` at a literal
    ``k = 0``, where the prediction reads the query token alone)."""
    conv = vocabulary.convention_named(convention)
    k = to_expr(k)
    if conv.query_in_context:
        return (k + 1) ** 2
    return sp.Integer(1) if k == 0 else k ** 2


def shot_numerator(k, convention=None) -> sp.Expr:
    """``Den_k L_k`` at ``k`` shots (an int or a symbol) under ``convention``: the numerator
    of :func:`expected_loss_numerator` at ``n = k``, except that without the query token in
    ``S`` a literal ``k = 0`` is the query-alone loss, today's ``L_0``."""
    conv = _manifold_convention(convention)
    if not conv.query_in_context and k == 0:
        return sp.expand(expected_loss_numerator().subs(n, 0))
    return sp.expand(expected_loss_numerator(conv).subs(n, k))


@derivation
def expected_loss(convention=None) -> sp.Expr:
    """``L_n(V, W; kappa theta0 + rho theta_perp) = E[(yhat - y_q)^2]`` on the reduced manifold.

    ``yhat = (sum_{i<=n} <v,z_i><z_i,W z_q> + <v,z_q><z_q,W z_q>)/(n+1)``; the result is
    ``P/(n+1)^2`` with ``P`` = :func:`expected_loss_numerator`, a polynomial.  Valid for
    ``kappa^2+rho^2 = 1`` (and in fact for any real ``kappa, rho``: the task need not be a
    unit vector).  Derived once and cached.

    Args:
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        A SymPy expression whose free symbols are a subset of the symbols named
        ``a b q alpha beta h kappa rho d n sigma2`` (import them from
        :mod:`theory.symbols`; same-named symbols with other assumptions do not match).

    Example: the pretrained model (``a=0, b=1, q=0, alpha=beta=c, h=0``) at ``n = 0`` has
    the error ``|theta|^2 + sigma2``.

    >>> from theory import expected_loss
    >>> from theory.symbols import PRETRAINED, kappa, n, rho
    >>> sorted(str(s) for s in expected_loss().free_symbols)
    ['a', 'alpha', 'b', 'beta', 'd', 'h', 'kappa', 'n', 'q', 'rho', 'sigma2']
    >>> expected_loss().subs(PRETRAINED).subs(n, 0).expand()
    kappa**2 + rho**2 + sigma2
    """
    return expected_loss_numerator(convention) / shot_denominator(n, convention)


#: ``E[kappa^k]`` for ``kappa = <theta, theta0>``, ``theta ~ Uniform(S^{d-1})`` (k <= 4)
SPHERE_KAPPA_MOMENTS = {0: sp.Integer(1), 1: sp.Integer(0), 2: 1 / d, 3: sp.Integer(0),
                        4: 3 / (d * (d + 2))}


def sphere_average(expr: sp.Expr) -> sp.Expr:
    """Average over ``theta = kappa theta0 + rho theta_perp ~ Uniform(S^{d-1})``.

    Requires ``expr`` to be a polynomial in ``kappa, rho`` that is even in ``rho`` (true for
    every loss on the manifold: the reflection ``theta_perp -> -theta_perp`` fixes ``theta0``)
    and of total degree <= 4 in ``(kappa, rho)``.  Method: for a fixed ``kappa`` the value is
    the same for every unit ``theta_perp`` orthogonal to ``theta0`` (rotation invariance), so
    substitute ``rho^2 = 1 - kappa^2`` and then the moments
    ``E kappa^2 = 1/d``, ``E kappa^4 = 3/(d(d+2))``, odd moments 0 (``theta -> -theta``).
    """
    poly = sp.Poly(sp.expand(expr), kappa, rho)
    out = []
    for (i, j), coeff in poly.terms():
        if j % 2:
            raise ValueError("sphere_average: expression is not even in rho")
        term = sp.expand(kappa ** i * (1 - kappa ** 2) ** (j // 2))
        for (k,), cc in sp.Poly(term, kappa).terms():
            if k not in SPHERE_KAPPA_MOMENTS:
                raise ValueError("sphere_average: degree in kappa exceeds 4")
            out.append(coeff * cc * SPHERE_KAPPA_MOMENTS[k])
    return sp.Add(*out)


#: ``E[kappa^i rho^j]`` for ``theta = kappa theta0 + rho theta_perp ~ N(0, I_d/d)``:
#: ``kappa ~ N(0, 1/d)`` and ``rho^2 ~ chi^2_{d-1}/d``, independent (``i + j <= 4``, ``j`` even)
GAUSSIAN_MOMENTS = {(0, 0): sp.Integer(1), (2, 0): 1 / d, (4, 0): 3 / d ** 2,
                    (0, 2): (d - 1) / d, (0, 4): (d - 1) * (d + 1) / d ** 2,
                    (2, 2): (d - 1) / d ** 2}


def prior_denominator(convention=None) -> sp.Expr:
    """The common denominator of :func:`prior_average`: ``d (d+2)`` for the sphere,
    ``d^2`` for the Gaussian prior."""
    conv = vocabulary.convention_named(convention)
    return d * (d + 2) if conv.task_prior == "sphere" else d ** 2


def prior_average(expr: sp.Expr, convention=None) -> sp.Expr:
    """Average of a manifold loss over the convention's task prior: :func:`sphere_average`
    for the sphere; for ``theta ~ N(0, I_d/d)`` the loss at a task is the manifold loss at
    ``kappa = <theta, theta0>`` and ``rho = |theta - kappa theta0|`` (rotations about
    ``theta0``), and :data:`GAUSSIAN_MOMENTS` give the exact average (odd powers vanish:
    ``theta -> -theta`` and ``theta_perp -> -theta_perp``)."""
    conv = vocabulary.convention_named(convention)
    if conv.task_prior == "sphere":
        return sphere_average(expr)
    if conv.task_prior != "gaussian":
        raise ValueError(f"task_prior must be 'sphere' or 'gaussian', got {conv.task_prior!r}")
    out = []
    for (i, j), coeff in sp.Poly(sp.expand(expr), kappa, rho).terms():
        if i % 2 or j % 2:
            continue
        if (i, j) not in GAUSSIAN_MOMENTS:
            raise ValueError("prior_average: degree in (kappa, rho) exceeds 4")
        out.append(coeff * GAUSSIAN_MOMENTS[(i, j)])
    return sp.Add(*out)


@derivation
def sphere_loss_numerator(convention=None) -> sp.Expr:
    """``d (d+2) (n+1)^2 * sphere_loss()``, an expanded polynomial (in general
    :func:`prior_denominator` ``*`` :func:`shot_denominator` ``* sphere_loss``: the average
    over the convention's task prior)."""
    return sp.expand(prior_denominator(convention)
                     * prior_average(expected_loss_numerator(convention), convention))


@derivation
def sphere_loss(convention=None) -> sp.Expr:
    """Unseen-task loss ``E_{theta ~ Unif(S^{d-1})} L_n(V, W; theta)`` on the manifold.

    ``= sphere_average(expected_loss())`` (see :func:`sphere_average`), written as
    :func:`sphere_loss_numerator` ``/ (d (d+2) (n+1)^2)``.

    Args:
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        A SymPy expression in ``a b q alpha beta h d n sigma2``.

    Example: with no demonstrations the pretrained model's unseen-task error is
    ``1 + sigma2``.

    >>> from theory import sphere_loss
    >>> from theory.symbols import PRETRAINED, n
    >>> sphere_loss().subs(PRETRAINED).subs(n, 0).simplify()
    sigma2 + 1
    """
    return sphere_loss_numerator(convention) / (prior_denominator(convention)
                                                * shot_denominator(n, convention))


def _shots_symbol(shots) -> sp.Expr:
    """A term's shot count: an int, or the name ``"N"`` / ``"m"`` as its symbol."""
    if isinstance(shots, str):
        return {"N": N, "m": m}[shots]
    return sp.Integer(shots)


def _weight_symbol(weight) -> sp.Expr:
    """A term's weight, exactly: an int or float as a rational, ``"lam"`` as its symbol."""
    if isinstance(weight, str):
        return {"lam": lam}[weight]
    return sp.Rational(Fraction(weight).limit_denominator(10 ** 12))


def term_fraction(term, convention=None) -> tuple[sp.Expr, sp.Expr]:
    """``(P_k, Den_k)`` with ``L_{n_k}(task_k) = P_k / Den_k`` for one
    :class:`vocabulary.Term` (weight not applied):

    * a task ``kappa theta0 + rho theta_perp``: ``P_k = (n+1)^2 L_n`` of
      :func:`expected_loss_numerator` at ``kappa, rho`` and ``n = n_k``,
      ``Den_k = (n_k + 1)^2``;
    * ``sphere``: ``P_k`` = :func:`sphere_loss_numerator` at ``n = n_k``,
      ``Den_k = d (d+2) (n_k + 1)^2``.

    Under another convention the denominators are :func:`prior_denominator` and
    :func:`shot_denominator` (the numerators :func:`shot_numerator`).
    """
    conv = _manifold_convention(convention)
    task = vocabulary.TASKS[term.task]
    k = _shots_symbol(term.shots)
    if conv == vocabulary.DEFAULT_CONVENTION:  # today's derivation, unchanged
        if task.kappa is None:
            return sp.expand(sphere_loss_numerator().subs(n, k)), d * (d + 2) * (k + 1) ** 2
        base = expected_loss_numerator().subs({kappa: task.kappa, rho: task.rho})
        return sp.expand(base.subs(n, k)), (k + 1) ** 2
    num = shot_numerator(k, conv)
    if task.kappa is None:
        return (sp.expand(prior_denominator(conv) * prior_average(num, conv)),
                prior_denominator(conv) * shot_denominator(k, conv))
    return sp.expand(num.subs({kappa: task.kappa, rho: task.rho})), shot_denominator(k, conv)


def _terms(name: str):
    if name not in vocabulary.OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(vocabulary.OBJECTIVES)}, got {name!r}")
    terms = vocabulary.OBJECTIVES[name].terms
    for t in terms:
        task = vocabulary.TASKS[t.task]
        if task.rho not in (None, 0):
            raise ValueError(f"objective {name!r}: task {t.task!r} has rho != 0; the reduced manifold "
                             "needs a task fixed by the rotations about theta0")
    return terms


@derivation
def objective_fraction(name: str, convention=None) -> tuple[sp.Expr, sp.Expr]:
    """``(P, Den)`` with objective ``= P / Den``, ``P`` an expanded polynomial in the merged
    coordinates and parameters, ``Den`` a product of positive factors free of coordinates.

    Computed from the terms of ``vocabulary.OBJECTIVES[name]``: with
    ``(P_k, Den_k)`` of :func:`term_fraction` and weights ``w_k``, ``Den`` is the product of
    the distinct ``Den_k`` and ``P = sum_k w_k P_k Den / Den_k``.  So

    * ``pretrain``: ``P = sphere numerator at n = m``, ``Den = d (d+2) (m+1)^2``;
    * ``zs``: ``P = (n+1)^2 L_n`` at ``n=0, kappa=1, rho=0``, ``Den = 1``;
    * ``fs``: ``P = (n+1)^2 L_n`` at ``n=N, kappa=1, rho=0``, ``Den = (N+1)^2``;
    * ``zsfs``: ``P = (N+1)^2 P_zs + lam P_fs``, ``Den = (N+1)^2``.
    """
    parts = [(_weight_symbol(t.weight),) + term_fraction(t, convention) for t in _terms(name)]
    dens = []
    for _, _, den in parts:
        if den != 1 and den not in dens:
            dens.append(den)
    Den = sp.Mul(*dens) if dens else sp.Integer(1)
    P = sp.Add(*[w * Pk * sp.Mul(*[x for x in dens if x != den]) for w, Pk, den in parts])
    return sp.expand(P), Den


@derivation
def objective_expr(name: str, convention=None) -> sp.Expr:
    """The objective ``sum_k w_k L_{n_k}(task_k) = sum_k w_k P_k / Den_k`` (each term as
    :func:`term_fraction`), for any entry of ``vocabulary.OBJECTIVES``."""
    out = []
    for t in _terms(name):
        Pk, Dk = term_fraction(t, convention)
        out.append(_weight_symbol(t.weight) * (Pk / Dk if Dk != 1 else Pk))
    return sp.Add(*out)


@derivation
def pretrain_objective(convention=None) -> sp.Expr:
    """Pretraining objective ``L_pre = E_theta L_m`` on the whole manifold (``n -> m``):
    ``sphere_loss()`` with ``n`` replaced by ``m``; used for pretraining gradients.

    Args:
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        A SymPy expression in ``a b q alpha beta h d m sigma2``.

    >>> from theory import pretrain_objective
    >>> sorted(str(s) for s in pretrain_objective().free_symbols)
    ['a', 'alpha', 'b', 'beta', 'd', 'h', 'm', 'q', 'sigma2']
    """
    return objective_expr("pretrain", convention)


@derivation
def pretrain_loss(convention=None) -> sp.Expr:
    """``L_pre(c) = E_theta L_m(e_y e_y^T, c diag(0, I_d, 0); theta)``, theta uniform on the
    sphere: :func:`pretrain_objective` at ``a=0, b=1, q=0, alpha=beta=c, h=0``.

    Args:
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        A SymPy expression in ``c, m, d, sigma2``, quadratic in ``c``.

    Example: its minimiser is ``c* = (m+1)/(m+1+d(1+sigma2))`` (claim ``pretrain.optimum``).

    >>> import sympy as sp
    >>> from theory import pretrain_loss
    >>> from theory.symbols import c
    >>> sp.solve(sp.diff(pretrain_loss(), c), c)
    [(m + 1)/(d*sigma2 + d + m + 1)]
    """
    P, Den = objective_fraction("pretrain", convention)
    return sp.factor(sp.cancel(P.subs(PRETRAINED) / Den))


@derivation
def zs(convention=None) -> sp.Expr:
    """Zero-shot fine-tuning loss ``ZS = L_0(theta0)``: :func:`expected_loss` at
    ``n=0, kappa=1, rho=0`` (independent of ``b`` and ``h``).

    Args:
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        A SymPy expression in ``a q alpha beta d sigma2``.

    >>> from theory import zs
    >>> sorted(str(s) for s in zs().free_symbols)
    ['a', 'alpha', 'beta', 'd', 'q', 'sigma2']
    """
    return objective_expr("zs", convention)


@derivation
def fs(convention=None) -> sp.Expr:
    """Few-shot fine-tuning loss ``FS = L_N(theta0)``: :func:`expected_loss` at
    ``n=N, kappa=1, rho=0``.

    Args:
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        A SymPy expression in ``a b q alpha beta h d N sigma2``.

    >>> from theory import fs
    >>> sorted(str(s) for s in fs().free_symbols)
    ['N', 'a', 'alpha', 'b', 'beta', 'd', 'h', 'q', 'sigma2']
    """
    return objective_expr("fs", convention)


@derivation
def zsfs(convention=None) -> sp.Expr:
    """Combined fine-tuning loss ``ZS + lam * FS``.

    Args:
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        A SymPy expression in ``a b q alpha beta h d N sigma2 lam``.

    >>> from theory import fs, zs, zsfs
    >>> from theory.symbols import lam
    >>> zsfs() - (zs() + lam * fs())
    0
    """
    return objective_expr("zsfs", convention)


#: the named objectives of ``vocabulary.OBJECTIVES`` with their own accessor functions
OBJECTIVE_FUNCTIONS = {"pretrain": pretrain_objective, "zs": zs, "fs": fs, "zsfs": zsfs}


def objective(name: str, convention=None) -> sp.Expr:
    """Objective by name, for any entry of ``vocabulary.OBJECTIVES``: ``pretrain`` (sphere
    average, ``m`` shots), ``zs``, ``fs`` (``N`` shots), ``zsfs`` (``zs + lam*fs``), ...;
    each a function of the merged coordinates (:func:`objective_expr`).

    Args:
        name: a key of ``vocabulary.OBJECTIVES``.
        convention: a :class:`vocabulary.Convention` or its name (default: today's).

    Returns:
        The SymPy expression.

    Raises:
        ValueError: an unknown name.
    """
    return objective_expr(name, convention)
