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

from vocabulary import METHODS, TASKS

__all__ = ["draw_ladder_figures", "CAUSE_COLOURS"]

CAUSE_COLOURS = {"start": "#4D96FF", "optimizer": "#E0B000", "data": "#6BCB77", "noise": "#FF6B6B"}
TASK_COLOURS = {"target": "#1f4e9c", "negated": "#c0392b"}


def _last_rung(ladder: dict) -> str | None:
    for name in ("same_data", "same_optimizer", "from_start"):
        if name in ladder:
            return name
    return None


def draw_ladder_figures(out: Path, result: dict) -> list[Path]:
    """Write both figures into ``out`` (PNG and PDF each, atomically); nothing when no
    method has a ladder (more than one layer or head, or ``--no-ladder``)."""
    methods = {m: e for m, e in result["methods"].items() if "ladder" in e}
    if not methods:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from .figures import save_figure

    paths = []
    cols = min(4, len(methods))
    rows = (len(methods) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.6 * rows + 0.8), sharex=True, squeeze=False)
    for ax, (mth, e) in zip(axes.flat, methods.items()):
        shots = np.asarray(e["shots"])
        last = _last_rung(e["ladder"])
        for task in ("target", "negated"):
            c = TASK_COLOURS[task]
            mean = np.asarray(e["curves"][task])
            sp = e["spread"][task]
            yerr = np.vstack([mean - np.asarray(sp["min"]), np.asarray(sp["max"]) - mean])
            ax.errorbar(shots, mean, yerr=yerr, fmt="o", ms=3.2, color=c, mfc="none", elinewidth=0.9, capsize=1.5,
                        zorder=3)
            if last is not None:
                ax.plot(shots, e["ladder"][last]["curves"][task], color=c, lw=1.3)
            ax.plot(shots, e["ladder"]["idealised"]["curves"][task], color=c, lw=1.0, ls="--", alpha=0.7)
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        ok = e.get("agreement", {}).get("within")
        ax.set_title(f"{METHODS[mth].label}" + ("" if ok is None else (" (agrees)" if ok else " (misses)")),
                     fontsize=10)
    for ax in axes.flat[len(methods):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("number of shots n")
    for ax in axes[:, 0]:
        ax.set_ylabel("test error (exact)")
    cfg = result["config"]
    runs = cfg.get("seeds", 1) * cfg.get("pretrain_seeds", 1)
    handles = [Line2D([0], [0], color=TASK_COLOURS[t], marker="o", mfc="none", ls="none") for t in TASK_COLOURS]
    handles += [Line2D([0], [0], color="0.3", lw=1.3), Line2D([0], [0], color="0.3", lw=1.0, ls="--")]
    labels = [f"experiment, {TASKS[t].label} (mean, min-max of {runs} runs)" for t in TASK_COLOURS]
    labels += ["exact: same optimiser on the finite dataset", "exact: idealised theory"]
    fig.legend(handles, labels, ncol=2, fontsize=8, loc="upper center", frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))
    paths += save_figure(fig, out, "experiment_ladder")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    names = list(methods)
    vals = {c: np.array([methods[m]["attribution"].get(c, 0.0) for m in names]) for c in CAUSE_COLOURS}
    total = np.maximum(sum(vals.values()), 1e-300)
    bottom = np.zeros(len(names))
    for cause, colour in CAUSE_COLOURS.items():
        share = vals[cause] / total
        ax.bar(names, share, bottom=bottom, color=colour, label=cause, edgecolor="white", lw=0.5)
        bottom += share
    for i, t in enumerate(total):
        ax.text(i, 1.02, f"{t:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 1.16)
    ax.set_ylabel("share of the summed distances")
    ax.set_title("rung-to-rung distances (largest |difference|) per method; sum above each bar", fontsize=9)
    ax.legend(fontsize=8, ncol=4, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.grid(alpha=0.3, axis="y", lw=0.4)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    paths += save_figure(fig, out, "experiment_attribution")
    plt.close(fig)
    return paths
