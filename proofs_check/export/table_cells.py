"""Numbers and Markdown table cells as plain text, shared by the reports of the CLI, the
domain search and the figures' data tables."""
from __future__ import annotations

import math

__all__ = ["fmt_num", "md_cell"]


def fmt_num(x) -> str:
    """A value as table text: floats to 6 significant digits, non-finite floats by name."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return str(x)
        return f"{x:.6g}"
    return str(x)


def md_cell(x) -> str:
    """Text safe inside a Markdown table cell: ``|`` escaped, line breaks as ``<br>``."""
    return str(x).replace("\\|", "|").replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")
