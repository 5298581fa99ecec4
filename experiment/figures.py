r"""The figures of ``iclft experiment``, drawn from its result (PNG and PDF each, written
atomically in the paper style of :mod:`proofs_check.export.figure_style`).

Conventions: see :mod:`proofs_check` (stated once there).

* ``linear_tf_thetas_qkv.{png,pdf}`` (:func:`thetas_figure`): one panel per task; per method
  the theory end point as a line and the experiment's mean over runs as markers;
* ``train_losses.{png,pdf}`` (:func:`losses_figure`): the pretraining and fine-tuning
  minibatch losses, moving average over the faint raw loss;
* ``experiment_ladder.{png,pdf}``: one panel per method; per task (``theta0`` and
  ``-theta0``) the experiment's mean over runs as markers with the seed range (min to max)
  as error bars, the last exact rung (``same_data``, else ``same_optimizer``) as a solid
  line, the idealised theory dashed;
* ``experiment_attribution.{png,pdf}``: per method stacked bars of the distances between
  consecutive rungs (largest ``|difference|`` over tasks and shots: start, optimiser,
  data, noise) as shares of their sum, the sum written above each bar (the distances
  are not additive: consecutive steps can point in opposite directions).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vocabulary import TASKS

from proofs_check.export import figure_style as FS
from proofs_check.export.figures import save_styled

__all__ = ["CAUSE_COLOURS", "CAUSE_LABELS", "TASK_COLOURS", "log_ticks", "ladder_figure", "attribution_figure",
           "draw_ladder_figures", "thetas_figure", "losses_figure", "draw_figures"]

#: Okabe-Ito colours of the causes (rung-to-rung steps)
CAUSE_COLOURS = {"start": "#56B4E9", "optimizer": "#E69F00", "data": "#009E73", "noise": "#CC79A7"}
#: the causes' names in the figures
CAUSE_LABELS = {"start": "start", "optimizer": "optimiser", "data": "data", "noise": "noise"}
#: the colours of the two tasks of the ladder figure
TASK_COLOURS = {"target": "#0072B2", "negated": "#D55E00"}


def _last_rung(ladder: dict) -> str | None:
    for name in ("same_data", "same_optimizer", "from_start"):
        if name in ladder:
            return name
    return None


def log_ticks(ax):
    """Readable ticks of a log-scaled y axis: major ticks at 1, 2, 5 times powers of ten
    written plainly (``0.2``, ``5``), no minor labels."""
    from matplotlib import ticker  # deferred: matplotlib only when a figure is drawn
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _ladder_methods(result: dict) -> dict:
    return {m: e for m, e in result["methods"].items() if "ladder" in e}


def _runs(cfg: dict) -> int:
    return cfg.get("seeds", 1) * cfg.get("pretrain_seeds", 1)


def _caption(cfg: dict, extra: str) -> str:
    runs, seed = _runs(cfg), cfg.get("seed", 0)
    return FS.caption(cfg, seeds=range(seed, seed + runs) if runs > 1 else seed,
                      extra=f"{cfg['optimizer']}, {cfg['finetune_steps']} fine-tuning steps, "
                            f"dataset of {cfg.get('dataset_size')} prompts; {extra}")


def ladder_figure(result: dict):
    """The ``experiment_ladder`` figure (draw and save inside
    :func:`figure_style.paper_style`); ``None`` when no method has a ladder."""
    methods = _ladder_methods(result)
    if not methods:
        return None
    from matplotlib.lines import Line2D  # deferred: matplotlib only when a figure is drawn


    cols = min(4, len(methods))
    rows = (len(methods) + cols - 1) // cols
    fig = FS.figure(2, 1.75 * rows + 1.1)
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    for k, (ax, (mth, e)) in enumerate(zip(axes.flat, methods.items())):
        shots = np.asarray(e["shots"], dtype=float)
        last = _last_rung(e["ladder"])
        for task, c in TASK_COLOURS.items():
            mean = np.asarray(e["curves"][task])
            sp = e["spread"][task]
            if last is not None:
                ax.plot(shots, e["ladder"][last]["curves"][task], color=c, lw=1.3, zorder=2)
            ax.plot(shots, e["ladder"]["idealised"]["curves"][task], color=c, lw=1.0, ls=(0, (4, 2)), alpha=0.75,
                    zorder=2)
            yerr = np.maximum(np.vstack([mean - np.asarray(sp["min"]), np.asarray(sp["max"]) - mean]), 0)
            ax.errorbar(shots, mean, yerr=yerr, fmt="o", ms=2.6, color=c, mfc="white", mew=0.8, elinewidth=0.7,
                        capsize=1.2, zorder=3)
        ax.set_yscale("log")
        ok = e.get("agreement", {}).get("within")
        FS.panel_title(ax, "abcdefghijklmnop"[k], FS.method_style(mth).tex
                       + ("" if ok is None else (r" $\checkmark$" if ok else r" $\times$")))
        log_ticks(ax)
    for ax in axes.flat[len(methods):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("number of shots $n$")
    for ax in axes[:, 0]:
        ax.set_ylabel("test error (exact)")
    runs = _runs(result["config"])
    handles = [Line2D([0], [0], color=c, marker="o", mfc="white", ls="none") for c in TASK_COLOURS.values()]
    handles += [Line2D([0], [0], color=FS.NEUTRAL, lw=1.3), Line2D([0], [0], color=FS.NEUTRAL, lw=1.0, ls=(0, (4, 2)))]
    labels = [f"experiment, {TASKS[t].label} (mean; bars: min-max of {runs} runs)" for t in TASK_COLOURS]
    labels += ["exact: same optimiser on the finite dataset", "exact: idealised theory"]
    fig.legend(handles, labels, ncol=2, loc="outside upper center")
    FS.add_caption(fig, _caption(result["config"], r"$\checkmark$ ($\times$): the last exact rung "
                                                   "predicts (misses) the experiment within the seed range"))
    return fig


def attribution_figure(result: dict):
    """The ``experiment_attribution`` figure; ``None`` when no method has a ladder."""
    methods = _ladder_methods(result)
    if not methods:
        return None

    fig = FS.figure(2, 2.7)
    ax = fig.subplots()
    names = list(methods)
    vals = {c: np.array([methods[m]["attribution"].get(c, 0.0) for m in names]) for c in CAUSE_COLOURS}
    total = np.maximum(sum(vals.values()), 1e-300)
    bottom = np.zeros(len(names))
    x = np.arange(len(names))
    for cause, colour in CAUSE_COLOURS.items():
        share = vals[cause] / total
        ax.bar(x, share, bottom=bottom, color=colour, label=CAUSE_LABELS[cause], edgecolor="white", lw=0.5, width=0.7)
        bottom += share
    for i, t in enumerate(total):
        ax.text(i, 1.015, f"{t:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [FS.method_style(m).tex for m in names])
    ax.set_ylim(0, 1.12)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.grid(False, axis="x")
    ax.set_ylabel("share of the summed distances")
    ax.set_title("rung-to-rung distances per method (largest $|\\Delta|$ over tasks and $n$); "
                 "their sum above each bar", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="step")
    FS.add_caption(fig, _caption(result["config"], "the distances are not additive"))
    return fig


def draw_ladder_figures(out: Path, result: dict) -> list[Path]:
    """Write both figures into ``out`` (PNG and PDF each, atomically); nothing when no
    method has a ladder (more than one layer or head, or ``--no-ladder``)."""
    if not _ladder_methods(result):
        return []
    return save_styled(out, [("experiment_ladder", lambda: ladder_figure(result)),
                             ("experiment_attribution", lambda: attribution_figure(result))])


# ----------------------------------------------------------------------------- result figures
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
    from matplotlib.lines import Line2D  # deferred: matplotlib only when a figure is drawn
    from matplotlib.ticker import MaxNLocator  # deferred: matplotlib only when a figure is drawn

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
    from matplotlib.lines import Line2D  # deferred: matplotlib only when a figure is drawn

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
    return save_styled(out, [("linear_tf_thetas_qkv", lambda: thetas_figure(result)),
                             ("train_losses", lambda: losses_figure(result))])
