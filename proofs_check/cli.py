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


def _config_args(p, with_shots=False, quiet=False):
    if quiet:
        p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.add_argument("--d", type=_int_at_least(1, "d"), default=5,
                   help="feature dimension (default 5). A flow costs a few hundred O(d^3) gradient "
                        "evaluations; measured CPU for curve --method zs-v: d=100 3 s, d=400 18 s, d=800 "
                        "67 s; practical limit about d=800 (d=2000 would take about 20 min)")
    p.add_argument("--m", type=_int_at_least(0, "m"), default=20, help="pretraining shots (default 20)")
    p.add_argument("--N", type=_int_at_least(0, "N"), default=20, help="fine-tuning few-shot N (default 20)")
    p.add_argument("--sigma2", type=_float_at_least(0.0, "sigma2", 1e3), default=0.1,
                   help="label noise variance (default 0.1)")
    p.add_argument("--lam", type=_float_at_least(0.0, "lam", 1e3), default=1.0,
                   help="few-shot weight lambda in ZS + lambda FS (default 1)")
    if with_shots:
        p.add_argument("--shots", type=_shots, default=(0, 40), help="A:B, inclusive (default 0:40)")


def _cache_arg(p):
    p.add_argument("--no-cache", action="store_true",
                   help="derive every expression afresh; neither read nor write the cache of derived "
                        "expressions ($XDG_CACHE_HOME/iclft or ~/.cache/iclft)")


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

    p = sub.add_parser("check", parents=[fmt], help="re-derive and re-check every claim")
    p.add_argument("--only", action="append", default=None, metavar="ID",
                   help="run only this claim id (repeatable)")
    p.add_argument("--jobs", type=_int_at_least(1, "jobs"), default=None, metavar="J",
                   help="worker processes for the claims (default: the available cores); "
                        "output is in registry order and the same for every J")
    _cache_arg(p)

    p = sub.add_parser("curve", parents=[fmt], help="exact n-shot error of a model on a task")
    p.add_argument("--method", required=True, choices=vocabulary.methods_for("merged"))
    p.add_argument("--task", required=True, choices=vocabulary.EVALUATION_TASKS)
    _config_args(p, with_shots=True, quiet=True)

    p = sub.add_parser("finetune", parents=[fmt], help="exact population gradient flow")
    p.add_argument("--objective", required=True, choices=_finetune_objectives())
    p.add_argument("--train", required=True, choices=_subsets())
    p.add_argument("--form", choices=vocabulary.FORMS, default=None,
                   help="merged W or separate W = K^T Q (default: separate for kq/k/q)")
    _config_args(p, quiet=True)

    p = sub.add_parser("derive", parents=[fmt], help="print the derived gradient updates")
    p.add_argument("--objective", required=True, choices=tuple(vocabulary.OBJECTIVES))
    p.add_argument("--train", required=True, choices=_subsets())
    p.add_argument("--form", choices=vocabulary.FORMS, default=None)
    p.add_argument("--latex", action="store_true", help="print LaTeX")
    _cache_arg(p)

    p = sub.add_parser("export-latex", parents=[fmt], help="write a standalone LaTeX document")
    p.add_argument("path", help="output .tex file (written atomically)")
    _cache_arg(p)

    p = sub.add_parser("figures", parents=[fmt], help="make the paper's figures (PNG and PDF)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--sgd", choices=("on", "off"), default="on", help="add SGD markers (default on)")
    _config_args(p)

    _experiment_args(sub.add_parser("experiment", parents=[fmt],
                                    help="the authors' SGD protocol (JAX/optax) with exact evaluation"))
    return parser


def _experiment_args(p):
    """``iclft experiment``: options left unset take the default or the ``--quick`` preset."""
    pos_int, nonneg_int = (lambda n: _int_at_least(1, n)), (lambda n: _int_at_least(0, n))
    p.add_argument("--form", choices=("separate", "merged"), default=None, help="default separate (V, K, Q)")
    p.add_argument("--methods", default=None, metavar="LIST",
                   help="comma list (default: zs-all,zsfs-all,zs-q,zsfs-q,zs-k,zsfs-k,zs-v,zsfs-v)")
    p.add_argument("--d", type=pos_int("d"), default=None, help="feature dimension (default 5; quick 3)")
    p.add_argument("--m", type=nonneg_int("m"), default=None, help="pretraining shots (default 20)")
    p.add_argument("--N", type=nonneg_int("N"), default=None, help="fine-tuning shots (default 20)")
    p.add_argument("--sigma2", type=_float_at_least(0.0, "sigma2", 1e3), default=None, help="noise (default 0.1)")
    p.add_argument("--lam", type=_float_at_least(0.0, "lam", 1e3), default=None, help="FS weight (default 1)")
    p.add_argument("--heads", type=pos_int("heads"), default=None, help="heads H (default 1)")
    p.add_argument("--layers", type=pos_int("layers"), default=None, help="layers L (default 1)")
    p.add_argument("--pretrain-steps", type=nonneg_int("pretrain-steps"), default=None)
    p.add_argument("--finetune-steps", type=pos_int("finetune-steps"), default=None)
    p.add_argument("--batch", type=pos_int("batch"), default=None)
    p.add_argument("--lr-pretrain", type=_float_at_least(1e-300, "lr-pretrain", 1e3), default=None)
    p.add_argument("--lr-finetune", type=_float_at_least(1e-300, "lr-finetune", 1e3), default=None)
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None, help="default sgd (momentum 0.9)")
    p.add_argument("--momentum", type=_float_at_least(0.0, "momentum", 0.999), default=None)
    p.add_argument("--clip", type=_float_at_least(1e-300, "clip", 1e300), default=None, help="global-norm clip (default 1)")
    p.add_argument("--lam-schedule", choices=("constant", "linear-decay"), default=None,
                   help="FS weight schedule (default linear-decay)")
    p.add_argument("--dataset-size", type=nonneg_int("dataset-size"), default=None,
                   help="fine-tuning pairs (0: fresh samples; default 1000)")
    p.add_argument("--init-std", type=_float_at_least(1e-300, "init-std", 1e3), default=None)
    p.add_argument("--seed", type=nonneg_int("seed"), default=None)
    p.add_argument("--shots", type=_shots, default=None, help="evaluated shots A:B (default 0:20)")
    p.add_argument("--mc-samples", type=_int_at_least(2, "mc-samples"), default=None,
                   help="Monte Carlo prompts per point when layers > 1 (default 20000)")
    p.add_argument("--quick", action="store_true", help="small preset (d=3, few steps; well under a minute)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="output folder (created; checked writable before training)")


def main(argv=None) -> int:
    from . import commands  # imported late: argument errors report fast

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command in ("finetune", "derive") and args.form is None:
            args.form = "separate" if args.train in _separate_only() else "merged"
        train = getattr(args, "train", None)  # subcommands without --train (experiment) skip these
        if train is not None and getattr(args, "form", None) == "merged" and train in _separate_only():
            raise UsageError(f"--train {args.train} needs --form separate (W = K^T Q)")
        if train is not None and getattr(args, "form", None) == "separate" and train not in vocabulary.TRAIN["separate"]:
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
        if text:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        return 0
    return code
