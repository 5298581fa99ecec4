"""Claims under another convention (issue 23): the claims x conventions matrix.

Under today's convention every claim is the registry's own check, unchanged.  Under another
:class:`vocabulary.Convention` a claim is checked by a convention-aware check of this module
where one exists, with the same kinds of evidence (a SymPy derivation with the convention as
input, the NumPy closed form of :mod:`numerics.conventions`, and Monte Carlo); a claim with no
such check yet gets the status ``not derived`` -- never ``verified``.

A claim whose paper wording fails under a convention is ``refined``: its counterexample names
the convention's configuration, and the derived condition replaces the wording.
"""
from __future__ import annotations

import time

import numpy as np
import sympy as sp

import vocabulary
from numerics.conventions import (convention_loss, convention_loss_grad, family_point,
                                  monte_carlo_convention_loss)
from theory import optima
from theory.conventions import family_optimum, g_1, g_s
from theory.objectives import pretrain_loss
from theory.symbols import c, d, m, sigma2

from .claims.base import DEFAULT_CONFIG, ClaimResult, Evidence, Outcome, status_of
from .claims.grid import is_zero, num

__all__ = ["CONVENTION_CHECKS", "NOT_DERIVED", "run_under", "convention_matrix"]

#: the status of a claim whose check does not (yet) run under a convention
NOT_DERIVED = "not derived"

MC_SAMPLES = 200_000
MC_SEED = 2026

#: the configurations of the numeric comparisons (a small grid: d, m, sigma2)
CONV_GRID = [(dd, mm, s2) for dd in (2, 3, 5) for mm in (5, 20) for s2 in (0.0, 0.1, 0.5)]


def _vertex(f) -> float:
    """The minimiser of a quadratic ``f(c)`` from its values at ``c = 0, 1, 2``."""
    f0, f1, f2 = f(0.0), f(1.0), f(2.0)
    return (3 * f0 - 4 * f1 + f2) / (2 * (f0 - 2 * f1 + f2))


def check_pretrain_optimum(conv) -> Outcome:
    """``pretrain.optimum`` under ``conv``.  Isotropic features: ``c*`` derived from
    ``L_pre(c)`` of the convention, the full-matrix symbolic gradient at ``c*`` is 0, and
    NumPy (vertex of the exact quadratic, full gradient) and Monte Carlo agree.  A two-level
    covariance: the family ``W = diag(0, g_s I_k + g_1 I_{d-k}, 0)`` is derived instead
    (:mod:`theory.conventions`), and the NumPy full-matrix gradient vanishes at its optimum."""
    ev, dis = [], []
    stated = (m + 1) / (m + 1 + d * (1 + sigma2))
    cex = None
    if conv.covariance is None:
        cstar = optima.pretrain_c_star(conv)
        lmin = optima.pretrain_min_loss(conv)
        grad = optima.pretrain_gradient_at_optimum("merged", conv)
        zero = all(is_zero(v) for co in grad.values() for v in co.values())
        ev.append(Evidence("symbolic", f"derived c* = {sp.sstr(cstar)} (root of dL_pre/dc under {conv.name}); "
                           "the full-matrix Frobenius gradient of L_pre at (e_y e_y^T, c* I_x) is 0 "
                           "(V and W, every basis matrix)", zero,
                           {"c_star": sp.sstr(cstar), "L_pre_min": sp.sstr(lmin)}))
        gains = lambda cfg: num(cstar, _cfg(cfg))  # noqa: E731
        # the family loss of the block route (theory.conventions) at k = 0 equals L_pre(c)
        fam = family_optimum(conv)
        ev.append(Evidence("symbolic", "the block Wick route (theory.conventions) gives the same c* and L_pre(c*)",
                           is_zero(fam[g_1] - cstar) and is_zero(fam["loss"] - lmin)))
        if not is_zero(cstar - stated):
            dis.append(f"under {conv.name} the optimum is c* = {sp.sstr(cstar)}, not (m+1)/(m+1+d(1+sigma2))")
            cfg = DEFAULT_CONFIG
            V, W = family_point(cfg.d, num(stated, _cfg((cfg.d, cfg.m, cfg.sigma2))))
            gV, gW = convention_loss_grad(V, W, None, cfg.m, cfg.sigma2, conv)
            cex = {"config": cfg.as_dict(), "details": {
                "convention": conv.name, "stated_c": num(stated, _cfg((cfg.d, cfg.m, cfg.sigma2))),
                "derived_c_star": num(cstar, _cfg((cfg.d, cfg.m, cfg.sigma2))),
                "gradient_at_stated_c": float(np.abs(gW).max()),
                "derived_condition": f"c* = {sp.sstr(cstar)}"}}
    else:
        fam = family_optimum(conv)
        lmin = fam["loss"]
        ev.append(Evidence("symbolic", f"derived optimum of the family W = diag(0, g_s I_k, g_1 I_(d-k), 0) "
                           f"under {conv.name}: g_s = {sp.sstr(fam[g_s])}, g_1 = {sp.sstr(fam[g_1])} "
                           "(block Wick route, theory.conventions)", not is_zero(fam[g_s] - fam[g_1]),
                           {"g_s": sp.sstr(fam[g_s]), "g_1": sp.sstr(fam[g_1]), "L_pre_min": sp.sstr(lmin)}))
        k = conv.covariance[0]

        def gains(cfg):
            cc = _cfg(cfg)
            return np.array([num(fam[g_s], cc)] * k + [num(fam[g_1], cc)] * (cfg[0] - k))
        # the paper's point c* I is not stationary here: the derived condition is g_s != g_1
        cfg = DEFAULT_CONFIG
        cc = _cfg((cfg.d, cfg.m, cfg.sigma2))
        best_c = _vertex(lambda x: convention_loss(*family_point(cfg.d, x), None, cfg.m, cfg.sigma2, conv))
        V, W = family_point(cfg.d, best_c)
        gV, gW = convention_loss_grad(V, W, None, cfg.m, cfg.sigma2, conv)
        moved = float(np.abs(gW).max())
        ev.append(Evidence("numeric", "NumPy: the best multiple of the identity, c I_x, is not stationary over all "
                           "of (V, W) under this covariance (largest gradient entry > 1e-6)", moved > 1e-6,
                           {"best_c": best_c, "max_gradient_entry": moved}))
        dis.append(f"under {conv.name} no pretrained point c I_x is stationary; the optimum in the family is "
                   f"g_s = {sp.sstr(fam[g_s])}, g_1 = {sp.sstr(fam[g_1])}")
        cex = {"config": cfg.as_dict(), "details": {
            "convention": conv.name, "best_c_times_identity": best_c, "max_gradient_entry_there": moved,
            "derived_condition": f"W_xx = diag(g_s I_k, g_1 I_(d-k)), g_s = {sp.sstr(fam[g_s])}, "
                                 f"g_1 = {sp.sstr(fam[g_1])}",
            "g_s": num(fam[g_s], cc), "g_1": num(fam[g_1], cc)}}
    # NumPy on a small grid: the full-matrix gradient at the derived optimum, and L_pre there
    worst_g = worst_l = 0.0
    for cfg in CONV_GRID:
        dd, mm, s2 = cfg
        V, W = family_point(dd, gains(cfg))
        gV, gW = convention_loss_grad(V, W, None, mm, s2, conv)
        worst_g = max(worst_g, float(max(np.abs(gV).max(), np.abs(gW).max())))
        L = convention_loss(V, W, None, mm, s2, conv)
        worst_l = max(worst_l, abs(L - num(lmin, _cfg(cfg))) / abs(L))
    ev.append(Evidence("numeric", f"NumPy ({conv.name}) on {len(CONV_GRID)} configs: the full-matrix gradient of "
                       "L_pre (all D x D entries of V and W) vanishes at the derived optimum (< 1e-10)",
                       worst_g < 1e-10, {"max_abs_entry": worst_g}))
    ev.append(Evidence("numeric", f"NumPy ({conv.name}) L_pre at the derived optimum equals the symbolic minimum "
                       "(relative < 1e-10)", worst_l < 1e-10, {"max_rel_diff": worst_l}))
    # negative control: a planted error of 1e-6 on one gain must be seen by the gradient
    V, W = family_point(3, gains((3, 20, 0.1)) * (1 + 1e-6))
    gV, gW = convention_loss_grad(V, W, None, 20, 0.1, conv)
    ev.append(Evidence("numeric", "negative control: the optimum's gains times (1 + 1e-6) leave a gradient "
                       "above 1e-10", float(np.abs(gW).max()) > 1e-10, {"max_abs_entry": float(np.abs(gW).max())}))
    cfg = DEFAULT_CONFIG
    V, W = family_point(cfg.d, gains((cfg.d, cfg.m, cfg.sigma2)))
    mean, se = monte_carlo_convention_loss(V, W, None, cfg.m, cfg.sigma2, conv, samples=MC_SAMPLES, seed=MC_SEED)
    Lc = num(lmin, _cfg((cfg.d, cfg.m, cfg.sigma2)))
    ev.append(Evidence("monte-carlo", f"sampled L_pre ({conv.name}: features, prior and S as the convention says; "
                       f"{MC_SAMPLES} prompts, seed {MC_SEED}) within 5 standard errors of the derived minimum",
                       abs(mean - Lc) < 5 * se, {"L_pre": Lc, "mc_mean": mean, "mc_stderr": se}))
    return Outcome(ev, disagreements=dis, counterexample=cex)


def check_zs_v_optimum(conv) -> Outcome:
    """``zs.v.optimum`` under ``conv`` (isotropic features): the V-only ZS optimum
    ``a = 1/(c(d+4))`` and ``ZS = sigma2 + 2/(d+4)`` derived with the convention's ZS."""
    if conv.covariance is not None:
        raise NotImplementedError
    from theory.symbols import a, b
    opt = optima.zs_v_optimum(conv)
    ok_a = is_zero(opt[a] - 1 / (c * (d + 4)))
    lmin = optima.zs_v_min_loss(conv)
    ok_l = is_zero(lmin - sigma2 - 2 / (d + 4))
    free_b = optima.zs_independent_of(b, conv)
    ev = [Evidence("symbolic", f"V-only ZS optimum under {conv.name}: a = {sp.sstr(opt[a])}, "
                   f"ZS = {sp.sstr(lmin)}; ZS does not depend on b", ok_a and ok_l and free_b)]
    cfg = DEFAULT_CONFIG
    cc = _cfg((cfg.d, cfg.m, cfg.sigma2))
    cstar = num(optima.pretrain_c_star(conv), cc)
    V, W = family_point(cfg.d, cstar)
    t0 = np.zeros(cfg.d)
    t0[0] = 1.0
    V[-1, 1:-1] = t0 / (cstar * (cfg.d + 4))
    gV, _ = convention_loss_grad(V, W, t0, 0, cfg.sigma2, conv)
    L = convention_loss(V, W, t0, 0, cfg.sigma2, conv)
    ev.append(Evidence("numeric", "NumPy: the V-gradient of ZS vanishes there and ZS = sigma2 + 2/(d+4)",
                       float(np.abs(gV).max()) < 1e-10 and abs(L - cfg.sigma2 - 2 / (cfg.d + 4)) < 1e-12,
                       {"max_abs_entry": float(np.abs(gV).max()), "ZS": L}))
    mean, se = monte_carlo_convention_loss(V, W, t0, 0, cfg.sigma2, conv, samples=MC_SAMPLES, seed=MC_SEED)
    ev.append(Evidence("monte-carlo", "sampled ZS at the optimum within 5 standard errors", abs(mean - L) < 5 * se,
                       {"mc_mean": mean, "mc_stderr": se}))
    return Outcome(ev)


def _cfg(cfg):
    from .claims.base import Config
    dd, mm, s2 = cfg
    return Config(d=dd, m=mm, sigma2=s2)


#: claim id -> convention-aware check (claims not listed are ``not derived`` off today's convention)
CONVENTION_CHECKS = {"pretrain.optimum": check_pretrain_optimum, "zs.v.optimum": check_zs_v_optimum}


def run_under(claim, conv) -> ClaimResult:
    """``claim`` checked under ``conv`` (a :class:`vocabulary.Convention`): the registry's
    check for today's convention; else the check of :data:`CONVENTION_CHECKS`, or the
    status ``not derived``."""
    if conv == vocabulary.DEFAULT_CONVENTION:
        from .claims.base import run_claim
        return run_claim(claim)
    t0 = time.perf_counter()
    check = CONVENTION_CHECKS.get(claim.id)
    why = f"no check of {claim.id} under convention {conv.name!r} yet"
    if check is not None:
        try:
            out = check(conv)
        except NotImplementedError:
            out = None
            why = f"{claim.id} is not derived for an anisotropic feature covariance (no reduced manifold)"
        except Exception as exc:  # a check must never take the matrix down
            return ClaimResult(claim.id, claim.title, claim.statement, claim.latex, "error", [],
                               seconds=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
        if out is not None:
            return ClaimResult(claim.id, claim.title, claim.statement, claim.latex,
                               status_of(out.evidence, out.counterexample), out.evidence, None, None,
                               out.disagreements, seconds=time.perf_counter() - t0,
                               counterexample=out.counterexample)
    return ClaimResult(claim.id, claim.title, claim.statement, claim.latex, NOT_DERIVED, [],
                       seconds=time.perf_counter() - t0, error=why)


def convention_matrix(claims, conventions, default_results=None) -> dict:
    """``{"conventions": [...], "claims": [{"id", "statuses": {name: status}, "results": {name: dict}}]}``.

    ``default_results``: today's results already computed (by ``iclft check``), by claim id."""
    rows = []
    for claim in claims:
        statuses, results = {}, {}
        for conv in conventions:
            if conv == vocabulary.DEFAULT_CONVENTION and default_results is not None:
                r = default_results[claim.id]
            else:
                r = run_under(claim, conv)
            statuses[conv.name] = r.status
            results[conv.name] = r.as_dict()
        rows.append({"id": claim.id, "statuses": statuses, "results": results})
    return {"conventions": [c.as_dict() for c in conventions], "claims": rows}


def _changed(row, default_name: str = "default") -> list[str]:
    """The conventions whose status differs from today's in ``row``."""
    base = row["statuses"].get(default_name)
    return [k for k, st in row["statuses"].items() if k != default_name and st != NOT_DERIVED
            and base is not None and st != base]


def render_matrix(matrix: dict, seconds: float, fmt: str) -> str:
    """The claims x conventions matrix as text, JSON or Markdown.  Text and Markdown list,
    under the table, every cell with a counterexample (the convention's configuration and the
    derived condition) and every ``not derived`` reason once per convention."""
    import json

    names = [c["name"] for c in matrix["conventions"]]
    if fmt == "json":
        return json.dumps({**matrix, "seconds": round(seconds, 3)}, indent=2, sort_keys=True, default=str)
    rows = matrix["claims"]
    notes = []
    for row in rows:
        for name in names:
            r = row["results"][name]
            cex = r.get("counterexample")
            if cex is not None and name != "default":
                det = cex["details"]
                notes.append(f"{row['id']} under {name}: {r['status']}; counterexample at "
                             f"{json.dumps(cex['config'], sort_keys=True)}: "
                             + ", ".join(f"{k} = {v}" for k, v in det.items() if k != "derived_condition")
                             + f"; derived condition: {det.get('derived_condition', '-')}")
            elif r["status"] in ("refuted", "error"):
                notes.append(f"{row['id']} under {name}: {r['status']} {r.get('error') or ''}".rstrip())
    width = max(len(r["id"]) for r in rows) if rows else 10
    if fmt == "markdown":
        out = ["| claim | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        out += ["| " + row["id"] + " | " + " | ".join(row["statuses"][n] for n in names) + " |" for row in rows]
        out += [""] + [f"- {x}" for x in notes]
    else:
        colw = [max(len(n), 11) for n in names]
        out = ["claim".ljust(width) + "  " + "  ".join(n.ljust(w) for n, w in zip(names, colw))]
        out += [row["id"].ljust(width) + "  " + "  ".join(row["statuses"][n].ljust(w) for n, w in zip(names, colw))
                for row in rows]
        out += [""] + notes
    counts = {}
    for row in rows:
        for n in names:
            counts[(n, row["statuses"][n])] = counts.get((n, row["statuses"][n]), 0) + 1
    out.append("")
    out.append(f"{len(rows)} claims x {len(names)} conventions in {seconds:.1f} s; 'not derived': no check of that "
               "claim under that convention yet (never counted as verified)")
    return "\n".join(out)
