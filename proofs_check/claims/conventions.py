"""Claims under another convention: the claims x conventions matrix.

Under today's convention every claim is the registry's own check, unchanged.  Under another
:class:`vocabulary.Convention` a claim is checked by a convention-aware check
(:mod:`proofs_check.claims.convention_checks`, :mod:`proofs_check.claims.convention_curve_checks`)
where one exists, with the same kinds of evidence (a SymPy derivation with the convention as
input, the NumPy closed form of :mod:`numerics.conventions`, and Monte Carlo); a claim with no
such check yet gets the status ``not derived`` -- never ``verified``.

A claim whose paper wording fails under a convention is ``refined``: its counterexample names
the convention's configuration, and the derived condition replaces the wording.  Also here: the
LaTeX paragraph of a convention and where the authors' closed forms are exact.
"""
from __future__ import annotations

import json
import time

import numpy as np
import sympy as sp

import vocabulary
from numerics.conventions import convention_loss, family_point, value_only_limit
from theory import optima
from theory.conventions import family_optimum, g_1, g_s
from theory.objectives import zs
from theory.printing import tex
from theory.symbols import a, alpha, b, beta, c, d, h, m, q, sigma2

from proofs_check.claims.claim import ClaimResult, run_claim, status_of
from proofs_check.claims.convention_checks import (check_flow_limit, check_fewshot_vs_zeroshot,
                                                   check_gradients_agree, check_initial_gradient, check_minimizers,
                                                   check_pretrain_optimum, check_w_only_stationary,
                                                   check_zs_v_optimum, check_zsfs_v_optimum)
from proofs_check.claims.convention_curve_checks import check_icl_degraded, check_icl_preserved, check_v_tradeoff
from proofs_check.claims.exact import is_zero
from proofs_check.export.latex_text import escape_text

__all__ = ["CONVENTION_CHECKS", "NOT_DERIVED", "run_under", "convention_matrix", "render_matrix", "convention_latex",
           "authors_formulas"]


#: the status of a claim whose check does not (yet) run under a convention
NOT_DERIVED = "not derived"


#: claim id -> convention-aware check (claims not listed are ``not derived`` off today's convention)
CONVENTION_CHECKS = {
    "pretrain.optimum": check_pretrain_optimum,
    "pretrain.fewshot_vs_zeroshot": check_fewshot_vs_zeroshot,
    "zs.initial_gradient": check_initial_gradient,
    "zs.w_only_stationary": check_w_only_stationary,
    "zs.all.minimizers": check_minimizers,
    "zs.all.flow_limit": check_flow_limit,
    "zs.all.icl_degraded": check_icl_degraded,
    "zs.v.icl_preserved": check_icl_preserved,
    "zs.v.optimum": check_zs_v_optimum,
    "zsfs.v.optimum": check_zsfs_v_optimum,
    "zsfs.v.tradeoff": check_v_tradeoff,
    "gradients.agree": check_gradients_agree,
}


def run_under(claim, conv) -> ClaimResult:
    """``claim`` checked under ``conv`` (a :class:`vocabulary.Convention`): the registry's
    check for today's convention; else the check of :data:`CONVENTION_CHECKS`, or the
    status ``not derived``."""
    if conv == vocabulary.DEFAULT_CONVENTION:
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


def convention_latex(convention) -> str:
    """The LaTeX paragraph of a convention other than today's (``""`` for today's, so the
    default document is unchanged): its fields and its pretraining optimum, derived here
    (:func:`theory.optima.pretrain_c_star` or :func:`theory.conventions.family_optimum`)."""
    conv = vocabulary.convention_named(convention)
    if conv == vocabulary.DEFAULT_CONVENTION:
        return ""

    parts = [r"\paragraph{Convention of this document: " + escape_text(conv.name) + "}",
             escape_text(conv.description) + "."]
    if not conv.query_in_context:
        parts.append(r"Here $S=\frac1n\sum_{i=1}^n z_iz_i^\top$ for $n\ge1$ and $S=z_qz_q^\top$ at $n=0$.")
    if conv.task_prior == "gaussian":
        parts.append(r"Pretraining and unseen tasks: $\theta\sim N(0,I_d/d)$ ($\mathbb{E}|\theta|^4=(d+2)/d$).")
    if conv.covariance is None:
        parts.append(r"Pretraining optimum: $c^\star=" + tex(optima.pretrain_c_star(conv)) + r"$, "
                     r"$L_{\mathrm{pre}}(c^\star)=" + tex(optima.pretrain_min_loss(conv)) + "$.")
    else:
        k, s = conv.covariance
        fam = family_optimum(conv)
        parts.append(rf"$\Sigma_x=\mathrm{{diag}}({s}\,I_{{{k}}},I_{{d-{k}}})$; pretrained family "
                     rf"$W=\mathrm{{diag}}(0,g_sI_{{{k}}},g_1I_{{d-{k}}},0)$ with $g_s^\star=" + tex(fam[g_s])
                     + r"$, $g_1^\star=" + tex(fam[g_1]) + "$.")
    parts.append("The expressions of the next section are those of today's convention; the claims section "
                 "checks each claim under this convention (``not derived'' where no check runs yet).")
    return "\n".join(parts) + "\n"


def authors_formulas() -> list[dict]:
    """Where the closed forms of the authors' ``regression/src/theory.py`` are exact.

    For each formula and each convention of :data:`vocabulary.CONVENTIONS`: ``"exact"`` when
    the derivation under that convention gives it identically (SymPy; ``d``, ``m``,
    ``sigma2`` symbols), ``"exact at sigma2 = 0"`` when only the noise-free case matches, else
    ``"not exact"``.  Anisotropic features have no reduced manifold: there the pretraining
    family's derived optimum decides the first row, and NumPy at ``d = 5`` (``theta0 = e_1``,
    the variance-4 direction, and ``e_2``) the other rows.

    Returns:
        ``[{"formula", "where", "verdicts": {convention: verdict}}]``.
    """
    cnt = sp.Symbol("cnt", positive=True)
    rows = [{"formula": "pretrain: V[y,y] = 1, W_xx = m/(m+1+d) I", "where": "OptParamGenerator.VQ('pretrain')"},
            {"formula": "V-only ZS: V[y,x] = theta0/(d+4), V[y,y] = cnt, W_xx = I",
             "where": "VQ('zs_finetune_v_only')"},
            {"formula": "ZS-all: V[y,x] = cnt theta0, V[y,y] = 1, W[0,0] = 1/cnt", "where": "VQ('zs_finetune')"}]
    for row in rows:
        row["verdicts"] = {}
    for name, conv in vocabulary.CONVENTIONS.items():
        if conv.covariance is None:
            cs = optima.pretrain_c_star(conv)
            auth = m / (m + 1 + d)
            v1 = "exact" if is_zero(cs - auth) else (
                "exact at sigma2 = 0" if is_zero(cs.subs(sigma2, 0) - auth) else "not exact")
            a_opt = optima.zs_v_optimum(conv)[a].subs(c, 1)
            v2 = "exact" if is_zero(a_opt - 1 / (d + 4)) and optima.zs_independent_of(b, conv) else "not exact"
            pt = {a: cnt, q: 1 / cnt, alpha: 0, beta: 0, h: 0, b: 1}
            v3 = "exact" if is_zero(zs(conv).subs(pt) - optima.zs_global_minimisers(conv)["min_value"]) \
                else "not exact"
        else:
            fam = family_optimum(conv)
            v1 = "not exact" if not is_zero(fam[g_s] - fam[g_1]) else "exact"
            v2, v3 = _authors_anisotropic(conv)
        for row, v in zip(rows, (v1, v2, v3)):
            row["verdicts"][name] = v
    return rows


def _authors_anisotropic(conv, d_: int = 5, sigma2_: float = 0.1) -> tuple[str, str]:
    """NumPy at ``d = 5``: the V-only ZS optimum at ``W_xx = I`` against ``theta0/(d+4)``, and
    ZS at the ZS-all point against ``sigma2``, for ``theta0 = e_1`` and ``e_2``."""
    worst_v, worst_z = 0.0, 0.0
    for i in (0, 1):
        t0 = np.eye(d_)[i]
        V, W = family_point(d_, 1.0)
        Vend, _, _ = value_only_limit(V, W, [(0, t0, 1.0)], sigma2_, conv)
        worst_v = max(worst_v, float(np.abs(Vend[-1, 1:-1] - t0 / (d_ + 4)).max()))
        V2, W2 = family_point(d_, 0.0)
        V2[-1, 1:-1] = 3.0 * t0
        W2[0, 0] = 1 / 3.0
        worst_z = max(worst_z, abs(convention_loss(V2, W2, t0, 0, sigma2_, conv) - sigma2_))
    return ("exact (NumPy, d = 5)" if worst_v < 1e-12 else f"not exact (NumPy, d = 5: off by {worst_v:.3g})",
            "exact (NumPy, d = 5)" if worst_z < 1e-12 else f"not exact (NumPy, d = 5: off by {worst_z:.3g})")
