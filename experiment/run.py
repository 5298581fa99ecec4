r"""``iclft experiment``: the authors' protocol (:mod:`experiment.protocol`) with exact
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
4. for one layer and one head, the ladder of exact predictions (:mod:`experiment.ladder`:
   ``idealised``, ``from_start``, ``same_optimizer``, ``same_data``), each rung's distance to
   the next, the attribution (start, optimizer, data, noise) and whether the mean of the
   runs lies within max(3 std, 2%) of the last exact rung; the pretraining check;
5. write ``DIR/params/<method>.npz`` and ``DIR/params/pretrained.npz`` (the first run),
   ``DIR/experiment.json`` and the figures ``DIR/linear_tf_thetas_qkv.{png,pdf}``,
   ``DIR/train_losses.{png,pdf}``, ``DIR/experiment_ladder.{png,pdf}``,
   ``DIR/experiment_attribution.{png,pdf}``, all atomically and only after every run
   finished (a diverging run writes nothing).

``--seeds S`` fine-tuning seeds per pretrained model and ``--pretrain-seeds P`` pretraining
runs are trained as one vectorised program per phase; ``"curves"`` is their mean and
``"spread"`` their standard deviation, min and max.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import numerics
from numerics.multihead import multihead_loss, multihead_pretrain_loss
from vocabulary import EXPERIMENT_METHODS, METHODS, TASKS, Config

from proofs_check.storage.atomic import atomic_path, write_text_atomic
from experiment.protocol import Protocol

__all__ = ["QUICK", "DEFAULT", "AUTHORS", "PRESETS", "agreement", "ladder_for", "run_experiment", "theory_model", "orthogonal_task",
           "exact_curves", "prepare_out", "experiment_command", "CURVE_TASKS"]

CURVE_TASKS = ("target", "negated", "orthogonal", "sphere")
#: the default preset: the paper's *model* settings (d=5, m=N=20, sigma2=0.1, lam=1) with this
#: project's *training* settings, not the authors' (those are :data:`AUTHORS`): 8000 SGD
#: pretraining steps at lr 0.02 and batch 256 reach L_pre within 2% of the exact optimum
#: (0.3507 against 0.3453 at seed 0; 3000 steps do not, 7%), 1000 fine-tuning steps on 1000
#: pairs; about a minute of CPU
DEFAULT = dict(d=5, m=20, N=20, sigma2=0.1, lam=1.0, heads=1, layers=1, form="separate",
               pretrain_steps=8000, finetune_steps=1000, batch=256, lr_pretrain=0.02,
               lr_finetune=0.01, optimizer="sgd", momentum=0.9, clip=1.0,
               lam_schedule="linear-decay", dataset_size=1000, init_std=0.05, seed=0,
               shots=(0, 20), mc_samples=20_000)
#: the quick preset: small and fast (well under a minute on two cores); its short
#: pretraining stalls for some seeds (the pretraining check flags them)
QUICK = dict(DEFAULT, d=3, m=10, N=10, pretrain_steps=400, finetune_steps=150, batch=128,
             lr_pretrain=0.05, lr_finetune=0.02, dataset_size=200, shots=(0, 20), mc_samples=5_000)
#: the authors' notebook (``regression/linear_model.ipynb``): pretraining 5000 steps, lr 0.01,
#: batch 5000; fine-tuning 5000 steps, lr 0.01, batch 5000; 100,000 fine-tuning pairs;
#: evaluation 50,000 prompts x 5 seeds by Monte Carlo (here exact for one layer;
#: ``mc_samples`` 250,000 for more layers); their state is float32, ours float64
AUTHORS = dict(DEFAULT, pretrain_steps=5000, lr_pretrain=0.01, finetune_steps=5000, lr_finetune=0.01,
               batch=5000, dataset_size=100_000, mc_samples=250_000)
PRESETS = {"default": DEFAULT, "quick": QUICK, "authors": AUTHORS}


# ----------------------------------------------------------------------------- output folder
def prepare_out(out) -> Path:
    """Create ``out`` (and ``out/params``) if needed and check it is writable, before any
    training, by the shared output rule (:func:`proofs_check.storage.atomic.prepare_output`: the
    folder may be created, its parent must exist).  Raises ``ValueError`` naming the path."""
    from proofs_check.storage.atomic import prepare_output

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
    from experiment.protocol import monte_carlo_errors, rng_for

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
    along its most negative eigenvector (:func:`numerics.endpoints.generic_outcome`);
    ``info["start"] = "generic"``.  ``method = "pretrained"`` gives the pretrained point.
    The theory is the one-layer, one-head model whatever ``heads``/``layers`` are.

    Returns:
        ``V, W`` (``D x D``, ``W`` merged) and ``info``: ``start``, ``converged``,
        ``grad_norm``, ``t_final``, ``objective``, ``train``, ``verdict``.
    """
    from numerics.flow import pretrained_point
    from numerics.endpoints import generic_outcome

    if method == "pretrained":
        pt = pretrained_point(proto.d, proto.m, proto.sigma2, form="merged")
        V, W = pt[0], pt[1]
        return np.asarray(V), np.asarray(W), {"start": "symmetric", "converged": True, "grad_norm": 0.0,
                                              "t_final": 0.0, "objective": "pretrain", "train": None}
    meth = METHODS[method]
    train = meth.train_for(proto.form)
    o = generic_outcome(meth.objective, proto.form, train,
                        Config(proto.d, proto.m, proto.N, proto.sigma2, proto.lam))
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


def _spread(runs: list) -> tuple[dict, dict]:
    """Mean curves and ``{task: {"std", "min", "max"}}`` over runs (lists of curve dicts)."""
    mean, spread = {}, {}
    for task in CURVE_TASKS:
        if runs[0].get(task) is None:
            mean[task] = spread[task] = None
            continue
        A = np.array([r[task] for r in runs], dtype=float)
        mean[task] = [float(x) for x in A.mean(axis=0)]
        spread[task] = {"std": [float(x) for x in A.std(axis=0, ddof=1 if len(A) > 1 else 0)],
                        "min": [float(x) for x in A.min(axis=0)], "max": [float(x) for x in A.max(axis=0)]}
    return mean, spread


def _mean_curves(runs: list) -> dict:
    return _spread(runs)[0]


#: the done-when test of the ladder: the mean experiment curve lies within
#: ``max(AGREE_STDS * std, AGREE_RTOL * |last exact rung|)`` of the last exact rung
AGREE_STDS, AGREE_RTOL = 3.0, 0.02


def agreement(mean: dict, spread: dict, rung: dict) -> dict:
    """Whether the mean experiment curve lies within ``max(3 std, 2% relative)`` of ``rung``
    at every task and shot; ``worst`` is the largest ``|difference| / tolerance`` and where."""
    worst = (0.0, None, None)
    for task in CURVE_TASKS:
        if mean.get(task) is None or rung.get(task) is None:
            continue
        m, r, sd = (np.asarray(mean[task]), np.asarray(rung[task]), np.asarray(spread[task]["std"]))
        tol = np.maximum(AGREE_STDS * sd, AGREE_RTOL * np.abs(r))
        ratio = np.abs(m - r) / np.maximum(tol, 1e-300)
        i = int(np.argmax(ratio))
        if ratio[i] > worst[0]:
            worst = (float(ratio[i]), task, i)
    return {"within": worst[0] <= 1.0, "worst_ratio": worst[0], "worst_task": worst[1], "worst_index": worst[2],
            "rule": f"|mean - rung| <= max({AGREE_STDS:g} std, {AGREE_RTOL:g} |rung|)"}


def ladder_for(method: str, proto: Protocol, theta0, starts: list, moments, shot_list, idealised: dict,
               experiment_mean: dict) -> dict:
    """The exact rungs of ``method`` (:mod:`experiment.ladder`), each rung's curves the mean
    over the pretraining runs ``starts`` (``D x D`` matrices each), and the distance from
    each rung to the next (the last exact rung to the experiment's mean)."""
    from experiment import ladder as Lad

    population = Lad.DataMoments.population(theta0, proto.sigma2) if proto.d <= 8 else None
    rungs = {"idealised": {"curves": idealised}}
    per = {"from_start": [], "same_optimizer": [], "same_data": []}
    infos = {"from_start": [], "same_optimizer": [], "same_data": []}
    for start in starts:
        for name, fn in (("from_start", lambda: Lad.from_start(method, proto, theta0, start)),
                         ("same_optimizer", lambda: Lad.same_optimizer(method, proto, theta0, start, population)),
                         ("same_data", lambda: None if moments is None else Lad.same_data(method, proto, start, moments))):
            res = fn()
            if res is None:
                continue
            V, W, info = res
            per[name].append(exact_curves(V[None], W[None], theta0, shot_list, proto.sigma2))
            infos[name].append(info)
    for name in ("from_start", "same_optimizer", "same_data"):
        if per[name]:
            rungs[name] = {"curves": _mean_curves(per[name]), "info": infos[name]}
    names = list(rungs)
    for i, name in enumerate(names):
        nxt = rungs[names[i + 1]]["curves"] if i + 1 < len(names) else experiment_mean
        dist = curve_distance(rungs[name]["curves"], nxt)
        rungs[name]["distance_to_next"] = {"max_abs": dist["max_abs"], "rms": dist["rms"],
                                           "to": names[i + 1] if i + 1 < len(names) else "experiment"}
    return rungs


def run_experiment(proto: Protocol, out, shots=(0, 20), mc_samples: int = 20_000, progress: bool = False,
                   write: bool = True, seeds: int = 1, pretrain_seeds: int = 1, ladder: bool = True) -> dict:
    """Run the protocol, evaluate, overlay the theory and the ladder, and write the outputs.

    Args:
        proto: the settings (checked here); out: output folder (checked before training).
        shots: ``(A, B)``, the evaluated ``n = A..B``.
        mc_samples: prompts per point for Monte Carlo evaluation (``layers > 1``).
        progress: show a tqdm bar on stderr (only when stderr is a terminal).
        write: write the files (``False``: only return the result).
        seeds: fine-tuning seeds per pretrained model (vectorised, one compiled program).
        pretrain_seeds: pretraining runs (seeds ``seed .. seed + P - 1``, vectorised).
        ladder: compute the exact ladder (one layer, one head only).

    Returns:
        The JSON-ready result ``{"config", "theta0", "methods", "pretrained", "pretraining",
        "files", ...}``.

    Raises:
        ValueError: bad settings or an unwritable ``out`` (before any training).
        protocol.Divergence: a non-finite training loss (nothing is written).
    """
    from experiment import ladder as Lad
    from experiment import protocol as P

    proto.check()
    lo, hi = shots
    if not (0 <= lo <= hi <= 1000):
        raise ValueError(f"shots must satisfy 0 <= A <= B <= 1000, got {lo}:{hi}")
    if isinstance(mc_samples, bool) or not isinstance(mc_samples, int) or mc_samples < 2:
        raise ValueError(f"mc_samples must be an integer >= 2, got {mc_samples!r}")
    for name, val in (("seeds", seeds), ("pretrain_seeds", pretrain_seeds)):
        if isinstance(val, bool) or not isinstance(val, int) or not 1 <= val <= 1024:
            raise ValueError(f"{name} must be an integer in 1..1024, got {val!r}")
    outp = prepare_out(out) if write else None
    P.require_jax()
    shot_list = list(range(lo, hi + 1))
    compile0, compile_cpu0 = P.TIMINGS["compile"], P.TIMINGS["compile_cpu"]
    t0, cpu0 = time.perf_counter(), time.process_time()
    bar = None
    if progress:
        from tqdm import tqdm
        # disable=None: no bar when stderr is not a terminal (a log file would fill with
        # carriage returns); mininterval bounds the refresh rate on a terminal
        bar = tqdm(total=proto.pretrain_steps + proto.finetune_steps * len(proto.methods),
                   desc="pretraining", unit="step", leave=False, file=sys.stderr, disable=None, mininterval=1.0)
    try:
        pre_all, pre_losses = P.pretrain_many(proto, progress=bar, seeds=pretrain_seeds)
        theta0 = P.sample_theta0(proto.seed, proto.d)
        data = P.make_dataset(proto.seed, theta0, proto)
        trained = {}
        for mth in proto.methods:
            if bar is not None:
                bar.set_description(mth)
            trained[mth] = P.finetune_many(pre_all, mth, theta0, data, proto, progress=bar, seeds=seeds)
    finally:
        if bar is not None:
            bar.close()
    compile_seconds = P.TIMINGS["compile"] - compile0
    compile_cpu = P.TIMINGS["compile_cpu"] - compile_cpu0
    train_seconds = time.perf_counter() - t0 - compile_seconds
    train_cpu = time.process_time() - cpu0 - compile_cpu
    runs = pretrain_seeds * seeds

    exact = proto.layers == 1

    def evaluate(params, stream):
        if exact:
            V, W = P.merged_heads(params)
            return exact_curves(V[0], W[0], theta0, shot_list, proto.sigma2), None
        return _mc_curves(params, theta0, shot_list, proto, mc_samples, stream)

    def run_params(stack, i):
        return {k: v[i] for k, v in stack.items()}

    warnings = []
    checks = []
    for p in range(pretrain_seeds):
        chk = Lad.pretraining_check(run_params(pre_all, p), proto)
        chk["seed"] = P.pretrain_seed(proto, p)
        checks.append(chk)
        if chk["verdict"] not in ("optimum family", "not checked"):
            warnings.append(f"pretraining seed {chk['seed']}: {chk['verdict']} (L_pre = {chk['loss']:.4g}, "
                            f"optimum {chk['optimum']:.4g}, gap {chk['gap']:.3g})")
    pretraining = dict(checks[0])
    if pretrain_seeds > 1:
        pretraining["seeds"] = checks

    result_methods = {}
    pre_runs = [evaluate(run_params(pre_all, p), "pretrained") for p in range(pretrain_seeds)]
    pre_curves, pre_spread = _spread([c for c, _ in pre_runs])
    pre_err = pre_runs[0][1]
    Vt, Wt, tinfo = theory_model("pretrained", proto, theta0)
    pre_theory = exact_curves(Vt[None], Wt[None], theta0, shot_list, proto.sigma2)
    pretrained_out = {"shots": shot_list, "curves": pre_curves, "spread": pre_spread,
                      "evaluation": "exact" if exact else "monte-carlo",
                      "theory": {"curves": pre_theory, "start": tinfo["start"],
                                 "distance": curve_distance(pre_curves, pre_theory)},
                      "train_loss": [float(x) for x in np.mean(pre_losses, axis=0)]}
    if pre_err is not None:
        pretrained_out["stderr"] = pre_err
    do_ladder = ladder and exact and proto.heads == 1
    note = None
    if proto.heads > 1 or proto.layers > 1:
        note = (f"the theory overlay is the one-layer, one-head model; the experiment has H={proto.heads}, "
                f"L={proto.layers}" + ("; no ladder (its rungs are one-layer, one-head)" if ladder else ""))
        warnings.append(note)
    moments = Lad.DataMoments(*data) if (do_ladder and data is not None) else None
    starts = [Lad.first_head(run_params(pre_all, p)) for p in range(pretrain_seeds)] if do_ladder else []
    ladder_seconds = ladder_cpu = 0.0
    for mth in proto.methods:
        params, losses = trained[mth]
        evals = [evaluate(run_params(params, i), mth if i == 0 else f"{mth}/run {i}") for i in range(runs)]
        curves, spread = _spread([c for c, _ in evals])
        errs = evals[0][1]
        Vt, Wt, tinfo = theory_model(mth, proto, theta0)
        th_curves = exact_curves(Vt[None], Wt[None], theta0, shot_list, proto.sigma2)
        entry = {"shots": shot_list, "curves": curves, "spread": spread, "runs": runs,
                 "first_run_curves": evals[0][0],
                 "evaluation": "exact" if exact else "monte-carlo",
                 "trains": list(P.trainable_for(mth, proto.form)),
                 "theory": {"curves": th_curves, "start": tinfo["start"], "converged": tinfo["converged"],
                            "grad_norm": tinfo["grad_norm"], "objective": tinfo["objective"],
                            "train": tinfo["train"], "model": "one layer, one head, exact flow, constant lam",
                            "distance": curve_distance(curves, th_curves)},
                 "train_loss": [float(x) for x in np.mean(losses, axis=0)]}
        if note:
            entry["theory"]["note"] = note
        if errs is not None:
            entry["stderr"] = errs
        if do_ladder:
            tl, cl = time.perf_counter(), time.process_time()
            rungs = ladder_for(mth, proto, theta0, starts, moments, shot_list, th_curves, curves)
            ladder_seconds += time.perf_counter() - tl
            ladder_cpu += time.process_time() - cl
            entry["ladder"] = rungs
            entry["attribution"] = Lad.attribution(rungs)
            last = [r for r in Lad.RUNGS if r in rungs][-1]
            entry["agreement"] = dict(agreement(curves, spread, rungs[last]["curves"]), rung=last,
                                      largest_cause=max(entry["attribution"], key=entry["attribution"].get))
        result_methods[mth] = entry
    config = proto.as_dict()
    config.update(shots=[lo, hi], mc_samples=mc_samples, seeds=seeds, pretrain_seeds=pretrain_seeds)
    for w in warnings:
        print(f"iclft: warning: {w}", file=sys.stderr)
    result = {"config": config, "theta0": [float(x) for x in theta0],
              "theta_perp": None if orthogonal_task(theta0) is None else [float(x) for x in orthogonal_task(theta0)],
              "methods": result_methods, "pretrained": pretrained_out, "pretraining": pretraining,
              "warnings": warnings,
              "train_seconds": round(train_seconds, 3), "compile_seconds": round(compile_seconds, 3),
              "ladder_seconds": round(ladder_seconds, 3),
              "cpu_seconds": {"train": round(train_cpu, 3), "compile": round(compile_cpu, 3),
                              "ladder": round(ladder_cpu, 3)},
              "saved_params": "pretraining seed 0, fine-tuning seed 0 (the first run)"}
    if write:
        result["files"] = write_outputs(outp, result, run_params(pre_all, 0),
                                        {m: run_params(trained[m][0], 0) for m in proto.methods}, proto)
    return result


def write_outputs(out: Path, result: dict, pre_params: dict, params: dict, proto: Protocol) -> list[str]:
    """Write the parameters, the JSON and the figures (atomically); returns the paths."""
    from proofs_check.cli.report import to_json

    files = []
    _save_params(out / "params" / "pretrained.npz", pre_params, proto)
    files.append(str(out / "params" / "pretrained.npz"))
    for mth, p in params.items():
        _save_params(out / "params" / f"{mth}.npz", p, proto)
        files.append(str(out / "params" / f"{mth}.npz"))
    files += [str(p) for p in draw_figures(out, result)]
    from experiment.figures import draw_ladder_figures
    files += [str(p) for p in draw_ladder_figures(out, result)]
    files.append(str(out / "experiment.json"))
    result_files = dict(result, files=files)
    write_text_atomic(out / "experiment.json", to_json(result_files) + "\n")
    return files


# ----------------------------------------------------------------------------- figures
def _coinciding(methods: dict, tasks) -> dict:
    """``{method: first method}`` for each method whose theory curves equal (to 1e-9
    relative) those of an earlier method on every task."""
    same, seen = {}, []
    for mth, e in methods.items():
        cur = [np.asarray(e["theory"]["curves"][t], dtype=float) for t in tasks]
        for prev, pc in seen:
            if all(a.shape == b.shape and np.allclose(a, b, rtol=1e-9, atol=0) for a, b in zip(cur, pc)):
                same[mth] = prev
                break
        else:
            seen.append((mth, cur))
    return same


def thetas_figure(result: dict):
    """The ``linear_tf_thetas_qkv`` figure (a Matplotlib figure; draw and save it inside
    :func:`figure_style.paper_style`): one panel per task of the result (``theta0``,
    ``-theta0``, ``theta_perp``, the sphere); per method the theory end point as a line
    and the experiment's mean over runs as markers with the min-max range over runs as
    error bars (markers offset along ``n`` per method so they do not hide each other)."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    from proofs_check.export import figure_style as FS
    from experiment.figures import log_ticks

    methods = result["methods"]
    cfg = result["config"]
    first = next(iter(methods.values()))
    tasks = [t for t in TASKS if t in first["curves"]]
    ncol = 2 if len(tasks) > 1 else 1
    nrow = (len(tasks) + ncol - 1) // ncol
    fig = FS.figure(2, 2.1 * nrow + 1.3)
    axes = np.atleast_1d(fig.subplots(nrow, ncol, sharex=True, squeeze=False)).ravel()
    same = _coinciding(methods, tasks)
    nm = len(methods)
    offsets = {m: 0.28 * (i - (nm - 1) / 2) / max(1, nm - 1) for i, m in enumerate(methods)}
    for k, (ax, task) in enumerate(zip(axes, tasks)):
        for mth, e in methods.items():
            st = FS.method_style(mth)
            shots = np.asarray(e["shots"], dtype=float)
            kw = st.line_kw()
            if mth in same:  # drawn over an identical curve: dotted, so both colours show
                kw["ls"] = (0, (1.0, 1.5))
                kw["lw"] = 2.2
            ax.plot(shots, e["theory"]["curves"][task], zorder=2, **kw)
            mean = np.asarray(e["curves"][task], dtype=float)
            sp = e.get("spread", {}).get(task)
            x = shots + offsets[mth]
            if sp is not None and e.get("runs", 1) > 1:
                yerr = np.vstack([mean - np.asarray(sp["min"]), np.asarray(sp["max"]) - mean])
                ax.errorbar(x, mean, yerr=np.maximum(yerr, 0), fmt="none", ecolor=st.color, elinewidth=0.6,
                            alpha=0.6, zorder=3)
            elif e.get("stderr"):  # one run evaluated by Monte Carlo: its standard error
                ax.errorbar(x, mean, yerr=e["stderr"][task], fmt="none", ecolor=st.color, elinewidth=0.6,
                            alpha=0.6, zorder=3)
            ax.plot(x, mean, ms=3.0, zorder=4, **st.marker_kw())
        ax.set_yscale("log")
        log_ticks(ax)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        FS.panel_title(ax, "abcdefgh"[k], TASKS[task].label)
        if k % ncol == 0:
            ax.set_ylabel("test error" + (" (exact)" if all(e["evaluation"] == "exact" for e in methods.values())
                                          else " (Monte Carlo)"))
        if k >= len(tasks) - ncol:
            ax.set_xlabel("number of shots $n$")
    for ax in axes[len(tasks):]:
        ax.set_visible(False)
    handles = [Line2D([0], [0], **{**FS.method_style(m).line_kw(), **{k: v for k, v in FS.method_style(m).marker_kw().items()
                                                                     if k != "ls"}}) for m in methods]
    labels = [FS.method_style(m).tex for m in methods]
    handles += [Line2D([0], [0], color=FS.NEUTRAL), Line2D([0], [0], color=FS.NEUTRAL, ls="none", marker="o")]
    runs = cfg.get("seeds", 1) * cfg.get("pretrain_seeds", 1)
    bars = f"bars: min-max of {runs} runs" if runs > 1 else (
        "bars: Monte Carlo standard error" if any(e.get("stderr") for e in methods.values()) else "one run")
    labels += ["theory (exact-flow end point)", f"experiment (mean; {bars})"]
    fig.legend(handles, labels, loc="outside upper center", ncol=(len(handles) + 1) // 2)
    notes = [f"{cfg['form']} form, $H={cfg['heads']}$, $L={cfg['layers']}$, {cfg['optimizer']}, "
             f"{cfg['finetune_steps']} fine-tuning steps; theory from the {first['theory']['start']} start"]
    if same:
        notes.append("; ".join(f"theory of {FS.method_style(m).tex} equals that of {FS.method_style(p).tex} "
                               "(drawn dotted over it)" for m, p in same.items()))
    notes.append("markers offset along $n$ per method")
    FS.add_caption(fig, FS.caption(cfg, seeds=range(cfg.get("seed", 0), cfg.get("seed", 0) + runs)
                                   if runs > 1 else cfg.get("seed"), extra="; ".join(notes)))
    return fig


def losses_figure(result: dict):
    """The ``train_losses`` figure: the pretraining loss and the fine-tuning losses (mean
    over runs per step), each as its moving average over the faint raw minibatch loss."""
    from matplotlib.lines import Line2D

    from proofs_check.export import figure_style as FS
    from experiment.figures import log_ticks

    methods = result["methods"]
    cfg = result["config"]
    fig = FS.figure(2, 2.8)
    ax0, ax1 = fig.subplots(1, 2)
    pre = np.asarray(result["pretrained"]["train_loss"], dtype=float)
    FS.plot_loss(ax0, np.arange(1, len(pre) + 1), pre, "black", "pretraining")
    FS.panel_title(ax0, "a", "pretraining")
    ax0.set_ylabel(r"minibatch loss $\mathcal{L}_{\mathrm{pre}}$")
    handles, labels = [], []
    for mth, e in methods.items():
        st = FS.method_style(mth)
        y = np.asarray(e["train_loss"], dtype=float)
        _, sm = FS.plot_loss(ax1, np.arange(1, len(y) + 1), y, st.color, st.tex)
        sm.set_linestyle(st.ls)
        handles.append(sm)
        labels.append(st.tex)
    handles += [Line2D([0], [0], color=FS.NEUTRAL, lw=1.4), Line2D([0], [0], color=FS.NEUTRAL, lw=0.5, alpha=0.4)]
    labels += ["moving average", "raw minibatch"]
    FS.panel_title(ax1, "b", "fine-tuning")
    ax1.set_ylabel(r"minibatch $\mathcal{L}_{\mathrm{ZS}} + w_t\,\mathcal{L}_{\mathrm{FS}}$")
    for ax in (ax0, ax1):
        ax.set_yscale("log")
        log_ticks(ax)
        ax.set_xlabel("step $t$")
    fig.legend(handles, labels, loc="outside right upper", ncol=1)
    runs = cfg.get("seeds", 1) * cfg.get("pretrain_seeds", 1)
    FS.add_caption(fig, FS.caption(cfg, extra=f"{cfg['optimizer']}, batch {cfg['batch']}, "
                                              f"$w_t$ schedule {cfg['lam_schedule']}; fine-tuning: mean over {runs} runs per step"))
    return fig


def draw_figures(out: Path, result: dict) -> list[Path]:
    """The authors' ``linear_tf_thetas_qkv`` (:func:`thetas_figure`) and the training-loss
    curves (:func:`losses_figure`); PNG and PDF each, written atomically."""
    from proofs_check.export.figures import save_styled  # matplotlib is imported only when drawing

    return save_styled(out, [("linear_tf_thetas_qkv", lambda: thetas_figure(result)),
                             ("train_losses", lambda: losses_figure(result))])


# ----------------------------------------------------------------------------- command
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
    """``(text, status)`` for the CLI; a divergence is exit 1 with one line."""
    from experiment.protocol import Divergence, MissingJax
    from proofs_check.cli.report import to_json

    proto, shots, mc = protocol_from_args(args)
    try:
        from experiment.protocol import require_jax
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
