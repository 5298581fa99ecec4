"""``iclft export-latex``: write a standalone LaTeX document of the derivations and, unless
``--no-claims``, the claims (:func:`proofs_check.export.latex_document.export_latex`).

Conventions: see :mod:`proofs_check` (stated once there).
"""
from __future__ import annotations

import sys

from proofs_check.cli.arguments import check_output
from proofs_check.storage.json_text import to_json
from proofs_check.export.latex_document import export_latex
from proofs_check.storage.derivation_cache import ensure_derived

__all__ = ["run"]


def run(args):
    """``(text, exit status)`` of ``iclft export-latex``; the output path is checked before the
    derivations load."""
    check_output(args.path, "file", "argument path")
    ensure_derived(not args.no_cache)
    no_claims = getattr(args, "no_claims", False)
    summary = export_latex(args.path, progress=sys.stderr.isatty(), claims=not no_claims,
                           convention=getattr(args, "convention", "default"))
    if args.format == "json":
        return to_json(summary), 0
    st = ", ".join(f"{v} {k}" for k, v in sorted(summary["statuses"].items()))
    claims = "no claims (--no-claims)" if no_claims else f"{summary['claims']} claims ({st})"
    line = (f"wrote {summary['path']}: {summary['expressions']} expressions, "
            f"{claims} in {summary['seconds']:.1f} s")
    return (f"**{line}**" if args.format == "markdown" else line), 0
