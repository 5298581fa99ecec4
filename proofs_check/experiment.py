r"""``iclft experiment``: the authors' protocol (:mod:`proofs_check.protocol`) with exact
evaluation and the theory overlay.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1;
the authors' ``q_matrix`` is ``M = W^T``.

Pipeline
--------
1. pretrain from ``N(0, init_std^2)`` (SGD with momentum or Adam, clipped), then fine-tune a
   copy with each method on a finite dataset for ``theta0`` (``theta0`` uniform on the
   sphere, from the seed);
2. evaluate every model on the tasks ``target`` (``theta0``), ``negated`` (``-theta0``),
   ``orthogonal`` (a unit ``theta_perp``, the first basis vector least aligned with
   ``theta0`` made orthogonal to it) and ``sphere``: *exactly* for one layer
   (:func:`numerics.expected_loss` / :func:`numerics.pretrain_loss` for one head,
   :mod:`numerics.multihead` for ``H`` heads), by Monte Carlo with its standard error for
   more layers (``"evaluation": "monte-carlo"``);
3. next to each method, the theory model (:func:`theory_model`): the end point of the exact
   population gradient flow from the pretrained point for the same objective and trained
   matrices, its exact curves, and the distance between the two curves;
4. write ``DIR/params/<method>.npz`` and ``DIR/params/pretrained.npz``, ``DIR/experiment.json``
   and the figures ``DIR/linear_tf_thetas_qkv.{png,pdf}``, ``DIR/train_losses.{png,pdf}``,
   all atomically and only after every run finished (a diverging run writes nothing).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import numerics
from numerics.multihead import multihead_loss, multihead_pretrain_loss
from vocabulary import EXPERIMENT_METHODS, METHODS, TASKS

from .atomic import atomic_path, write_text_atomic
from .protocol import Protocol

__all__ = ["QUICK", "DEFAULT", "run_experiment", "theory_model", "orthogonal_task",
           "exact_curves", "prepare_out", "experiment_command", "CURVE_TASKS"]

CURVE_TASKS = ("target", "negated", "orthogonal", "sphere")
#: the default preset: the paper's synthetic setting; 8000 SGD pretraining steps reach
#: L_pre within 2% of the exact optimum (0.3507 against 0.3453 at seed 0), 3000 do not (7%)
DEFAULT = dict(d=5, m=20, N=20, sigma2=0.1, lam=1.0, heads=1, layers=1, form="separate",
               pretrain_steps=8000, finetune_steps=1000, batch=256, lr_pretrain=0.02,
               lr_finetune=0.01, optimizer="sgd", momentum=0.9, clip=1.0,
               lam_schedule="linear-decay", dataset_size=1000, init_std=0.05, seed=0,
               shots=(0, 20), mc_samples=20_000)
#: the quick preset: small and fast (well under a minute on two cores)
QUICK = dict(DEFAULT, d=3, m=10, N=10, pretrain_steps=400, finetune_steps=150, batch=128,
             lr_pretrain=0.05, lr_finetune=0.02, dataset_size=200, shots=(0, 20), mc_samples=5_000)


# ----------------------------------------------------------------------------- output folder
def prepare_out(out) -> Path:
    """Create ``out`` (and ``out/params``) if needed and check it is writable, before any
    training, by the shared output rule (:func:`proofs_check.atomic.prepare_output`: the
    folder may be created, its parent must exist).  Raises ``ValueError`` naming the path."""
    from .atomic import prepare_output

    if not isinstance(out, (str, Path)) or str(out) == "":
        raise ValueError(f"out must be a folder path, got {out!r}")
    path = prepare_output(out, kind="dir", name="out")
    prepare_output(path / "params", kind="dir", name="out")
    return path


# ----------------------------------------------------------------------------- evaluation
def orthogonal_task(theta0: np.ndarray) -> np.ndarray | None:
    """A unit vector orthogonal to ``theta0``: the basis vector ``e_i`` with the smallest
    ``|theta0_i|`` (first such ``i``) minus its projection on ``theta0``, normalised;
    ``None`` when ``d = 1``."""
    d = theta0.shape[0]
    if d < 2:
        return None
    i = int(np.argmin(np.abs(theta0)))
    e = np.zeros(d)
    e[i] = 1.0
    u = e - (e @ theta0) * theta0
    return u / np.linalg.norm(u)


def task_vectors(theta0: np.ndarray) -> dict:
    """``{task: vector or None}`` for :data:`CURVE_TASKS` (``sphere`` is ``None``)."""
    return {"target": theta0, "negated": -theta0, "orthogonal": orthogonal_task(theta0), "sphere": None}


def exact_curves(V: np.ndarray, W: np.ndarray, theta0: np.ndarray, shots, sigma2: float) -> dict:
    """Exact ``n``-shot errors of a one-layer model with heads ``V, W`` of shape
    ``(H, D, D)`` on every task of :data:`CURVE_TASKS` (``None`` for ``orthogonal`` at d=1).

    One head: :func:`numerics.expected_loss` and :func:`numerics.pretrain_loss` (the sphere
    average); ``H`` heads: :func:`numerics.multihead.multihead_loss` and
    :func:`numerics.multihead.multihead_pretrain_loss`.
    """
    out = {}
    one = V.shape[0] == 1
    for task, th in task_vectors(theta0).items():
        if task == "orthogonal" and th is None:
            out[task] = None
        elif th is None:
            out[task] = [numerics.pretrain_loss(V[0], W[0], n, sigma2) if one
                         else multihead_pretrain_loss(V, W, n, sigma2) for n in shots]
        else:
            out[task] = [numerics.expected_loss(V[0], W[0], th, n, sigma2) if one
                         else multihead_loss(V, W, th, n, sigma2) for n in shots]
    return out


def _mc_curves(params, theta0, shots, proto: Protocol, samples: int, stream: str):
    from .protocol import monte_carlo_errors, rng_for

    curves, errs = {}, {}
    for task, th in task_vectors(theta0).items():
        if task == "orthogonal" and th is None:
            curves[task] = errs[task] = None
            continue
        rng = rng_for(proto.seed, "evaluation", f"{stream}/{task}")
        curves[task], errs[task] = monte_carlo_errors(params, th, shots, proto, rng, samples)
    return curves, errs


# ----------------------------------------------------------------------------- theory
def _frame(theta0: np.ndarray) -> np.ndarray:
    """``B = diag(1, H, 1)`` with ``H`` the Householder reflection taking ``e_1`` to ``theta0``
    (``H = I`` when ``theta0 = e_1``).  The data law is invariant under ``x -> H x``, so a
    model ``(V, W)`` fine-tuned for ``e_1`` is ``(B V B^T, B W B^T)`` for ``theta0``."""
    d = theta0.shape[0]
    e1 = np.eye(d)[0]
    u = e1 - theta0
    H = np.eye(d) if float(u @ u) < 1e-30 else np.eye(d) - 2.0 * np.outer(u, u) / float(u @ u)
    B = np.eye(d + 2)
    B[1:-1, 1:-1] = H
    return B


def theory_model(method: str, proto: Protocol, theta0: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """The theory's prediction for a method: ``(V, W, info)``.

    The *generic* (stable) end point of the exact population gradient flow of the method's
    objective (``ZS`` or ``ZS + lam FS`` with constant ``lam``) over its trained matrices, in
    the experiment's form, from the exact pretrained point (``K = Q = sqrt(c*) diag(0, I, 0)``
    in the separate form): the symmetric flow end point, classified, and every saddle escaped
    along its most negative eigenvector (:func:`numerics.outcomes.generic_outcome`);
    ``info["start"] = "generic"``.  ``method = "pretrained"`` gives the pretrained point.
    The theory is the one-layer, one-head model whatever ``heads``/``layers`` are.

    Returns:
        ``V, W`` (``D x D``, ``W`` merged) and ``info``: ``start``, ``converged``,
        ``grad_norm``, ``t_final``, ``objective``, ``train``, ``verdict``.
    """
    from numerics.flow import pretrained_point
    from numerics.outcomes import generic_outcome

    if method == "pretrained":
        pt = pretrained_point(proto.d, proto.m, proto.sigma2, form="merged")
        V, W = pt[0], pt[1]
        return np.asarray(V), np.asarray(W), {"start": "symmetric", "converged": True, "grad_norm": 0.0,
                                              "t_final": 0.0, "objective": "pretrain", "train": None}
    meth = METHODS[method]
    train = meth.train_for(proto.form)
    o = generic_outcome(meth.objective, proto.form, train, proto.d, proto.m, proto.N, proto.sigma2, proto.lam)
    B = _frame(np.asarray(theta0, dtype=float))
    V, W = o.merged
    fl = o.flow
    return B @ V @ B.T, B @ W @ B.T, {"start": "generic", "converged": bool(fl.converged),
                                      "grad_norm": float(fl.grad_norm), "t_final": float(fl.t_final),
                                      "objective": meth.objective, "train": train, "message": fl.message,
                                      "verdict": o.stability.verdict}


def curve_distance(a: dict, b: dict) -> dict:
    """Distances between two sets of curves: per task the largest absolute difference
    over the shots, per shot the largest over the tasks, and overall ``max_abs`` and
    ``rms`` (over every task and shot)."""
    per, diffs = {}, []
    for task in CURVE_TASKS:
        if a.get(task) is None or b.get(task) is None:
            continue
        d = np.abs(np.asarray(a[task]) - np.asarray(b[task]))
        per[task] = float(d.max())
        diffs.append(d)
    allv = np.stack(diffs)
    return {"per_task_max_abs": per, "per_shot_max_abs": [float(x) for x in allv.max(axis=0)],
            "max_abs": float(allv.max()), "rms": float(np.sqrt(np.mean(allv ** 2)))}


# ----------------------------------------------------------------------------- run
def _save_params(path: Path, params: dict, proto: Protocol) -> None:
    """``V`` and ``W`` (merged) or ``V, K, Q`` (separate); ``D x D`` for one layer and one
    head, ``(L, H, D, D)`` otherwise."""
    one = proto.layers == 1 and proto.heads == 1
    arrays = {k: (np.asarray(v)[0, 0] if one else np.asarray(v)) for k, v in params.items()}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _finite_list(xs):
    return [float(x) for x in xs]


def run_experiment(proto: Protocol, out, shots=(0, 20), mc_samples: int = 20_000, progress: bool = False,
                   write: bool = True) -> dict:
    """Run the protocol, evaluate, overlay the theory and write the outputs.

    Args:
        proto: the settings (checked here); out: output folder (checked before training).
        shots: ``(A, B)``, the evaluated ``n = A..B``.
        mc_samples: prompts per point for Monte Carlo evaluation (``layers > 1``).
        progress: show a tqdm bar on stderr.
        write: write the files (``False``: only return the result).

    Returns:
        The JSON-ready result ``{"config", "theta0", "methods", "pretrained", "files", ...}``.

    Raises:
        ValueError: bad settings or an unwritable ``out`` (before any training).
        protocol.Divergence: a non-finite training loss (nothing is written).
    """
    from . import protocol as P

    proto.check()
    lo, hi = shots
    if not (0 <= lo <= hi <= 1000):
        raise ValueError(f"shots must satisfy 0 <= A <= B <= 1000, got {lo}:{hi}")
    if isinstance(mc_samples, bool) or not isinstance(mc_samples, int) or mc_samples < 2:
        raise ValueError(f"mc_samples must be an integer >= 2, got {mc_samples!r}")
    outp = prepare_out(out) if write else None
    P.require_jax()
    shot_list = list(range(lo, hi + 1))
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=proto.pretrain_steps + proto.finetune_steps * len(proto.methods),
                   desc="pretraining", unit="step", leave=False, file=sys.stderr)
    try:
        pre_params, pre_losses = P.pretrain(proto, progress=bar)
        theta0 = P.sample_theta0(proto.seed, proto.d)
        data = P.make_dataset(proto.seed, theta0, proto)
        trained = {}
        for mth in proto.methods:
            if bar is not None:
                bar.set_description(mth)
            trained[mth] = P.finetune(pre_params, mth, theta0, data, proto, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    train_seconds = time.perf_counter() - t0

    exact = proto.layers == 1

    def evaluate(params, stream):
        if exact:
            V, W = P.merged_heads(params)
            return exact_curves(V[0], W[0], theta0, shot_list, proto.sigma2), None
        return _mc_curves(params, theta0, shot_list, proto, mc_samples, stream)

    result_methods = {}
    pre_curves, pre_err = evaluate(pre_params, "pretrained")
    Vt, Wt, tinfo = theory_model("pretrained", proto, theta0)
    pre_theory = exact_curves(Vt[None], Wt[None], theta0, shot_list, proto.sigma2)
    pretrained_out = {"shots": shot_list, "curves": pre_curves,
                      "evaluation": "exact" if exact else "monte-carlo",
                      "theory": {"curves": pre_theory, "start": tinfo["start"],
                                 "distance": curve_distance(pre_curves, pre_theory)},
                      "train_loss": _finite_list(pre_losses)}
    if pre_err is not None:
        pretrained_out["stderr"] = pre_err
    for mth in proto.methods:
        params, losses = trained[mth]
        curves, errs = evaluate(params, mth)
        Vt, Wt, tinfo = theory_model(mth, proto, theta0)
        th_curves = exact_curves(Vt[None], Wt[None], theta0, shot_list, proto.sigma2)
        entry = {"shots": shot_list, "curves": curves, "evaluation": "exact" if exact else "monte-carlo",
                 "trains": list(P.trainable_for(mth, proto.form)),
                 "theory": {"curves": th_curves, "start": tinfo["start"], "converged": tinfo["converged"],
                            "grad_norm": tinfo["grad_norm"], "objective": tinfo["objective"],
                            "train": tinfo["train"], "model": "one layer, one head, exact flow, constant lam",
                            "distance": curve_distance(curves, th_curves)},
                 "train_loss": _finite_list(losses)}
        if errs is not None:
            entry["stderr"] = errs
        result_methods[mth] = entry
    config = proto.as_dict()
    config.update(shots=[lo, hi], mc_samples=mc_samples)
    result = {"config": config, "theta0": [float(x) for x in theta0],
              "theta_perp": None if orthogonal_task(theta0) is None else [float(x) for x in orthogonal_task(theta0)],
              "methods": result_methods, "pretrained": pretrained_out,
              "train_seconds": round(train_seconds, 3)}
    if write:
        result["files"] = write_outputs(outp, result, pre_params, {m: trained[m][0] for m in proto.methods}, proto)
    return result


def write_outputs(out: Path, result: dict, pre_params: dict, params: dict, proto: Protocol) -> list[str]:
    """Write the parameters, the JSON and the figures (atomically); returns the paths."""
    from .report import to_json

    files = []
    _save_params(out / "params" / "pretrained.npz", pre_params, proto)
    files.append(str(out / "params" / "pretrained.npz"))
    for mth, p in params.items():
        _save_params(out / "params" / f"{mth}.npz", p, proto)
        files.append(str(out / "params" / f"{mth}.npz"))
    files += [str(p) for p in draw_figures(out, result)]
    files.append(str(out / "experiment.json"))
    result_files = dict(result, files=files)
    write_text_atomic(out / "experiment.json", to_json(result_files) + "\n")
    return files


# ----------------------------------------------------------------------------- figures
COLOURS = {"all": "#4D96FF", "K": "#6BCB77", "Q": "#E0B000", "V": "#FF6B6B"}


def _style(method: str):
    meth = METHODS[method]
    return COLOURS[meth.trains], meth.objective == "zsfs"


def draw_figures(out: Path, result: dict) -> list[Path]:
    """The authors' ``linear_tf_thetas_qkv`` (test error against shots on ``theta0`` and
    ``-theta0``; markers: experiment, filled for ZS+FS; lines: the theory end point, dashed
    for ZS+FS) and the training-loss curves; PNG and PDF each, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .figures import save_figure

    methods = result["methods"]
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True)
    handles, labels = [], []
    for ax, task in zip(axes, ("target", "negated")):
        for mth, entry in methods.items():
            c, filled = _style(mth)
            ax.scatter(entry["shots"], entry["curves"][task], facecolors=c if filled else "none",
                       edgecolors=c, linewidths=1.3, s=24, zorder=3)
            if entry.get("stderr"):
                ax.errorbar(entry["shots"], entry["curves"][task], yerr=entry["stderr"][task], fmt="none",
                            ecolor=c, alpha=0.6)
            ax.plot(entry["shots"], entry["theory"]["curves"][task], color=c, lw=1.1,
                    ls="--" if filled else "-", alpha=0.8)
            if task == "target":
                handles.append(Line2D([0], [0], marker="o", color=c, ls="--" if filled else "-",
                                      markerfacecolor=c if filled else "none", markeredgecolor=c))
                labels.append(METHODS[mth].label)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.set_title(TASKS[task].label, fontsize=11)
        ax.set_xlabel("number of shots n")
    axes[0].set_ylabel("test error" + (" (exact)" if all(e["evaluation"] == "exact" for e in methods.values())
                                       else " (Monte Carlo)"))
    cfg = result["config"]
    fig.legend(handles, labels, ncol=4, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, 1.02))
    fig.text(0.5, 0.01, f"markers: trained ({cfg['form']}, H={cfg['heads']}, L={cfg['layers']}, {cfg['optimizer']}, "
             f"seed {cfg['seed']}); lines: exact-flow end point (theory, start "
             f"{next(iter(methods.values()))['theory']['start']})", ha="center", fontsize=8)
    fig.subplots_adjust(top=0.78, bottom=0.2, wspace=0.08)
    paths += save_figure(fig, out, "linear_tf_thetas_qkv")
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].plot(result["pretrained"]["train_loss"], color="black", lw=0.8)
    axes[0].set_title("pretraining loss (minibatch)")
    for mth, entry in methods.items():
        c, filled = _style(mth)
        axes[1].plot(entry["train_loss"], color=c, ls="--" if filled else "-", lw=0.8, label=METHODS[mth].label)
    axes[1].set_title("fine-tuning loss ZS + w_t FS (minibatch)")
    axes[1].legend(fontsize=8, ncol=2)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    paths += save_figure(fig, out, "train_losses")
    plt.close(fig)
    return paths


# ----------------------------------------------------------------------------- command
def render(result: dict, fmt: str) -> str:
    """Text or Markdown summary: per method the errors at the first and last shot on
    ``theta0`` and ``-theta0``, the theory's, and the distance."""
    cfg = result["config"]
    head = (f"experiment: {cfg['form']} form, H={cfg['heads']}, L={cfg['layers']}, d={cfg['d']}, m={cfg['m']}, "
            f"N={cfg['N']}, sigma2={cfg['sigma2']:g}, lam={cfg['lam']:g} ({cfg['lam_schedule']}), "
            f"{cfg['optimizer']}, seed {cfg['seed']}; trained in {result['train_seconds']:.1f} s")
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
    lines = [head]
    if fmt == "markdown":
        lines = [f"**{head}**", "", "| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
        lines.append("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
        lines += ["  ".join(str(x).ljust(w) for x, w in zip(r, widths)) for r in rows]
    if result.get("files"):
        lines.append(f"wrote {len(result['files'])} files; figure: "
                     f"{[f for f in result['files'] if f.endswith('linear_tf_thetas_qkv.png')][0]}")
    return "\n".join(lines)


def protocol_from_args(args) -> tuple[Protocol, tuple, int]:
    """Build the :class:`Protocol` from parsed arguments, ``--quick`` filling the options
    left unset.  Returns ``(proto, shots, mc_samples)``."""
    preset = QUICK if args.quick else DEFAULT
    val = {k: (getattr(args, k) if getattr(args, k, None) is not None else v) for k, v in preset.items()}
    methods = EXPERIMENT_METHODS
    if args.methods is not None:
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    fields = {k: v for k, v in val.items() if k not in ("shots", "mc_samples")}
    proto = Protocol(methods=methods, **fields).check()
    return proto, tuple(val["shots"]), int(val["mc_samples"])


def experiment_command(args):
    """``(text, status)`` for the CLI; a divergence is exit 1 with one line."""
    from .protocol import Divergence, MissingJax
    from .report import to_json

    proto, shots, mc = protocol_from_args(args)
    try:
        from .protocol import require_jax
        require_jax()
    except MissingJax:
        raise ValueError("install iclft[experiment] (JAX and optax) to run experiments") from None
    progress = args.format != "json" and not args.quiet
    try:
        result = run_experiment(proto, args.out, shots=shots, mc_samples=mc, progress=progress)
    except Divergence as exc:
        print(f"iclft: error: {exc}", file=sys.stderr)
        return "", 1
    if args.format == "json":
        return to_json(result), 0
    return render(result, args.format), 0
