r"""One figure style for every plot of the project: fonts, sizes, colours per method,
caption lines, smoothed training losses, and the check that no text leaves the figure.

API (stable; other modules draw with it):

* :func:`paper_style` - context manager setting the rcParams :data:`RC` (serif mathtext,
  9 pt text, thin lines, no top/right spines); draw *and save* inside it.
* :func:`figure` - a constrained-layout :class:`matplotlib.figure.Figure` sized for a paper:
  ``columns=1`` (:data:`COLUMN_WIDTH`, 3.4 in) or ``columns=2`` (:data:`TEXT_WIDTH`, 7.0 in).
* :func:`method_style` - ``MethodStyle(color, ls, marker, label, tex)`` of a method name of
  :data:`vocabulary.METHODS`: the colour and the marker encode what is trained (all, V, W,
  K, Q), the line style the objective (``Objective.line``: ZS solid, ZS+FS dashed, an
  objective that declares none a dash-dot pattern of its own, :func:`objective_line`), the
  marker face ``Objective.filled`` (filled for ZS, open for ZS+FS).
* :func:`caption` / :func:`add_caption` - the configuration line
  ``d = 5, m = 20, N = 20, σ² = 0.1, λ = 1; seeds 0-3`` (mathtext) under the figure.
* :func:`smoothed` and :func:`plot_loss` - a training loss drawn as its exponential moving
  average with the raw loss faint behind it, both in the legend.
* :func:`text_outside` - the text artists that extend outside the figure (tests assert it is
  empty for every figure).

Colours are the Okabe-Ito palette (distinguishable with colour-blindness).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

import vocabulary

__all__ = ["RC", "COLUMN_WIDTH", "TEXT_WIDTH", "SUBSET_COLORS", "NEUTRAL", "MethodStyle", "method_style",
           "objective_line",
           "paper_style", "figure", "caption", "add_caption", "smoothed", "plot_loss", "text_outside",
           "panel_title", "wrap"]

#: width of one column and of the whole text of a two-column paper, inches
COLUMN_WIDTH = 3.4
TEXT_WIDTH = 7.0

#: rcParams of every figure (mathtext in Computer Modern, so labels match the paper's maths)
RC = {
    "font.family": "serif",
    "font.serif": ["DejaVu Serif"],
    "mathtext.fontset": "cm",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "legend.fontsize": 7.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "figure.titlesize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.0,
    "legend.frameon": False,
    "legend.handlelength": 2.4,
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "savefig.pad_inches": 0.02,
    "figure.constrained_layout.h_pad": 0.03,
    "figure.constrained_layout.w_pad": 0.03,
}

#: Okabe-Ito colours by what is trained
SUBSET_COLORS = {"all": "#D55E00", "V": "#0072B2", "W": "#009E73", "K": "#CC79A7", "Q": "#E69F00"}
#: neutral colour of reference lines (levels, thresholds)
NEUTRAL = "0.45"
_MARKERS = {"all": "o", "V": "s", "W": "^", "K": "D", "Q": "v"}


@dataclass(frozen=True)
class MethodStyle:
    """How one method is drawn: ``color``, ``ls`` (line style), ``marker``, ``filled``
    (marker face), ``label`` (plain, from the vocabulary) and ``tex`` (mathtext label)."""

    color: str
    ls: object
    marker: str | None
    filled: bool
    label: str
    tex: str

    def line_kw(self) -> dict:
        """Keyword arguments of ``Axes.plot`` for the method's line."""
        return {"color": self.color, "ls": self.ls}

    def marker_kw(self) -> dict:
        """Keyword arguments of ``Axes.plot`` for the method's markers (no line)."""
        return {"color": self.color, "ls": "none", "marker": self.marker,
                "mfc": self.color if self.filled else "white", "mew": 1.0}


def method_style(name: str) -> MethodStyle:
    """The style of ``name`` (a key of :data:`vocabulary.METHODS`).

    Raises:
        ValueError: ``name`` is not a method of the vocabulary.
    """
    meth = vocabulary.METHODS.get(name)
    if meth is None:
        raise ValueError(f"name must be one of {', '.join(vocabulary.METHODS)}, got {name!r}")
    if meth.objective is None:
        return MethodStyle("black", "-", None, True, meth.label, "pretrained")
    obj = vocabulary.OBJECTIVES[meth.objective]
    obj_tex = r"\mathrm{" + obj.label.replace("_", r"\_").replace("+", "{+}") + "}"
    trains = meth.trains
    tex = f"${obj_tex}$-{'all' if trains == 'all' else f'${trains}$'}"
    return MethodStyle(SUBSET_COLORS[trains], objective_line(meth.objective), _MARKERS[trains], obj.filled,
                       meth.label, tex)


def objective_line(objective: str):
    """The line style of the methods of ``objective``: its ``Objective.line``, else a
    dash-dot pattern of its own (a dash and ``k`` dots, ``k`` the place of ``objective``
    among the objectives that declare no line, in the order of :data:`vocabulary.OBJECTIVES`).

    Raises:
        ValueError: ``objective`` is not an objective of the vocabulary.
    """
    if objective not in vocabulary.OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(vocabulary.OBJECTIVES)}, got {objective!r}")
    if vocabulary.OBJECTIVES[objective].line is not None:
        return vocabulary.OBJECTIVES[objective].line
    undeclared = [k for k, o in vocabulary.OBJECTIVES.items() if o.line is None]
    return (0, (5, 1.5) + (1, 1.5) * (undeclared.index(objective) + 1))


@contextlib.contextmanager
def paper_style():
    """Context manager: :data:`RC` in force (matplotlib's ``rc_context``)."""
    import matplotlib  # deferred: matplotlib only when a figure is drawn
    with matplotlib.rc_context(RC):
        yield


def figure(columns: int = 2, height: float = 2.6):
    """A constrained-layout figure ``columns`` wide (1: :data:`COLUMN_WIDTH`, 2:
    :data:`TEXT_WIDTH`) and ``height`` inches high (the Agg canvas; no pyplot state).

    Raises:
        ValueError: ``columns`` is not 1 or 2, or ``height`` is not positive.
    """
    from matplotlib.figure import Figure  # deferred: matplotlib only when a figure is drawn
    if columns not in (1, 2):
        raise ValueError(f"columns must be 1 or 2, got {columns!r}")
    if not (isinstance(height, (int, float)) and height > 0):
        raise ValueError(f"height must be positive, got {height!r}")
    return Figure(figsize=(COLUMN_WIDTH if columns == 1 else TEXT_WIDTH, float(height)), layout="constrained")


def _g(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e6:
        return str(int(x))
    return f"{x:g}"


def caption(cfg: dict, seeds=None, extra: str | None = None) -> str:
    """The configuration line of a figure, in mathtext:
    ``$d=5$, $m=20$, $N=20$, $\\sigma^2=0.1$, $\\lambda=1$; seeds 0-3; extra``.

    Args:
        cfg: a dict with any of ``d, m, N, sigma2, lam`` (others ignored).
        seeds: an int, a sequence of ints, or ``None``.
        extra: more text appended after a semicolon.
    """
    names = (("d", "d"), ("m", "m"), ("N", "N"), ("sigma2", r"\sigma^2"), ("lam", r"\lambda"))
    parts = [f"${tex}={_g(cfg[k])}$" for k, tex in names if k in cfg and cfg[k] is not None]
    out = ", ".join(parts)
    if seeds is not None:
        s = [int(seeds)] if isinstance(seeds, (int, np.integer)) else [int(x) for x in seeds]
        if len(s) == 1:
            out += f"; seed {s[0]}"
        elif s == list(range(s[0], s[0] + len(s))):
            out += f"; seeds {s[0]}-{s[-1]}"
        else:
            out += "; seeds " + ", ".join(map(str, s))
    if extra:
        out += "; " + extra
    return out


def wrap(text: str, width: int) -> str:
    """``text`` with each line broken at spaces into lines of at most ``width`` characters,
    never inside a ``$...$`` formula."""
    out = []
    for line in text.split("\n"):
        words, cur = [], ""
        for tok in line.split(" "):  # glue the words of one formula back together
            cur = f"{cur} {tok}" if cur else tok
            if cur.count("$") % 2 == 0:
                words.append(cur)
                cur = ""
        if cur:
            words.append(cur)
        row = ""
        for w in words:
            if row and len(row) + 1 + len(w) > width:
                out.append(row)
                row = w
            else:
                row = f"{row} {w}" if row else w
        out.append(row)
    return "\n".join(out)


def add_caption(fig, text: str):
    """Put ``text`` (one or more lines) under the axes as the figure's caption line, wrapped
    to the figure's width (:func:`wrap`); it is laid out by constrained layout (a
    ``supxlabel``), so it is never clipped."""
    width = int(fig.get_size_inches()[0] * 72 / (0.6 * RC["legend.fontsize"]))
    return fig.supxlabel(wrap(text, width), fontsize=RC["legend.fontsize"], color="0.25",
                         fontfamily=RC["font.family"])


def panel_title(ax, letter: str, text: str):
    """Title ``(a) text`` on the left of a panel."""
    return ax.set_title(f"({letter}) {text}", loc="left")


def smoothed(y, halflife: float | None = None) -> np.ndarray:
    """Exponential moving average of ``y`` (bias-corrected), with ``halflife`` in samples
    (default: 2% of the length, at least 1): ``s_t = sum_k w^(t-k) y_k / sum_k w^(t-k)``,
    ``w = 2^(-1/halflife)``.  Non-finite entries are skipped."""
    y = np.asarray(y, dtype=float)
    if halflife is None:
        halflife = max(1.0, 0.02 * len(y))
    w = 2.0 ** (-1.0 / float(halflife))
    out = np.empty_like(y)
    num = den = 0.0
    for i, v in enumerate(y):
        if math.isfinite(v):
            num = w * num + v
            den = w * den + 1.0
        else:
            num, den = w * num, w * den
        out[i] = num / den if den > 0 else math.nan
    return out


def plot_loss(ax, steps, loss, color, label: str, halflife: float | None = None):
    """Draw a training loss: the raw values faint (labelled "raw") and their
    :func:`smoothed` curve on top (labelled ``label``).  Returns the two lines."""
    raw, = ax.plot(steps, loss, color=color, lw=0.5, alpha=0.25, label=f"{label} (raw minibatch)")
    sm, = ax.plot(steps, smoothed(loss, halflife), color=color, lw=1.4, label=f"{label} (moving average)")
    return raw, sm


def text_outside(fig, tol: float = 0.5) -> list[str]:
    """The visible, non-empty text artists of ``fig`` whose rendered extent leaves the figure
    by more than ``tol`` pixels (titles, labels, tick labels, legends' texts, annotations).
    Draws the figure (Agg) to lay it out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # deferred: matplotlib only when a figure is drawn
    from matplotlib.text import Text  # deferred: matplotlib only when a figure is drawn

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    # tick objects outside the view limits keep stale labels that are never drawn
    hidden = set()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            span = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                loc = tick.get_loc()
                if loc is None or not (lo - span <= loc <= hi + span):
                    hidden.update((id(tick.label1), id(tick.label2)))
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        if id(t) in hidden:
            continue
        ax = t.axes
        if ax is not None and not ax.get_visible():
            continue
        try:
            bb = t.get_window_extent(renderer)
        except Exception:  # pragma: no cover (an artist that cannot be laid out)
            continue
        if bb.x0 < -tol or bb.y0 < -tol or bb.x1 > W + tol or bb.y1 > H + tol:
            out.append(f"{t.get_text()[:60]!r} at ({bb.x0:.0f}, {bb.y0:.0f})-({bb.x1:.0f}, {bb.y1:.0f}) "
                       f"in a {W:.0f}x{H:.0f} figure")
    return out
