"""The ``iclft`` command line (also ``python -m proofs_check``).

Conventions are those of THEORY.md: token ``z = (1, x, y)``, the attention average
normalised by the token count ``n+1``, ``W`` the merged key-query matrix acting on the
query (``M = W^T`` in row-token code), ``W = K^T Q`` in the separate form.

Every subcommand takes ``--format text|json|markdown``.  Bad arguments exit with status
2 and one line on stderr; Ctrl-C exits with status 130 and leaves no partial file.
"""
from __future__ import annotations

import argparse
import math
import sys

import vocabulary

__all__ = ["main", "build_parser"]

PROG = "iclft"


class UsageError(Exception):
    """A bad command-line argument: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print the usage block and exit
        raise UsageError(message)


def _int_at_least(lo, name):
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


def _float_at_least(lo, name, hi=1e6):
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


def _shots(text):
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


def _config_args(p, with_shots=False):
    p.add_argument("--d", type=_int_at_least(1, "d"), default=5, help="feature dimension (default 5)")
    p.add_argument("--m", type=_int_at_least(0, "m"), default=20, help="pretraining shots (default 20)")
    p.add_argument("--N", type=_int_at_least(0, "N"), default=20, help="fine-tuning few-shot N (default 20)")
    p.add_argument("--sigma2", type=_float_at_least(0.0, "sigma2", 1e3), default=0.1,
                   help="label noise variance (default 0.1)")
    p.add_argument("--lam", type=_float_at_least(0.0, "lam", 1e3), default=1.0,
                   help="few-shot weight lambda in ZS + lambda FS (default 1)")
    if with_shots:
        p.add_argument("--shots", type=_shots, default=(0, 40), help="A:B, inclusive (default 0:40)")


def _finetune_objectives() -> tuple:
    """The objectives a flow may use: ``vocabulary.OBJECTIVES`` without ``pretrain``."""
    return tuple(k for k in vocabulary.OBJECTIVES if k != "pretrain")


def _subsets() -> tuple:
    """Every trained-subset key of ``vocabulary.TRAIN`` (both forms), merged first."""
    out = []
    for subsets in vocabulary.TRAIN.values():
        out += [k for k in subsets if k not in out]
    return tuple(out)


def _separate_only() -> tuple:
    return tuple(k for k in vocabulary.TRAIN["separate"] if k not in vocabulary.TRAIN["merged"])


def build_parser() -> argparse.ArgumentParser:
    fmt = _Parser(add_help=False)
    fmt.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                     help="output format (default text)")
    parser = _Parser(prog=PROG, description="Verify fine-tuning vs in-context learning claims for "
                     "one-layer linear attention (symbolic + closed-form numerics).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "check", parents=[fmt], help="re-derive and re-check every claim",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="statuses: verified (the paper's statement holds on the claim's whole domain), refined (the paper's\n"
               "statement fails somewhere, the derived condition is exact and verified, a counterexample is\n"
               "shown), refuted (an asserted evidence item failed), error (the check raised).  Only asserted\n"
               "evidence decides a status; reported items are shown as 'info'.\n"
               "exit status: 0 when every claim is verified or refined, 1 otherwise, 2 on bad arguments.")
    p.add_argument("--only", action="append", default=None, metavar="ID",
                   help="run only this claim id (repeatable)")

    p = sub.add_parser(
        "explore", parents=[fmt], help="search for a configuration where a claim's statement is false",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="hypothesis searches the claim's domain (d <= 12, m, N <= 60, sigma2 in [0, 2], lam in (0, 8]) with\n"
               "the example database off and shrinking on; the same seed gives the same answer.\n"
               "exit status: 0 no counterexample found, 1 counterexample found, 2 bad input.")
    p.add_argument("claim", metavar="CLAIM_ID", help="a claim with a condition, e.g. zsfs.v.tradeoff")
    p.add_argument("--statement", choices=("paper", "derived"), default="paper",
                   help="the paper's wording or the derived condition (default paper)")
    p.add_argument("--examples", type=_int_at_least(1, "examples"), default=100,
                   help="at most this many configurations (default 100)")
    p.add_argument("--seed", type=_int_at_least(0, "seed"), default=0, help="random seed (default 0)")

    p = sub.add_parser("curve", parents=[fmt], help="exact n-shot error of a model on a task")
    p.add_argument("--method", required=True, choices=vocabulary.methods_for("merged"))
    p.add_argument("--task", required=True, choices=vocabulary.EVALUATION_TASKS)
    _config_args(p, with_shots=True)

    p = sub.add_parser("finetune", parents=[fmt], help="exact population gradient flow")
    p.add_argument("--objective", required=True, choices=_finetune_objectives())
    p.add_argument("--train", required=True, choices=_subsets())
    p.add_argument("--form", choices=vocabulary.FORMS, default=None,
                   help="merged W or separate W = K^T Q (default: separate for kq/k/q)")
    _config_args(p)

    p = sub.add_parser("derive", parents=[fmt], help="print the derived gradient updates")
    p.add_argument("--objective", required=True, choices=tuple(vocabulary.OBJECTIVES))
    p.add_argument("--train", required=True, choices=_subsets())
    p.add_argument("--form", choices=vocabulary.FORMS, default=None)
    p.add_argument("--latex", action="store_true", help="print LaTeX")

    p = sub.add_parser("export-latex", parents=[fmt], help="write a standalone LaTeX document")
    p.add_argument("path", help="output .tex file (written atomically)")

    p = sub.add_parser("figures", parents=[fmt], help="make the paper's figures (PNG and PDF)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--sgd", choices=("on", "off"), default="on", help="add SGD markers (default on)")
    _config_args(p)
    return parser


def main(argv=None) -> int:
    from . import commands  # imported late: argument errors report fast

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command in ("finetune", "derive") and args.form is None:
            args.form = "separate" if args.train in _separate_only() else "merged"
        if getattr(args, "form", None) == "merged" and args.train in _separate_only():
            raise UsageError(f"--train {args.train} needs --form separate (W = K^T Q)")
        if getattr(args, "form", None) == "separate" and args.train not in vocabulary.TRAIN["separate"]:
            raise UsageError(f"--train {args.train} is the merged form; use kq, k or q with --form separate")
        text, code = commands.run(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"{PROG}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, never a traceback
        msg = " ".join(str(exc).split())[:300]
        print(f"{PROG}: internal error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 1
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return 0
    return code
