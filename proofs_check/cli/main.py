"""The ``iclft`` command line (also ``python -m proofs_check``).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.

Every subcommand takes ``--format text|json|markdown``.  Bad arguments exit with status
2 and one line on stderr; Ctrl-C exits with status 130 and leaves no partial file.
``iclft`` with no arguments prints the usage and the list of subcommands on stdout and
exits 0; ``iclft --version`` prints the installed package version.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
from importlib import metadata

import vocabulary
from proofs_check.claims.claim import SelfTestFailure
from proofs_check.cli import cost, experiment
from proofs_check.cli.arguments import (claim_ids, float_at_least, flow_d, int_at_least, pretrained_scale,
                                        shot_range)

_vocab = vocabulary

__all__ = ["main", "build_parser", "check_claim_ids", "run_command", "single_threaded_blas", "UsageError", "PROG",
           "BLAS_THREAD_VARS", "COMMAND_MODULES"]

PROG = "iclft"


class UsageError(Exception):
    """A bad command-line argument: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # argparse would print the usage block and exit
        raise UsageError(message)


def _version() -> str:
    """The installed package version (package metadata), or ``unknown`` when not installed."""
    try:
        return metadata.version("iclft")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _choices_help(intro: str, meanings: dict, default=None) -> str:
    """Help text listing every choice with its meaning (generated from ``vocabulary``)."""
    body = "; ".join(f"{k}: {v}" for k, v in meanings.items())
    tail = f" (default {default})" if default is not None else ""
    return f"{intro}{tail}. {body}".replace("%", "%%")


def _method_meaning(name: str) -> str:
    meth = _vocab.METHODS[name]
    if meth.objective is None:
        return "the pretrained model (no fine-tuning)"
    what = "every matrix" if meth.trains == "all" else f"{meth.trains} only"
    return f"{_vocab.OBJECTIVES[meth.objective].text} fine-tuning of {what}"


#: meaning of each trained-subset key (both forms)
_TRAIN_MEANING = {"all": "every matrix (V, W; or V, K, Q)", "v": "V only", "w": "W only (merged form)",
                  "kq": "K and Q (separate form W = K^T Q)", "k": "K only (separate form)",
                  "q": "Q only (separate form)"}
_FORM_MEANING = {"merged": "one key-query matrix W", "separate": "W = K^T Q, K and Q trained separately"}


def _outcome_args(p, start_default):
    p.add_argument("--start", choices=("symmetric", "generic"), default=start_default,
                   help="symmetric: the flow end point from the exactly symmetric pretrained point; "
                        "generic: the end point after escaping saddles (the stable outcome) "
                        f"(default {start_default})")
    p.add_argument("--pretrained-scale", dest="pretrained_scale", type=pretrained_scale, default=1.0,
                   help="the pretrained member (s V, W/s): a number > 0 or 'balanced' (default 1)")


def _config_args(p, with_shots=False, quiet=False):
    if quiet:
        p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    dflt = vocabulary.DEFAULTS
    p.add_argument("--d", type=flow_d, default=dflt["d"],
                   help=f"feature dimension, 1 to 800 (default {dflt['d']}; the orthogonal task needs d >= 2). An end point is "
                        "classified from the exact Hessian over the trained entries, at most 1200 of them "
                        "(merged, all trained: d <= 22; one matrix: d <= 32; separate, all: d <= 18); above "
                        "that --start symmetric is returned unclassified and --start generic is refused. "
                        "A flow costs about a hundred O(d^3) gradient evaluations (README, Large d); a flow at "
                        "d > 400 warns first, one at d > 800 is refused at once")
    p.add_argument("--m", type=int_at_least(1, "m"), default=dflt["m"],
                   help=f"pretraining shots, >= 1 (default {dflt['m']}; at m = 0 the pretraining loss is flat in c)")
    p.add_argument("--N", type=int_at_least(0, "N"), default=dflt["N"],
                   help=f"shots of the few-shot objective FS = L_N, >= 0 (default {dflt['N']})")
    p.add_argument("--sigma2", type=float_at_least(0.0, "sigma2", 1e3), default=dflt["sigma2"],
                   help=f"label noise variance, in [0, 1000] (default {dflt['sigma2']:g})")
    p.add_argument("--lam", type=float_at_least(0.0, "lam", 1e3), default=dflt["lam"],
                   help=f"few-shot weight lambda in ZS + lambda FS, in [0, 1000] (default {dflt['lam']:g})")
    if with_shots:
        p.add_argument("--shots", type=shot_range, default=dflt["shots"],
                       help="range of shots n, A:B inclusive with 0 <= A <= B (default {}:{})".format(*dflt["shots"]))


_EXAMPLES = {
    "check": ["iclft check", "iclft check --only zs.v.optimum,pretrain.optimum --format markdown"],
    "curve": ["iclft curve --method zs-all --task orthogonal --shots 0:4",
              "iclft curve --method zs-all --form separate --task orthogonal --shots 40:40",
              "iclft curve --method pretrained --task sphere --d 10 --format json"],
    "finetune": ["iclft finetune --objective zs --train all",
                 "iclft finetune --objective zs --train all --form separate --format json  # a saddle",
                 "iclft finetune --objective zsfs --train kq --lam 0.5 --format json"],
    "derive": ["iclft derive --objective zs --train w",
               "iclft derive --objective zsfs --train kq --latex"],
    "export-latex": ["iclft export-latex iclft.tex && pdflatex -halt-on-error iclft.tex",
                     "iclft export-latex --no-claims derivations.tex"],
    "figures": ["iclft figures --out figs", "iclft figures --out figs --sgd off --d 10"],
    "experiment": ["iclft experiment --quick --out exp", "iclft experiment --methods zs-all,zs-v --heads 2 --out exp"],
    "explore": ["iclft explore zsfs.v.tradeoff --statement paper --examples 300 --seed 1",
                "iclft explore zsfs.w.tradeoff --statement derived --examples 50 --format json",
                "iclft explore pretrain.fewshot_vs_zeroshot --examples 200 --format json"],
}

#: what a subcommand's help says before its examples
_NOTES = {
    "check": ("statuses: verified (the paper's statement holds on the claim's whole domain), refined (the\n"
              "paper's statement fails somewhere, the derived condition is exact and verified, a counterexample\n"
              "is shown), refuted (an asserted evidence item failed), error (the check raised).  Only asserted\n"
              "evidence decides a status; reported items are shown as 'info'.\n"
              "exit status: 0 when every claim is verified or refined, 1 otherwise, 2 on bad arguments.\n"),
    "explore": ("hypothesis searches the claim's domain (d <= 12, m, N <= 60, sigma2 in [0, 2], lam in (0, 8])\n"
                "with the example database off and shrinking on; the same seed gives the same answer.\n"
                "A configuration where the claim's quantity does not exist (a flow with no finite limit) is\n"
                "a domain exclusion, reported as such, never a counterexample.  --statement derived only for\n"
                "claims with a derived condition (zs.v.icl_preserved, zsfs.v.tradeoff, zsfs.w.tradeoff).\n"
                "exit status: 0 no counterexample found, 1 counterexample found, 2 bad input.\n"),
}


def _epilog(command: str) -> str:
    return _NOTES.get(command, "") + "examples:\n" + "\n".join(f"  {ex}" for ex in _EXAMPLES[command])


def _add(sub, name, fmt, help_text):
    return sub.add_parser(name, parents=[fmt], help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                          epilog=_epilog(name))


def _cache_arg(p):
    p.add_argument("--no-cache", action="store_true",
                   help="derive every expression afresh; neither read nor write the cache of derived "
                        "expressions ($XDG_CACHE_HOME/iclft or ~/.cache/iclft)")


def _train_form_args(p, trains: dict):
    """``--train`` (a subset key of either form) and ``--form`` (default: the form the subset
    implies), shared by ``finetune`` and ``derive``."""
    p.add_argument("--train", required=True, choices=tuple(trains), metavar="TRAIN",
                   help=_choices_help("the trained matrices", trains))
    p.add_argument("--form", choices=_vocab.FORMS, default=None, metavar="FORM",
                   help=_choices_help("the parametrisation", _FORM_MEANING,
                                      default="separate for kq/k/q, merged otherwise"))


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
    """The ``iclft`` argument parser (every option has help; choices list their meanings)."""
    fmt = _Parser(add_help=False)
    fmt.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                     help="output format: text (for reading), json (stable keys, see README), "
                          "markdown (tables) (default text)")
    parser = _Parser(prog=PROG, description="Verify fine-tuning vs in-context learning claims for "
                     "one-layer linear attention (symbolic + closed-form numerics).",
                     epilog="examples:\n  iclft check\n  iclft curve --method zs-all --task orthogonal --shots 0:4\n"
                            "  iclft COMMAND --help   (options and examples of one subcommand)")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}",
                        help="print the installed iclft version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = _add(sub, "check", fmt, "re-derive and re-check every claim")
    p.add_argument("--only", action="append", default=None, metavar="ID[,ID...]", type=claim_ids,
                   help="run only these claim ids (comma-separated, repeatable); an unknown id "
                        "lists the valid ones")
    p.add_argument("--jobs", type=int_at_least(1, "jobs"), default=None, metavar="J",
                   help="worker processes for the claims (default: the available cores); "
                        "output is in registry order and the same for every J")
    _convention_arg(p, with_all=True)
    _cache_arg(p)

    p = _add(sub, "explore", fmt, "search for a configuration where a claim's statement is false")
    p.add_argument("claim", metavar="CLAIM_ID", help="a claim with a condition, e.g. zsfs.v.tradeoff")
    p.add_argument("--statement", choices=("paper", "derived"), default="paper",
                   help="paper: the paper's wording; derived: the derived condition (default paper)")
    p.add_argument("--examples", type=int_at_least(1, "examples"), default=100,
                   help="at most this many configurations, >= 1 (default 100)")
    p.add_argument("--seed", type=int_at_least(0, "seed"), default=0,
                   help="random seed; the same seed gives the same answer (default 0)")
    _convention_arg(p)

    all_methods = tuple(_vocab.METHODS)
    p = _add(sub, "curve", fmt, "exact n-shot error of a model on a task")
    p.add_argument("--method", required=True, choices=all_methods, metavar="METHOD",
                   help=_choices_help("the model (a fine-tuned model is the end point of the exact gradient "
                                      "flow from the pretrained point; -k and -q methods need --form separate)",
                                      {k: _method_meaning(k) for k in all_methods}))
    p.add_argument("--task", required=True, choices=_vocab.EVALUATION_TASKS, metavar="TASK",
                   help=_choices_help("the evaluation task", {k: t.text for k, t in _vocab.TASKS.items()}))
    p.add_argument("--form", choices=_vocab.FORMS, default="merged", metavar="FORM",
                   help=_choices_help("the parametrisation", _FORM_MEANING, default="merged"))
    _outcome_args(p, "generic")
    _config_args(p, with_shots=True, quiet=True)
    _convention_arg(p)

    objectives = {k: _vocab.OBJECTIVES[k].description for k in _finetune_objectives()}
    trains = {k: _TRAIN_MEANING.get(k, k) for k in _subsets()}
    p = _add(sub, "finetune", fmt, "exact population gradient flow")
    p.add_argument("--objective", required=True, choices=tuple(objectives), metavar="OBJECTIVE",
                   help=_choices_help("the fine-tuning objective", objectives))
    _train_form_args(p, trains)
    _outcome_args(p, "symmetric")
    _config_args(p, quiet=True)
    _convention_arg(p)

    all_objectives = {k: o.description for k, o in _vocab.OBJECTIVES.items()}
    p = _add(sub, "derive", fmt, "print the derived gradient updates")
    p.add_argument("--objective", required=True, choices=tuple(all_objectives), metavar="OBJECTIVE",
                   help=_choices_help("the objective", all_objectives))
    _train_form_args(p, trains)
    p.add_argument("--latex", action="store_true",
                   help="print LaTeX (the printer of export-latex) instead of plain text")
    _convention_arg(p)
    _cache_arg(p)

    p = _add(sub, "export-latex", fmt, "write a standalone LaTeX document")
    p.add_argument("path", help="output .tex file (written atomically; its folder must exist and be writable)")
    p.add_argument("--no-claims", action="store_true",
                   help="derivations only: skip running the claims")
    _convention_arg(p)
    _cache_arg(p)

    p = _add(sub, "figures", fmt, "make the paper's figures (PNG and PDF)")
    p.add_argument("--out", required=True, help="output folder (created if missing; its parent must exist)")
    p.add_argument("--sgd", choices=("on", "off"), default="on",
                   help="on: add SGD markers (finite-step stochastic training) to the curves; off: exact "
                        "flows only (default on)")
    _config_args(p)

    experiment.add_arguments(_add(sub, "experiment", fmt, "the authors' SGD protocol (JAX/optax) with exact evaluation"))
    return parser


def check_claim_ids(requested, known) -> list[str]:
    """The requested claim ids, flattened and de-duplicated in order.

    Args:
        requested: a list of lists of ids (``--only`` values).
        known: the valid ids, in registry order.

    Returns:
        The flat list of requested ids.

    Raises:
        UsageError: an unknown id, with the closest match and the list of valid ids.
    """
    flat: list[str] = []
    for group in requested:
        for i in group:
            if i not in flat:
                flat.append(i)
    known = list(known)
    for i in flat:
        if i not in known:
            close = difflib.get_close_matches(i, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"argument --only: unknown claim id {i!r}{hint}; valid ids: {', '.join(known)}")
    return flat


#: options whose value may start with "-" (argparse would read "-1:3" as an option)
_VALUE_OPTIONS = ("--shots",)


def _join_dash_values(argv: list[str]) -> list[str]:
    """``--shots -1:3`` -> ``--shots=-1:3`` so the value reaches its own validator."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok in _VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def _domain_rules(args) -> None:
    """Rules that involve several arguments, in the parser's one-line format."""
    if args.command in ("finetune", "derive") and args.form is None:
        args.form = "separate" if args.train in _separate_only() else "merged"
    train = getattr(args, "train", None)  # subcommands without --train (experiment) skip these
    if train is not None and getattr(args, "form", None) == "merged" and train in _separate_only():
        raise UsageError(f"argument --train: {args.train} needs --form separate (W = K^T Q)")
    if train is not None and getattr(args, "form", None) == "separate" and train not in vocabulary.TRAIN["separate"]:
        raise UsageError(f"argument --train: {args.train} is the merged form; use kq, k or q with --form separate")
    if args.command == "curve" and args.method not in vocabulary.methods_for(args.form):
        raise UsageError(f"argument --method: {args.method} needs --form separate (it trains K or Q alone)")
    if args.command == "curve" and args.task == "orthogonal" and args.d < 2:
        raise UsageError(f"argument --d: the orthogonal task needs d >= 2, got {args.d}")
    if args.command == "curve" and args.shots[1] - args.shots[0] > 10_000:
        raise UsageError(f"argument --shots: at most 10001 values per call, got {args.shots[0]}:{args.shots[1]}")
    if args.command == "check" and args.only:
        from proofs_check.claims import registry  # deferred: the claims load SymPy; only check --only needs them

        args.only = check_claim_ids(args.only, [c.id for c in registry()])


def _cost_rules(args) -> None:
    """Refuse at once what would take too long, or warn before a long run
    (:mod:`proofs_check.cli.cost`: decided from the arguments, before any flow starts)."""
    reason = cost.refusal(args)
    if reason:
        raise UsageError(reason)
    note = cost.warning(args)
    if note and not getattr(args, "quiet", False) and getattr(args, "format", "text") != "json":
        print(f"{PROG}: {note}", file=sys.stderr)


#: the thread-count variables of the BLAS libraries NumPy may load (OpenBLAS, OpenMP, MKL,
#: Apple Accelerate); :func:`single_threaded_blas` sets them all to 1 unless the user set one
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def single_threaded_blas() -> None:
    """One BLAS thread per process, for every command, unless the user chose a thread count:
    when any variable of :data:`BLAS_THREAD_VARS` is already in the environment, none is
    touched (``OPENBLAS_NUM_THREADS=4 iclft curve ...`` runs with four threads).

    The matrices here are ``(d+2) x (d+2)`` with small ``d``; extra BLAS threads only spin
    and cost CPU time (README).  Called once, at the entry point :func:`main`, before NumPy
    is imported (the variables are read when the BLAS library loads; later changes have no
    effect)."""
    if "numpy" in sys.modules:  # pragma: no cover - main() is the first thing the entry point runs
        return
    if any(var in os.environ for var in BLAS_THREAD_VARS):
        return
    for var in BLAS_THREAD_VARS:
        os.environ[var] = "1"


def _convention_arg(p, with_all: bool = False) -> None:
    names = tuple(_vocab.CONVENTIONS) + (("all",) if with_all else ())
    meaning = {k: c.description for k, c in _vocab.CONVENTIONS.items()}
    if with_all:
        meaning["all"] = "every convention: a claims x conventions matrix"
    p.add_argument("--convention", choices=names, default="default", metavar="NAME",
                   help=_choices_help("the modelling convention (vocabulary.CONVENTIONS)", meaning,
                                      default="default"))


#: subcommand -> the module of ``proofs_check.cli`` whose ``run(args)`` returns ``(text, exit status)``
COMMAND_MODULES = {"check": "check", "explore": "explore", "curve": "curve", "finetune": "finetune",
                   "derive": "derive", "export-latex": "export_latex", "figures": "figures",
                   "experiment": "experiment"}


def run_command(args):
    """``(text, exit status)`` of the parsed subcommand."""
    name = f"proofs_check.cli.{COMMAND_MODULES[args.command]}"
    module = importlib.import_module(name)  # deferred: SymPy, SciPy, matplotlib load only for the subcommand run
    return module.run(args)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    single_threaded_blas()
    parser = build_parser()
    if not argv:  # no subcommand: the usage and the list of subcommands, exit 0
        sys.stdout.write(parser.format_help())
        return 0
    try:
        args = parser.parse_args(_join_dash_values(argv))
        if args.command is None:
            raise UsageError("a subcommand is required (run iclft with no arguments for the list)")
        _domain_rules(args)
        _cost_rules(args)
        text, code = run_command(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SelfTestFailure as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
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
