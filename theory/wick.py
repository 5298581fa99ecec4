"""Exact Gaussian expectations with a *symbolic* dimension ``d`` (Wick / Isserlis).

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.
This module only
knows about vectors in ``R^d``; the token layout enters in :mod:`theory.objectives`.

Objects
-------
* *Gaussian vectors* ``g`` (e.g. the query ``x_q`` and two generic demonstrations
  ``x_1, x_2``), independent, each ``N(0, I_d)``.
* *Fixed vectors* forming an orthonormal family (``theta0``, ``theta_perp``).
* Independent scalar Gaussians ``eps_k ~ N(0, s_k)`` (label noise).

A *monomial* is a product of inner products ``<u, w>`` (``u, w`` Gaussian or fixed) times a
product of powers of the ``eps_k``.

Method
------
Write every inner product with explicit indices, ``<u, w> = sum_r u_r w_r``.  Isserlis'
theorem for ``g ~ N(0, I_d)`` gives ``E[g_{r_1} ... g_{r_{2k}}] = sum over perfect matchings
of the 2k occurrences of prod delta_{r r'}``, and independent vectors factorise, so the
expectation of a monomial is a sum over one perfect matching of the occurrences of *each*
Gaussian vector (odd number of occurrences: the term vanishes).  For a fixed choice of
matchings, draw a graph whose vertices are the occurrences (half-edges) of all vectors in
the monomial, with one edge per inner-product factor and one edge per matched pair.  Every
Gaussian occurrence has degree 2 and every fixed-vector occurrence degree 1, so the graph is
a disjoint union of

* *paths* between two fixed-vector occurrences ``u ... w``: contracting the Kronecker deltas
  along the path leaves ``<u, w>`` = 1 if ``u = w`` and 0 otherwise (orthonormality);
* *closed loops* through Gaussian occurrences only: the index runs freely round the loop,
  giving ``sum_r delta_rr = d``.

Hence ``E[monomial] = sum_matchings prod_paths <u,w> * d^(#loops)``, an exact polynomial in
the symbol ``d`` (valid for every ``d`` at least the size of the fixed family, since only
orthonormality of that family is used).  The scalar noises contribute
``E[eps^{2j}] = (2j-1)!! s^j`` and zero for odd powers.  Results are memoised on a canonical
form of the monomial.

Sums over demonstrations are handled by the caller (:mod:`theory.objectives`): by
exchangeability, ``E[(sum_i f_i)^2] = n E[f_1^2] + n(n-1) E[f_1 f_2]``, so only two generic
demonstrations ``x_1, x_2`` are ever needed, and ``n`` stays a symbol.
"""
from __future__ import annotations

import functools
import itertools
from typing import Iterable, Mapping

import sympy as sp

from .symbols import d as _d

__all__ = ["perfect_matchings", "expect_monomial", "expect_polynomial", "double_factorial_odd"]


def perfect_matchings(items: tuple) -> list[list[tuple]]:
    """All perfect matchings of ``items`` (list of pairs); ``(2k-1)!!`` of them."""
    if not items:
        return [[]]
    if len(items) % 2:
        return []
    first, rest = items[0], items[1:]
    out = []
    for j, partner in enumerate(rest):
        remaining = rest[:j] + rest[j + 1:]
        for sub in perfect_matchings(remaining):
            out.append([(first, partner)] + sub)
    return out


def double_factorial_odd(k: int) -> int:
    """``(k-1)!!`` for even ``k`` (the ``k``-th moment of N(0,1)); 0 for odd ``k``."""
    if k % 2:
        return 0
    out = 1
    for j in range(k - 1, 0, -2):
        out *= j
    return out


@functools.lru_cache(maxsize=None)
def _expect_canonical(factors: tuple, gaussian: frozenset, fixed: frozenset) -> sp.Expr:
    # endpoints: (factor index, side) -> label
    label = {}
    for k, (u, w) in enumerate(factors):
        label[(k, 0)] = u
        label[(k, 1)] = w
    occurrences: dict[str, list] = {}
    for ep, lab in label.items():
        if lab in gaussian:
            occurrences.setdefault(lab, []).append(ep)
        elif lab not in fixed:
            raise ValueError(f"vector {lab!r} is neither Gaussian nor fixed")
    per_vector = []
    for lab, eps in occurrences.items():
        if len(eps) % 2:
            return sp.Integer(0)
        per_vector.append(perfect_matchings(tuple(eps)))
    fixed_eps = [ep for ep, lab in label.items() if lab in fixed]
    loops_histogram: dict[int, int] = {}
    for choice in itertools.product(*per_vector):
        partner = {}
        for matching in choice:
            for x, y in matching:
                partner[x] = y
                partner[y] = x
        visited = set()
        ok = True
        for start in fixed_eps:
            if start in visited:
                continue
            cur = start
            visited.add(cur)
            while True:
                other = (cur[0], 1 - cur[1])  # along the inner-product edge
                visited.add(other)
                if label[other] in fixed:
                    if label[other] != label[start]:
                        ok = False
                    break
                cur = partner[other]  # along the Wick pairing
                visited.add(cur)
            if not ok:
                break
        if not ok:
            continue
        # remaining endpoints form closed loops
        loops = 0
        for ep in label:
            if ep in visited:
                continue
            loops += 1
            cur = ep
            while cur not in visited:
                visited.add(cur)
                other = (cur[0], 1 - cur[1])
                visited.add(other)
                cur = partner[other]
        loops_histogram[loops] = loops_histogram.get(loops, 0) + 1
    return sp.Add(*[cnt * _d**k for k, cnt in loops_histogram.items()])


def expect_monomial(factors: Iterable[tuple[str, str]], gaussian: Iterable[str],
                    fixed: Iterable[str]) -> sp.Expr:
    """``E[prod_k <u_k, w_k>]`` for independent ``N(0, I_d)`` vectors ``gaussian`` and an
    orthonormal family ``fixed``: ``sum over Wick matchings of prod_paths <u,w> d^#loops``."""
    canon = tuple(sorted(tuple(sorted(f)) for f in factors))
    return _expect_canonical(canon, frozenset(gaussian), frozenset(fixed))


def expect_polynomial(expr: sp.Expr, inner_products: Mapping[sp.Symbol, tuple[str, str]],
                      noises: Mapping[sp.Symbol, sp.Expr], gaussian: Iterable[str],
                      fixed: Iterable[str]) -> sp.Expr:
    """Expectation of a polynomial in placeholder symbols.

    ``inner_products`` maps a placeholder symbol to the pair of vector names whose inner
    product it stands for; ``noises`` maps a placeholder to the variance of an independent
    centred scalar Gaussian.  Every other symbol in ``expr`` is a constant.  The result is
    ``sum_monomials coeff * E[monomial]`` with the monomial expectations from
    :func:`expect_monomial` (inner products) times ``(2j-1)!! var^j`` (noises).
    """
    gaussian = frozenset(gaussian)
    fixed = frozenset(fixed)
    ip_syms = list(inner_products)
    eps_syms = list(noises)
    gens = ip_syms + eps_syms
    poly = sp.Poly(expr, *gens)
    total = []
    for monom, coeff in poly.terms():
        ip_exps, eps_exps = monom[:len(ip_syms)], monom[len(ip_syms):]
        val = sp.Integer(1)
        for s, k in zip(eps_syms, eps_exps):
            if k:
                mom = double_factorial_odd(k)
                if mom == 0:
                    val = 0
                    break
                val *= mom * noises[s] ** (k // 2)
        if val == 0:
            continue
        factors = []
        for s, k in zip(ip_syms, ip_exps):
            factors.extend([inner_products[s]] * k)
        e = expect_monomial(factors, gaussian, fixed)
        if e == 0:
            continue
        total.append(coeff * val * e)
    return sp.expand(sp.Add(*total))
