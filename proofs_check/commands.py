"""The subcommands of ``iclft``: each returns ``(text, exit status)``.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query
(``M = W^T`` in row-token code), ``W = K^T Q`` in the separate form.
"""
from __future__ import annotations

import time

from .report import render_claims

__all__ = ["run"]


def cmd_check(args):
    from .claims import registry, run_claim

    claims = registry()
    if args.only:
        known = {c.id for c in claims}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            raise ValueError(f"--only: unknown claim id {unknown[0]!r}")
        claims = [c for c in claims if c.id in args.only]
    t0 = time.perf_counter()
    results = [run_claim(c) for c in claims]
    seconds = time.perf_counter() - t0
    ok = all(r.status == "verified" for r in results)
    return render_claims(results, seconds, args.format), 0 if ok else 1


COMMANDS = {"check": cmd_check}


def run(args):
    return COMMANDS[args.command](args)
