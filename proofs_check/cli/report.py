"""Rendering of claim results as text, JSON or Markdown.

JSON keys (stable; documented in README.md):
``{"claims": [{"id", "title", "status", "statement", "latex", "evidence": [{"kind",
"description", "passed", "asserted", "details"}], "grid", "region", "disagreements",
"seconds", "error", "counterexample"}], "summary": {"total", "verified", "refined",
"refuted", "error", "all_verified", "all_passing", "seconds"}}``.  ``status`` is
``verified``, ``refined``, ``refuted`` or ``error``; ``all_passing`` is true when every
claim is verified or refined (``iclft check`` then exits 0).
"""
from __future__ import annotations



from proofs_check.claims.claim import PASSING, ClaimResult
from proofs_check.export.prose import as_markdown, as_text, details_prose
from proofs_check.export.table_cells import fmt_num
from proofs_check.storage.json_text import to_json

__all__ = ["summary", "render_claims"]


def summary(results: list[ClaimResult], seconds: float) -> dict:
    """Counts per status.

    Args:
        results: the claim results.
        seconds: wall time of the run, for display only.

    Returns:
        ``{"total", "verified", "refined", "refuted", "error", "all_verified", "all_passing",
        "seconds"}``; ``all_passing`` is true when every claim is verified or refined.
    """
    counts = {s: sum(r.status == s for r in results) for s in ("verified", "refined", "refuted", "error")}
    return {"total": len(results), **counts, "all_verified": counts["verified"] == len(results),
            "all_passing": all(r.status in PASSING for r in results), "seconds": round(seconds, 2)}


def _summary_line(summ: dict) -> str:
    return (f"{summ['verified']}/{summ['total']} claims verified, {summ['refined']} refined, "
            f"{summ['refuted']} refuted, {summ['error']} errors")


def _mark(e) -> str:
    return "ok  " if e.passed else "FAIL"


def _counterexample_text(cx: dict, render=as_text) -> str:
    cfg = ", ".join(f"{k}={fmt_num(v)}" for k, v in cx.get("config", {}).items())
    det = _details_text(cx.get("details", {}), render)
    return f"({cfg})" + (f": {det}" if det else "")


def _details_text(details: dict, render=as_text) -> str:
    """The details in words (:func:`proofs_check.export.prose.details_prose`), rendered by ``render``."""
    return render(details_prose(details)) if details else ""


def render_claims(results: list[ClaimResult], seconds: float, fmt: str) -> str:
    summ = summary(results, seconds)
    if fmt == "json":
        return to_json({"claims": [r.as_dict() for r in results], "summary": summ})
    if fmt == "markdown":
        lines = ["| claim | status | evidence | grid |", "|---|---|---|---|"]
        for r in results:
            md = as_markdown  # escapes | (text) and writes \vert (mathematics): safe in a cell
            ev = "<br>".join(
                f"{('✔' if e.passed else '✘') if e.asserted else 'ℹ (reported, not asserted)'} [{e.kind}] {md(e.description)}"
                + (f" ({_details_text(e.details, md)})" if e.details else "") for e in r.evidence)
            if r.error:
                ev = f"error: {md(r.error)}"
            if r.region:
                ev += f"<br>region: {md(r.region)}"
            if r.counterexample:
                ev += f"<br>counterexample to the paper's wording: {_counterexample_text(r.counterexample, md)}"
            for dis in r.disagreements:
                ev += f"<br>**differs from the paper or the authors' code:** {md(dis)}"
            grid = f"{len(r.grid)} configs" if r.grid else "exact / default config"
            lines.append(f"| `{r.id}`: {md(r.statement)} | {r.status} | {ev.replace(chr(10), ' ')} | {grid} |")
        lines.append("")
        lines.append(f"**{summ['verified']}/{summ['total']} verified**, {summ['refined']} refined, "
                     f"{summ['refuted']} refuted, {summ['error']} errors ({summ['seconds']} s).")
        return "\n".join(lines)
    out = []
    for r in results:
        out.append(f"[{r.status.upper():8}] {r.id}  ({r.seconds:.2f} s)")
        out.append(f"    {r.statement}")
        if r.error:
            out.append(f"    error: {r.error}")
        for e in r.evidence:
            if e.asserted:
                out.append(f"    {_mark(e)} [{e.kind}] {as_text(e.description)}")
            else:
                out.append(f"    info [{e.kind}] (reported, not asserted; {'observed' if e.passed else 'NOT observed'}) "
                           f"{as_text(e.description)}")
            dt = _details_text(e.details)
            if dt:
                out.append(f"         {dt}")
        if r.grid:
            out.append(f"    grid: {len(r.grid)} configurations of (d, m, N, sigma2, lam)")
        if r.region:
            out.append(f"    region: {r.region}")
        if r.counterexample:
            out.append(f"    counterexample to the paper's wording: {_counterexample_text(r.counterexample)}")
        for dis in r.disagreements:
            out.append(f"    DIFFERS FROM THE PAPER OR THE AUTHORS' CODE: {dis}")
        out.append("")
    out.append(f"{_summary_line(summ)} in {summ['seconds']} s")
    return "\n".join(out)
