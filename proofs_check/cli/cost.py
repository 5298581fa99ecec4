"""What a command will cost, known from its arguments before any work starts.

Conventions: see :mod:`proofs_check` (stated once there).

Two costs bound a command that runs a flow (``curve``, ``finetune``, ``figures``):

* **the flow**: a flow evaluates the closed-form gradient ``O(D^3)`` (``D = d + 2``) about a
  hundred times beyond its polynomial right-hand side (fitting it, checking the end point,
  sampling the trajectory), so its time grows like ``d^3``, scaled from the CPU time of one
  flow command at ``d = 400`` (README, "Large d").  Above :data:`MAX_FLOW_D` the ``--d``
  parser of a flow command refuses it; above :data:`WARN_FLOW_D` it warns first;
* **the classification** of an end point: the exact ``P x P`` Hessian over the ``P``
  trained parameters (:data:`numerics.stability.MAX_CLASSIFIED_PARAMETERS`).  The generic
  start escapes saddles found by that Hessian, so it is refused above the limit; the
  symmetric start returns its end point ``unclassified`` there.

:func:`refusal` and :func:`warning` decide from the arguments alone (no flow, no NumPy
work), so a refused command exits at once.
"""
from __future__ import annotations

import vocabulary

__all__ = ["trained_parameters", "refusal", "warning", "MAX_FLOW_D", "WARN_FLOW_D",
           "flow_seconds"]

#: the largest ``d`` a flow command accepts (``flow_seconds(800)`` of CPU)
MAX_FLOW_D = 800
#: above this ``d`` a flow command warns first
WARN_FLOW_D = 400
#: the cost model's scale: CPU seconds of one flow command at ``d = 400`` (README, "Large d":
#: ``curve --method zs-v --start symmetric --task target``)
_SECONDS_AT_400 = 8.4


def _max_classified() -> int:
    from numerics.stability import MAX_CLASSIFIED_PARAMETERS  # deferred: NumPy after main() sets BLAS threads

    return MAX_CLASSIFIED_PARAMETERS


def trained_parameters(form: str, train: str, d: int) -> int:
    """``P``: the number of trained matrix entries, ``(d + 2)^2`` per trained matrix of
    subset ``train`` in ``form`` (:func:`vocabulary.trained_matrices`)."""
    return len(vocabulary.trained_matrices(form, train)) * (d + 2) ** 2


def flow_seconds(d: int) -> float:
    """The estimated CPU seconds of one flow command at ``d``: ``_SECONDS_AT_400 (d / 400)^3``
    (module docstring; an estimate for the messages, never used to decide a result)."""
    return _SECONDS_AT_400 * (d / 400.0) ** 3


def _subset(args) -> str | None:
    """The trained subset of a ``curve`` (from ``--method``) or ``finetune`` (``--train``)."""
    if getattr(args, "train", None) is not None:
        return args.train
    method = getattr(args, "method", None)
    if method is None or vocabulary.METHODS[method].objective is None:
        return None
    return vocabulary.METHODS[method].train_for(args.form)


def refusal(args) -> str | None:
    """The reason a command must not start, or ``None``: the generic start with more trained
    parameters than the Hessian limit (the message names the limit and the option).  ``--d``
    above :data:`MAX_FLOW_D` is refused earlier, by the ``--d`` parser of the flow commands
    (``proofs_check.cli.main``)."""
    if args.command not in ("curve", "finetune"):
        return None
    d, subset = args.d, _subset(args)
    if subset is not None and getattr(args, "start", None) == "generic":  # None: pretrained
        P, limit = trained_parameters(args.form, subset, d), _max_classified()
        if P > limit:
            return (f"argument --d: --start generic escapes saddles with the exact Hessian over the "
                    f"P = {P} trained parameters at d = {d}, above the limit {limit}; use a smaller "
                    f"--d or --start symmetric (returned unclassified)")
    return None


def warning(args) -> str | None:
    """A one-line warning before a long flow (``--d`` above :data:`WARN_FLOW_D`), or ``None``."""
    if args.command not in ("curve", "finetune", "figures") or args.d <= WARN_FLOW_D:
        return None
    if args.command == "curve" and _subset(args) is None:
        return None
    return (f"warning: a flow at d = {args.d} takes about {flow_seconds(args.d):.0f} s of CPU "
            f"(it grows like d^3)")
