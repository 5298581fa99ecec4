"""``iclft check``: re-derive and re-check every claim (or ``--only`` some), under the default
convention or as a claims x conventions matrix (``--convention NAME|all``).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import time

import vocabulary
from proofs_check import claims as claim_registry
from proofs_check.claims.claim import PASSING, SelfTestFailure, machinery_self_test
from proofs_check.claims.conventions import NOT_DERIVED, convention_matrix, render_matrix
from proofs_check.claims import parallel
from proofs_check.cli.report import render_claims
from proofs_check.storage.derivation_cache import ensure_derived

__all__ = ["run", "check_exit_code"]


def run(args):
    """``(text, exit status)`` of ``iclft check``; the verdict machinery tests itself first."""
    problems = machinery_self_test(check_exit_code)
    if problems:
        raise SelfTestFailure("the verdict machinery failed its self-test (" + "; ".join(problems)
                              + "): no claim status can be trusted")
    claims = claim_registry.registry()
    if args.only:
        known = {c.id for c in claims}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            raise ValueError(f"argument --only: unknown claim id {unknown[0]!r}")
        claims = [c for c in claims if c.id in args.only]
    convention = getattr(args, "convention", "default")
    if convention != "default":
        return _conventions(args, claims, convention)
    t0 = time.perf_counter()
    results = parallel.run_claims(claims, jobs=args.jobs or parallel.default_jobs(), use_cache=not args.no_cache)
    seconds = time.perf_counter() - t0
    return render_claims(results, seconds, args.format), check_exit_code(results)


def _conventions(args, claims, convention):
    """``iclft check --convention NAME|all``: the claims x conventions matrix
    (:mod:`proofs_check.claims.conventions`); exit 1 when a cell is refuted or an error."""
    ensure_derived(not args.no_cache)
    convs = list(vocabulary.CONVENTIONS.values()) if convention == "all" else [vocabulary.CONVENTIONS[convention]]
    t0 = time.perf_counter()
    default_results = None
    if vocabulary.DEFAULT_CONVENTION in convs:
        results = parallel.run_claims(claims, jobs=args.jobs or parallel.default_jobs(), use_cache=not args.no_cache)
        default_results = {r.id: r for r in results}
    matrix = convention_matrix(claims, convs, default_results)
    seconds = time.perf_counter() - t0
    bad = any(st not in ("verified", "refined", NOT_DERIVED) for row in matrix["claims"]
              for st in row["statuses"].values())
    return render_matrix(matrix, seconds, args.format), 1 if bad else 0


def check_exit_code(results) -> int:
    """0 when every claim is ``verified`` or ``refined``, 1 otherwise (refuted or error)."""
    return 0 if results and all(r.status in PASSING for r in results) else 1
