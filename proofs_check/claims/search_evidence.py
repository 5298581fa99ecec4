"""Domain-search evidence: ``iclft check`` runs the search ``iclft explore`` runs.

A claim with a configuration-dependent statement (a :class:`~proofs_check.claims.conditions.Condition`)
is ``verified`` only when a derandomised search of its *whole* domain (hypothesis, the
strategy of :func:`proofs_check.claims.strategies.configs`, a bounded number of examples, seed 0)
finds no configuration where its statement fails, besides its grid evidence; a ``refined``
claim's derived statement must survive the same search.  So ``check`` and ``explore`` cannot
disagree about a claim at the same budget and seed.  A configuration where the claim's
quantity does not exist (a flow with no limit) is a domain exclusion, counted in the details,
never a counterexample.

Each search item is followed by its negative control: the same search (same strategy,
budget, seed, shrinking) on a *planted* statement that fails on the slab
``sigma2 >= 1, lam >= 4`` of the domain.  The control passes only when the search finds the
slab and shrinks to its least corner ``(d_min, m_min, N_min, 1, 4)``: a search that skips
examples, ignores its predicate or stops shrinking early turns the claim ``refuted``.

The budget of each search is its condition's ``examples`` (cost: see README "Benchmarks").
"""
from __future__ import annotations

from proofs_check.claims.claim import Evidence
from proofs_check.claims.conditions import Condition
from proofs_check.claims.explore import explore_condition, search
from proofs_check.export.prose import tx
from vocabulary import Config

__all__ = ["SEARCH_SEED", "domain_search", "search_control", "PLANTED_SLAB", "search_items"]

#: seed of every search inside ``iclft check``
SEARCH_SEED = 0
#: the planted region of the negative control: ``sigma2 >= 1`` and ``lam >= 4``
PLANTED_SLAB = (1.0, 4.0)


def domain_search(condition: Condition, statement: str, examples: int | None = None,
                  seed: int = SEARCH_SEED) -> tuple[Evidence, dict]:
    """Search a claim's whole domain for a configuration where ``statement`` fails.

    Args:
        condition: the claim's condition.
        statement: ``"paper"`` or ``"derived"`` (one the condition offers).
        examples: the budget (default: the condition's ``examples``).
        seed: hypothesis's seed.

    Returns:
        ``(evidence, result)``: an asserted :class:`Evidence` that passes when no
        counterexample is found, and the :func:`proofs_check.claims.explore.explore_condition` result.
    """
    k = condition.examples if examples is None else examples
    res = explore_condition(condition, statement, k, seed)
    cx, exc = res["counterexample"], res["excluded"]
    details = {"statement": statement, "examples": k, "seed": seed, "excluded": exc["count"]}
    if exc["count"]:
        details["excluded_reason"] = "; ".join(exc["reasons"])
        details["first_excluded"] = exc["first"]
    if cx is not None:
        details["counterexample"] = cx["config"]
    what = "the paper's statement" if statement == "paper" else "the derived (refined) statement"
    return Evidence("search", tx("hypothesis search of the whole domain ({} examples, seed {}, "
                                 "explore's strategy and shrinking): no configuration where {} fails", k, seed, what)
                    + (" (configurations where the quantity does not exist are excluded, not counted)"
                       if exc["count"] else ""), cx is None, details), res


def search_control(condition: Condition, examples: int | None = None, seed: int = SEARCH_SEED) -> Evidence:
    """The negative control of :func:`domain_search`: the same search on a planted statement
    that fails exactly on ``sigma2 >= 1, lam >= 4``; passes only when the search finds the slab
    and shrinks it to its least corner.

    Args:
        condition: the condition of the claim whose domain is searched.
        examples: the budget (default: the condition's ``examples``).
        seed: hypothesis's seed.

    Returns:
        An asserted :class:`Evidence` of kind ``search``.
    """
    k = condition.examples if examples is None else examples
    s_lo, l_lo = PLANTED_SLAB
    lo = condition.least
    found = search(condition, lambda cfg: cfg.sigma2 >= s_lo and cfg.lam >= l_lo, k, seed)
    corner = Config(lo["d"], lo["m"], lo["N"], s_lo, l_lo)
    got = None if found is None else found[0]
    return Evidence("search", tx("negative control: the same search ({} examples, seed {}) finds a planted "
                                 "statement failing on $sigma2 >= {}$, $lam >= {}$ and shrinks it to the least corner "
                                 "$(d, m, N, sigma2, lam) = ({}, {}, {}, {}, {})$", k, seed, s_lo, l_lo,
                                 corner.d, corner.m, corner.N, s_lo, l_lo),
                    got == corner and bool(found and found[1]),
                    {"planted_found": None if got is None else got.as_dict()})


def search_items(condition: Condition, refined: bool, known: dict | None = None) -> tuple[list[Evidence], dict | None]:
    """The search evidence of one claim: the asserted search of the statement the claim's
    status rests on (``derived`` for a refined claim that offers it, else ``paper``) and its
    negative control; for a refined claim without a ``known`` counterexample (from its grid)
    also the search of the paper's wording, whose counterexample (if found) is returned.

    Args:
        condition: the claim's condition.
        refined: whether the claim's status rests on its derived statement.
        known: a counterexample to the paper's wording already found on the claim's grid (the
            paper search, with its shrinking, is then skipped: it would only re-find one).

    Returns:
        ``(evidence items, counterexample)``: ``known`` when given, else the search's (or None).
    """
    statement = "derived" if refined and "derived" in condition.statements else "paper"
    item, _ = domain_search(condition, statement)
    items = [item, search_control(condition)]
    cx = known
    if statement == "derived" and known is None:
        _, res = domain_search(condition, "paper")
        found = res["counterexample"]
        if found is not None:
            cx = {"config": found["config"], "details": found["details"], "minimal": found["minimal"],
                  "source": f"hypothesis search of the paper's statement ({res['examples']} examples, seed {res['seed']})"}
        items.append(Evidence("search", "the same search finds "
                              + ("a configuration where the paper's statement fails" if cx else
                                 "no configuration where the paper's statement fails"),
                              cx is not None, {"counterexample": None if cx is None else cx["config"]}, asserted=False))
    return items, cx
