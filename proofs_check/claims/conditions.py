"""The condition of a claim: its configuration-dependent statement, for ``iclft explore`` and
the domain search of ``iclft check``.

A claim with a condition (an inequality, a region, a sign) has up to two statements at one
configuration ``(d, m, N, sigma2, lam)``:

* ``paper``: the paper's wording (for ``zsfs.v.tradeoff``: adding FS lowers the target
  error at ``n = N`` *and* raises the large-``n`` error on ``-theta0``);
* ``derived``: the derived condition predicts the outcome (for ``zsfs.v.tradeoff``: the
  ``-theta0`` limit is raised *if and only if* ``(1 + c a_FS - c b_FS)^2 > (1 + c a_ZS - c)^2``).

A :class:`Condition` is written in the claim's topic module, beside its check, and hangs on
the :class:`~proofs_check.claims.claim.Claim`; its ``holds`` function evaluates a statement
exactly (``sigma2`` and ``lam`` read as the rationals of their decimal strings; an algebraic
number with 50 mpmath digits; a gradient-flow end point where the claim is about one).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vocabulary import Config

__all__ = ["STATEMENTS", "DOMAIN", "EXCLUDED", "Condition"]

#: the statements a condition can offer
STATEMENTS = ("paper", "derived")

#: the domain of every claim: d <= 12, m and N <= 60, sigma2 in [0, 2], lam in (0, 8]
DOMAIN = {"d": 12, "m": 60, "N": 60, "sigma2": (0.0, 2.0), "lam": (0.0, 8.0)}

#: the reason a configuration is excluded from a flow claim's domain: the flow has no limit there
EXCLUDED = "flow not converged (no finite limit: the end point does not exist)"


@dataclass(eq=False)
class Condition:
    """The configuration-dependent statement of one claim.

    Args:
        claim_id: the id of the claim it belongs to.
        holds: ``holds(cfg, statement) -> (holds, details)``: ``True``, ``False``, or ``None``
            when the claim's quantity does not exist at ``cfg`` (a domain exclusion:
            ``details["excluded"]`` says why; never a counterexample); ``details`` holds the
            exact numbers (rationals as strings).
        d, m, N: the least ``(d, m, N)`` of the claim's domain (``theta_perp`` needs ``d >= 2``).
        flows: whether an evaluation integrates gradient flows (dearer: smaller search budgets).
        statements: the statements offered; a claim whose statement is already the derived
            one offers only ``("paper",)``.
        examples: the budget of the domain search inside ``iclft check``.
        independent: ``independent(statement, cfg) -> dict``, a second computation at a
            counterexample that shares no code with ``holds`` (its numbers join the
            counterexample's details), or ``None``.
    """

    claim_id: str
    holds: Callable[[Config, str], tuple]
    d: int = 1
    m: int = 1
    N: int = 0
    flows: bool = False
    statements: tuple = STATEMENTS
    examples: int = 30
    independent: Callable[[str, Config], dict] | None = None

    def __post_init__(self):
        if not self.statements or any(s not in STATEMENTS for s in self.statements) or self.statements[0] != "paper":
            raise ValueError(f"statements must start with 'paper' and be among {STATEMENTS}, got {self.statements!r}")

    @property
    def least(self) -> dict:
        """``{"d", "m", "N"}``: the least configuration of the claim's domain."""
        return {"d": self.d, "m": self.m, "N": self.N}

    def evaluate(self, statement: str, cfg: Config) -> tuple:
        """Whether ``statement`` holds at ``cfg``, after checking both.

        Args:
            statement: ``"paper"`` (the paper's wording) or ``"derived"`` (the derived
                condition predicts the outcome); only one of :attr:`statements`.
            cfg: a configuration inside the claim's domain (at least :attr:`least`).

        Returns:
            ``(holds, details)`` of :attr:`holds`.
        """
        if statement not in STATEMENTS:
            raise ValueError(f"statement must be 'paper' or 'derived', got {statement!r}")
        if statement not in self.statements:
            raise ValueError(f"statement: {self.claim_id} has only the statement 'paper' (its statement is the "
                             f"derived one; there is no separate derived condition), got {statement!r}")
        for key, lo in self.least.items():
            if getattr(cfg, key) < lo:
                raise ValueError(f"{key} must be >= {lo} for {self.claim_id}, got {getattr(cfg, key)}")
        return self.holds(cfg, statement)
