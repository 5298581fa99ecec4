"""The accuracy that ``curve`` and ``finetune`` print: measured at the flow end point.

Conventions: see :mod:`proofs_check` (stated once there).

A printed quantity ``f`` of a flow end point ``x`` (a model coordinate, a test error
``L_n``, a loss) is good to ``SAFETY |f(x) - f(x*)|``, where ``x*`` is the Newton-polished
end point of :func:`numerics.accuracy.polish` (the stationary point the flow is heading
to, up to the first-order difference between Newton's path and the flow's; SAFETY = 2
covers it), and never better than the drift of the flow's conserved quantities (an
integrator that moved them moved the end point along the symmetry orbit by as much).
Values are printed rounded to that accuracy, and never to more than :data:`PRINT_FLOOR`.

Nothing is claimed for a flow that did not converge (a finite-time point), nor for an end
point whose Hessian is not assembled (more than
:data:`numerics.stability.MAX_CLASSIFIED_PARAMETERS` trained parameters): :func:`measure`
returns ``None`` and the commands say why.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from numerics.accuracy import SAFETY, polish
from numerics.conservation import conserved_names, scalar_invariants
from numerics.stability import MAX_CLASSIFIED_PARAMETERS

__all__ = ["Measured", "measure", "measure_outcome", "conserved_drift", "unmeasured_reason", "PRINT_FLOOR",
           "fmt_value"]

#: values are printed to at most 7 decimals, whatever the measured accuracy
PRINT_FLOOR = 1e-7


@dataclass
class Measured:
    """An end point ``x`` with its Newton polish (:class:`numerics.accuracy.Polish`) and the
    drift of its conserved quantities (``drift``, 0 when none)."""

    x: np.ndarray
    polish: object
    drift: float = 0.0

    def accuracy(self, fn) -> float:
        """``SAFETY max_i |fn(x)_i - fn(x*)_i|``, at least ``drift``: the accuracy of the
        quantities ``fn(x)`` (a sequence of floats, or a dict of them)."""
        a, b = fn(self.x), fn(self.polish.x)
        if isinstance(a, dict):
            a, b = list(a.values()), [b[k] for k in a]
        diff = float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))) if len(a) else 0.0
        return max(SAFETY * diff, self.drift)

    def describe(self) -> str:
        """One clause: how far the end point is from the polished point, and whether it lies
        in a degenerate valley."""
        p = self.polish
        where = (f"in a degenerate valley ({p.flat} flat direction(s) beyond the symmetries): distance "
                 f"{p.distance:.2g} to the valley" if p.degenerate
                 else f"distance {p.distance:.2g} to the stationary point")
        how = f"Newton-polished in {p.iterations} step(s) to |grad| = {p.grad_end:.1e}"
        drift = f"; conserved quantities drifted by {self.drift:.2g}" if self.drift > 0 else ""
        return f"end point {where} ({how}){drift}"

    def summary(self) -> dict:
        """JSON-ready fields of the measurement."""
        p = self.polish
        return {"distance": p.distance, "degenerate": p.degenerate, "flat_directions": p.flat,
                "newton_steps": p.iterations, "grad_norm_polished": p.grad_end, "drift": self.drift}


def measure(problem, x, *, converged: bool, drift: float = 0.0) -> Measured | None:
    """The measured accuracy of the end point ``x`` of ``problem`` (a
    :class:`numerics.problem.Problem`), or ``None`` when nothing may be claimed (the flow did
    not converge, the Hessian is over the size limit, or the polish did not converge).

    Args:
        problem: the problem whose flow ended at ``x``.
        x: the flat end point.
        converged: the flow reached its gradient tolerance.
        drift: the largest change of a conserved quantity along the flow.

    Returns:
        A :class:`Measured` or ``None``.
    """
    if not converged or problem.size > MAX_CLASSIFIED_PARAMETERS:
        return None
    p = polish(problem, x)
    if not p.polished:
        return None
    return Measured(np.asarray(x, dtype=float), p, float(drift))


def conserved_drift(problem, x0, x) -> float:
    """The largest change of a quantity the flow of ``problem`` conserves, from ``x0`` to ``x``
    (:mod:`numerics.conservation`; 0 when the subset conserves none)."""
    a, b = scalar_invariants(problem.matrices(x0)), scalar_invariants(problem.matrices(x))
    names = conserved_names(tuple(a), problem.trained)
    return max((abs(b[k] - a[k]) for k in names), default=0.0)


def measure_outcome(o) -> Measured | None:
    """:func:`measure` at the end point of the :class:`numerics.endpoints.ClassifiedEndpoint` ``o``, with
    the drift of its conserved quantities from the start of its first flow."""
    return measure(o.problem, o.x, converged=o.flow.converged,
                   drift=conserved_drift(o.problem, o.stages[0].flow.samples[0], o.x))


def unmeasured_reason(problem) -> str:
    """Why :func:`measure` returned ``None`` for a converged flow of ``problem``: the Hessian
    is over the size limit, or the Newton polish did not reach a stationary point."""
    if problem.size > MAX_CLASSIFIED_PARAMETERS:
        return (f"not measured: no Newton polish without the exact Hessian, assembled for at most "
                f"{MAX_CLASSIFIED_PARAMETERS} trained parameters ({problem.size} here)")
    return "not measured: the Newton polish did not reach a stationary point near the end point"


def fmt_value(x: float, accuracy: float | None) -> str:
    """``x`` rounded to ``max(accuracy, PRINT_FLOOR)`` without trailing zeros; with
    ``accuracy=None`` (no accuracy claimed) 7 significant digits."""
    if not math.isfinite(x):
        return str(x)
    if accuracy is None:
        return f"{x:.7g}"
    tol = max(accuracy, PRINT_FLOOR)
    digits = max(0, -int(math.floor(math.log10(tol))))
    text = f"{round(x, digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
