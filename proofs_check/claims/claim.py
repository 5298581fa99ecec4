"""The claim objects of the registry and how a claim is run.

A claim (docs/theory.md section 5) is one :class:`Claim` object, written in the module of its
topic: its id, its statement in text and LaTeX, its check, its :class:`~proofs_check.claims.conditions.Condition`
(the configuration-dependent statement ``iclft explore`` searches, where it has one), the
:class:`Weakening` s its negative controls must catch, its relative cost and the status the
test suite expects of it.  Its check returns :class:`Findings`, the evidence: symbolic items (exact SymPy results: an expression that
simplifies to 0, the sign of a derived expression) and numeric items (closed forms in
NumPy, Monte Carlo where sampling adds evidence).

Only *asserted* evidence decides the status; an item with ``asserted=False`` is a
reported finding, shown but never counted.  The status of a claim is

* ``error``: its check raised;
* ``refuted``: an asserted item failed, or no item is asserted;
* ``refined``: every asserted item passed, and the check returned a counterexample to
  the paper's wording (the paper's statement fails somewhere on the claim's domain; the
  derived condition that replaces it is exact and among the asserted items);
* ``verified``: every asserted item passed and the paper's statement holds on the whole
  domain that was checked.

``iclft check`` exits 0 exactly when every claim is ``verified`` or ``refined``.


Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from proofs_check.claims.conditions import Condition
from vocabulary import Config

__all__ = ["Evidence", "ClaimResult", "Claim", "Findings", "Weakening", "run_claim", "status_of",
           "STATUSES", "PASSING", "SelfTestFailure", "machinery_self_test"]

#: every claim status, and the ones for which ``iclft check`` exits 0
STATUSES = ("verified", "refined", "refuted", "error")
PASSING = ("verified", "refined")




@dataclass
class Evidence:
    """One piece of evidence.  ``kind`` is ``symbolic``, ``numeric`` or ``monte-carlo``.

    ``passed`` is the outcome of a comparison that can fail; ``asserted=False`` marks a
    reported finding that is shown but does not decide the claim's status."""

    kind: str
    description: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)
    asserted: bool = True

    def __post_init__(self):
        self.passed = bool(self.passed)
        self.asserted = bool(self.asserted)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "description": self.description, "passed": self.passed,
                "asserted": self.asserted, "details": self.details}


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
    counterexample: dict | None = None

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
            "counterexample": self.counterexample,
        }


@dataclass
class Findings:
    """The evidence a claim's check returns."""

    evidence: list[Evidence]
    grid: list[dict] | None = None
    region: str | None = None
    disagreements: list[str] = field(default_factory=list)
    #: a configuration where the paper's wording fails (``{"config": {...}, "details": {...}}``);
    #: its presence turns an all-passing claim into ``refined``
    counterexample: dict | None = None


def status_of(evidence: list[Evidence], counterexample: dict | None = None) -> str:
    """The status decided by the asserted items of ``evidence``.

    Args:
        evidence: the items a check returned; only those with ``asserted=True`` count.
        counterexample: a configuration where the paper's wording fails, or ``None``.

    Returns:
        ``"refuted"`` when no item is asserted or an asserted item failed, else
        ``"refined"`` when a counterexample is given, else ``"verified"``.
    """
    asserted = [e for e in evidence if e.asserted]
    if not asserted or not all(e.passed for e in asserted):
        return "refuted"
    return "refined" if counterexample is not None else "verified"


@dataclass(frozen=True)
class Weakening:
    """A lenient bug planted in one grid comparison of a claim, which the comparison's negative
    control (:mod:`proofs_check.claims.controls`) must catch: the test suite recompiles
    ``comparison`` with ``old`` (occurring once in its source) replaced by ``new`` and expects
    the claim ``refuted``.

    Args:
        comparison: the comparison function (in the claim's topic module).
        old: a piece of its source.
        new: the weakened piece.
        what: ``"tolerance"`` (loosened), ``"self"`` (a value compared with itself) or
            ``"grid"`` (configurations skipped).
    """

    comparison: Callable
    old: str
    new: str
    what: str

    def __post_init__(self):
        if self.what not in ("tolerance", "self", "grid"):
            raise ValueError(f"what must be 'tolerance', 'self' or 'grid', got {self.what!r}")


@dataclass(frozen=True)
class Claim:
    """One claim of docs/theory.md section 5.

    Args:
        id: the claim's id (``topic.name``; the topic before the first dot groups claims in one
            worker process).
        title, statement, latex: the claim in words, in text and in LaTeX.
        check: returns :class:`Findings`; the claim's status is decided from it alone
            (:func:`status_of`).
        condition: the configuration-dependent statement, or ``None``.
        weakenings: the lenient bugs its negative controls must catch (test-suite data).
        weight: the relative CPU cost of its check (balances the workers of ``iclft check -j``;
            never in a result).
        expected: the status the test suite expects ``check`` to give (``verified`` or
            ``refined``): a test expectation compared with the check's result, never an input
            to the check.
        expected_reason: why the paper's wording is refined (required when ``expected`` is
            ``refined``).
    """

    id: str
    title: str
    statement: str
    latex: str
    check: Callable[[], Findings]
    condition: Condition | None = None
    weakenings: tuple = ()
    weight: int = 1
    expected: str = "verified"
    expected_reason: str = ""

    def __post_init__(self):
        if self.condition is not None and self.condition.claim_id != self.id:
            raise ValueError(f"condition: belongs to {self.condition.claim_id!r}, not to {self.id!r}")
        if self.expected not in PASSING:
            raise ValueError(f"expected must be one of {PASSING}, got {self.expected!r}")
        if (self.expected == "refined") != bool(self.expected_reason):
            raise ValueError(f"expected_reason: give one exactly when {self.id} is expected 'refined'")
        if isinstance(self.weight, bool) or not isinstance(self.weight, int) or self.weight < 1:
            raise ValueError(f"weight must be a positive integer, got {self.weight!r}")


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
    return ClaimResult(claim.id, claim.title, claim.statement, claim.latex,
                       status_of(out.evidence, out.counterexample), out.evidence, out.grid, out.region,
                       out.disagreements, seconds=time.perf_counter() - t0,
                       counterexample=out.counterexample)


class SelfTestFailure(Exception):
    """The verdict machinery gave a wrong status or exit code on a claim whose answer is
    known: no status it prints can be trusted (``iclft check`` exits 1)."""


def machinery_self_test(exit_code: Callable[[list], int]) -> list[str]:
    """Run :func:`run_claim` and ``exit_code`` on synthetic claims whose answers are known.

    The cases: every item passes (``verified``); one asserted item fails (``refuted``); only a
    reported item fails (``verified``); no item is asserted (``refuted``); a counterexample
    with passing items (``refined``); the check raises (``error``).  Exit codes: 0 for
    ``verified`` + ``refined``, 1 as soon as one claim is ``refuted`` or ``error``, 1 for no
    claims.  ``iclft check`` runs this before any claim, so that a broken aggregation or exit
    code cannot print a clean report.

    Args:
        exit_code: the function mapping claim results to the exit status of ``iclft check``.

    Returns:
        A list of problems, empty when the machinery answers every case correctly.
    """
    def ev(passed, asserted=True):
        return Evidence("numeric", "self-test item", passed, asserted=asserted)

    def boom():
        raise RuntimeError("self-test")

    cex = {"config": Config().as_dict(), "details": {}}
    cases = [
        ("every item passes", lambda: Findings([ev(True), ev(True)]), "verified"),
        ("one asserted item fails", lambda: Findings([ev(True), ev(False), ev(True)]), "refuted"),
        ("only a reported item fails", lambda: Findings([ev(True), ev(False, asserted=False)]), "verified"),
        ("no item is asserted", lambda: Findings([ev(True, asserted=False)]), "refuted"),
        ("a counterexample", lambda: Findings([ev(True)], counterexample=cex), "refined"),
        ("a failing item and a counterexample", lambda: Findings([ev(False)], counterexample=cex), "refuted"),
        ("the check raises", boom, "error"),
    ]
    problems, results = [], {}
    for name, check, want in cases:
        got = run_claim(Claim("self-test", name, name, "", check))
        results[want] = got
        if got.status != want:
            problems.append(f"{name}: status {got.status}, expected {want}")
    for statuses, want in ((("verified", "refined"), 0), (("verified", "refuted"), 1),
                           (("refined", "error"), 1), ((), 1)):
        code = exit_code([results[s] for s in statuses])
        if code != want:
            problems.append(f"exit code {code} for {', '.join(statuses) or 'no claims'}, expected {want}")
    return problems
