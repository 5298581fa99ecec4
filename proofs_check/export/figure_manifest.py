"""Fingerprints of committed figures, so that a test can tell when a figure in
``docs/figures`` is older than the code that draws it.

A figure's fingerprint is two SHA-256 digests:

* ``code``: the source of its ``draw_*`` function and of :mod:`proofs_check.export.figure_style`
  (any change to how the figure is drawn changes it);
* ``data``: the JSON of the numbers it plots, floats rounded to :data:`DIGITS` significant
  digits (so the last bits that differ between CPUs do not count).

``python docs/regenerate_figures.py`` draws every docs figure and writes
``docs/figures/MANIFEST.json`` (``{name: {"code", "data", "files"}}``);
``tests/export/test_figure_style.py`` recomputes the code digests of every entry and the data
digests of the closed-form figures, and fails when one differs.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math

import numpy as np

from proofs_check.export import escape_figure, figure_drawing, figure_style

__all__ = ["DIGITS", "drawers", "code_digest", "data_digest", "fingerprint"]

#: significant digits kept in the data digest
DIGITS = 6


def drawers() -> dict:
    """``{figure name: draw function}`` of every docs figure made by the regeneration script."""
    return {"icl_curves": figure_drawing.draw_icl_curves, "w_star": figure_drawing.draw_w_star,
            "flow_trajectories": figure_drawing.draw_flow_trajectories,
            "pretrained_threshold": figure_drawing.draw_pretrained_threshold,
            "escape": escape_figure.draw_escape}


def code_digest(name: str) -> str:
    """SHA-256 of the source of the figure's draw function and of the style module.

    Raises:
        ValueError: ``name`` is not a figure of :func:`drawers`.
    """
    table = drawers()
    if name not in table:
        raise ValueError(f"name must be one of {', '.join(table)}, got {name!r}")
    src = inspect.getsource(table[name]) + inspect.getsource(figure_style)
    return hashlib.sha256(src.encode()).hexdigest()


def _rounded(obj):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj) or obj == 0.0:
            return str(obj) if not math.isfinite(obj) else 0.0
        return float(f"{obj:.{DIGITS - 1}e}")
    if isinstance(obj, dict):
        return {str(k): _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    if isinstance(obj, np.generic):
        return _rounded(obj.item())
    if isinstance(obj, np.ndarray):
        return _rounded(obj.tolist())
    return str(obj)


def data_digest(data: dict, ignore=("seconds",)) -> str:
    """SHA-256 of the JSON of ``data`` with floats rounded to :data:`DIGITS` significant
    digits; keys named in ``ignore`` (wall-clock seconds) are dropped at every level."""
    def drop(o):
        if isinstance(o, dict):
            return {k: drop(v) for k, v in o.items() if k not in ignore}
        if isinstance(o, (list, tuple)):
            return [drop(v) for v in o]
        return o
    text = json.dumps(_rounded(drop(data)), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(name: str, data: dict) -> dict:
    """``{"code": code_digest(name), "data": data_digest(data)}``."""
    return {"code": code_digest(name), "data": data_digest(data)}
