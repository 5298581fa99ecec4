"""The paper's figures, from the exact closed forms (lines) and SGD runs (markers).

Conventions: see :mod:`proofs_check` (stated in one place there) and docs/theory.md section 1.
Tasks: ``theta0 = e_1`` (target),
``-theta0`` (negated), ``theta_perp = e_2`` (orthogonal).  Fine-tuned models are the end
points of the exact population gradient flow (:mod:`proofs_check.methods.models`).

Figures (each written as ``NAME.png`` (150 dpi) and ``NAME.pdf``):

1. ``icl_curves``: exact ``n``-shot error ``L_n`` for ``n = 0..40`` on the three tasks, for
   every method of :data:`proofs_check.methods.models.MERGED_METHODS`; SGD-trained
   models (:func:`numerics.sgd.sgd_finetune` with each method's ``Method.sgd`` settings of
   :mod:`vocabulary`, evaluated with the exact :func:`numerics.expected_loss`) as markers.
2. ``w_star``: the authors' ``w*(N) = c*b`` (FS-optimal ``b`` at the V-only ZS ``a``) and the
   V-only ``ZS + lam FS`` optimum ``c*b``, both from the SymPy derivations of
   :mod:`theory.optima`, against ``N = 0..60``.
3. ``flow_trajectories``: ``a(t)`` and ``alpha(t)`` along the exact gradient flows that
   leave the pretrained point (:func:`moving_methods`).
4. ``pretrained_threshold``: the pretrained curve on the target for several ``d`` with the
   threshold of claim 2, ``n + 1 = c d (1 + sigma2)/(2 - c)``.

Each ``*_data`` function returns the plotted numbers (a dict); the matching ``draw_*`` of
:mod:`proofs_check.export.figure_drawing` turns them into a figure.  :func:`make_figures`
writes every file through :class:`proofs_check.storage.atomic.atomic_path`, so an
interrupted run leaves no partial file.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import numerics
import vocabulary
from numerics.flow import gradient_flow, pretrained_c
from numerics.sgd import sgd_finetune
from proofs_check.export.table_cells import md_cell
from proofs_check.storage.json_text import to_json
from proofs_check.export import figure_style as FS
from proofs_check.export.figure_drawing import (LABELS, draw_flow_trajectories, draw_icl_curves,
                                                draw_pretrained_threshold, draw_w_star)
from proofs_check.methods.models import MERGED_METHODS, endpoint, model, task_vector
from proofs_check.storage.atomic import atomic_path, prepare_output
from vocabulary import DEFAULT_CONFIG, Config

__all__ = ["FIGURES", "SHOTS", "SGD_SHOTS", "CURVE_TASKS", "SGD_BATCH", "THRESHOLD_DS", "W_STAR_NS", "DPI",
           "make_figures", "save_styled", "save_figure", "moving_methods",
           "icl_curves_data", "w_star_data", "flow_trajectories_data", "pretrained_threshold_data",
           "sgd_note", "summary", "render_summary", "figures_command"]

FIGURES = ("icl_curves", "w_star", "flow_trajectories", "pretrained_threshold")
SHOTS = (0, 40)
SGD_SHOTS = tuple(range(0, 41, 5))
CURVE_TASKS = ("target", "negated", "orthogonal")
#: SGD runs: batch 64, Polyak averaging of the last half; the rate and the number of steps
#: at the default d = 5 are each method's ``Method.sgd`` (:mod:`vocabulary`).  The rate is
#: scaled by 63/((d+2)(d+4)) for other d (the curvature of ZS in V grows like
#: (d+2)(d+4)) and halved on divergence.
SGD_BATCH = 64
THRESHOLD_DS = (2, 5, 10, 20)
#: N starts at 1: at N = 0 the label slot is empty (z_q[y] = 0), FS does not depend on b and
#: the derived c*b formula only gives its N -> 0 limit, not an optimum.
W_STAR_NS = (1, 60)
DPI = 150


# ----------------------------------------------------------------------------- checks
def _check_cfg(cfg) -> Config:
    if cfg is None:
        return DEFAULT_CONFIG
    if not isinstance(cfg, Config):
        raise ValueError(f"cfg must be a vocabulary.Config, got {type(cfg).__name__}")
    for name in ("d", "m", "N"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {v!r}")
    for name in ("sigma2", "lam"):
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
        if v < 0:
            raise ValueError(f"{name} must be >= 0, got {v!r}")
    if cfg.d < 2:
        raise ValueError(f"d must be >= 2 for the figures (the orthogonal task needs it), got {cfg.d}")
    if cfg.m < 1:
        raise ValueError(f"m must be >= 1 (with m = 0 pretraining does not determine c), got {cfg.m}")
    if cfg.N < 0:
        raise ValueError(f"N must be >= 0, got {cfg.N}")
    return cfg


def _check_bool(name, v) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{name} must be a bool, got {v!r}")
    return v


def _bar(iterable, progress, desc, total=None):
    if not progress:
        return iterable
    return tqdm(iterable, desc=desc, total=total, unit="item", leave=False)


# ----------------------------------------------------------------------------- figure 1
def _sgd_run(method: str, cfg: Config, progress: bool, seed: int = 0) -> dict:
    """One SGD fine-tuning run from the pretrained point with the method's ``Method.sgd``
    settings (rate halved on divergence)."""
    objective, train = MERGED_METHODS[method]
    lr0, steps = vocabulary.METHODS[method].sgd
    lr = lr0 * min(1.0, 63.0 / ((cfg.d + 2) * (cfg.d + 4)))
    last = None
    for _ in range(6):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                res = sgd_finetune(objective, "merged", train, cfg,
                                   lr=lr, steps=steps, batch=SGD_BATCH, seed=seed, progress=progress)
            return {"result": res, "lr": lr, "steps": steps}
        except FloatingPointError as exc:
            last = exc
            lr /= 2.0
    raise RuntimeError(f"SGD for {method} diverged at every rate tried: {last}")  # pragma: no cover


def icl_curves_data(cfg: Config | None = None, sgd: bool = True, progress: bool = False,
                    methods=tuple(MERGED_METHODS), sgd_shots=SGD_SHOTS) -> dict:
    """Exact ``L_n`` for ``n = 0..40`` per method and task (``exact[method][task]``), the
    flow convergence of each method, and (``sgd=True``) the exact ``L_n`` of each SGD end
    point at ``sgd_shots`` (``sgd[method][task]``) with the run's settings."""
    cfg = _check_cfg(cfg)
    _check_bool("sgd", sgd)
    _check_bool("progress", progress)
    for mth in methods:
        if mth not in MERGED_METHODS:
            raise ValueError(f"methods: unknown method {mth!r}")
    shots = list(range(SHOTS[0], max(SHOTS[1], min(cfg.N, 200)) + 1))  # show n = N when N <= 200
    thetas = {t: task_vector(t, cfg.d) for t in CURVE_TASKS}
    exact, conv = {}, {}
    for mth in _bar(methods, progress, "exact curves"):
        coords, fl = endpoint(mth, cfg)
        V, W = model(mth, cfg)
        exact[mth] = {t: [numerics.expected_loss(V, W, th, n, cfg.sigma2) for n in shots]
                      for t, th in thetas.items()}
        conv[mth] = {"coords": dict(coords),
                     "converged": True if fl is None else bool(fl.converged),
                     "grad_norm": 0.0 if fl is None else float(fl.grad_norm),
                     "t_final": 0.0 if fl is None else float(fl.t_final)}
    out = {"config": cfg.as_dict(), "shots": shots, "tasks": list(CURVE_TASKS), "methods": list(methods),
           "exact": exact, "flow": conv, "sgd": None}
    if sgd:
        out["sgd"] = {}
        for mth in methods:
            if MERGED_METHODS[mth] is None:
                continue
            t0 = time.perf_counter()
            run = _sgd_run(mth, cfg, progress)
            res = run["result"]
            out["sgd"][mth] = {
                "shots": list(sgd_shots),
                **{t: [numerics.expected_loss(res.V, res.W, th, n, cfg.sigma2) for n in sgd_shots]
                   for t, th in thetas.items()},
                "coords": dict(res.coords), "off_manifold": float(res.off_manifold),
                "loss_end": float(res.loss_end), "lr": run["lr"], "steps": run["steps"],
                "batch": SGD_BATCH, "seconds": time.perf_counter() - t0,
            }
    return out


def sgd_note(data: dict) -> str:
    """Why SGD markers may sit off the exact lines, with each run's learning rate, steps and
    batch: SGD at a finite learning rate ends biased by its gradient noise, a finite number
    of steps stops short of the flow limit, and on a non-convex objective it may settle in
    a different basin than the flow.

    Args:
        data: the output of :func:`icl_curves_data` with ``sgd`` runs.

    Returns:
        One line of text (empty without SGD runs).
    """
    runs = data.get("sgd") or {}
    if not runs:
        return ""
    settings = ", ".join(f"{LABELS[m]} lr {r['lr']:g} x {r['steps']} steps" for m, r in runs.items())
    return (f"markers differ from lines by SGD noise bias at finite lr, finite steps, or another basin "
            f"(batch {SGD_BATCH}; {settings})")


# ----------------------------------------------------------------------------- figure 2
def _num(x):
    import sympy as sp  # deferred: SymPy only for the w* figure, not at the CLI's start-up
    if isinstance(x, (int, np.integer)):
        return sp.Integer(int(x))
    return sp.Float(float(x), 30)


def w_star_data(cfg: Config | None = None, Ns=W_STAR_NS) -> dict:
    """``w*(N) = c*b`` of :func:`theory.optima.fs_b_at_zs_a` and the V-only ``ZS + lam FS``
    optimum ``c*b`` of :func:`theory.optima.zsfs_v_optimum` (at ``c = c*``, and its ``a``),
    for ``N = Ns[0]..Ns[1]`` (``Ns[0] >= 1``), evaluated by substituting numbers into the
    SymPy results."""
    from theory import symbols as S  # deferred: SymPy only for the w* figure, not at the CLI's start-up
    from theory.optima import fs_b_at_zs_a, zsfs_v_optimum  # deferred: SymPy only for the w* figure

    cfg = _check_cfg(cfg)
    if len(Ns) != 2 or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) for x in Ns) \
            or not 1 <= Ns[0] <= Ns[1]:
        raise ValueError(f"Ns must be integers (lo, hi) with 1 <= lo <= hi (at N = 0 FS does not "
                         f"depend on b, so there is no optimal b), got {Ns!r}")
    c = pretrained_c(cfg.d, cfg.m, cfg.sigma2)
    wexpr = fs_b_at_zs_a()["c*b"]
    opt = zsfs_v_optimum()
    bexpr, aexpr = opt[S.b], opt[S.a]
    Nlist = list(range(int(Ns[0]), int(Ns[1]) + 1))
    base = {S.d: _num(cfg.d), S.sigma2: _num(cfg.sigma2), S.lam: _num(cfg.lam), S.c: _num(c)}
    w, cb, av = [], [], []
    for n_ in Nlist:
        sub = dict(base)
        sub[S.N] = _num(n_)
        w.append(float(wexpr.xreplace(sub)))
        cb.append(float(c * bexpr.xreplace(sub)))
        av.append(float(aexpr.xreplace(sub)))
    return {"config": cfg.as_dict(), "c": c, "N": Nlist, "w_star": w, "zsfs_v_cb": cb, "zsfs_v_a": av,
            "default_N": cfg.N}


# ----------------------------------------------------------------------------- figure 3
def moving_methods(cfg: Config | None = None) -> tuple[str, ...]:
    """The merged fine-tuning methods whose exact flow leaves the pretrained point at
    ``cfg``: those whose flow (:func:`proofs_check.methods.models.endpoint`) ran for a
    positive time (a flow whose gradient vanishes at the start, ZS-W, stops at ``t = 0``),
    in the order of :data:`proofs_check.methods.models.MERGED_METHODS`."""
    cfg = _check_cfg(cfg)
    return tuple(m for m, spec in MERGED_METHODS.items() if spec is not None and endpoint(m, cfg)[1].t_final > 0)


def flow_trajectories_data(cfg: Config | None = None, methods=None, max_points: int = 400,
                           rerun_below: int = 20_000) -> dict:
    """The exact gradient flows (merged form) of ``methods`` (default: :func:`moving_methods`):
    times and coordinates ``a``, ``alpha`` (plus ``beta``, ``q``, ``h``, ``b``) along each,
    with its convergence.

    The flow of :func:`proofs_check.methods.models.endpoint` (cached) keeps 50 samples of the
    accepted solver steps, too coarse for a smooth curve; it is rerun with ``max_points``
    samples when it took fewer than ``rerun_below`` right-hand-side evaluations, otherwise
    (a long, usually non-converging flow) its 50 samples are plotted (``samples`` says
    which).  The choice depends on the evaluation count only, never on the clock."""
    cfg = _check_cfg(cfg)
    methods = moving_methods(cfg) if methods is None else methods
    out = {"config": cfg.as_dict(), "methods": list(methods), "flows": {}}
    for mth in methods:
        if MERGED_METHODS.get(mth) is None:
            raise ValueError(f"methods: {mth!r} is not a fine-tuning method")
        _, fl = endpoint(mth, cfg)
        if fl.nfev < rerun_below:
            fl = gradient_flow(MERGED_METHODS[mth][0], "merged", MERGED_METHODS[mth][1], cfg, max_points=max_points)
        tr = fl.trajectory
        names = list(tr["names"])
        rec = {"t": tr["t"].tolist(), "converged": bool(fl.converged), "grad_norm": float(fl.grad_norm),
               "t_final": float(fl.t_final), "final": dict(fl.final), "samples": int(len(tr["t"]))}
        for nm in names:
            rec[nm] = tr["coords"][:, names.index(nm)].tolist()
        out["flows"][mth] = rec
    out["c"] = pretrained_c(cfg.d, cfg.m, cfg.sigma2)
    return out


# ----------------------------------------------------------------------------- figure 4
def pretrained_threshold_data(cfg: Config | None = None, ds=THRESHOLD_DS, shots=SHOTS) -> dict:
    """Pretrained ``L_n`` on the target for each ``d`` in ``ds`` (``c = c*(d)``), with the
    claim-2 threshold ``T = c d (1 + sigma2)/(2 - c)`` (``L_n > L_0`` iff ``n + 1 < T``),
    the zero-shot level ``L_0`` and the shots where the exact curve exceeds it."""
    cfg = _check_cfg(cfg)
    n_list = list(range(int(shots[0]), int(shots[1]) + 1))
    per_d = {}
    for d_ in ds:
        sub = Config(d=int(d_), m=cfg.m, N=cfg.N, sigma2=cfg.sigma2, lam=cfg.lam)
        c = pretrained_c(sub.d, sub.m, sub.sigma2)
        V, W = model("pretrained", sub)
        th = task_vector("target", sub.d)
        L = [numerics.expected_loss(V, W, th, n, sub.sigma2) for n in n_list]
        L0 = numerics.expected_loss(V, W, th, 0, sub.sigma2)
        T = c * sub.d * (1 + sub.sigma2) / (2 - c)
        per_d[int(d_)] = {"c": c, "L": L, "L0": L0, "threshold": T, "n_threshold": T - 1,
                          "above": [n for n, v in zip(n_list, L) if v > L0 * (1 + 1e-12)]}
    return {"config": cfg.as_dict(), "shots": n_list, "ds": [int(x) for x in ds], "per_d": per_d}



# ----------------------------------------------------------------------------- output
def save_figure(fig, out_dir, name: str, formats=("png", "pdf")) -> list[Path]:
    """Write ``fig`` as ``out_dir/name.FMT`` for each format, each through
    :class:`atomic_path` (temporary file beside the target, renamed on success)."""
    paths = []
    for fmt in formats:
        target = Path(out_dir) / f"{name}.{fmt}"
        meta = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
        with atomic_path(target) as tmp:
            with FS.paper_style():
                fig.savefig(tmp, format=fmt, dpi=DPI, metadata=meta)
        paths.append(target)
    return paths



def save_styled(out_dir, makers) -> list[Path]:
    """Draw each ``(name, make)`` of ``makers`` inside :func:`figure_style.paper_style` (the
    Agg backend) and write it with :func:`save_figure`; the written paths in order."""
    import matplotlib  # deferred: matplotlib only when a figure is drawn

    matplotlib.use("Agg")
    paths = []
    with FS.paper_style():
        for name, make in makers:
            paths += save_figure(make(), out_dir, name)
    return paths

def _prepare_out(out_dir) -> Path:
    """The shared output rule (:func:`proofs_check.storage.atomic.prepare_output`): the folder is
    created if missing, its parent must exist, and it must be writable."""
    if isinstance(out_dir, bool) or not isinstance(out_dir, (str, Path)) or str(out_dir) == "":
        raise ValueError(f"out_dir must be a folder path, got {out_dir!r}")
    return prepare_output(out_dir, kind="dir", name="out_dir")


def make_figures(out_dir, cfg: Config | None = None, sgd: bool = True, progress: bool = False,
                 return_data: bool = False):
    """Compute and write the four figures (PNG at 150 dpi and PDF) into ``out_dir`` (created
    if missing).  Returns the list of written paths (8 files), or ``(paths, data)`` with
    ``return_data=True`` (``data[name]`` is the dict each ``*_data`` function returned).
    ``sgd=False`` skips the SGD markers of ``icl_curves``; ``progress`` shows tqdm bars on
    stderr.  Files are written atomically: an interrupt leaves no partial file."""
    cfg = _check_cfg(cfg)
    _check_bool("sgd", sgd)
    _check_bool("progress", progress)
    _check_bool("return_data", return_data)
    out = _prepare_out(out_dir)
    builders = {
        "icl_curves": (lambda: icl_curves_data(cfg, sgd=sgd, progress=progress), draw_icl_curves),
        "w_star": (lambda: w_star_data(cfg), draw_w_star),
        "flow_trajectories": (lambda: flow_trajectories_data(cfg), draw_flow_trajectories),
        "pretrained_threshold": (lambda: pretrained_threshold_data(cfg), draw_pretrained_threshold),
    }
    paths, datas = [], {}
    for name in _bar(FIGURES, progress, "figures"):
        compute, draw = builders[name]
        data = compute()
        fig = draw(data)
        paths += save_figure(fig, out, name)
        datas[name] = data
    return (paths, datas) if return_data else paths


# ----------------------------------------------------------------------------- CLI glue
def summary(paths, data: dict, seconds: float) -> dict:
    """A JSON-serialisable account of a :func:`make_figures` run: the files, the config and
    the numbers behind the qualitative picture (``L_n`` at ``n = N`` and ``n = 40``, flow
    convergence, ``w*(N)``, SGD settings and end points)."""
    icl = data["icl_curves"]
    N = icl["config"]["N"]
    last = icl["shots"][-1]
    methods = {}
    for mth in icl["methods"]:
        ex = icl["exact"][mth]
        methods[mth] = {"flow": icl["flow"][mth],
                        f"target_at_N={N}": ex["target"][N] if N <= last else None,
                        **{f"{t}_at_{last}": ex[t][last] for t in icl["tasks"]}}
        if icl["sgd"] and mth in icl["sgd"]:
            sg = icl["sgd"][mth]
            methods[mth]["sgd"] = {k: sg[k] for k in ("lr", "steps", "batch", "seconds", "loss_end",
                                                      "off_manifold", "coords")}
            methods[mth]["sgd"].update({f"{t}_at_{sg['shots'][-1]}": sg[t][-1] for t in icl["tasks"]})
    ws = data["w_star"]
    i = ws["N"].index(N) if N in ws["N"] else None
    return {"out": str(Path(paths[0]).parent) if paths else None, "files": [str(p) for p in paths],
            "seconds": round(seconds, 2), "config": icl["config"], "sgd": icl["sgd"] is not None,
            "methods": methods,
            "w_star_at_N": None if i is None else ws["w_star"][i],
            "zsfs_v_cb_at_N": None if i is None else ws["zsfs_v_cb"][i],
            "threshold": {d_: {"c": r["c"], "threshold": r["threshold"], "above": r["above"]}
                          for d_, r in data["pretrained_threshold"]["per_d"].items()}}


def render_summary(info: dict, fmt: str = "text") -> str:
    """``fmt``: ``text``, ``markdown`` or ``json`` (the :func:`summary` dict)."""
    if fmt == "json":
        return to_json(info)
    if fmt not in ("text", "markdown"):
        raise ValueError(f"format must be text, markdown or json, got {fmt!r}")
    cfg = info["config"]
    N = cfg["N"]
    head = (f"wrote {len(info['files'])} files to {info['out']} in {info['seconds']:.1f} s "
            f"(d={cfg['d']}, m={cfg['m']}, N={N}, sigma2={cfg['sigma2']:g}, lam={cfg['lam']:g}; "
            f"SGD markers {'on' if info['sgd'] else 'off'})")
    last_keys = [k for k in next(iter(info["methods"].values()))
                 if k.split("_at_")[0] in CURVE_TASKS and not k.startswith("target_at_N=")]
    cols = ["method", f"L_N target (N={N})"] + [k.replace("_at_", " n=") for k in last_keys] + ["flow"]
    rows = []
    for mth, r in info["methods"].items():
        fl = r["flow"]
        conv = "-" if mth == "pretrained" else (f"converged |g|={fl['grad_norm']:.0e}" if fl["converged"]
                                                else f"NOT converged |g|={fl['grad_norm']:.0e}")
        tN = r[f"target_at_N={N}"]
        rows.append([LABELS[mth], "-" if tN is None else f"{tN:.4f}"] + [f"{r[k]:.4f}" for k in last_keys] + [conv])
    extra = []
    for mth, r in info["methods"].items():
        if "sgd" in r:
            sg = r["sgd"]
            ks = [k for k in sg if k.split("_at_")[0] in CURVE_TASKS]
            extra.append(f"SGD {LABELS[mth]}: lr {sg['lr']:.3g}, {sg['steps']} steps, batch {sg['batch']}, "
                         f"{sg['seconds']:.1f} s, objective {sg['loss_end']:.4f}; exact "
                         + ", ".join(f"{k.replace('_at_', ' n=')} {sg[k]:.4f}" for k in ks))
    if info["w_star_at_N"] is not None:
        extra.append(f"w*(N={N}) = c*b = {info['w_star_at_N']:.6f}; V-only ZS+FS optimum c*b = "
                     f"{info['zsfs_v_cb_at_N']:.6f}")
    for d_, r in info["threshold"].items():
        extra.append(f"pretrained d={d_}: c*={r['c']:.4f}, L_n > L_0 iff n+1 < {r['threshold']:.3f}; "
                     f"computed n with L_n > L_0: {r['above'] or 'none'}")
    files = [f"  {f}" for f in info["files"]]
    if fmt == "markdown":
        lines = [f"**{head}**", "", "| " + " | ".join(md_cell(c) for c in cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(md_cell(x) for x in r) + " |" for r in rows]
        return "\n".join(lines + [""] + [f"- {e}" for e in extra] + [""] + [f"- `{f.strip()}`" for f in files])
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *rows)]
    fmt_row = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([head, fmt_row(cols)] + [fmt_row(r) for r in rows] + extra + ["files:"] + files)


def figures_command(out_dir, cfg: Config | None = None, sgd: bool = True, fmt: str = "text",
                    progress: bool = False) -> tuple[str, int]:
    """``iclft figures``: make the figures and return ``(report text, exit status 0)``."""
    if fmt not in ("text", "markdown", "json"):
        raise ValueError(f"format must be text, markdown or json, got {fmt!r}")
    t0 = time.perf_counter()
    paths, data = make_figures(out_dir, cfg, sgd=sgd, progress=progress, return_data=True)
    return render_summary(summary(paths, data, time.perf_counter() - t0), fmt), 0
