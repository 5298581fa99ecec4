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

from tqdm import tqdm

import numerics
from numerics.endpoints import generic_outcome
from numerics.multihead import multihead_loss, multihead_pretrain_loss
from numerics.pretrained import pretrained_point
from vocabulary import METHODS

from experiment import ladder as Lad
from experiment import protocol as P
from experiment.figures import draw_figures, draw_ladder_figures
from experiment.protocol import Protocol, monte_carlo_errors, rng_for
from proofs_check.storage.atomic import atomic_path, prepare_output, write_text_atomic
from proofs_check.storage.json_text import to_json

__all__ = ["CURVE_TASKS", "AGREE_STDS", "AGREE_RTOL", "prepare_out", "orthogonal_task", "task_vectors",
           "exact_curves", "theory_model", "curve_distance", "agreement", "ladder_for", "run_experiment",
           "write_outputs"]

#: the tasks every model is evaluated on (``sphere``: the pretraining distribution)
CURVE_TASKS = ("target", "negated", "orthogonal", "sphere")


# ----------------------------------------------------------------------------- output folder
def prepare_out(out) -> Path:
    """Create ``out`` (and ``out/params``) if needed and check it is writable, before any
    training, by the shared output rule (:func:`proofs_check.storage.atomic.prepare_output`: the
    folder may be created, its parent must exist).  Raises ``ValueError`` naming the path."""
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
    if method == "pretrained":
        pt = pretrained_point(proto.d, proto.m, proto.sigma2, form="merged")
        V, W = pt[0], pt[1]
        return np.asarray(V), np.asarray(W), {"start": "symmetric", "converged": True, "grad_norm": 0.0,
                                              "t_final": 0.0, "objective": "pretrain", "train": None}
    meth = METHODS[method]
    train = meth.train_for(proto.form)
    o = generic_outcome(meth.objective, proto.form, train, proto.config)
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
    files = []
    _save_params(out / "params" / "pretrained.npz", pre_params, proto)
    files.append(str(out / "params" / "pretrained.npz"))
    for mth, p in params.items():
        _save_params(out / "params" / f"{mth}.npz", p, proto)
        files.append(str(out / "params" / f"{mth}.npz"))
    files += [str(p) for p in draw_figures(out, result)]
    files += [str(p) for p in draw_ladder_figures(out, result)]
    files.append(str(out / "experiment.json"))
    result_files = dict(result, files=files)
    write_text_atomic(out / "experiment.json", to_json(result_files) + "\n")
    return files
