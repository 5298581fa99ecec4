"""Values of ``iclft``'s options: the argparse ``type=`` parsers (each refuses a bad value with
one line naming the option), the configuration and the output path they describe.

Conventions: see :mod:`proofs_check` (stated once there).
"""
from __future__ import annotations

import argparse
import math

from proofs_check.cli import cost
from proofs_check.storage.atomic import prepare_output
from vocabulary import Config

__all__ = ["int_at_least", "int_in", "float_at_least", "flow_d", "shot_range", "pretrained_scale", "claim_ids",
           "config_from", "check_output"]


def int_at_least(lo, name):
    """A parser of an integer in ``[lo, 100000]`` named ``name`` in its messages."""
    def parse(text):
        try:
            val = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if val < lo:
            raise argparse.ArgumentTypeError(f"{name} must be >= {lo}, got {val}")
        if val > 100_000:
            raise argparse.ArgumentTypeError(f"{name} must be <= 100000, got {val}")
        return val
    return parse


def flow_d(text):
    """``--d`` of a flow command: an integer in ``[1, MAX_FLOW_D]`` (:mod:`proofs_check.cli.cost`:
    a flow's CPU time grows like ``d^3``), refused while parsing, before any other check."""
    val = int_at_least(1, "d")(text)
    if val > cost.MAX_FLOW_D:
        raise argparse.ArgumentTypeError(
            f"a flow at d = {val} would take about {cost.flow_seconds(val) / 60:.0f} min of CPU (it grows like "
            f"d^3); the limit is d <= {cost.MAX_FLOW_D}")
    return val


def int_in(lo, hi, name):
    """A parser of an integer in ``[lo, hi]``."""
    def parse(text):
        val = int_at_least(lo, name)(text)
        if val > hi:
            raise argparse.ArgumentTypeError(f"{name} must be <= {hi}, got {val}")
        return val
    return parse


def float_at_least(lo, name, hi=1e6):
    """A parser of a finite number in ``[lo, hi]``."""
    def parse(text):
        try:
            val = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not math.isfinite(val):
            raise argparse.ArgumentTypeError(f"{name} must be finite, got {text!r}")
        if val < lo or val > hi:
            raise argparse.ArgumentTypeError(f"{name} must be in [{lo}, {hi:g}], got {text!r}")
        return val
    return parse


def shot_range(text):
    """``--shots A:B``: ``(A, B)`` with ``0 <= A <= B <= 100000``."""
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"shots must look like A:B, got {text!r}")
    try:
        a, b = (int(p, 10) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"shots must be two integers A:B, got {text!r}") from None
    if a < 0 or b < a:
        raise argparse.ArgumentTypeError(f"shots must satisfy 0 <= A <= B, got {text!r}")
    if b > 100_000:
        raise argparse.ArgumentTypeError(f"shots must have B <= 100000, got {text!r}")
    return a, b


def pretrained_scale(text):
    """``--pretrained-scale``: a finite number > 0 or ``balanced``."""
    if text == "balanced":
        return text
    try:
        val = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"pretrained-scale must be a number > 0 or 'balanced', got {text!r}") from None
    if not math.isfinite(val) or val <= 0 or val > 1e6:
        raise argparse.ArgumentTypeError(f"pretrained-scale must be a finite number in (0, 1e6] or 'balanced', "
                                         f"got {text!r}")
    return val


def claim_ids(text: str) -> list[str]:
    """``--only`` value: comma-separated claim ids (empty items refused)."""
    ids = [t.strip() for t in text.split(",")]
    if not all(ids):
        raise argparse.ArgumentTypeError(f"claim ids must be comma-separated and non-empty, got {text!r}")
    return ids


def config_from(args) -> Config:
    """The :class:`vocabulary.Config` of the parsed ``--d --m --N --sigma2 --lam``."""
    return Config(args.d, args.m, args.N, args.sigma2, args.lam)


def check_output(path, kind: str, name: str) -> None:
    """The output path is writable, checked before any work (nothing is created yet); a
    problem is one ``ValueError`` naming the argument, the user's path and what is wrong."""
    prepare_output(path, kind, name=name, create=False)
