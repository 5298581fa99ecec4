"""Running claims over several worker processes, results in registry order.

Each worker is a fresh (``spawn``) interpreter: it loads the derived expressions from the
on-disk cache (:mod:`proofs_check.derivation_cache`; the parent process has just written
it) or derives them itself under ``--no-cache``, then runs whole claims by id.  Claims
are independent and deterministic, so the results are the same as in one process; only
the timings differ.  ``concurrent.futures`` returns them in submission order, which is
the registry order.
"""
from __future__ import annotations

import os

__all__ = ["default_jobs", "run_claims"]


def default_jobs() -> int:
    """The number of CPUs this process may run on (``os.sched_getaffinity``).

    Returns:
        An integer >= 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _init(use_cache: bool) -> None:
    from .derivation_cache import ensure_derived

    ensure_derived(use_cache)


def _run_id(claim_id: str):
    from .claims import registry, run_claim

    for c in registry():
        if c.id == claim_id:
            return run_claim(c)
    raise ValueError(f"claim id {claim_id!r} is not in the registry")  # pragma: no cover


def run_claims(claims, jobs: int = 1, use_cache: bool = True) -> list:
    """Run ``claims`` (registry :class:`~proofs_check.claims.base.Claim` objects) and return
    their :class:`~proofs_check.claims.base.ClaimResult` in the same order.

    Args:
        claims: the claims to run (from :func:`proofs_check.claims.registry`).
        jobs: worker processes; 1 runs everything in this process.
        use_cache: read/write the on-disk cache of derived expressions.

    Returns:
        list of ClaimResult, in the order of ``claims``.
    """
    from .claims import run_claim
    from .derivation_cache import ensure_derived

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    ensure_derived(use_cache)
    jobs = min(jobs, len(claims))
    if jobs <= 1:
        return [run_claim(c) for c in claims]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init,
                             initargs=(use_cache,)) as ex:
        return list(ex.map(_run_id, [c.id for c in claims]))
