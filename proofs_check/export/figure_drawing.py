"""How the paper's figures are drawn: each ``draw_*`` turns the dict of numbers that the
matching ``*_data`` function of :mod:`proofs_check.export.figures` returns into a
:class:`matplotlib.figure.Figure` (no pyplot, so no global backend state: the figures are
rendered by the Agg canvas), in the style of :mod:`proofs_check.export.figure_style`.

A curve that hides another is drawn with open markers and named in the caption; values
outside the plotted range are named in the caption too.
"""
from __future__ import annotations

import math

import numpy as np

import vocabulary
from proofs_check.export import figure_style as FS
from proofs_check.methods.models import MERGED_METHODS

__all__ = ["LABELS", "TASK_TITLES", "draw_icl_curves", "draw_w_star", "draw_flow_trajectories",
           "draw_pretrained_threshold"]

#: legend labels of the methods and panel titles of the tasks: ``Method.label`` and
#: ``Task.label`` of :mod:`vocabulary`
LABELS = {m: vocabulary.METHODS[m].label for m in MERGED_METHODS}
TASK_TITLES = {t: task.label for t, task in vocabulary.TASKS.items()}

def _positive_floor(values) -> float:
    return max(min(v for v in values if v > 0), 1e-6)


_LOG_TICKS = [k * 10.0 ** e for e in range(-4, 4) for k in (1, 2, 5)]


def _coinciding(curves: dict, methods, tol: float = 1e-9) -> list[tuple[str, str]]:
    """Pairs of methods whose curves agree to ``tol`` (relative) on every task: drawn with
    markers and named in the caption, so that no line hides another unannounced."""
    out = []
    ms = list(methods)
    for i, m1 in enumerate(ms):
        for m2 in ms[i + 1:]:
            if all(np.allclose(curves[m1][t], curves[m2][t], rtol=tol, atol=tol) for t in curves[m1]):
                out.append((m1, m2))
    return out


def draw_icl_curves(data: dict):
    from matplotlib.lines import Line2D  # deferred: matplotlib only when a figure is drawn
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter  # deferred: matplotlib only when a figure is drawn

    cfg = data["config"]
    with FS.paper_style():
        fig = FS.figure(2, 3.3)
        axes = fig.subplots(1, len(data["tasks"]), sharey=True)
        allv = [v for m in data["exact"].values() for vs in m.values() for v in vs]
        if data["sgd"]:
            allv += [v for m in data["sgd"].values() for t in data["tasks"] for v in m[t]]
        s2 = cfg["sigma2"]
        lo, hi = _positive_floor(allv), max(allv)
        # clip the scale to [1e-3 (1 + sigma2), 30 (1 + sigma2)]: degenerate configurations
        # (sigma2 = 0, diverging flows) otherwise squash every curve; clipped curves are named
        y_lo = max(lo / 1.25, 1e-3 * (1 + s2))
        y_hi = min(hi * 1.25, 30.0 * (1 + s2))
        same = _coinciding(data["exact"], data["methods"])
        hidden = {m2 for _m1, m2 in same}
        off_notes = []
        for k, (ax, task) in enumerate(zip(axes, data["tasks"])):
            for j, mth in enumerate(data["methods"]):
                st = FS.method_style(mth)
                lw = 2.2 if mth == "pretrained" else 1.2
                # a curve that coincides with an earlier one carries markers (offset per method)
                mk = dict(marker=st.marker or "o", markevery=(2 + 3 * j % 7, 8), ms=3.5,
                          mfc="white", mew=0.9) if mth in hidden else {}
                ax.plot(data["shots"], data["exact"][mth][task], lw=lw, zorder=3 if mth in hidden else 2,
                        **st.line_kw(), **mk)
                if data["sgd"] and mth in data["sgd"]:
                    sg = data["sgd"][mth]
                    ax.plot(sg["shots"], sg[task], ms=4.5, zorder=4, **st.marker_kw())
            ax.axhline(1 + s2, color=FS.NEUTRAL, lw=0.7, ls=":")
            if s2 > 0:
                ax.axhline(s2, color=FS.NEUTRAL, lw=0.7, ls="-.")
            ax.set_yscale("log")
            ax.set_ylim(y_lo, y_hi)
            ticks = [t for t in _LOG_TICKS if y_lo <= t <= y_hi]
            if len(ticks) > 9:
                ticks = [t for t in ticks if f"{t:g}".lstrip("0.").startswith("1")]
            for m in data["methods"]:
                if max(data["exact"][m][task]) > y_hi:
                    off_notes.append(f"{LABELS[m]} on {TASK_TITLES[task]} (max {max(data['exact'][m][task]):.3g})")
                if min(data["exact"][m][task]) < y_lo:
                    off_notes.append(f"{LABELS[m]} on {TASK_TITLES[task]} (min {min(data['exact'][m][task]):.2g})")
            ax.yaxis.set_major_locator(FixedLocator(ticks))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlim(data["shots"][0] - 0.5, data["shots"][-1] + 0.5)
            ax.set_xlabel("shots $n$")
            FS.panel_title(ax, "abc"[k], TASK_TITLES[task])
            ax.grid(True, which="minor", alpha=0.1)
            ax.axvline(cfg["N"], color="0.75", lw=0.7, ls="--", zorder=0)
        axes[0].set_ylabel("test error $L_n$ (log scale)")
        handles = []
        for m in data["methods"]:
            st = FS.method_style(m)
            has_sgd = bool(data["sgd"]) and m in data["sgd"]
            kw = {**st.line_kw(), **({k: v for k, v in st.marker_kw().items() if k != "ls"} if has_sgd else {})}
            handles.append(Line2D([], [], lw=2.2 if m == "pretrained" else 1.2, **kw,
                                  label=st.tex + ("" if data["flow"][m]["converged"] else " (flow NOT converged)")))
        handles.append(Line2D([], [], color=FS.NEUTRAL, lw=0.7, ls=":", label=r"$1+\sigma^2$"))
        if s2 > 0:
            handles.append(Line2D([], [], color=FS.NEUTRAL, lw=0.7, ls="-.", label=r"$\sigma^2$ (noise floor)"))
        if cfg["N"] <= data["shots"][-1]:
            handles.append(Line2D([], [], color="0.75", lw=0.7, ls="--", label="$n = N$"))
        fig.legend(handles=handles, loc="outside upper center", ncol=6, fontsize=7)
        notes = ["lines: exact error of the gradient-flow limit"]
        if data["sgd"]:
            batch = ", ".join(str(b) for b in sorted({r["batch"] for r in data["sgd"].values()}))
            notes.append(f"markers: SGD-trained models (batch {batch}, Polyak average), exact error")
        for m1, m2 in same:
            notes.append(f"{LABELS[m2]} coincides with {LABELS[m1]} (drawn with open markers)")
        if off_notes:
            notes.append("off scale: " + ", ".join(off_notes))
        FS.add_caption(fig, FS.caption(cfg, seeds=0 if data["sgd"] else None) + "\n" + "; ".join(notes))
    return fig


def draw_w_star(data: dict):
    cfg = data["config"]
    with FS.paper_style():
        fig = FS.figure(1, 2.9)
        ax = fig.subplots()
        v_fs, v_zs = FS.method_style("zsfs-v"), FS.method_style("zs-v")
        ax.plot(data["N"], data["w_star"], color=v_zs.color, lw=1.4,
                label=r"$w^\star(N) = c\,b$: FS-optimal $b$ at the ZS-$V$ $a$")
        gap = max(abs(x - y) for x, y in zip(data["w_star"], data["zsfs_v_cb"]))
        ax.plot(data["N"], data["zsfs_v_cb"], lw=1.4, **v_fs.line_kw(), marker="s", markevery=6, ms=3,
                mfc="white", mew=0.8, label=r"$c\,b$ of the ZS+FS-$V$ optimum")
        ax.axhline(data["c"], color=FS.NEUTRAL, lw=0.7, ls="-.", label=rf"pretrained $c\,b = c^\star = {data['c']:.3f}$")
        N0 = data["default_N"]
        if data["N"][0] <= N0 <= data["N"][-1]:
            i = data["N"].index(N0)
            ax.axvline(N0, color="0.75", lw=0.7, ls="--", zorder=0)
            ax.plot([N0], [data["w_star"][i]], "o", color=v_zs.color, ms=4)
            ax.plot([N0], [data["zsfs_v_cb"][i]], "o", color=v_fs.color, ms=4)
        ax.set_xlabel("fine-tuning shots $N$")
        ax.set_ylabel(r"optimal $c\,b$")
        ax.set_xlim(data["N"][0], data["N"][-1])
        FS.panel_title(ax, "a", "label-slot weight against $N$")
        fig.legend(loc="outside upper center", ncol=1, fontsize=7)
        FS.add_caption(fig, FS.caption(cfg) + r"; $c = c^\star$" + "\n"
                       + f"the two curves differ by at most {gap:.2g} (open markers)"
                       + (f"; dots: $N = {N0}$" if data["N"][0] <= N0 <= data["N"][-1] else ""))
    return fig


def draw_flow_trajectories(data: dict):
    from matplotlib.lines import Line2D  # deferred: matplotlib only when a figure is drawn

    cfg = data["config"]
    with FS.paper_style():
        fig = FS.figure(2, 3.0)
        axes = fig.subplots(1, 2)
        # the start (t = 0) is drawn at the left edge t_lo (below 1e-5 the coordinates have not moved visibly)
        positive_t = [t for f in data["flows"].values() for t in f["t"] if t > 0]
        t_lo = max(10 ** math.floor(math.log10(min(positive_t))), 1e-5) if positive_t else 1e-5
        t_hi = max([f["t_final"] for f in data["flows"].values()] + [1.0])
        coords = (("a", r"value weight $a$ ($v_x = a\,\theta_0$)"),
                  ("alpha", r"attention weight $\alpha$ on $x \perp \theta_0$"))
        same = {}
        for k, (ax, (coord, lab)) in enumerate(zip(axes, coords)):
            drawn = []
            ys = [v for f in data["flows"].values() for v in f[coord]]
            close = 0.01 * (max(ys) - min(ys) or 1.0)  # curves closer than 1% of the panel overlap
            for j, mth in enumerate(data["methods"]):
                f = data["flows"][mth]
                st = FS.method_style(mth)
                t = np.asarray(f["t"])
                y = np.asarray(f[coord])
                keep = t > t_lo
                # the start (t = 0) is drawn at the left edge, and the limit held to the right edge
                tt = np.concatenate([[t_lo], t[keep], [t_hi * 3]])
                yy = np.concatenate([[y[0]], y[keep], [y[-1]]])
                grid_t = np.geomspace(t_lo, t_hi * 3, 200)
                on_grid = np.interp(np.log(grid_t), np.log(tt), yy)
                twin = next((m for m, y2 in drawn if np.max(np.abs(y2 - on_grid)) < close), None)
                mk = {}
                if twin is not None:  # an overlapping curve: open markers, named in the caption
                    same.setdefault((coord, LABELS[twin]), []).append(LABELS[mth])
                    mk = dict(marker=st.marker, markevery=0.12 + 0.05 * j, ms=3.5, mfc="white", mew=0.9)
                ax.plot(tt, yy, lw=1.3, **st.line_kw(), **mk)
                ax.plot([f["t_final"]], [y[-1]], marker="o", color=st.color, ms=3.5, ls="none")
                drawn.append((mth, on_grid))
            ax.set_xscale("log")
            ax.set_xlim(t_lo, t_hi * 3)
            ax.set_xlabel("flow time $t$ (log scale; start at the left edge)")
            ax.set_ylabel(lab.split(" (")[0] if k else lab)
            FS.panel_title(ax, "ab"[k], (r"$a$" if coord == "a" else r"$\alpha$") + " along the exact flow")
        axes[1].axhline(data["c"], color=FS.NEUTRAL, lw=0.7, ls=":")
        handles = [Line2D([], [], lw=1.3, **FS.method_style(m).line_kw(), label=FS.method_style(m).tex
                          + ("" if data["flows"][m]["converged"] else " (NOT converged)")) for m in data["methods"]]
        handles.append(Line2D([], [], ls="none", marker="o", color="0.3", ms=3.5, label="end of the flow"))
        handles.append(Line2D([], [], color=FS.NEUTRAL, lw=0.7, ls=":", label=rf"pretrained $c^\star = {data['c']:.3f}$"))
        fig.legend(handles=handles, loc="outside upper center", ncol=4, fontsize=7)
        notes = []
        for (coord, first), others in same.items():
            notes.append(f"{', '.join(others)} within 1% of {first} in {'a' if coord == 'a' else 'alpha'} "
                         "(open markers)")
        omitted = [LABELS[m] for m in MERGED_METHODS if MERGED_METHODS[m] is not None and m not in data["methods"]]
        if omitted:
            notes.append(f"not shown: {', '.join(omitted)} (the flow does not move from the pretrained point)")
        FS.add_caption(fig, FS.caption(cfg) + ("\n" + "; ".join(notes) if notes else ""))
    return fig


def draw_pretrained_threshold(data: dict):
    from matplotlib.lines import Line2D  # deferred: matplotlib only when a figure is drawn
    from matplotlib.patches import Patch  # deferred: matplotlib only when a figure is drawn

    cfg = data["config"]
    k = len(data["ds"])
    ncol = 2 if k > 1 else 1
    nrow = math.ceil(k / ncol)
    red = FS.SUBSET_COLORS["all"]
    with FS.paper_style():
        fig = FS.figure(2 if ncol == 2 else 1, 2.0 * nrow + 0.9)
        axes = np.atleast_1d(fig.subplots(nrow, ncol)).ravel()
        n = np.asarray(data["shots"])
        for j, (ax, d_) in enumerate(zip(axes, data["ds"])):
            r = data["per_d"][d_]
            L = np.asarray(r["L"])
            nt = r["n_threshold"]
            if nt > n[0]:
                ax.axvspan(n[0] - 0.5, min(nt, n[-1] + 0.5), color=red, alpha=0.12, lw=0)
            ax.axvline(nt, color=red, lw=1.0, ls="--")
            ax.axhline(r["L0"], color=FS.NEUTRAL, lw=0.8, ls=":")
            ax.plot(n, L, color="black", lw=1.3)
            up = np.isin(n, r["above"])
            ax.plot(n[up], L[up], "o", color=red, ms=3.5)
            ax.plot(n[~up], L[~up], "o", color="black", ms=1.8)
            ax.set_xlim(n[0] - 0.5, n[-1] + 0.5)
            FS.panel_title(ax, "abcdefgh"[j], rf"$d = {d_}$: $c^\star = {r['c']:.3f}$, threshold $n+1 = {r['threshold']:.2f}$")
            ax.set_xlabel("shots $n$")
            ax.set_ylabel(r"$L_n(\theta_0)$")
        for ax in axes[k:]:
            ax.set_visible(False)
        handles = [Line2D([], [], color="black", lw=1.3, label="pretrained $L_n$ (exact)"),
                   Line2D([], [], color=FS.NEUTRAL, lw=0.8, ls=":", label=r"zero-shot level $L_0 = 1+\sigma^2$"),
                   Line2D([], [], color=red, lw=1.0, ls="--",
                          label=r"derived threshold $n+1 = c\,d(1+\sigma^2)/(2-c)$"),
                   Patch(color=red, alpha=0.12, label=r"predicted region $L_n > L_0$"),
                   Line2D([], [], ls="none", marker="o", color=red, ms=3.5, label=r"computed $L_n > L_0$")]
        fig.legend(handles=handles, loc="outside upper center", ncol=3, fontsize=7)
        FS.add_caption(fig, FS.caption({"m": cfg["m"], "sigma2": cfg["sigma2"]}) + r"; $c = c^\star(d)$" + "\n"
                       "the few-shot error of the pretrained model exceeds its zero-shot error for small $n$ "
                       "(claim pretrain.fewshot_vs_zeroshot)")
    return fig
