"""``iclft figures``: the paper's figures, PNG and PDF
(:func:`proofs_check.export.figures.figures_command`).

Conventions: see :mod:`proofs_check` (stated once there).
"""
from __future__ import annotations

import sys

from proofs_check.cli.arguments import check_output, config_from
from proofs_check.export.figures import figures_command

__all__ = ["run"]


def run(args):
    """``(text, exit status)`` of ``iclft figures``; the output folder is checked first."""
    cfg = config_from(args)
    check_output(args.out, "dir", "argument --out")
    return figures_command(args.out, cfg, sgd=args.sgd == "on", fmt=args.format,
                           progress=sys.stderr.isatty())
