"""An independent exact route to the ICL loss: expand the prediction as a polynomial in
standard normal variables and replace every monomial by its moment.

Nothing here uses a trace identity or Isserlis pairings of vectors.  A monomial
``prod_k g_k^{e_k}`` of independent standard normals has expectation
``prod_k (e_k - 1)!!`` when every ``e_k`` is even and ``0`` otherwise.

The cost grows with the number of Gaussian variables, so this route is for small ``d``
and is used only by the tests.  ``loss_direct`` expands the whole prompt (all ``n``
demonstrations); ``loss_by_exchangeability`` needs two demonstrations only and uses the
counts ``n`` (``i = j``) and ``n(n-1)`` (``i != j``).
"""
from __future__ import annotations

from collections import defaultdict
from math import prod

import numpy as np


def _dfact(k: int) -> int:
    return prod(range(k - 1, 0, -2)) if k > 0 else 1


class Poly:
    """Sparse polynomial: ``{sorted tuple of variable ids: coefficient}``."""

    __slots__ = ("t",)

    def __init__(self, terms=None):
        self.t = dict(terms or {})

    @staticmethod
    def const(c):
        return Poly({(): float(c)})

    @staticmethod
    def var(i):
        return Poly({(i,): 1.0})

    def __add__(self, other):
        out = defaultdict(float, self.t)
        for k, c in other.t.items():
            out[k] += c
        return Poly(out)

    def scale(self, c):
        return Poly({k: c * v for k, v in self.t.items()})

    def __mul__(self, other):
        out = defaultdict(float)
        for k1, c1 in self.t.items():
            for k2, c2 in other.t.items():
                out[tuple(sorted(k1 + k2))] += c1 * c2
        return Poly(out)

    def expect(self) -> float:
        total = 0.0
        for k, c in self.t.items():
            counts = defaultdict(int)
            for i in k:
                counts[i] += 1
            if all(e % 2 == 0 for e in counts.values()):
                total += c * prod(_dfact(e) for e in counts.values())
        return total


class Variables:
    """Allocator of fresh standard Gaussian variable ids (``new(k)``: ``k`` new ids)."""

    def __init__(self):
        self.n = 0

    def new(self, k):
        ids = list(range(self.n, self.n + k))
        self.n += k
        return ids


def linear(coefs, ids, const=0.0):
    """The polynomial ``const + sum_i coefs[i] g_{ids[i]}``."""
    terms = {(i,): float(c) for c, i in zip(coefs, ids) if c != 0.0}
    if const != 0.0:
        terms[()] = float(const)
    return Poly(terms)


def token(theta, sigma2, vs: Variables, label=True):
    """Token ``(1, x, y)`` as a list of polynomials; the query has label slot 0."""
    d = len(theta)
    x = vs.new(d)
    comps = [Poly.const(1.0)] + [Poly.var(i) for i in x]
    if label:
        e = vs.new(1)[0]
        y = linear(list(theta) + [np.sqrt(sigma2)], x + [e])
        comps.append(y)
    else:
        comps.append(Poly())
    return comps, x


def dot(coefs, comps):
    """The polynomial ``sum_i coefs[i] comps[i]`` (a row times a token of polynomials)."""
    out = Poly()
    for c, p in zip(coefs, comps):
        if c != 0.0:
            out = out + p.scale(c)
    return out


def _pieces(V, W, theta, sigma2, demos):
    vs = Variables()
    v = np.asarray(V)[-1]
    zq, xq = token(theta, sigma2, vs, label=False)
    eq = vs.new(1)[0]
    yq = linear(list(theta) + [np.sqrt(sigma2)], xq + [eq])
    u = [dot(W[a], zq) for a in range(len(zq))]  # u = W z_q
    quad_q = dot([1.0] * len(zq), [zq[a] * u[a] for a in range(len(zq))])
    tq = dot(v, zq) * quad_q
    gs = []
    for _ in range(demos):
        z, _x = token(theta, sigma2, vs)
        zu = Poly()
        for a in range(len(z)):
            zu = zu + z[a] * u[a]
        gs.append(dot(v, z) * zu)
    return gs, tq, yq


def loss_by_exchangeability(V, W, theta, n, sigma2) -> float:
    """``L_n`` from ``E g_1^2``, ``E g_1 g_2``, ``E g_1 t_q``, ``E t_q^2``, ``E g_1 y_q``,
    ``E t_q y_q``, ``E y_q^2`` with the class counts ``n`` and ``n(n-1)``."""
    (g1, g2), tq, yq = _pieces(V, W, theta, sigma2, 2)
    Eg1sq = (g1 * g1).expect()
    Eg1g2 = (g1 * g2).expect()
    Eg1tq = (g1 * tq).expect()
    Etq2 = (tq * tq).expect()
    Eg1y = (g1 * yq).expect()
    Etqy = (tq * yq).expect()
    Ey2 = (yq * yq).expect()
    yhat2 = (n * Eg1sq + n * (n - 1) * Eg1g2 + 2 * n * Eg1tq + Etq2) / (n + 1) ** 2
    cross = (n * Eg1y + Etqy) / (n + 1)
    return yhat2 - 2.0 * cross + Ey2


def loss_direct(V, W, theta, n, sigma2) -> float:
    """``L_n`` by expanding ``(yhat - y_q)^2`` over the whole prompt (small ``n, d`` only)."""
    gs, tq, yq = _pieces(V, W, theta, sigma2, n)
    s = tq
    for g in gs:
        s = s + g
    err = s.scale(1.0 / (n + 1)) + yq.scale(-1.0)
    return (err * err).expect()
