"""The claim objects of the registry and how a claim is run.

A claim (docs/theory.md section 5) has an id, a statement in text and LaTeX, and a check
that returns evidence: symbolic items (exact SymPy results: an expression that
simplifies to 0, the sign of a derived expression) and numeric items (closed forms in
NumPy, Monte Carlo where sampling adds evidence).  A claim is ``verified`` when every
item passed, ``refuted`` when one failed, and ``error`` when its check raised.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Evidence", "ClaimResult", "Claim", "Config", "DEFAULT_CONFIG", "Outcome", "run_claim"]


@dataclass(frozen=True)
class Config:
    """One configuration ``(d, m, N, sigma2, lam)`` of the paper's synthetic setting."""

    d: int = 5
    m: int = 20
    N: int = 20
    sigma2: float = 0.1
    lam: float = 1.0

    def as_dict(self) -> dict:
        return {"d": self.d, "m": self.m, "N": self.N, "sigma2": self.sigma2, "lam": self.lam}


DEFAULT_CONFIG = Config()


@dataclass
class Evidence:
    """One piece of evidence.  ``kind`` is ``symbolic``, ``numeric`` or ``monte-carlo``."""

    kind: str
    description: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "description": self.description, "passed": self.passed,
                "details": self.details}


@dataclass
class ClaimResult:
    id: str
    title: str
    statement: str
    latex: str
    status: str
    evidence: list[Evidence]
    grid: list[dict] | None = None
    region: str | None = None
    disagreements: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "statement": self.statement,
            "latex": self.latex,
            "evidence": [e.as_dict() for e in self.evidence],
            "grid": self.grid,
            "region": self.region,
            "disagreements": self.disagreements,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


@dataclass
class Outcome:
    """What a claim's check returns."""

    evidence: list[Evidence]
    grid: list[dict] | None = None
    region: str | None = None
    disagreements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    statement: str
    latex: str
    check: Callable[[], Outcome]


def run_claim(claim: Claim) -> ClaimResult:
    """Run one claim; an exception becomes status ``error`` with a one-line reason."""
    t0 = time.perf_counter()
    try:
        out = claim.check()
    except Exception as exc:  # a claim check must never take the whole report down
        last = traceback.extract_tb(exc.__traceback__)[-1]
        return ClaimResult(claim.id, claim.title, claim.statement, claim.latex, "error", [],
                           seconds=time.perf_counter() - t0,
                           error=f"{type(exc).__name__}: {exc} ({last.filename.split('/')[-1]}:{last.lineno})")
    ok = bool(out.evidence) and all(e.passed for e in out.evidence)
    return ClaimResult(claim.id, claim.title, claim.statement, claim.latex,
                       "verified" if ok else "refuted", out.evidence, out.grid, out.region,
                       out.disagreements, seconds=time.perf_counter() - t0)
