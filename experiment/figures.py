r"""The ladder figures of ``iclft experiment``: the experiment band against the exact rungs,
and the attribution of the gap per method.

Conventions: see :mod:`proofs_check` (stated once there).

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

__all__ = ["draw_ladder_figures", "ladder_figure", "attribution_figure", "CAUSE_COLOURS"]

#: Okabe-Ito colours of the causes (rung-to-rung steps)
CAUSE_COLOURS = {"start": "#56B4E9", "optimizer": "#E69F00", "data": "#009E73", "noise": "#CC79A7"}
CAUSE_LABELS = {"start": "start", "optimizer": "optimiser", "data": "data", "noise": "noise"}
TASK_COLOURS = {"target": "#0072B2", "negated": "#D55E00"}


def _last_rung(ladder: dict) -> str | None:
    for name in ("same_data", "same_optimizer", "from_start"):
        if name in ladder:
            return name
    return None


def log_ticks(ax):
    """Readable ticks of a log-scaled y axis: major ticks at 1, 2, 5 times powers of ten
    written plainly (``0.2``, ``5``), no minor labels."""
    from matplotlib import ticker
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _ladder_methods(result: dict) -> dict:
    return {m: e for m, e in result["methods"].items() if "ladder" in e}


def _runs(cfg: dict) -> int:
    return cfg.get("seeds", 1) * cfg.get("pretrain_seeds", 1)


def _caption(cfg: dict, extra: str) -> str:
    from proofs_check.export import figure_style as FS
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
    from matplotlib.lines import Line2D

    from proofs_check.export import figure_style as FS

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
    from proofs_check.export import figure_style as FS

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
    from proofs_check.export.figures import save_styled  # matplotlib is imported only when drawing

    return save_styled(out, [("experiment_ladder", lambda: ladder_figure(result)),
                             ("experiment_attribution", lambda: attribution_figure(result))])
