"""Exact population losses on the reduced manifold, with symbolic ``d``, ``n``, ``sigma2``.

Conventions: token ``z = (1, x, y)`` (index 0 constant, ``1..d`` = ``x``, ``d+1`` = ``y``);
``S = (sum_i z_i z_i^T + z_q z_q^T)/(n+1)`` -- the query token is in the sum and the
normalisation is by the token count ``n+1``; ``yhat = e_y^T V S W z_q``; ``W`` is the merged
key-query matrix (row-token code with ``Attn = Z M Z^T`` has ``M = W^T``);
``L_n = E[(yhat - y_q)^2]`` including the noise floor ``sigma2``.

Reduced manifold (THEORY.md section 4): value row ``v = (0, a theta0, b)`` and
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

import functools
from fractions import Fraction

import sympy as sp

import vocabulary

from .symbols import (N, PRETRAINED, a, alpha, b, beta, d, h, kappa, lam, m, n, q, rho,
                      sigma2)
from .wick import expect_polynomial

__all__ = ["expected_loss", "expected_loss_numerator", "sphere_loss", "pretrain_loss",
           "pretrain_objective", "objective_fraction", "sphere_loss_numerator", "zs", "fs", "zsfs", "objective", "OBJECTIVES",
           "objective_expr", "term_fraction",
           "sphere_average", "SPHERE_KAPPA_MOMENTS"]

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


@functools.lru_cache(maxsize=None)
def expected_loss_numerator() -> sp.Expr:
    """``(n+1)^2 L_n`` on the reduced manifold, an expanded polynomial in
    ``a b q alpha beta h kappa rho d n sigma2`` (see the module docstring for the formula)."""
    f1, f2 = _f("1"), _f("2")
    g = a * _T["q"] * (q + alpha * _R + (beta - alpha) * _T["q"] ** 2)
    yq = kappa * _T["q"] + rho * _P["q"] + _E["q"]
    E11, E12, E1g, Egg = _E_(f1 * f1), _E_(f1 * f2), _E_(f1 * g), _E_(g * g)
    E1y, Egy, Eyy = _E_(f1 * yq), _E_(g * yq), _E_(yq * yq)
    num = (n * E11 + n * (n - 1) * E12 + 2 * n * E1g + Egg
           - 2 * (n + 1) * (n * E1y + Egy) + (n + 1) ** 2 * Eyy)
    return sp.expand(num)


@functools.lru_cache(maxsize=None)
def expected_loss() -> sp.Expr:
    """``L_n(V, W; kappa theta0 + rho theta_perp) = E[(yhat - y_q)^2]`` on the reduced manifold.

    ``yhat = (sum_{i<=n} <v,z_i><z_i,W z_q> + <v,z_q><z_q,W z_q>)/(n+1)``; the result is
    ``P/(n+1)^2`` with ``P`` = :func:`expected_loss_numerator`, a polynomial.  Free symbols are
    a subset of ``a b q alpha beta h kappa rho d n sigma2``.  Valid for ``kappa^2+rho^2 = 1``
    (and in fact for any real ``kappa, rho``: the task need not be a unit vector).
    """
    return expected_loss_numerator() / (n + 1) ** 2


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


@functools.lru_cache(maxsize=None)
def sphere_loss_numerator() -> sp.Expr:
    """``d (d+2) (n+1)^2 * sphere_loss()``, an expanded polynomial."""
    return sp.expand(d * (d + 2) * sphere_average(expected_loss_numerator()))


@functools.lru_cache(maxsize=None)
def sphere_loss() -> sp.Expr:
    """Unseen-task loss ``E_{theta ~ Unif(S^{d-1})} L_n(V, W; theta)`` on the manifold.

    ``= sphere_average(expected_loss())`` (see :func:`sphere_average`): a function of
    ``a b q alpha beta h d n sigma2``, written as
    :func:`sphere_loss_numerator` ``/ (d (d+2) (n+1)^2)``.
    """
    return sphere_loss_numerator() / (d * (d + 2) * (n + 1) ** 2)


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


def term_fraction(term) -> tuple[sp.Expr, sp.Expr]:
    """``(P_k, Den_k)`` with ``L_{n_k}(task_k) = P_k / Den_k`` for one
    :class:`vocabulary.Term` (weight not applied):

    * a task ``kappa theta0 + rho theta_perp``: ``P_k = (n+1)^2 L_n`` of
      :func:`expected_loss_numerator` at ``kappa, rho`` and ``n = n_k``,
      ``Den_k = (n_k + 1)^2``;
    * ``sphere``: ``P_k`` = :func:`sphere_loss_numerator` at ``n = n_k``,
      ``Den_k = d (d+2) (n_k + 1)^2``.
    """
    task = vocabulary.TASKS[term.task]
    k = _shots_symbol(term.shots)
    if task.kappa is None:
        return sp.expand(sphere_loss_numerator().subs(n, k)), d * (d + 2) * (k + 1) ** 2
    base = expected_loss_numerator().subs({kappa: task.kappa, rho: task.rho})
    return sp.expand(base.subs(n, k)), (k + 1) ** 2


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


@functools.lru_cache(maxsize=None)
def objective_fraction(name: str) -> tuple[sp.Expr, sp.Expr]:
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
    parts = [(_weight_symbol(t.weight),) + term_fraction(t) for t in _terms(name)]
    dens = []
    for _, _, den in parts:
        if den != 1 and den not in dens:
            dens.append(den)
    Den = sp.Mul(*dens) if dens else sp.Integer(1)
    P = sp.Add(*[w * Pk * sp.Mul(*[x for x in dens if x != den]) for w, Pk, den in parts])
    return sp.expand(P), Den


@functools.lru_cache(maxsize=None)
def objective_expr(name: str) -> sp.Expr:
    """The objective ``sum_k w_k L_{n_k}(task_k) = sum_k w_k P_k / Den_k`` (each term as
    :func:`term_fraction`), for any entry of ``vocabulary.OBJECTIVES``."""
    out = []
    for t in _terms(name):
        Pk, Dk = term_fraction(t)
        out.append(_weight_symbol(t.weight) * (Pk / Dk if Dk != 1 else Pk))
    return sp.Add(*out)


@functools.lru_cache(maxsize=None)
def pretrain_objective() -> sp.Expr:
    """Pretraining objective ``L_pre = E_theta L_m`` on the whole manifold (``n -> m``):
    ``sphere_loss()`` with ``n`` replaced by ``m``; used for pretraining gradients."""
    return objective_expr("pretrain")


@functools.lru_cache(maxsize=None)
def pretrain_loss() -> sp.Expr:
    """``L_pre(c) = E_theta L_m(e_y e_y^T, c diag(0, I_d, 0); theta)``, theta uniform on the
    sphere: :func:`pretrain_objective` at ``a=0, b=1, q=0, alpha=beta=c, h=0``.
    A function of ``c, m, d, sigma2`` (quadratic in ``c``)."""
    P, Den = objective_fraction("pretrain")
    return sp.factor(sp.cancel(P.subs(PRETRAINED) / Den))


@functools.lru_cache(maxsize=None)
def zs() -> sp.Expr:
    """Zero-shot fine-tuning loss ``ZS = L_0(theta0)``: :func:`expected_loss` at
    ``n=0, kappa=1, rho=0`` (independent of ``b`` and ``h``)."""
    return objective_expr("zs")


@functools.lru_cache(maxsize=None)
def fs() -> sp.Expr:
    """Few-shot fine-tuning loss ``FS = L_N(theta0)``: :func:`expected_loss` at
    ``n=N, kappa=1, rho=0``."""
    return objective_expr("fs")


@functools.lru_cache(maxsize=None)
def zsfs() -> sp.Expr:
    """Combined fine-tuning loss ``ZS + lam * FS``."""
    return objective_expr("zsfs")


#: the named objectives of ``vocabulary.OBJECTIVES`` with their own accessor functions
OBJECTIVES = {"pretrain": pretrain_objective, "zs": zs, "fs": fs, "zsfs": zsfs}


def objective(name: str) -> sp.Expr:
    """Objective by name, for any entry of ``vocabulary.OBJECTIVES``: ``pretrain`` (sphere
    average, ``m`` shots), ``zs``, ``fs`` (``N`` shots), ``zsfs`` (``zs + lam*fs``), ...;
    each a function of the merged coordinates (:func:`objective_expr`).

    Args:
        name: a key of ``vocabulary.OBJECTIVES``.

    Returns:
        The SymPy expression.

    Raises:
        ValueError: an unknown name.
    """
    return objective_expr(name)
