"""The pretraining family under an anisotropic feature covariance (two-level spectrum).

Conventions: see :mod:`theory` and :class:`vocabulary.Convention`.  With
``Sigma_x = diag(s I_k, I_{d-k})`` the rotations about ``theta0`` no longer act on the data,
so the reduced manifold of :mod:`theory.objectives` does not apply; what is derived here is
the pretrained family that the spectrum allows,

    V = e_y e_y^T,   W = diag(0, g_s I_k (+) g_1 I_{d-k}, 0),

with ``d`` a symbol and ``k``, ``s`` the convention's numbers.

Derivation.  The query token has ``y = 0`` and ``V`` reads only ``y``, so
``yhat = (1/Den) sum_i f_i`` with ``f_i = y_i (g_s <x_i^s, x_q^s> + g_1 <x_i^o, x_q^o>)``
(``x^s``: the first ``k`` coordinates, ``x^o`` the others; ``Den = n + 1`` with the query
token in ``S``, ``n`` without).  By exchangeability

    L_n = (n E[f_1^2] + n(n-1) E[f_1 f_2]) / Den^2 - 2 n E[f_1 y_q] / Den + E[y_q^2].

Each expectation is a polynomial of degree 2 in ``theta`` (checked), so it depends on the task
prior only through ``E theta theta^T = I/d`` (the sphere and ``N(0, I/d)`` alike): ``theta`` is
written ``g/sqrt(d)`` with ``g ~ N(0, I)``.  The two blocks are independent, so a monomial's
expectation is the product of its block parts, each computed by the Wick engine
(:func:`theory.wick.expect_monomial`, whose closed loops give the engine's ``d``), with ``d``
replaced by the block's dimension (``k`` or ``d - k``) and a factor ``s`` per Wick pair of a
block-``s`` feature vector (``x^s = sqrt(s) g``).
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

import vocabulary

from .memo import derivation
from .symbols import d as _d, m, sigma2
from .wick import double_factorial_odd, expect_monomial

__all__ = ["g_s", "g_1", "family_loss", "family_optimum"]

g_s, g_1 = sp.symbols("g_s g_1", real=True)

_BLOCKS = ("s", "o")
# placeholders: <th^B, x_k^B> (k = 1, 2, q) and <x_k^B, x_q^B> (k = 1, 2), noises
_TH = {(B, k): sp.Symbol(f"_th{B}_{k}") for B in _BLOCKS for k in ("1", "2", "q")}
_XQ = {(B, k): sp.Symbol(f"_x{B}_{k}q") for B in _BLOCKS for k in ("1", "2")}
_EPS = {k: sp.Symbol(f"_eps{k}") for k in ("1", "2", "q")}
_PAIR = {**{v: (B, ("th", "x" + k)) for (B, k), v in _TH.items()},
         **{v: (B, ("x" + k, "xq")) for (B, k), v in _XQ.items()}}


def _spectrum(convention) -> tuple[sp.Expr, sp.Expr]:
    conv = vocabulary.convention_named(convention)
    if conv.covariance is None:
        return sp.Integer(0), sp.Integer(1)
    k, s = conv.covariance
    return sp.Integer(int(k)), sp.Rational(Fraction(s))


def _expect(expr: sp.Expr, k: sp.Expr, s: sp.Expr) -> sp.Expr:
    gens = list(_PAIR) + list(_EPS.values())
    out = []
    for monom, coeff in sp.Poly(sp.expand(expr), *gens).terms():
        val = coeff
        for e_sym, e in zip(gens[len(_PAIR):], monom[len(_PAIR):]):
            val *= double_factorial_odd(e) * sigma2 ** (e // 2)
        if val == 0:
            continue
        th_occ = 0
        for B, dim, var in (("s", k, s), ("o", _d - k, sp.Integer(1))):
            factors = []
            for sym, e in zip(gens[:len(_PAIR)], monom[:len(_PAIR)]):
                if _PAIR[sym][0] == B:
                    factors.extend([_PAIR[sym][1]] * e)
            th_occ += sum(f.count("th") for f in factors)
            x_occ = sum(sum(1 for u in f if u != "th") for f in factors)
            part = expect_monomial(factors, ("th", "x1", "x2", "xq"), ())
            val *= part.subs(_d, dim) * var ** sp.Rational(x_occ, 2)
            if val == 0:
                break
        if th_occ > 2:
            raise AssertionError("a term of degree > 2 in theta")  # pragma: no cover
        out.append(val / _d ** sp.Rational(th_occ, 2))
    return sp.expand(sp.Add(*out))


@derivation
def family_loss(convention=None) -> sp.Expr:
    """``L_pre(g_s, g_1)`` of the family of the module docstring at ``m`` shots, derived by
    the block Wick expectations (a rational function of ``g_s, g_1, d, m, sigma2``).
    For an isotropic convention (``k = 0``) it is ``L_pre`` of the pretrained family in
    ``g_1 = c``."""
    conv = vocabulary.convention_named(convention)
    k, s = _spectrum(conv)

    def y(i):
        return _TH[("s", i)] + _TH[("o", i)] + _EPS[i]

    def f(i):
        return y(i) * (g_s * _XQ[("s", i)] + g_1 * _XQ[("o", i)])

    E11, E12 = _expect(f("1") * f("1"), k, s), _expect(f("1") * f("2"), k, s)
    E1y, Eyy = _expect(f("1") * y("q"), k, s), _expect(y("q") * y("q"), k, s)
    den = m + 1 if conv.query_in_context else m
    return (m * E11 + m * (m - 1) * E12) / den ** 2 - 2 * m * E1y / den + Eyy


@derivation
def family_optimum(convention=None) -> dict:
    """The minimiser ``{g_s: ..., g_1: ...}`` of :func:`family_loss` (the unique root of its
    gradient, a 2 x 2 linear system; ``"loss"`` its value there).  With no anisotropy
    (``k = 0``) ``g_s`` does not enter and only ``g_1`` is returned."""
    L = sp.cancel(sp.together(family_loss(convention)))
    k, _ = _spectrum(convention)
    syms = [g_1] if k == 0 else [g_s, g_1]
    # L is a quadratic in the gains: its gradient is H g - r with H, r free of the gains
    grad = [sp.expand(sp.diff(L, x)) for x in syms]
    H = sp.Matrix([[sp.diff(gr, x) for x in syms] for gr in grad])
    r = -sp.Matrix([gr.subs({x: 0 for x in syms}) for gr in grad])
    if any(sp.cancel(gr - sum(H[i, j] * x for j, x in enumerate(syms)) + r[i]) != 0
           or (set(syms) & H.free_symbols) for i, gr in enumerate(grad)):
        raise AssertionError("L is not quadratic in the gains")  # pragma: no cover
    sol = H.LUsolve(r)
    out = {x: sp.factor(sp.cancel(sol[i])) for i, x in enumerate(syms)}
    out["loss"] = sp.factor(sp.cancel(L.subs({x: out[x] for x in syms})))
    return out
