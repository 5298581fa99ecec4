"""Claim about degenerate starts: ZS training of one attention matrix from a leftover
value row (docs/theory.md section 5, claim 14; issue 21 item 3).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
The start is the pretrained point with ``V[y, x] = u`` (``v_0 = 0``); ZS trains ``W``
(merged) or ``K`` or ``Q`` alone (separate).  Two independent routes: the SymPy minimiser
of :mod:`theory.degenerate` (own Gaussian moments; ``L_n`` from :func:`theory.expected_loss`)
and the exact linear flow of :mod:`numerics.degenerate` (closed-form gradient and Hessian of
the full matrices); a third, the LSODA integration of the full-matrix flow
(:func:`numerics.stability.full_flow`), confirms that the closed-form end point is where
the flow goes.
"""
from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from numerics.degenerate import degenerate_start_outcome, leftover_start
from numerics.hessian import Problem
from numerics.stability import full_flow
from theory import degenerate as tdeg
from theory.symbols import (alpha, beta, d, delta, gamma, kappa, n, q, rho, sigma2, u_par,
                            u_perp)

from proofs_check.export.prose import tx
from vocabulary import Config
from proofs_check.claims.claim import Claim, Evidence, Outcome
from proofs_check.claims.controls import Recorded, negative_control
from proofs_check.claims.exact import is_zero

__all__ = ["CLAIMS", "U_GRID", "DEGENERATE_GRID"]

#: leftover sizes |u| of the numeric grid
U_GRID = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3)
#: configurations (d, m, sigma2) of the numeric grid (N, lam are not read by ZS)
DEGENERATE_GRID = [Config(1, 20, 20, 0.1, 1.0), Config(2, 5, 20, 0.0, 1.0), Config(5, 20, 20, 0.1, 1.0),
                   Config(8, 40, 20, 0.5, 1.0)]
#: the configuration and leftover of the LSODA route
LSODA_CONFIG, LSODA_U = Config(2, 10, 20, 0.1, 1.0), 0.5
#: (form, train) of the three degenerate methods
DEGENERATE_SUBSETS = (("merged", "w"), ("separate", "q"), ("separate", "k"))
#: shots of the compared curves
SHOTS = (0, 1, 2, 5, 20)
#: relative tolerance of the comparisons (exact routes; rounding only)
RTOL = 1e-7
#: planted relative error of the negative control (100 x RTOL)
PLANT = 1e-5


def _directions(d_: int):
    """``(name, u_par, u_perp)`` unit directions: along ``theta0`` and, for ``d >= 2``, at
    60 degrees to it."""
    out = [("parallel", 1.0, 0.0)]
    if d_ >= 2:
        out.append(("oblique", 0.5, float(np.sqrt(3) / 2)))
    return out


_ARGS = (u_par, u_perp, d, sigma2)


@functools.lru_cache(maxsize=None)
def _theory_functions(train: str, parallel: bool):
    """The theory's minimiser (``q, beta, gamma, delta, alpha``) and minimum as float
    functions of ``(u_par, u_perp, d, sigma2)``, compiled once."""
    fit = tdeg.zs_frozen_value_fit(train, parallel)
    pt = dict(fit["point"])
    if parallel:
        pt.update({gamma: pt[alpha], delta: sp.Integer(0)})
    keys = (q, beta, gamma, delta, alpha)
    return keys, sp.lambdify(_ARGS, [pt[k] for k in keys] + [fit["min"]], "math")


@functools.lru_cache(maxsize=None)
def _curve_function(train: str, task: str):
    """The theory's ``L_n`` along theta0 as a float function of ``(u_par, d, sigma2, kappa, rho, n)``."""
    return sp.lambdify((u_par, d, sigma2, kappa, rho, n), tdeg.parallel_loss(train, task), "math")


def _theory_values(train: str, d_: int, s2: float, up: float, uq: float):
    """Theory: the read part ``A`` (as ``beta, gamma, delta, alpha``), ``q`` and min ZS."""
    keys, f = _theory_functions(train, uq == 0.0)
    vals = f(up, uq, d_, s2)
    return dict(zip(keys, vals[:-1])), vals[-1]


def _curves_theory(train: str, d_: int, s2: float, up: float):
    out = {}
    for task, kr in (("target", (1, 0)), ("negated", (-1, 0)), ("orthogonal", (0, 1)), ("sphere", (0, 0))):
        f = _curve_function(train, "sphere" if task == "sphere" else "line")
        out[task] = [float(f(up, d_, s2, kr[0], kr[1], k)) for k in SHOTS]
    return out


def _frame(d_: int):
    """``theta0 = e_1``, ``e = e_2`` (zero at ``d = 1``) and ``Pi_2``."""
    t0 = np.zeros(d_)
    t0[0] = 1.0
    e = np.zeros(d_)
    if d_ >= 2:
        e[1] = 1.0
    return t0, e, np.eye(d_) - np.outer(t0, t0) - np.outer(e, e)


def _route(cfg: Config) -> list:
    """The numerics route on the |u| grid at one configuration: one record
    ``(train, direction, |u|, u_par, u_perp, W, ZS, curves)`` per method, direction and |u|
    (end point of :func:`numerics.degenerate.degenerate_start_outcome`)."""
    t0, e, _ = _frame(cfg.d)
    out = []
    for form, train in DEGENERATE_SUBSETS:
        for name, cp, sp_ in _directions(cfg.d):
            for s in U_GRID:
                up, uq = s * cp, s * sp_
                start = leftover_start(cfg.d, cfg.m, cfg.sigma2, u=up * t0 + uq * e, form=form)
                o = degenerate_start_outcome(start, form=form, train=train, theta0=t0, sigma2=cfg.sigma2,
                                             shots=SHOTS)
                out.append((train, name, s, up, uq, o.W, o.zs, o.curves))
    return out


def _theory_W(pt: dict, d_: int) -> np.ndarray:
    t0, e, Pi2 = _frame(d_)
    W = np.zeros((d_ + 2, d_ + 2))
    W[0, 0] = pt[q]
    W[1:-1, 1:-1] = (pt[beta] * np.outer(t0, t0) + pt[gamma] * np.outer(e, e)
                     + pt[delta] * (np.outer(t0, e) + np.outer(e, t0)) + pt[alpha] * Pi2)
    return W


def _compare(route) -> tuple[bool, dict]:
    """The numerics route against the theory on every configuration of
    :data:`DEGENERATE_GRID`: the largest relative deviation in the end point ``W``, in ZS and
    (along ``theta0``) in the curves; passed when all are below :data:`RTOL`."""
    worst = {"point": 0.0, "zs": 0.0, "curves": 0.0}
    for cfg in DEGENERATE_GRID:
        for train, _name, _s, up, uq, W, zs_num, curves in route(cfg):
            pt, zmin = _theory_values(train, cfg.d, cfg.sigma2, up, uq)
            Wt = _theory_W(pt, cfg.d)
            worst["point"] = max(worst["point"], float(np.abs(W - Wt).max()) / max(1.0, float(np.abs(Wt).max())))
            worst["zs"] = max(worst["zs"], abs(zs_num - zmin) / max(1.0, zmin))
            if uq == 0.0:
                for task, vals in _curves_theory(train, cfg.d, cfg.sigma2, up).items():
                    if task == "orthogonal" and cfg.d == 1:
                        continue  # no unit task orthogonal to theta0 at d = 1
                    worst["curves"] = max(worst["curves"], max(abs(x - y) / max(1.0, y)
                                                               for x, y in zip(curves[task], vals)))
    return all(v < RTOL for v in worst.values()), {f"max_rel_{k}": v for k, v in worst.items()}


def _scaled(records) -> dict:
    """``|u| |W|_F`` and ``u^2 L_20(theta0)`` along the |u| grid (they tend to constants)."""
    return {f"{train}_{name}_u{s:g}": {"|u| |W|": round(s * float(np.linalg.norm(W)), 6),
                                       "u^2 L_20(theta0)": round(s * s * curves["target"][-1], 6)}
            for train, name, s, _up, _uq, W, _z, curves in records if name == "parallel"}


def check_degenerate_start() -> Outcome:
    ev = []
    ok_sym, info = True, {}
    for train in ("w", "q", "k"):
        par = tdeg.zs_frozen_value_fit(train, True)
        gen = tdeg.zs_frozen_value_fit(train, False)
        # the general direction at u_perp = 0 is the parallel solution (gamma = alpha, delta = 0)
        g0 = {k: sp.cancel(v.subs(u_perp, 0)) for k, v in gen["point"].items()}
        ok_sym &= all(is_zero(g0[k] - par["point"][k]) for k in (q, alpha, beta))
        ok_sym &= is_zero(g0[gamma] - par["point"][alpha]) and is_zero(g0[delta])
        ok_sym &= is_zero(gen["min"].subs(u_perp, 0) - par["min"])
        # scale: the minimiser is 1/|u| times a function of the direction, the minimum scale-free
        lam_ = sp.Symbol("lam_", positive=True)
        ok_sym &= all(is_zero(v.subs({u_par: lam_ * u_par, u_perp: lam_ * u_perp}, simultaneous=True) - v / lam_)
                      for v in gen["point"].values())
        ok_sym &= is_zero(gen["min"].subs({u_par: lam_ * u_par, u_perp: lam_ * u_perp}, simultaneous=True) - gen["min"])
        info[train] = {"parallel": {str(k): sp.sstr(v) for k, v in par["point"].items()},
                       "min_parallel": sp.sstr(par["min"]), "min_general": sp.sstr(gen["min"])}
    # positive definite read coordinates along theta0 (unique minimiser): leading minors of the
    # Hessian in (q, beta, alpha) are 2 u^2, 24 u^4, 96 (d - 1) u^6 (alpha exists for d >= 2)
    Hs = sp.hessian(tdeg.zs_frozen_value(True), [q, beta, alpha])
    minors = [sp.factor(Hs[:k, :k].det()) for k in (1, 2, 3)]
    ok_sym &= all(is_zero(mi - want) for mi, want in zip(minors, (2 * u_par ** 2, 24 * u_par ** 4,
                                                                  96 * (d - 1) * u_par ** 6)))
    info["minors_parallel"] = [sp.sstr(mi) for mi in minors]
    w_par = tdeg.zs_frozen_value_fit("w", True)
    q_par = tdeg.zs_frozen_value_fit("q", True)
    ok_sym &= is_zero(w_par["point"][q] - 1 / u_par) and w_par["point"][alpha] == 0 and w_par["point"][beta] == 0
    ok_sym &= is_zero(w_par["min"] - sigma2) and is_zero(q_par["min"] - sigma2 - 2 / (d + 4))
    ok_sym &= all(is_zero(q_par["point"][k] - 1 / (u_par * (d + 4))) for k in (alpha, beta))
    ev.append(Evidence("symbolic", tx("with $V$ frozen at $e_y$ + leftover $u$ ($v_0 = 0$), ZS is a convex quadratic "
                                      "in the read part ($W_00$, $sym(W_xx)$) of $W$ (along $theta0$ positive definite: "
                                      "leading minors $2u^2$, $24u^4$, $96(d-1)u^6$); its minimiser is $1/|u|$ times a "
                                      "function of the direction of $u$ and the minimum depends on the direction only: "
                                      "along $theta0$, $W$-only ends at $q = 1/u$, $alpha = beta = 0$ ($ZS = sigma2$), "
                                      "$K$- or $Q$-only at $A = I/((d+4) u)$ ($ZS = sigma2 + 2/(d+4)$); the general "
                                      "direction ($d >= 2$) reduces to these at $u_perp = 0$"),
                       ok_sym, info))
    lead = {}
    ok_lead = True
    for train, want in (("w", n * (kappa ** 2 + rho ** 2 + sigma2) / (n + 1) ** 2),
                        ("q", n * ((kappa ** 2 + rho ** 2) * (d + n + 1) + d * sigma2) / ((d + 4) ** 2 * (n + 1) ** 2))):
        C = tdeg.parallel_leading_coefficient(train)
        ok_lead &= is_zero(C - want)
        lead[train] = sp.sstr(C)
    ev.append(Evidence("symbolic", tx("along $theta0$ the $n$-shot error at the end point grows as $C_n/u^2$: "
                                      "$C_n = n(|theta|^2 + sigma2)/(n+1)^2$ ($W$-only), "
                                      "$n(|theta|^2 (d+n+1) + d sigma2)/((d+4)^2 (n+1)^2)$ ($K$- or $Q$-only), on every "
                                      "task $theta = kappa theta0 + rho theta_perp$"), ok_lead, lead))
    route = Recorded(_route)
    passed, details = _compare(route)
    details["scaled_at_d5"] = _scaled(route(DEGENERATE_GRID[2]))
    item = tx("closed-form linear flow of the full matrices (numerics.degenerate) vs the SymPy minimiser on "
              "{} configs x $|u|$ in {} x $W$-, $Q$-, $K$-only x directions ($theta0$; 60 degrees): end point $W$, "
              "ZS and (along $theta0$) $L_n$ for $n$ in {} on $theta0$, $-theta0$, $theta_perp$, sphere",
              len(DEGENERATE_GRID), ", ".join(f"{s:g}" for s in U_GRID), SHOTS)
    ev.append(Evidence("numeric", item + tx(", to relative {}", RTOL), passed, details))
    ev.append(negative_control("numeric", "'closed-form linear flow vs SymPy minimiser'", _compare, route,
                               DEGENERATE_GRID[-1],
                               lambda v: v[:-1] + [v[-1][:6] + (v[-1][6] + PLANT,) + v[-1][7:]],
                               "added to ZS of the last end point", PLANT))
    # third route: LSODA integration of the full-matrix flow, at one config per method
    cfg = LSODA_CONFIG
    t0 = np.eye(cfg.d)[0]
    worst = 0.0
    stops = {}
    for form, train in DEGENERATE_SUBSETS:
        start = leftover_start(cfg.d, cfg.m, cfg.sigma2, u=LSODA_U * t0, form=form)
        pb = Problem.build("zs", form, train, start, t0, sigma2=cfg.sigma2)
        fl = full_flow(pb, pb.pack(), gtol=1e-11, t_max=1e6)
        W = pb.merged(fl.x)[1]
        want = degenerate_start_outcome(start, form=form, train=train, theta0=t0, sigma2=cfg.sigma2, shots=(0,)).W
        worst = max(worst, float(np.abs(W - want).max()) / max(1.0, float(np.abs(want).max())))
        stops[train] = f"{fl.stop} at t = {fl.t_final:.4g}"
    ev.append(Evidence("numeric", tx("LSODA integration of the full-matrix ZS flow from $u = {} theta0$ "
                                     "($d={}$, $m={}$, $sigma2={}$) ends at the closed-form end point "
                                     "($W$-, $Q$-, $K$-only) to $1e-6$", LSODA_U, cfg.d, cfg.m, cfg.sigma2),
                       worst < 1e-6 and all(s.startswith("converged") for s in stops.values()),
                       {"max_rel_deviation": worst, "stops": stops}))
    dis = [tx("claim zs.w_only_stationary ($W$-, $K$- or $Q$-only ZS does not move) holds only at the exact "
              "pretrained point: with any leftover value row $u = V[y, x] != 0$ the flow goes to $|W|$ of order $1/|u|$ "
              "and the $n$-shot error grows like $C_n/u^2$ (ICL destroyed), in a flow time of order $1/u^2$")]
    return Outcome(ev, grid=[c.as_dict() for c in DEGENERATE_GRID], disagreements=dis,
                   region=tx("every $d >= 1$ ($theta0$ direction), $d >= 2$ (any direction of $u$), $sigma2 >= 0$, "
                             "$u != 0$, $v_0 = 0$; the pretrained $c$ is forgotten (the end point does not depend on "
                             "$m$)"))


CLAIMS = [
    Claim("zs.degenerate_start", "Degenerate starts: ZS of W, K or Q alone from a leftover value row",
          tx("With the value row frozen at $e_y + u$ (a small leftover $u = V[y, x] != 0$, $v_0 = 0$), ZS training of "
             "$W$ (merged) or of $K$ or $Q$ alone (separate) from the pretrained point is a linear flow to a global "
             "minimum with $|W|$ of order $1/|u|$: along $theta0$, $W$-only ends at $W_00 = 1/u$, $sym(W_xx) = 0$ "
             "($ZS = sigma2$) and $K$- or $Q$-only at $W_xx = I/((d+4) u)$ ($ZS = sigma2 + 2/(d+4)$); the $n$-shot "
             "error grows as $C_n/u^2$, so ICL is destroyed as $|u| -> 0$."),
          r"W^\star = \hat W(\hat u)/|u|,\quad L_n = C_n/u^2 + O(1/u),\quad "
          r"C_n^{W} = \frac{n(1+\sigma^2)}{(n+1)^2},\ C_n^{K,Q} = \frac{n(d+n+1+d\sigma^2)}{(d+4)^2(n+1)^2}",
          check_degenerate_start),
]
