"""Exact evaluation of derived expressions at a configuration (the grids are :mod:`vocabulary.configs`),
shared by the claims' checks and conditions: rationals, compiled rational functions, the exact
``L_n`` at reduced coordinates, the derived ``c*`` and the sign of a polynomial at every integer.

A configuration is ``(d, m, N, sigma2, lam)`` (docs/theory.md section 5).  Derived SymPy
expressions are evaluated *exactly* at a configuration (``sigma2`` and ``lam`` become
the rationals of their decimal strings) and turned into floats only for display.
"""
from __future__ import annotations

import functools
from fractions import Fraction

import mpmath
import sympy as sp

from theory import optima
from theory import symbols as S
from theory.objectives import expected_loss_numerator
from theory.symbols import N, d, lam, m, sigma2, to_expr

from vocabulary import Config

__all__ = ["compile_fraction", "exact", "exact_subs", "exact_subs_route", "exact_at", "num", "rational",
           "is_zero", "exact_loss", "RationalFunction", "c_star", "exact_values", "pretrained_coords",
           "to_float", "poly_positive"]



def is_zero(expr) -> bool:
    """Whether ``expr`` is identically zero, decided exactly.

    A rational function (in all its symbols) is brought to ``p/q`` with ``gcd(p, q) = 1`` by
    ``cancel(together(expr))``; it is zero exactly when ``p`` is the zero polynomial, so
    the test is complete (and much cheaper than ``simplify``).  Any other expression (a
    square root, say) goes through ``simplify(expr) == 0``."""
    e = sp.together(to_expr(expr))
    if e.is_rational_function():
        return sp.cancel(e) == 0
    return sp.simplify(e) == 0


def rational(x: float) -> sp.Rational:
    """The rational of a float's shortest decimal string: ``0.1 -> 1/10``."""
    return sp.Rational(repr(float(x)))


def exact_subs(cfg: Config) -> dict:
    return {d: sp.Integer(cfg.d), m: sp.Integer(cfg.m), N: sp.Integer(cfg.N),
            sigma2: rational(cfg.sigma2), lam: rational(cfg.lam)}


def _expanded_terms(e, syms: tuple):
    """``[(exponents over syms, rational coefficient)]`` of an *expanded* polynomial with
    rational coefficients, read term by term (sixteen times faster than ``Poly`` on the
    trade-off gap); ``None`` when ``e`` is not of that form (the caller falls back to
    ``Poly``)."""
    idx = {s_: i for i, s_ in enumerate(syms)}
    out: dict = {}
    for term in sp.Add.make_args(to_expr(e)):
        coeff, rest = term.as_coeff_Mul()
        if not coeff.is_Rational:
            return None
        mon = [0] * len(syms)
        for f in sp.Mul.make_args(rest):
            if f == 1:
                continue
            base, ex = f.as_base_exp()
            if base not in idx or not ex.is_Integer or ex <= 0:
                return None
            mon[idx[base]] += int(ex)
        key = tuple(mon)
        out[key] = out.get(key, 0) + Fraction(int(coeff.p), int(coeff.q))
    return [(k, v) for k, v in out.items() if v != 0]


class _Compiled:
    """A rational function ``P/Q`` compiled for exact evaluation in integer arithmetic.

    ``P`` and ``Q`` are stored as integer coefficients ``C_k`` (over a common denominator
    ``den``) and exponent tuples over the sorted free symbols.  At ``x_i = p_i/q_i`` with
    ``e_i`` the largest exponent of ``x_i``,
    ``P(x) = sum_k C_k prod_i p_i^{k_i} q_i^{e_i - k_i} / (den prod_i q_i^{e_i})``:
    integers only, the same value as ``cancel(expr.subs(values))`` (tested)."""

    __slots__ = ("syms", "num", "den")

    def __init__(self, num, den, syms: tuple):
        self.syms = tuple(syms)
        self.num = self._terms(num)
        self.den = self._terms(den)

    def _terms(self, e):
        terms = _expanded_terms(e, self.syms)
        if terms is None:  # not an expanded polynomial: SymPy's conversion
            gens = self.syms or (sp.Dummy(),)
            P = sp.Poly(e, *gens, domain="QQ")
            terms = [(monom[:len(self.syms)], Fraction(int(cf.p), int(cf.q))) for monom, cf in P.terms()]
        lcm = sp.ilcm(1, *[cf.denominator for _, cf in terms])
        ints = [(monom, cf.numerator * (lcm // cf.denominator)) for monom, cf in terms]
        top = tuple(max((m[i] for m, _ in ints), default=0) for i in range(len(self.syms)))
        return ints, int(lcm), top

    @staticmethod
    def _eval(compiled, vals) -> Fraction:
        ints, lcm, top = compiled
        pw = []  # pw[i][k] = p_i^k q_i^(top_i - k)
        for (p, q), e in zip(vals, top):
            pp = [1] * (e + 1)
            qq = [1] * (e + 1)
            for k in range(1, e + 1):
                pp[k] = pp[k - 1] * p
                qq[k] = qq[k - 1] * q
            pw.append([pp[k] * qq[e - k] for k in range(e + 1)])
        total = 0
        for monom, cf in ints:
            t = cf
            for i, k in enumerate(monom):
                t *= pw[i][k]
            total += t
        scale = lcm
        for (p, q), e in zip(vals, top):
            scale *= q ** e
        return Fraction(total, scale)

    def at(self, values: list) -> sp.Rational:
        """The exact value at ``values`` (rationals, in the order of ``syms``).

        Raises:
            ValueError: a value is not rational.
            ZeroDivisionError: the denominator vanishes there.
        """
        pairs = [_as_pair(to_expr(v)) for v in values]
        if any(p is None for p in pairs):
            raise ValueError("every value must be rational")
        r = self(pairs)
        return sp.Rational(r.numerator, r.denominator)

    def __call__(self, vals: list) -> Fraction:
        """``vals``: ``(numerator, denominator)`` integer pairs in the order of ``syms``."""
        den = self._eval(self.den, vals)
        if den == 0:
            raise ZeroDivisionError
        return self._eval(self.num, vals) / den


_COMPILED: dict = {}


def compile_fraction(num, den, gens) -> _Compiled:
    """``num/den`` (polynomials with rational coefficients in the symbols ``gens``) compiled
    for exact evaluation in integer arithmetic; ``.at(values)`` evaluates it.

    Args:
        num, den: SymPy polynomials in ``gens`` (expanded or not).
        gens: the symbols, in the order of the values ``.at`` takes.

    Returns:
        A compiled rational function.
    """
    return _Compiled(num, den, gens)


def _compiled(expr: sp.Expr):
    """The :class:`_Compiled` form of ``expr`` (memoised per expression), or None when it is
    not a rational function with rational coefficients."""
    try:
        return _COMPILED[expr]
    except KeyError:
        pass
    comp = None
    syms = expr.free_symbols
    if expr.is_rational_function(*syms) and not expr.has(sp.Float):
        try:
            comp = _Compiled(*sp.fraction(sp.together(expr)), sorted(syms, key=sp.default_sort_key))
        except (sp.PolynomialError, sp.GeneratorsNeeded, TypeError, ValueError):
            comp = None
    if len(_COMPILED) > 4096:
        _COMPILED.clear()
    _COMPILED[expr] = comp
    return comp


def _as_pair(v):
    """``(p, q)`` integers of a rational value, or None."""
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, 1)
    if isinstance(v, Fraction):
        return (v.numerator, v.denominator)
    if isinstance(v, sp.Basic) and v.is_Rational:
        return (int(v.p), int(v.q))
    return None


def exact_subs_route(expr, cfg: Config, extra: dict | None = None):
    """``cancel(expr.subs(values))``: the reference route of :func:`exact`."""
    sub = exact_subs(cfg)
    if extra:
        sub.update(extra)
    return sp.cancel(to_expr(expr).subs(sub))


def exact_at(expr, values: dict):
    """``cancel(expr.subs(values))`` for a dict of symbol -> value, through the compiled
    integer-arithmetic form when every value is rational (see :func:`exact`).

    Args:
        expr: a SymPy expression.
        values: symbol -> value (int, Fraction or SymPy number).

    Returns:
        The exact value (a SymPy expression)."""
    expr = to_expr(expr)
    comp = _compiled(expr) if not expr.is_Number else None
    if comp is not None and comp.syms and all(s in values for s in comp.syms):
        vals = [_as_pair(values[s]) for s in comp.syms]
        if all(v is not None for v in vals):
            try:
                r = comp(vals)
            except ZeroDivisionError:
                pass
            else:
                return sp.Rational(r.numerator, r.denominator)
    return sp.cancel(expr.subs(values))


def exact(expr, cfg: Config, extra: dict | None = None):
    """``expr`` at ``cfg`` (and ``extra``), exactly, simplified by ``cancel``.

    When ``expr`` is a rational function with rational coefficients and every free symbol
    gets a rational value, it is evaluated through a compiled form (``_Compiled``,
    integer arithmetic); otherwise, or on a zero denominator, through
    ``cancel(expr.subs(...))``.  Both routes give the same value."""
    sub = exact_subs(cfg)
    if extra:
        sub.update(extra)
    return exact_at(expr, sub)


def num(expr, cfg: Config, extra: dict | None = None) -> float:
    """:func:`exact`, as a float (through a 30-digit evaluation)."""
    return float(sp.N(exact(expr, cfg, extra), 30))


_LOSS_GENS = None


def _loss_poly():
    """``(n+1)^2 L_n`` as a ``Poly`` over ``QQ`` in ``a b q alpha beta h kappa rho d n sigma2``."""
    global _LOSS_GENS
    if _LOSS_GENS is None:
        gens = (S.a, S.b, S.q, S.alpha, S.beta, S.h, S.kappa, S.rho, d, S.n, sigma2)
        P = sp.Poly(expected_loss_numerator(), *gens, domain="QQ")
        _LOSS_GENS = (gens, P, _Compiled(P.as_expr(), sp.Integer(1), gens))
    return _LOSS_GENS


def exact_loss(coords: dict, kappa_, rho_, d_: int, n_: int, sigma2_) -> sp.Rational:
    """``L_n`` at rational reduced coordinates ``coords`` (keys ``a b q alpha beta h``),
    exactly: the derived numerator polynomial evaluated over ``QQ`` (compiled, integer
    arithmetic: :class:`_Compiled`), divided by ``(n+1)^2``."""
    gens, P, comp = _loss_poly()
    vals = [sp.nsimplify(coords[g.name]) if isinstance(coords[g.name], float) else coords[g.name]
            for g in gens[:6]]
    vals += [to_expr(kappa_), to_expr(rho_), sp.Integer(d_), sp.Integer(n_),
             rational(sigma2_) if isinstance(sigma2_, float) else to_expr(sigma2_)]
    vals = [to_expr(v) for v in vals]
    pairs = [_as_pair(v) for v in vals]
    if all(p is not None for p in pairs):
        r = comp(pairs)
        return sp.Rational(r.numerator, r.denominator) / sp.Integer(n_ + 1) ** 2
    return P.eval(dict(zip(gens, vals))) / sp.Integer(n_ + 1) ** 2


class RationalFunction:
    """A rational function over ``QQ`` given as ``(numerator, denominator)`` expanded
    (:func:`theory.limits.rational_parts`) in the symbols ``gens``, evaluated exactly in
    integer arithmetic (:func:`compile_fraction`; much faster than ``subs`` + ``cancel`` on a
    large expression).  ``f(values)`` takes ``{symbol: rational}`` for every symbol of ``gens``."""

    def __init__(self, parts, gens):
        self.gens = gens
        self.comp = compile_fraction(*parts, gens)

    def __call__(self, values: dict):
        return self.comp.at([values[g] for g in self.gens])


@functools.lru_cache(maxsize=None)
def c_star():
    """The pretrained ``c*`` as derived by :func:`theory.optima.pretrain_c_star` (never typed in)."""
    return optima.pretrain_c_star()


def exact_values(cfg: Config, extra: dict | None = None) -> dict:
    """``{d, m, N, sigma2, lam, c}`` at ``cfg`` as exact rationals (``c = c*``), updated by ``extra``."""
    out = dict(exact_subs(cfg))
    out[S.c] = exact(c_star(), cfg)
    if extra:
        out.update(extra)
    return out


def pretrained_coords(cs) -> dict:
    """The reduced coordinates of the pretrained point at ``c = cs``: ``a=0, b=1, q=0, alpha=beta=cs, h=0``."""
    return {"a": sp.Integer(0), "b": sp.Integer(1), "q": sp.Integer(0), "alpha": cs, "beta": cs, "h": sp.Integer(0)}


def to_float(x) -> float:
    """A float of ``x`` through a 20-digit evaluation."""
    return float(sp.N(x, 20))


def poly_positive(coeffs, n0):
    """``P(n) > 0`` for every integer ``n >= n0`` (``coeffs`` highest first, mpmath numbers):
    the sign is checked at ``n0`` and at the integers next to each real root ``>= n0 - 1``.

    Returns:
        ``(True, None)``, or ``(False, k)`` with ``k`` the first integer checked where ``P(k) <= 0``.
    """
    cut = {n0}
    if len(coeffs) > 1:
        for r in mpmath.polyroots(coeffs, maxsteps=500, extraprec=200):
            r = mpmath.mpc(r)
            if abs(r.imag) < mpmath.mpf(10) ** -30 and r.real >= n0 - 1:
                k = int(mpmath.floor(r.real))
                cut.update(j for j in (k, k + 1, k + 2) if j >= n0)
    for k in sorted(cut):
        if mpmath.polyval(coeffs, k) <= 0:
            return False, k
    return True, None
