"""``iclft explore``: a property-based search for a configuration where a claim's statement fails.

The search is hypothesis's :func:`hypothesis.find` over the claim's domain
(:func:`proofs_check.strategies.configs`: ``d <= 12``, ``m, N <= 60``, ``sigma2`` in
``[0, 2]``, ``lam`` in ``(0, 8]``), with the example database off, the random source seeded
by ``--seed`` (same seed, same answer) and shrinking on, so a counterexample is reported in
its minimal form.  The statement is evaluated exactly by :mod:`proofs_check.conditions`.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
from __future__ import annotations

import difflib
import random

from .conditions import CONDITION_CLAIMS, STATEMENTS, evaluate

__all__ = ["explore", "render"]


def _check_claim(claim_id: str) -> None:
    from .claims import claim_ids

    if claim_id in CONDITION_CLAIMS:
        return
    known = claim_ids()
    if claim_id in known:
        raise ValueError(f"claim {claim_id!r} has no configuration-dependent condition to explore; "
                         f"choose one of {', '.join(CONDITION_CLAIMS)}")
    close = difflib.get_close_matches(claim_id, list(CONDITION_CLAIMS) + known, n=1, cutoff=0.4)
    hint = f"; did you mean {close[0]!r}?" if close else f"; choose one of {', '.join(CONDITION_CLAIMS)}"
    raise ValueError(f"CLAIM_ID: unknown claim id {claim_id!r}{hint}")


def _independent(claim_id: str, statement: str, cfg) -> dict:
    """A second computation at a counterexample that shares no code with the exact route."""
    if claim_id != "zsfs.v.tradeoff":
        return {}
    import numpy as np

    from .claims.few_shot import numpy_large_n_limit
    from .conditions import v_tradeoff_numbers

    v = v_tradeoff_numbers(cfg)
    neg = -np.eye(cfg.d)[0]
    pre = {"q": 0, "alpha": v["c_star"], "beta": v["c_star"], "h": 0}
    lz = numpy_large_n_limit({**pre, "a": v["a_zs"], "b": 1}, neg, cfg)
    lf = numpy_large_n_limit({**pre, "a": v["a_fs"], "b": v["b_fs"]}, neg, cfg)
    return {"numpy_neg_limit_zs_v": lz, "numpy_neg_limit_zsfs_v": lf,
            "numpy_confirms_not_raised": bool(lf <= lz)}


def explore(claim_id: str, statement: str = "paper", examples: int = 100, seed: int = 0) -> dict:
    """Search the claim's domain for a configuration where ``statement`` is false.

    Args:
        claim_id: a claim with a condition (see :data:`proofs_check.conditions.CONDITION_CLAIMS`).
        statement: ``"paper"`` (the paper's wording) or ``"derived"`` (the derived condition).
        examples: at most this many configurations are generated (``>= 1``).
        seed: seed of hypothesis's random source (``>= 0``).

    Returns:
        ``{"claim", "statement", "examples", "seed", "counterexample"}``; ``counterexample`` is
        ``None`` or ``{"config": {"d", "m", "N", "sigma2", "lam"}, "details": {...}}`` with the
        exact numbers at the shrunk (minimal) counterexample.
    """
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    from .strategies import configs

    _check_claim(claim_id)
    if statement not in STATEMENTS:
        raise ValueError(f"statement must be 'paper' or 'derived', got {statement!r}")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples must be an integer >= 1, got {examples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    lo = CONDITION_CLAIMS[claim_id]
    strategy = configs(d_min=lo["d"], m_min=lo["m"], N_min=lo["N"])
    opts = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                    phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    try:
        cfg = find(strategy, lambda c: not evaluate(claim_id, statement, c)[0], settings=opts,
                   random=random.Random(seed))
    except NoSuchExample:
        cx = None
    else:
        holds, details = evaluate(claim_id, statement, cfg)
        details = {**details, **_independent(claim_id, statement, cfg)}
        cx = {"config": cfg.as_dict(), "details": details}
    return {"claim": claim_id, "statement": statement, "examples": examples, "seed": seed, "counterexample": cx}


def render(res: dict, fmt: str) -> str:
    """The result of :func:`explore` as ``text``, ``json`` or ``markdown``."""
    from .report import fmt_num, to_json

    if fmt == "json":
        return to_json(res)
    head = (f"explore {res['claim']} --statement {res['statement']} (up to {res['examples']} examples, "
            f"seed {res['seed']}): ")
    cx = res["counterexample"]
    if cx is None:
        return head + "no counterexample found"
    cfg = ", ".join(f"{k}={fmt_num(v)}" for k, v in cx["config"].items())
    rows = [(k, fmt_num(v)) for k, v in cx["details"].items()]
    if fmt == "markdown":
        return "\n".join([f"**{head}counterexample** ({cfg})", "", "| quantity | value |", "|---|---|"]
                         + [f"| {k} | {v} |" for k, v in rows])
    width = max(len(k) for k, _ in rows) if rows else 0
    return "\n".join([head + "counterexample (shrunk)", f"  config: {cfg}"] + [f"  {k:<{width}}  {v}" for k, v in rows])
