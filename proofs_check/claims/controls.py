"""Negative controls: every grid comparison shows, inside ``iclft check``, that it can fail.

A numeric evidence item compares an independent route (NumPy, a flow end point) with the
derived value on a declared grid of configurations, within a tolerance.  Its comparison is
written as a function ``compare(route) -> (passed, details)`` of the route
(``route(cfg)`` returns the route's numbers at one configuration).  The check runs it twice:

1. on the real route: the evidence item itself;
2. on a *planted* route: the real route's numbers, replayed (nothing is recomputed), with
   one value moved by a planted error ``E`` at the **last** configuration of the item's
   declared grid.  The control item passes only when this run FAILS the comparison.

``E`` is a modest multiple (100x) of the tolerance, stated next to the item as its own
literal, never derived from the tolerance the comparison uses.  So a correct comparison must
reject it (the real deviation is below the tolerance, the planted one at least 99 times
above it), while a weakened comparison does not:

* a loosened tolerance (``1e-6 -> 1e-2``) accepts an error of ``1e-4``;
* a comparison of a derived value with itself never looks at the route, so it never sees
  the planted error;
* a loop that skips configurations (``GRID[:4]`` for ``GRID``) never reaches the last
  configuration, where the error is planted.

In each case the planted run passes, the control item fails and the claim is ``refuted``.
Controls are ordinary asserted evidence items, of the same kind as the item they control,
listed right after it; their description starts with ``negative control:``.
"""
from __future__ import annotations

from typing import Any, Callable

from proofs_check.export.prose import tx
from vocabulary import Config
from proofs_check.claims.claim import Evidence

__all__ = ["Recorded", "planted", "negative_control", "config_text"]


class Recorded:
    """A route whose values are computed once per configuration and then replayed.

    Args:
        fn: ``fn(cfg)``, the route's numbers at one configuration.

    ``Recorded(fn)(cfg)`` calls ``fn(cfg)`` the first time and returns the stored value
    afterwards, so that a negative control re-runs a comparison without re-running flows,
    derivations or gradients."""

    def __init__(self, fn: Callable[[Config], Any]):
        self.fn = fn
        self.values: dict = {}

    def __call__(self, cfg: Config):
        try:
            return self.values[cfg]
        except KeyError:
            v = self.values[cfg] = self.fn(cfg)
            return v


def planted(route: Callable[[Config], Any], at: Config, perturb: Callable[[Any], Any]) -> Callable[[Config], Any]:
    """``route`` with a planted error at one configuration.

    Args:
        route: the real route, ``route(cfg)`` (usually a :class:`Recorded`).
        at: the configuration where the error is planted.
        perturb: maps the real value at ``at`` to the planted one (must not modify it in place).

    Returns:
        ``cfg -> perturb(route(cfg)) if cfg == at else route(cfg)``.
    """
    def route_with_error(cfg: Config):
        v = route(cfg)
        return perturb(v) if cfg == at else v
    return route_with_error


def config_text(cfg: Config) -> str:
    """``d=10, m=40, N=20, sigma2=0.5, lam=4`` (floats in their shortest form)."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in cfg.as_dict().items())


def negative_control(kind: str, item: str, compare: Callable, route: Callable, at: Config,
                     perturb: Callable[[Any], Any], error: str, size: float) -> Evidence:
    """The negative control of one grid comparison: ``compare`` run on ``route`` with a
    planted error at ``at``; it passes only when that run fails.

    Args:
        kind: the evidence kind of the controlled item (``numeric``, ...).
        item: a short name of the controlled item, quoted in the description.
        compare: ``compare(route) -> (passed, details)``, the item's comparison.
        route: the real route (replayed values, see :class:`Recorded`).
        at: the last configuration of the item's declared grid.
        perturb: maps the real value at ``at`` to the planted one.
        error: what is planted, in words (``"1e-4 added to a"``).
        size: the planted error's size ``E`` (shown in the details).

    Returns:
        An asserted :class:`Evidence` whose ``passed`` is ``not compare(planted route)[0]``;
        its details are the planted error, the configuration and the planted run's details
        (prefixed ``planted_``).
    """
    passed, details = compare(planted(route, at, perturb))
    cfg = at.as_dict()
    return Evidence(kind, tx("negative control: {} rejects a planted error of size {} ({}) at config "
                             "($d={d}$, $m={m}$, $N={N}$, $sigma2={sigma2}$, $lam={lam}$), the last of its grid",
                             item, float(size), error, **cfg),
                    not passed, {"planted_error": size, "planted_run_passed": bool(passed),
                                 **{f"planted_{k}": v for k, v in details.items()}})
