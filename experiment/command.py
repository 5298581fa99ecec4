"""The ``iclft experiment`` subcommand: parsed arguments -> :class:`experiment.protocol.Protocol`
(the preset filling unset options) -> :func:`experiment.run.run_experiment` -> JSON, or a text
or Markdown summary (per method the errors at the first and last shot against the theory's,
the pretraining check and the ladder's attribution).
"""
from __future__ import annotations

import sys

from vocabulary import EXPERIMENT_METHODS

from experiment.presets import PRESETS
from experiment.protocol import Divergence, MissingJax, Protocol, require_jax
from experiment.run import AGREE_RTOL, AGREE_STDS, run_experiment
from proofs_check.storage.json_text import to_json

__all__ = ["render", "protocol_from_args", "experiment_command"]


def _table(hdr, rows, fmt):
    if fmt == "markdown":
        return ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)] + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    return ["  ".join(h.ljust(w) for h, w in zip(hdr, widths))] + \
        ["  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() for r in rows]


def render(result: dict, fmt: str) -> str:
    """Text or Markdown summary: per method the errors at the first and last shot on
    ``theta0`` and ``-theta0`` (mean over runs), the theory's, and the distance; the
    pretraining check; the ladder's attribution and whether the last exact rung predicts the
    experiment."""
    cfg = result["config"]
    runs = cfg.get("seeds", 1) * cfg.get("pretrain_seeds", 1)
    head = (f"experiment: {cfg['form']} form, H={cfg['heads']}, L={cfg['layers']}, d={cfg['d']}, m={cfg['m']}, "
            f"N={cfg['N']}, sigma2={cfg['sigma2']:g}, lam={cfg['lam']:g} ({cfg['lam_schedule']}), "
            f"{cfg['optimizer']}, seed {cfg['seed']}, {runs} run(s); trained in {result['train_seconds']:.1f} s "
            f"(+ {result.get('compile_seconds', 0):.1f} s compiling), ladder {result.get('ladder_seconds', 0):.1f} s")
    pre = result.get("pretraining", {})
    rows = []
    for mth, e in list(result["methods"].items()):
        n0, n1 = e["shots"][0], e["shots"][-1]
        cur, th = e["curves"], e["theory"]["curves"]
        rows.append((mth, e["evaluation"], f"{cur['target'][0]:.4g}", f"{th['target'][0]:.4g}",
                     f"{cur['target'][-1]:.4g}", f"{th['target'][-1]:.4g}",
                     f"{cur['negated'][-1]:.4g}", f"{th['negated'][-1]:.4g}",
                     f"{e['theory']['distance']['max_abs']:.3g}"))
    hdr = ("method", "evaluation", f"target n={n0}", "theory", f"target n={n1}", "theory",
           f"negated n={n1}", "theory", "max |exp - theory|")
    lines = [f"**{head}**", ""] if fmt == "markdown" else [head]
    if pre.get("loss") is not None:
        lines.append(f"pretraining: L_pre = {pre['loss']:.4g} (optimum {pre['optimum']:.4g}, gap {pre['gap']:.3g}): "
                     f"{pre['verdict']}" + ("" if "seeds" not in pre else
                                            f"; per seed: {', '.join(c['verdict'] for c in pre['seeds'])}"))
    lines += _table(hdr, rows, fmt)
    lad = [(m, e) for m, e in result["methods"].items() if "attribution" in e]
    if lad:
        hdr2 = ("method", "start", "optimizer", "data", "noise", f"last rung within {AGREE_STDS:g} std / "
                f"{100 * AGREE_RTOL:g}%", "worst ratio")
        rows2 = [(m, *(f"{e['attribution'].get(c, float('nan')):.3g}" for c in ("start", "optimizer", "data", "noise")),
                  f"{'yes' if e['agreement']['within'] else 'no'} ({e['agreement']['rung']})",
                  f"{e['agreement']['worst_ratio']:.3g}") for m, e in lad]
        lines += ["", "ladder: largest |difference| between consecutive rungs (idealised -> from_start -> "
                  "same_optimizer -> same_data -> experiment)" if fmt != "markdown" else ""]
        lines += _table(hdr2, rows2, fmt)
    if result.get("files"):
        lines.append(f"wrote {len(result['files'])} files; figure: "
                     f"{[f for f in result['files'] if f.endswith('linear_tf_thetas_qkv.png')][0]}")
    return "\n".join(lines)

def protocol_from_args(args) -> tuple[Protocol, tuple, int]:
    """Build the :class:`Protocol` from parsed arguments, the preset (``--preset``, or
    ``--quick``) filling the options left unset.  Returns ``(proto, shots, mc_samples)``."""
    name = getattr(args, "preset", None)
    if args.quick and name not in (None, "quick"):
        raise ValueError(f"--quick and --preset {name} contradict each other")
    preset = PRESETS["quick" if args.quick else (name or "default")]
    val = {k: (getattr(args, k) if getattr(args, k, None) is not None else v) for k, v in preset.items()}
    methods = EXPERIMENT_METHODS
    if args.methods is not None:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    fields = {k: v for k, v in val.items() if k not in ("shots", "mc_samples")}
    proto = Protocol(methods=methods, **fields).check()
    return proto, tuple(val["shots"]), int(val["mc_samples"])


def experiment_command(args):
    """``(text, status)`` for the CLI; a divergence is exit 1 with one line.

    Raises:
        ValueError: bad arguments, or JAX and optax are not installed (the CLI prints one
            line and exits 2).
    """
    proto, shots, mc = protocol_from_args(args)
    try:
        require_jax()
    except MissingJax:
        raise ValueError("install iclft[experiment] (JAX and optax) to run experiments") from None
    progress = args.format != "json" and not args.quiet
    try:
        result = run_experiment(proto, args.out, shots=shots, mc_samples=mc, progress=progress,
                                seeds=getattr(args, "seeds", None) or 1,
                                pretrain_seeds=getattr(args, "pretrain_seeds", None) or 1,
                                ladder=not getattr(args, "no_ladder", False))
    except Divergence as exc:
        print(f"iclft: error: {exc}", file=sys.stderr)
        return "", 1
    if args.format == "json":
        return to_json(result), 0
    return render(result, args.format), 0
