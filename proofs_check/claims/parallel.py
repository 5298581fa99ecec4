"""Running claims over several worker processes, results in registry order.

Each worker is a fork of this process where the platform has ``fork`` and JAX is not
loaded (forking a process that has imported JAX can deadlock): it starts with the parent's
imports and derived expressions in memory.  Otherwise it is a fresh (``spawn``)
interpreter that loads the derived expressions from the on-disk cache
(:mod:`proofs_check.storage.derivation_cache`; the parent process has just written it) or derives
them itself under ``--no-cache``.  A worker runs whole claims by id, a topic's claims in
one worker (:func:`worker_groups`) so that they share their flows.  Claims
are independent and deterministic, so the results are the same as in one process; only
the timings differ.  The results are put back in registry order.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

from proofs_check.claims import registry, run_claim
from proofs_check.storage.derivation_cache import ensure_derived

__all__ = ["default_jobs", "run_claims", "worker_groups"]


def default_jobs() -> int:
    """The number of CPUs this process may run on (``os.sched_getaffinity``).

    Returns:
        An integer >= 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: True in a forked worker: the parent's derived expressions are already in its memory
_INHERITED = False


def _init(use_cache: bool) -> None:
    if _INHERITED:
        return
    ensure_derived(use_cache)


def _start_method() -> str:
    """``fork`` where available and JAX is not loaded, else ``spawn``."""
    if "fork" in multiprocessing.get_all_start_methods() and "jax" not in sys.modules:
        return "fork"
    return "spawn"


def _run_id(claim_id: str):
    for c in registry():
        if c.id == claim_id:
            return run_claim(c)
    raise ValueError(f"claim id {claim_id!r} is not in the registry")  # pragma: no cover


def run_claims(claims, jobs: int = 1, use_cache: bool = True) -> list:
    """Run ``claims`` (registry :class:`~proofs_check.claims.claim.Claim` objects) and return
    their :class:`~proofs_check.claims.claim.ClaimResult` in the same order.

    Args:
        claims: the claims to run (from :func:`proofs_check.claims.registry`).
        jobs: worker processes; 1 runs everything in this process.
        use_cache: read/write the on-disk cache of derived expressions.

    Returns:
        list of ClaimResult, in the order of ``claims``.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    ensure_derived(use_cache)
    jobs = min(jobs, len(claims))
    if jobs <= 1:
        return [run_claim(c) for c in claims]
    global _INHERITED
    method = _start_method()
    ctx = multiprocessing.get_context(method)
    groups = worker_groups(claims, jobs)
    _INHERITED = method == "fork"
    try:
        with ProcessPoolExecutor(max_workers=len(groups), mp_context=ctx, initializer=_init,
                                 initargs=(use_cache,)) as ex:
            done = dict(zip((i for g in groups for i in g),
                            (r for rs in ex.map(_run_ids, groups) for r in rs)))
    finally:
        _INHERITED = False
    return [done[c.id] for c in claims]


def _run_ids(claim_ids):
    return [_run_id(i) for i in claim_ids]


def worker_groups(claims: list, jobs: int) -> list:
    """Claims split over at most ``jobs`` workers, a topic (the id before its first dot:
    ``pretrain``, ``zs``, ``zsfs``, ...) never split, so that the claims of a topic share
    the flows and end points they have in common within one process.  Topics go, heaviest
    first (the sum of their claims' ``weight``), to the least loaded worker; deterministic.

    Args:
        claims: the claims (registry :class:`~proofs_check.claims.claim.Claim` objects), in
            registry order.
        jobs: the most workers (>= 1).

    Returns:
        A list of non-empty lists of ids; each list keeps the registry order.
    """
    topics: dict = {}
    for c in claims:
        topic = topics.setdefault(c.id.split(".")[0], [0, []])
        topic[0] += c.weight
        topic[1].append(c.id)
    loads = [[0, []] for _ in range(max(1, jobs))]
    for topic, (weight, ids) in sorted(topics.items(), key=lambda kv: (-kv[1][0], kv[0])):
        w = min(range(len(loads)), key=lambda k: (loads[k][0], k))
        loads[w][0] += weight
        loads[w][1].extend(ids)
    order = {c.id: k for k, c in enumerate(claims)}
    return [sorted(ids, key=order.__getitem__) for _, ids in loads if ids]
