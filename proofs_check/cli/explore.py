"""``iclft explore``: search a claim's domain for a configuration where its statement is false
(:mod:`proofs_check.claims.explore`), or show the counterexample its check finds under another
convention (``--convention NAME``).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import vocabulary
from proofs_check import claims as claim_registry
from proofs_check.claims.conventions import NOT_DERIVED, run_under
from proofs_check.claims.explore import explore, render

__all__ = ["run"]


def run(args):
    """``(text, exit status)`` of ``iclft explore``: exit 1 when a counterexample is found."""
    if getattr(args, "convention", "default") != "default":
        return _convention(args)
    res = explore(args.claim, args.statement, args.examples, args.seed)
    return render(res, args.format), 0 if res["counterexample"] is None else 1


def _convention(args):
    """``iclft explore CLAIM --convention NAME``: the counterexample the claim's check finds
    under that convention (:func:`proofs_check.claims.conventions.run_under`)."""
    conv = vocabulary.CONVENTIONS[args.convention]
    claims = {c.id: c for c in claim_registry.registry()}
    if args.claim not in claims:
        raise ValueError(f"claim: unknown claim id {args.claim!r}")
    if args.statement != "paper":
        raise ValueError(f"--convention {conv.name}: only --statement paper is searched under another convention")
    r = run_under(claims[args.claim], conv)
    if r.status == NOT_DERIVED:
        raise ValueError(f"--convention {conv.name}: {r.error}")
    if r.status in ("refuted", "error"):
        raise ValueError(f"--convention {conv.name}: the check of {args.claim} is {r.status} ({r.error or 'an item failed'})")
    res = {"claim": args.claim, "statement": args.statement, "examples": args.examples, "seed": args.seed,
           "convention": conv.name, "counterexample": r.counterexample}
    text = render(res, args.format).replace("counterexample (shrunk)", f"counterexample (convention {conv.name})")
    return text, 0 if r.counterexample is None else 1
