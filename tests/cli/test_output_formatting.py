"""Formatting tested on the real evidence that stresses it: a measured tolerance that is not
a power of ten, ``|grad|`` inside a Markdown cell, NumPy booleans in JSON, and the exact
start value of a matrix that is not trained.

``benchmarks/mutation.py`` (mutants R12-R14) plants one bug of this class.
"""
from __future__ import annotations

import json

import numpy as np

from helpers.commands import FINETUNE
from proofs_check.cli.main import main


def test_fmt_tol_on_measured_tolerances_and_negative_zero():
    """A measured accuracy is rarely a power of ten: ``3.47e-06`` allows 6 decimals (a value
    to 6 decimals is within 5e-7 of the truth), ``0.05`` allows 2; a value below the
    accuracy prints as 0, never ``-0``."""
    from proofs_check.cli.endpoint_text import fmt_tol

    for tol, digits in ((1e-7, 7), (3.47e-6, 6), (9.99e-6, 6), (1.2e-5, 5), (0.05, 2), (0.5, 1), (2.0, 0)):
        text = fmt_tol(1.0 / 3.0, tol)
        assert text == (f"{1 / 3:.{digits}f}".rstrip("0").rstrip(".") or "0"), (tol, text)
        assert abs(float(text) - 1 / 3) <= tol
    for x in (-2e-11, -4e-8, 3e-9, -0.0):
        assert fmt_tol(x, 1e-7) == "0"
    assert fmt_tol(-0.25, 1e-7) == "-0.25" and fmt_tol(2.0, 1e-7) == "2"


def test_markdown_of_real_finetune_output_keeps_two_cells_per_row(capsys):
    """``finetune --format markdown`` prints ``|grad|`` inside its cells: every row must still
    have exactly two cells (each ``|`` inside a cell escaped)."""
    import re

    assert main(FINETUNE[:-2] + ["--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "\\|grad\\|" in text
    for line in text.strip().splitlines():
        cells = re.split(r"(?<!\\)\|", line)
        assert len(cells) == 4 and cells[0] == "" and cells[-1] == "", line


def test_json_keeps_numpy_booleans_and_integers_as_json_values():
    """Evidence carries NumPy scalars (``np.bool_`` from comparisons of arrays, ``np.int64``
    counts): JSON must hold ``true``/``3``, not the strings ``"True"``/``"3"``."""
    from proofs_check.storage.json_text import to_json

    obj = {"flag": np.bool_(True), "off": np.False_, "count": np.int64(3), "x": np.float32(0.5),
           "nan": float("nan"), "arr": np.array([1, 2]), "nested": [{"b": np.bool_(False)}]}
    back = json.loads(to_json(obj))
    assert back == {"flag": True, "off": False, "count": 3, "x": 0.5, "nan": "nan", "arr": [1, 2],
                    "nested": [{"b": False}]}
    assert type(back["flag"]) is bool and type(back["count"]) is int


def test_pretrained_scale_keeps_the_exact_start_labels(capsys):
    assert main(["finetune", "--objective", "zs", "--train", "w", "--pretrained-scale", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "final b            1/2 (not trained: exact start value)" in out
