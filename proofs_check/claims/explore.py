"""``iclft explore``: a property-based search for a configuration where a claim's statement fails.

The search is hypothesis's :func:`hypothesis.find` over the claim's domain
(:func:`proofs_check.claims.strategies.configs`: ``d <= 12``, ``m, N <= 60``, ``sigma2`` in
``[0, 2]``, ``lam`` in ``(0, 8]``), with the example database off, the random source seeded
by ``--seed`` (same seed, same answer) and shrinking on; the shrunk counterexample is then
lowered coordinate by coordinate (:func:`minimise`) until no single coordinate can be lowered
with the statement still failing (``"minimal": true``).  The statement is evaluated exactly by
the claim's :class:`~proofs_check.claims.conditions.Condition` (written beside its check in its
topic module); a configuration where the claim's quantity does not exist (a
flow with no finite limit) is a domain exclusion, reported under ``"excluded"``, never a
counterexample.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
from __future__ import annotations

import difflib
import random
from fractions import Fraction

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample

from proofs_check.claims import claim_conditions, registry
from proofs_check.claims.conditions import STATEMENTS, Condition
from proofs_check.claims.strategies import STEP, configs
from proofs_check.export.table_cells import fmt_num
from proofs_check.storage.json_text import to_json
from vocabulary import Config

__all__ = ["explore", "explore_condition", "evaluate", "condition_of", "render", "search", "minimise",
           "lower_neighbours"]


def condition_of(claim_id: str) -> Condition:
    """The condition of ``claim_id`` (from the registry).

    Raises:
        ValueError: naming ``CLAIM_ID`` when the id is unknown (with the closest id), or saying
            that the claim has no condition to explore.
    """
    conds = claim_conditions()
    if claim_id in conds:
        return conds[claim_id]
    known = [c.id for c in registry()]
    if claim_id in known:
        raise ValueError(f"claim {claim_id!r} has no configuration-dependent condition to explore; "
                         f"choose one of {', '.join(conds)}")
    close = difflib.get_close_matches(claim_id, list(conds) + known, n=1, cutoff=0.4)
    hint = f"; did you mean {close[0]!r}?" if close else f"; choose one of {', '.join(conds)}"
    raise ValueError(f"CLAIM_ID: unknown claim id {claim_id!r}{hint}")


def evaluate(claim_id: str, statement: str, cfg: Config) -> tuple:
    """Whether ``statement`` of ``claim_id`` holds at ``cfg``: :meth:`Condition.evaluate` of the
    claim's condition.

    Args:
        claim_id: a claim with a condition.
        statement: ``"paper"`` or ``"derived"`` (one the claim offers).
        cfg: a configuration inside the claim's domain.

    Returns:
        ``(holds, details)``: ``holds`` is ``True``, ``False``, or ``None`` when the claim's
        quantity does not exist at ``cfg`` (a domain exclusion, never a counterexample).
    """
    conds = claim_conditions()
    if claim_id not in conds:
        raise ValueError(f"claim_id: {claim_id!r} has no configuration-dependent statement; "
                         f"choose one of {', '.join(conds)}")
    return conds[claim_id].evaluate(statement, cfg)


def lower_neighbours(cfg, lo: dict):
    """The configurations one coordinate below ``cfg``: each of ``d, m, N, sigma2, lam`` set
    to its domain minimum, to the grid point halfway down, or lowered by one step (1, or 1/20
    for ``sigma2`` and ``lam``)."""
    mins = {"d": lo["d"], "m": lo["m"], "N": lo["N"], "sigma2": Fraction(0), "lam": STEP}
    out = []
    for key in ("d", "m", "N", "sigma2", "lam"):
        v = getattr(cfg, key)
        if isinstance(v, int):
            cands = [mins[key], (mins[key] + v) // 2, v - 1]
        else:
            k_lo, k = int(mins[key] / STEP), int(Fraction(repr(v)) / STEP)
            cands = [float(j * STEP) for j in (k_lo, (k_lo + k) // 2, k - 1)]
        for w in cands:
            if mins[key] <= w < v:
                out.append(Config(**{**cfg.as_dict(), key: w}))
    return list(dict.fromkeys(out))


def minimise(fails, cfg, lo: dict, budget: int = 120):
    """Lower ``cfg`` coordinate by coordinate while ``fails`` still holds there.

    Each coordinate in turn (``d, m, N, sigma2, lam``) is set to its domain minimum if the
    statement still fails there, else lowered by bisection between that minimum and its value
    (on the 1/20 grid for ``sigma2`` and ``lam``); the passes repeat until none moves.  Then
    every configuration of :func:`lower_neighbours` is evaluated once more.

    Args:
        fails: ``fails(cfg) -> bool``, whether the statement fails at ``cfg``.
        cfg: a configuration where it fails.
        lo: the least ``(d, m, N)`` of the claim's domain.
        budget: at most this many distinct configurations are evaluated.

    Returns:
        ``(cfg, minimal)``: ``minimal`` is True when no configuration of :func:`lower_neighbours` (each
        coordinate set to its minimum, halfway down or one step lower) fails: the
        counterexample is then minimal coordinate by coordinate.
    """
    memo: dict = {}

    def f(c):
        if c not in memo:
            if len(memo) >= budget:
                raise _Spent
            memo[c] = bool(fails(c))
        return memo[c]

    def at(c, key, j):  # coordinate ``key`` at grid index j
        return Config(**{**c.as_dict(), key: j if key in ("d", "m", "N") else float(j * STEP)})

    def index(c, key):
        v = getattr(c, key)
        return v if key in ("d", "m", "N") else int(Fraction(repr(v)) / STEP)

    lows = {"d": lo["d"], "m": lo["m"], "N": lo["N"], "sigma2": 0, "lam": 1}
    try:
        moved = True
        while moved:
            moved = False
            for key in ("d", "m", "N", "sigma2", "lam"):
                k_lo, k_hi = lows[key], index(cfg, key)
                if k_hi <= k_lo:
                    continue
                if f(at(cfg, key, k_lo)):
                    cfg, moved = at(cfg, key, k_lo), True
                    continue
                while k_hi - k_lo > 1:  # holds at k_lo, fails at k_hi
                    mid = (k_lo + k_hi) // 2
                    if f(at(cfg, key, mid)):
                        k_hi = mid
                    else:
                        k_lo = mid
                if k_hi < index(cfg, key):
                    cfg, moved = at(cfg, key, k_hi), True
        return cfg, not any(f(c) for c in lower_neighbours(cfg, lo))
    except _Spent:
        return cfg, False


class _Spent(Exception):
    """The evaluation budget of :func:`minimise` is spent."""


def search(condition: Condition, fails, examples: int, seed: int):
    """hypothesis's search of a claim's whole domain for a configuration where ``fails``.

    Args:
        condition: the claim's condition (its domain's least ``d, m, N``).
        fails: ``fails(cfg) -> bool``.
        examples: at most this many generated configurations.
        seed: seed of hypothesis's random source (same seed, same answer).

    Returns:
        ``None`` when no configuration fails, else ``(cfg, minimal)``: hypothesis's shrunk
        configuration lowered further by :func:`minimise`.
    """
    lo = condition.least
    strategy = configs(d_min=lo["d"], m_min=lo["m"], N_min=lo["N"])
    opts = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                    phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    try:
        cfg = find(strategy, fails, settings=opts, random=random.Random(seed))
    except NoSuchExample:
        return None
    return minimise(fails, cfg, lo)


def explore(claim_id: str, statement: str = "paper", examples: int = 100, seed: int = 0) -> dict:
    """Search the domain of ``claim_id`` (from the registry) for a configuration where
    ``statement`` is false: :func:`explore_condition` of its condition.  Arguments and result
    as there."""
    return explore_condition(condition_of(claim_id), statement, examples, seed)


def explore_condition(condition: Condition, statement: str = "paper", examples: int = 100, seed: int = 0) -> dict:
    """Search a claim's domain for a configuration where ``statement`` is false.

    A configuration where the claim's quantity does not exist (a flow with no limit) is a
    domain exclusion: counted, reported under ``"excluded"``, never a counterexample.

    Args:
        condition: the claim's condition.
        statement: ``"paper"`` (the paper's wording) or ``"derived"`` (the derived condition);
            a claim whose statement is already the derived one offers only ``"paper"``.
        examples: at most this many configurations are generated (``>= 1``).
        seed: seed of hypothesis's random source (``>= 0``).

    Returns:
        ``{"claim", "statement", "examples", "seed", "counterexample", "excluded"}``;
        ``counterexample`` is ``None`` or ``{"config": {"d", "m", "N", "sigma2", "lam"},
        "details": {...}, "minimal": bool}`` with the exact numbers at the shrunk
        counterexample (``minimal``: no coordinate can be lowered, to its domain minimum or
        by one step, with the statement still failing); ``excluded`` is ``{"count",
        "reasons", "first"}`` over the distinct configurations tried.
    """
    claim_id = condition.claim_id
    if statement not in STATEMENTS:
        raise ValueError(f"statement must be 'paper' or 'derived', got {statement!r}")
    if statement not in condition.statements:
        raise ValueError(f"statement: {claim_id} has only the statement 'paper' (its statement is the derived "
                         f"one; there is no separate derived condition)")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be an integer >= 1, got {examples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seen: dict = {}
    excluded: dict = {}

    def outcome(cfg):
        if cfg not in seen:
            seen[cfg] = condition.evaluate(statement, cfg)
            if seen[cfg][0] is None:
                excluded[cfg] = seen[cfg][1].get("excluded", "excluded")
        return seen[cfg]

    def fails(cfg):
        return outcome(cfg)[0] is False

    found = search(condition, fails, examples, seed)
    if found is None:
        cx = None
    else:
        cfg, minimal = found
        _, details = outcome(cfg)
        if condition.independent is not None:
            details = {**details, **condition.independent(statement, cfg)}
        cx = {"config": cfg.as_dict(), "details": details, "minimal": minimal}
    first = min(excluded, key=lambda c: tuple(c.as_dict().values()), default=None)
    exc = {"count": len(excluded), "reasons": sorted(set(excluded.values())),
           "first": None if first is None else first.as_dict()}
    return {"claim": claim_id, "statement": statement, "examples": examples, "seed": seed, "counterexample": cx,
            "excluded": exc}


def render(res: dict, fmt: str) -> str:
    """The result of :func:`explore` as ``text``, ``json`` or ``markdown``."""
    if fmt == "json":
        return to_json(res)
    head = (f"explore {res['claim']} --statement {res['statement']} (up to {res['examples']} examples, "
            f"seed {res['seed']}): ")
    cx = res["counterexample"]
    exc = res.get("excluded") or {"count": 0}
    excl = ("" if not exc["count"] else
            f"{exc['count']} configuration(s) excluded from the domain, not counterexamples: "
            f"{'; '.join(exc['reasons'])} (first: " + ", ".join(f"{k}={fmt_num(v)}" for k, v in exc["first"].items()) + ")")
    if cx is None:
        out = head + "no counterexample found"
        if not excl:
            return out
        return f"{out}\n\n{excl}" if fmt == "markdown" else f"{out}\n  {excl}"
    cfg = ", ".join(f"{k}={fmt_num(v)}" for k, v in cx["config"].items())
    rows = [(k, fmt_num(v)) for k, v in cx["details"].items()]
    shrunk = "shrunk, minimal" if cx.get("minimal") else "shrunk"
    if fmt == "markdown":
        return "\n".join([f"**{head}counterexample** ({shrunk}: {cfg})", "", "| quantity | value |", "|---|---|"]
                          + [f"| {k} | {v} |" for k, v in rows] + (["", excl] if excl else []))
    width = max(len(k) for k, _ in rows) if rows else 0
    return "\n".join([head + f"counterexample ({shrunk})", f"  config: {cfg}"]
                      + [f"  {k:<{width}}  {v}" for k, v in rows] + ([f"  {excl}"] if excl else []))
