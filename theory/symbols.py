"""SymPy symbols shared by every ``theory`` module.

Conventions: see :mod:`theory` (stated once there) and docs/theory.md section 1.

SymPy treats two Symbols with the same name but different assumptions as *different*
objects, so every other module (and the lead's CLI / verifier) must import the symbols from
here rather than re-create them.  Assumptions, chosen deliberately:

* ``d`` (feature dimension): positive integer.  ``D = d + 2``.
* ``n`` (shots in the evaluated loss), ``N`` (fine-tuning shots), ``m`` (pretraining shots):
  nonnegative integers.  (``m`` is nonnegative too so that ``m = 0`` is a legal input.)
* ``sigma2`` (label-noise variance) and ``lam`` (fine-tuning weight): nonnegative reals.
* All model coordinates (``a b q alpha beta h c`` and the separate-form coordinates)
  and the task coordinates ``kappa rho``: real (no sign assumption: flows can change sign).

Reduced (manifold) coordinates of the merged form:
``v = (0, a*theta0, b)`` (value row = row ``y`` of ``V``) and
``W = [[q, 0, *], [0, alpha*(I - theta0 theta0^T) + beta*theta0 theta0^T, *], [0, h*theta0^T, *]]``.
The pretrained point is ``a=0, b=1, q=0, alpha=beta=c, h=0``.

Separate form ``W = K^T Q``: ``K`` and ``Q`` lie in the invariant algebra (matrices commuting
with the rotations fixing ``theta0`` and with the flip ``(x,y) -> (-x,-y)``):
``M = M_0 e_0 e_0^T + M_tt t t^T + M_ty t e_y^T + M_yt e_y t^T + M_yy e_y e_y^T
+ M_perp (I - theta0 theta0^T)``, where ``t = (0, theta0, 0)`` and the last term acts on the
x-block only.  The basis names are :data:`vocabulary.BASIS_NAMES`; the symbols are
``K_0 K_tt K_ty K_yt K_yy K_perp`` and likewise ``Q_..``.
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import sympy as sp

import vocabulary

_real = dict(real=True)

a, b, q, alpha, beta, h = sp.symbols("a b q alpha beta h", **_real)
kappa, rho = sp.symbols("kappa rho", **_real)
c = sp.Symbol("c", **_real)

d = sp.Symbol("d", integer=True, positive=True)
n = sp.Symbol("n", integer=True, nonnegative=True)
N = sp.Symbol("N", integer=True, nonnegative=True)
m = sp.Symbol("m", integer=True, nonnegative=True)

sigma2 = sp.Symbol("sigma2", nonnegative=True, real=True)
lam = sp.Symbol("lam", nonnegative=True, real=True)

#: merged reduced coordinates, in the canonical order used everywhere
MERGED_COORDS = (a, b, q, alpha, beta, h)
V_COORDS = (a, b)
W_COORDS = (q, alpha, beta, h)

#: names of the entries of an invariant-algebra matrix: ``vocabulary.BASIS_NAMES``
INV_KEYS = vocabulary.BASIS_NAMES
K = {k: sp.Symbol(f"K_{k}", **_real) for k in INV_KEYS}
Q = {k: sp.Symbol(f"Q_{k}", **_real) for k in INV_KEYS}
K_COORDS = tuple(K[k] for k in INV_KEYS)
Q_COORDS = tuple(Q[k] for k in INV_KEYS)
SEPARATE_COORDS = V_COORDS + K_COORDS + Q_COORDS

#: the symbols allowed in ``expected_loss()``
LOSS_SYMBOLS = frozenset({a, b, q, alpha, beta, h, kappa, rho, d, n, sigma2})

#: pretrained point (merged), as a substitution dict in terms of ``c``
PRETRAINED = {a: 0, b: 1, q: 0, alpha: c, beta: c, h: 0}
#: pretrained point (separate, balanced factorisation K = Q = sqrt(c) diag(0, I, 0))
PRETRAINED_SEPARATE = {a: 0, b: 1,
                       **{K[k]: 0 for k in INV_KEYS}, **{Q[k]: 0 for k in INV_KEYS}}
PRETRAINED_SEPARATE.update({K["tt"]: sp.sqrt(c), K["perp"]: sp.sqrt(c),
                            Q["tt"]: sp.sqrt(c), Q["perp"]: sp.sqrt(c)})

__all__ = [
    "a", "b", "q", "alpha", "beta", "h", "kappa", "rho", "c", "d", "n", "N", "m",
    "sigma2", "lam", "MERGED_COORDS", "V_COORDS", "W_COORDS", "INV_KEYS", "K", "Q",
    "K_COORDS", "Q_COORDS", "SEPARATE_COORDS", "LOSS_SYMBOLS", "PRETRAINED",
    "PRETRAINED_SEPARATE", "to_expr",
]


def to_expr(x) -> sp.Basic:
    """An exact SymPy object from a SymPy object, an ``int``, a ``fractions.Fraction`` or a
    ``float`` (kept as ``sp.Float``).  Strings are refused: iclft never parses a string into
    an expression (no ``eval``, no ``sympify``)."""
    if isinstance(x, sp.Basic):
        return x
    if isinstance(x, bool) or isinstance(x, str):
        raise TypeError(f"expected a number or a SymPy expression, got {type(x).__name__}")
    if isinstance(x, numbers.Integral):
        return sp.Integer(int(x))
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, numbers.Real):
        return sp.Float(float(x))
    raise TypeError(f"expected a number or a SymPy expression, got {type(x).__name__}")

# Degenerate starts (theory.degenerate): a leftover value row ``V[y, x] = u_par theta0 +
# u_perp e`` (``e`` a unit vector orthogonal to ``theta0``) and the read part of ``W``,
# ``A = sym(W_xx) = beta theta0 theta0^T + gamma e e^T + delta (theta0 e^T + e theta0^T)
# + alpha Pi_2`` (``Pi_2`` the projection orthogonal to ``theta0`` and ``e``).
u_par, u_perp, gamma, delta = sp.symbols("u_par u_perp gamma delta", **_real)
__all__ += ["u_par", "u_perp", "gamma", "delta"]
