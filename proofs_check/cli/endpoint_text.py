"""How ``curve`` and ``finetune`` word a flow end point: coordinate names in the vocabulary's
spelling, values rounded to their measured accuracy, the flow's stop and the accuracy clause.

Conventions: see :mod:`proofs_check` (stated once there).
"""
from __future__ import annotations

import vocabulary
from proofs_check.methods.accuracy import fmt_value, unmeasured_reason

__all__ = ["FLOW_TOL", "vocab_name", "renamed", "fmt_tol", "stop_text", "accuracy_clause"]

#: basis suffixes of numerics' invariant-algebra slot names
#: (``numerics.manifold.ALGEBRA_NAMES``) and of the vocabulary -> the basis names of
#: ``vocabulary.BASIS``
_SLOT_NAMES = {"00": "0", "par": "tt", "xy": "ty", "yx": "yt", "yy": "yy", "perp": "perp",
               "0": "0", "tt": "tt", "ty": "ty", "yt": "yt", "p": "perp"}

#: the finest rounding of printed flow end-point values (:data:`proofs_check.methods.accuracy.PRINT_FLOOR`);
#: the accuracy printed with them is measured (:mod:`proofs_check.methods.accuracy`)
FLOW_TOL = 1e-7


def vocab_name(key: str) -> str:
    """A coordinate or invariant name with its basis suffix in the vocabulary's spelling
    (``K_par -> K_tt``, ``K_00 -> K_0``, ``KKt_minus_QQt_yx -> KKt_minus_QQt_yt``)."""
    head, sep, tail = key.rpartition("_")
    if sep and tail in _SLOT_NAMES and head:
        return f"{head}_{_SLOT_NAMES[tail]}"
    return key


def _basis_order(name: str) -> int:
    tail = name.rpartition("_")[2]
    return vocabulary.BASIS_NAMES.index(tail) if tail in vocabulary.BASIS_NAMES else -1


def renamed(coords: dict | None) -> dict | None:
    """``coords`` with vocabulary names, ``a b`` first, then ``K_*`` and ``Q_*`` in basis order."""
    if coords is None:
        return None
    items = [(vocab_name(k), v) for k, v in coords.items()]
    return dict(sorted(items, key=lambda kv: (kv[0][:2] if "_" in kv[0] else "", _basis_order(kv[0]))))


def fmt_tol(x: float, tol: float = FLOW_TOL) -> str:
    """``x`` rounded to the accuracy ``tol`` (at least :data:`FLOW_TOL`) without trailing
    zeros (``2.38e-11 -> 0``, ``0.53984389612 -> 0.539844`` at ``tol = 1e-6``):
    :func:`proofs_check.methods.accuracy.fmt_value`."""
    return fmt_value(x, tol)


def stop_text(stop: str, detail: str, nfev: int, max_nfev: int, t_final: float, t_max: float) -> str:
    """The one wording of a flow's stop, for every command: the reason (one of
    :data:`numerics.flow.STOP_REASONS`: ``converged``, ``t cap``, ``evaluation cap``,
    ``integration failed``), then the evaluations and the flow time against their caps, then
    the flow's own detail."""
    return (f"{stop} ({nfev} of at most {max_nfev} evaluations, t = {t_final:.6g} of at most {t_max:g}"
            + (f"; {detail}" if detail else "") + ")")


def accuracy_clause(converged: bool, measured, acc_text: str, problem=None) -> str:
    """What a command says about the accuracy of a flow end point: nothing claimed when the
    flow did not converge or the accuracy could not be measured; otherwise the measured
    accuracy ``acc_text`` and how it was measured (:mod:`proofs_check.methods.accuracy`)."""
    if not converged:
        return "no accuracy claimed (NOT converged: the values are those of a finite-time point)"
    if measured is None:
        return f"no accuracy claimed ({unmeasured_reason(problem)})"
    return f"{acc_text} (measured: {measured.describe()})"
