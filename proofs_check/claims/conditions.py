"""Configuration-dependent statements of the claims that carry a condition, evaluated exactly.

A claim with a condition (an inequality, a region, a sign) has two statements at one
configuration ``(d, m, N, sigma2, lam)``:

* ``paper``: the paper's wording (for ``zsfs.v.tradeoff``: adding FS lowers the target
  error at ``n = N`` *and* raises the large-``n`` error on ``-theta0``);
* ``derived``: the derived condition predicts the outcome (for ``zsfs.v.tradeoff``: the
  ``-theta0`` limit is raised *if and only if* ``(1 + c a_FS - c b_FS)^2 > (1 + c a_ZS - c)^2``).

:func:`evaluate` returns whether the chosen statement holds and the exact numbers behind
it.  ``sigma2`` and ``lam`` are read as the rationals of their decimal strings and every
quantity is a rational (SymPy) except where an algebraic number (the full ZS flow limit
``a``) is evaluated with 50 mpmath digits, or where a claim needs a gradient-flow end
point (``zsfs.all.tradeoff``, ``zsfs.w.tradeoff``: the exact population flow).

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query;
``c = c*`` (derived by :func:`theory.optima.pretrain_c_star`, never typed in).
"""
from __future__ import annotations

import functools
import math

import sympy as sp

from theory import limits, optima
from theory.symbols import a, b, c, d, kappa, rho, sigma2

from vocabulary import Config
from proofs_check.claims.exact import compile_fraction, exact, exact_loss, exact_subs

__all__ = ["CONDITION_CLAIMS", "STATEMENTS", "DOMAIN", "EXCLUDED", "ALL_LAM_MIN", "evaluate", "min_config", "statements_of",
           "w_tradeoff_numbers", "v_tradeoff_numbers", "zs_v_B_values", "zs_v_decreasing_far_out"]

STATEMENTS = ("paper", "derived")

#: the claims with a configuration-dependent condition: the least (d, m, N) of their domain,
#: whether an evaluation integrates flows, and the statements the claim offers (a claim whose
#: statement is already the derived one offers only ``paper``; ``derived`` is refused for it)
CONDITION_CLAIMS = {
    "pretrain.fewshot_vs_zeroshot": {"d": 1, "m": 1, "N": 0, "flows": False, "statements": ("paper",)},
    "zs.all.icl_degraded": {"d": 2, "m": 1, "N": 0, "flows": False, "statements": ("paper",)},
    "zs.v.icl_preserved": {"d": 2, "m": 1, "N": 0, "flows": False, "statements": STATEMENTS},
    "zsfs.v.tradeoff": {"d": 1, "m": 1, "N": 1, "flows": False, "statements": STATEMENTS},
    "zsfs.all.tradeoff": {"d": 2, "m": 1, "N": 1, "flows": True, "statements": STATEMENTS},
    "zsfs.w.tradeoff": {"d": 2, "m": 1, "N": 1, "flows": True, "statements": STATEMENTS},
}

#: the domain of every claim: d <= 12, m and N <= 60, sigma2 in [0, 2], lam in (0, 8]
DOMAIN = {"d": 12, "m": 60, "N": 60, "sigma2": (0.0, 2.0), "lam": (0.0, 8.0)}


def statements_of(claim_id: str) -> tuple:
    """The statements ``claim_id`` offers (``("paper",)`` or ``("paper", "derived")``)."""
    return CONDITION_CLAIMS[claim_id]["statements"]


def min_config(claim_id: str) -> dict:
    """The least ``(d, m, N)`` of a claim's domain (e.g. ``theta_perp`` needs ``d >= 2``)."""
    return CONDITION_CLAIMS[claim_id]


class _RatFun:
    """A rational function over ``QQ`` given as ``(numerator, denominator)`` expanded
    (:func:`theory.limits.rational_parts`) in the symbols ``gens``, evaluated exactly in
    integer arithmetic (:func:`proofs_check.claims.exact.compile_fraction`; much faster than
    ``subs`` + ``cancel`` on a large expression)."""

    def __init__(self, parts, gens):
        self.gens = gens
        self.comp = compile_fraction(*parts, gens)

    def __call__(self, values: dict):
        return self.comp.at([values[g] for g in self.gens])


def _vals(cfg: Config, extra: dict | None = None) -> dict:
    out = dict(exact_subs(cfg))
    out[c] = exact(_cstar(), cfg)
    if extra:
        out.update(extra)
    return out


def _f(x) -> float:
    return float(sp.N(x, 20))


@functools.lru_cache(maxsize=None)
def _cstar():
    return optima.pretrain_c_star()


def _pre(cs):
    return {"a": sp.Integer(0), "b": sp.Integer(1), "q": sp.Integer(0), "alpha": cs, "beta": cs, "h": sp.Integer(0)}


# --- pretrain.fewshot_vs_zeroshot -----------------------------------------------------
def _pretrain(cfg: Config, _which: str):
    """``L_n > L_0 <=> n+1 < c d (1+sigma2)/(2-c)`` for ``n = 1..max(60, threshold+2)``,
    and ``dL_n/dn|_0 > 0 <=> c(1+d(1+sigma2)) > 2``, at ``c = c*``.

    ``P(n) = (n+1)^2 L_n`` is read exactly from the derived loss polynomial at ``n = 0..3``;
    its third difference must vanish (``P`` is quadratic in ``n``), and then
    ``P(n) = P0 + n D1 + n(n-1)/2 D2`` (Newton form) gives every ``L_n`` exactly.  The slope is
    ``d/dn [P(n)/(n+1)^2]_0 = P'(0) - 2 P(0)`` with ``P'(0) = D1 - D2/2``."""
    cs = exact(_cstar(), cfg)
    s2 = exact_subs(cfg)[sigma2]
    pre = _pre(cs)
    P = [exact_loss(pre, 1, 0, cfg.d, k, cfg.sigma2) * (k + 1) ** 2 for k in range(4)]
    D1, D2 = P[1] - P[0], P[2] - 2 * P[1] + P[0]
    if P[3] - 3 * P[2] + 3 * P[1] - P[0] != 0:
        raise AssertionError("(n+1)^2 L_n is not quadratic in n")  # pragma: no cover
    L0 = P[0]
    thr = cs * cfg.d * (1 + s2) / (2 - cs)
    top = max(60, int(math.ceil(_f(thr))) + 2)
    first_bad = None
    for k in range(1, top + 1):
        Lk = (P[0] + k * D1 + sp.Rational(k * (k - 1), 2) * D2) / (k + 1) ** 2
        ok = Lk == L0 if k + 1 == thr else (Lk > L0) == (k + 1 < thr)
        if not ok:
            first_bad = k
            break
    slope = (D1 - D2 / 2) - 2 * P[0]
    slope_pred = cs * (1 + cfg.d * (1 + s2)) > 2
    slope_ok = (slope > 0) == slope_pred
    holds = bool(first_bad is None and slope_ok)
    return holds, {"c_star": str(cs), "threshold": str(thr), "threshold_float": _f(thr),
                   "first_mismatch_n": first_bad, "n_checked": top, "slope_at_0": str(slope),
                   "slope_predicted_positive": bool(slope_pred)}


# --- zs.all.icl_degraded --------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _zs_all_diff_coeffs():
    """Coefficients in ``n`` of ``P(n) = (n+1)^2 (L_n(ZS-all) - L_n(pre))`` as mpmath functions
    of ``(a, c, d, sigma2, kappa, rho)``, and the flow-limit ``a(c, d)``
    (:func:`theory.limits.zs_all_gap_polynomial`)."""
    coeffs, lim = limits.zs_all_gap_polynomial()
    args = (a, c, d, sigma2, kappa, rho)
    return ([sp.lambdify(args, cf, modules="mpmath") for cf in coeffs],
            sp.lambdify((c, d), lim, modules="mpmath"))


def _zs_all(cfg: Config, _which: str):
    """``L_n(ZS-all) > L_n(pretrained)`` for every integer ``n >= 1`` on ``theta0``,
    ``-theta0``, ``theta_perp``: the sign of the polynomial ``P(n)`` at every integer
    ``n >= 1``, read from its real roots (50 digits)."""
    import mpmath

    from proofs_check.claims.zs import _poly_positive

    fns, a_fn = _zs_all_diff_coeffs()
    cs_exact = exact(_cstar(), cfg)
    out, holds = {}, True
    with mpmath.workdps(50):
        cs = mpmath.mpf(sp.numer(cs_exact)) / mpmath.mpf(sp.denom(cs_exact))
        s2r = exact_subs(cfg)[sigma2]
        s2 = mpmath.mpf(sp.numer(s2r)) / mpmath.mpf(sp.denom(s2r))
        a_ex = a_fn(cs, cfg.d)
        for name, k_, r_ in (("theta0", 1, 0), ("-theta0", -1, 0), ("theta_perp", 0, 1)):
            ok, where = _poly_positive([f(a_ex, cs, cfg.d, s2, k_, r_) for f in fns], 1)
            holds &= ok
            out[f"first_failing_n_{name}"] = where
        out["a_limit"] = float(a_ex)
    out["c_star"] = str(cs_exact)
    return holds, out


# --- zs.v.icl_preserved ---------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _zs_v_B():
    """``B`` of ``L_n = A + B/(n+1) + C/(n+1)^2`` after V-only ZS, per task and on the sphere
    (:func:`theory.limits.zs_v_inverse_n_coefficient`)."""
    B, Bs = limits.zs_v_inverse_n_coefficient()
    return _RatFun(B, (d, sigma2, c, kappa, rho)), _RatFun(Bs, (d, sigma2, c))


_TASKS = (("theta0", 1, 0), ("-theta0", -1, 0), ("theta_perp", 0, 1))


def zs_v_B_values(cfg: Config) -> dict:
    """``B`` of ``L_n = A + B/(n+1) + C/(n+1)^2`` after V-only ZS at ``cfg`` (``c = c*``), exactly.

    Returns:
        ``{"theta0", "-theta0", "theta_perp", "sphere"}`` -> SymPy rational.
    """
    B, Bs = _zs_v_B()
    base = _vals(cfg)
    out = {name: B({**base, kappa: sp.Integer(k_), rho: sp.Integer(r_)}) for name, k_, r_ in _TASKS}
    out["sphere"] = Bs(base)
    return out


def zs_v_decreasing_far_out(cfg: Config, n0: int = 10**9) -> dict:
    """Whether the exact V-only ZS curve decreases from ``n0`` to ``n0 + 1`` on each fixed
    task: the outcome, from the derived loss polynomial evaluated exactly (not from ``B``)."""
    cs = exact(_cstar(), cfg)
    az = exact(optima.zs_v_optimum()[a], cfg, {c: cs})
    pt = {**_pre(cs), "a": az}
    return {name: bool(exact_loss(pt, k_, r_, cfg.d, n0 + 1, cfg.sigma2) < exact_loss(pt, k_, r_, cfg.d, n0, cfg.sigma2))
            for name, k_, r_ in _TASKS}


def _zs_v(cfg: Config, which: str):
    """paper: after V-only ZS every task's curve is eventually decreasing (``B > 0`` on
    ``theta0``, ``-theta0``, ``theta_perp`` and the sphere); derived: on each fixed task the
    exact curve decreases far out (``n = 10^9``) iff ``B > 0``."""
    vals = zs_v_B_values(cfg)
    det = {f"B_{k}": str(v) for k, v in vals.items()}
    if which == "paper":
        return bool(all(v > 0 for v in vals.values())), det
    dec = zs_v_decreasing_far_out(cfg)
    det.update({f"decreasing_far_out_{k}": v for k, v in dec.items()})
    return bool(all(dec[k] == (vals[k] > 0) for k in dec)), det


# --- zsfs.v.tradeoff ------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _v_tradeoff_exprs():
    from theory.symbols import N, lam

    e = limits.zsfs_v_tradeoff()
    g = (d, N, sigma2, lam, c)
    return (_RatFun(e["a_fs"], g), _RatFun(e["b_fs"], g), _RatFun(e["a_zs"], g), _RatFun(e["neg_limit"], g + (a, b)),
            _RatFun(e["gap"], g))


def v_tradeoff_numbers(cfg: Config) -> dict:
    """Exact numbers of ``zsfs.v.tradeoff`` at ``cfg`` (``c = c*``).

    Returns:
        ``{"a_zs", "a_fs", "b_fs", "target_N_zs", "target_N_fs", "neg_limit_zs",
        "neg_limit_fs", "gap"}`` as SymPy rationals: the closed-form end points, the exact
        ``L_N(theta0)`` at each, the large-``n`` limits ``lim L_n(-theta0)`` (leading
        coefficient of ``(n+1)^2 L_n``) and the derived condition
        ``gap = (1 + c a_FS - c b_FS)^2 - (1 + c a_ZS - c)^2``.
    """
    fa, fb, fz, Linf_neg, gap = _v_tradeoff_exprs()
    vals = _vals(cfg)
    cs = vals[c]
    az, af, bf = fz(vals), fa(vals), fb(vals)
    pz = {**_pre(cs), "a": az}
    pf = {**_pre(cs), "a": af, "b": bf}
    return {"c_star": cs, "a_zs": az, "a_fs": af, "b_fs": bf,
            "target_N_zs": exact_loss(pz, 1, 0, cfg.d, cfg.N, cfg.sigma2),
            "target_N_fs": exact_loss(pf, 1, 0, cfg.d, cfg.N, cfg.sigma2),
            "neg_limit_zs": Linf_neg({**vals, a: az, b: sp.Integer(1)}),
            "neg_limit_fs": Linf_neg({**vals, a: af, b: bf}),
            "gap": gap(vals)}


def _v_tradeoff(cfg: Config, which: str):
    """paper: target gain at ``n = N`` and ``-theta0`` limit raised; derived: target gain and
    (limit raised iff ``gap > 0``)."""
    v = v_tradeoff_numbers(cfg)
    target = v["target_N_fs"] < v["target_N_zs"]
    raised = v["neg_limit_fs"] > v["neg_limit_zs"]
    holds = bool(target and raised if which == "paper" else target and (raised == (v["gap"] > 0)))
    det = {k: str(x) for k, x in v.items()}
    det.update({"target_gain": bool(target), "neg_limit_raised": bool(raised),
                "condition_gap_positive": bool(v["gap"] > 0),
                "neg_limit_zs_float": _f(v["neg_limit_zs"]), "neg_limit_fs_float": _f(v["neg_limit_fs"])})
    return holds, det


# --- zsfs.all.tradeoff, zsfs.w.tradeoff (flow end points) -----------------------------
@functools.lru_cache(maxsize=None)
def _w_tradeoff_exprs():
    from theory.symbols import N, lam

    e = limits.zsfs_w_tradeoff()
    return {k: _RatFun(e[k], (d, N, sigma2, lam, c)) for k in ("target_w", "target_v", "gap", "perp_w")}


def w_tradeoff_numbers(cfg: Config) -> dict:
    """Exact numbers of the derived condition of ``zsfs.w.tradeoff`` at ``cfg``.

    Returns:
        ``{"target_w", "target_v", "gap", "perp_w"}`` as SymPy rationals: ``L_N(theta0)`` at the
        W-only optimum (``sigma2 + 2/(N+2)``) and at the V-only ``ZS + lam FS`` optimum, their
        difference ``gap = target_v - target_w`` (W-only wins on the target exactly when
        ``gap > 0``; evaluated at ``c = c*``, its value does not depend on ``c``, so ``m`` drops
        out) and the ``theta_perp`` limit at the W-only
        optimum (``1 + sigma2 + ((N+1)/(N+2))^2``, for ``sigma2 > 0``).
    """
    vals = _vals(cfg)
    return {k: f(vals) for k, f in _w_tradeoff_exprs().items()}


#: ``zsfs.all.tradeoff``'s refined statement: the target half is asserted only for ``lam >= ALL_LAM_MIN``
#: (the full flow has no closed-form limit; below it the target half fails at small ``N`` and
#: large ``sigma2``, e.g. ``(d, m, N, sigma2, lam) = (2, 1, 2, 2, 0.7)``; the region is
#: established by the domain search, not derived)
ALL_LAM_MIN = 1.0

#: the reason a configuration is excluded from a flow claim's domain: the flow has no limit there
EXCLUDED = "flow not converged (no finite limit: the end point does not exist)"


def _flow_tradeoff(method):
    def run(cfg: Config, which: str):
        """paper: at the exact flow end points, the target error at ``n = N`` is below V-only
        ZS+lam FS and the ``theta_perp`` large-``n`` error above the pretrained
        ``(1-c)^2 + sigma2``; derived (``zsfs.w.tradeoff``): the ``theta_perp`` half holds and
        the target half holds exactly when the derived ``gap > 0``; refined (``zsfs.all.tradeoff``,
        ``--statement derived``): the ``theta_perp`` half holds and, for ``lam >= ALL_LAM_MIN``,
        the target half.  A flow that does not
        converge has no end point: the configuration is excluded (``holds is None``)."""
        from proofs_check.methods import models
        from proofs_check.claims.zsfs import _L, _Linf

        pc, fl = models.endpoint(method, cfg)
        vc, fv = models.endpoint("zsfs-v", cfg)
        cs = _f(exact(_cstar(), cfg))
        tN, vN = _L(pc, 1, 0, cfg, cfg.N), _L(vc, 1, 0, cfg, cfg.N)
        perp, pre_perp = _Linf(pc, 0, 1, cfg), (1 - cs) ** 2 + cfg.sigma2
        det = {"target_N": tN, "target_N_v_only": vN, "perp_limit": perp, "pretrained_perp_limit": pre_perp,
               "target_gain": bool(tN < vN), "perp_raised": bool(perp > pre_perp),
               "flow_converged": bool(fl.converged), "flow_grad_norm": float(fl.grad_norm),
               "v_only_flow_converged": bool(fv.converged)}
        if which == "derived" and method == "zsfs-all":
            det["target_half_asserted"] = bool(cfg.lam >= ALL_LAM_MIN)
        if which == "derived" and method == "zsfs-w":
            w = w_tradeoff_numbers(cfg)
            det.update({"derived_target_w": str(w["target_w"]), "derived_target_v": str(w["target_v"]),
                        "derived_gap": str(w["gap"]), "condition_gap_positive": bool(w["gap"] > 0)})
        if not (fl.converged and fv.converged):
            det["excluded"] = EXCLUDED
            return None, det
        if which == "paper":
            return bool(tN < vN and perp > pre_perp), det
        if method == "zsfs-all":
            return bool(perp > pre_perp and (cfg.lam < ALL_LAM_MIN or tN < vN)), det
        return bool(perp > pre_perp and (tN < vN) == (w["gap"] > 0)), det
    return run


_EVAL = {
    "pretrain.fewshot_vs_zeroshot": _pretrain,
    "zs.all.icl_degraded": _zs_all,
    "zs.v.icl_preserved": _zs_v,
    "zsfs.v.tradeoff": _v_tradeoff,
    "zsfs.all.tradeoff": _flow_tradeoff("zsfs-all"),
    "zsfs.w.tradeoff": _flow_tradeoff("zsfs-w"),
}


def evaluate(claim_id: str, statement: str, cfg: Config) -> tuple:
    """Whether ``statement`` of ``claim_id`` holds at ``cfg``.

    Args:
        claim_id: one of :data:`CONDITION_CLAIMS`.
        statement: ``"paper"`` (the paper's wording) or ``"derived"`` (the derived condition
            predicts the outcome); only the statements the claim offers (:func:`statements_of`).
        cfg: a configuration inside the claim's domain.

    Returns:
        ``(holds, details)``: ``holds`` is ``True``, ``False``, or ``None`` when the claim's
        quantity does not exist at ``cfg`` (a domain exclusion: ``details["excluded"]`` says
        why; never a counterexample); ``details`` holds the exact numbers (rationals as strings).
    """
    if claim_id not in _EVAL:
        raise ValueError(f"claim_id: {claim_id!r} has no configuration-dependent statement; "
                         f"choose one of {', '.join(_EVAL)}")
    if statement not in STATEMENTS:
        raise ValueError(f"statement must be 'paper' or 'derived', got {statement!r}")
    if statement not in statements_of(claim_id):
        raise ValueError(f"statement: {claim_id} has only the statement 'paper' (its statement is the derived "
                         f"one; there is no separate derived condition), got {statement!r}")
    lo = CONDITION_CLAIMS[claim_id]
    for key in ("d", "m", "N"):
        if getattr(cfg, key) < lo[key]:
            raise ValueError(f"{key} must be >= {lo[key]} for {claim_id}, got {getattr(cfg, key)}")
    return _EVAL[claim_id](cfg, statement)
