"""JSON text of results: what ``--format json`` prints and ``experiment.json`` holds.

NumPy scalars and arrays become JSON values (``np.bool_`` is ``true``, ``np.int64`` an
integer), SymPy booleans, integers and floats become ``bool``, ``int`` and ``float`` (a
SymPy rational stays an exact ``"p/q"`` string), non-finite floats become the strings
``"nan"``, ``"inf"``, ``"-inf"``, and anything else its ``str``.  Dictionary keys become
strings; their order is kept.
"""
from __future__ import annotations

import json
import math

__all__ = ["json_safe", "to_json"]


def _sympy_plain(obj):
    """A SymPy boolean as ``bool``, a SymPy integer as ``int``, a SymPy float as ``float``
    (a SymPy rational stays an exact ``"p/q"`` string); anything else unchanged."""
    mod = type(obj).__module__ or ""
    if not mod.startswith("sympy"):
        return obj
    if getattr(obj, "is_Boolean", False) and obj in (True, False):
        return bool(obj)
    if getattr(obj, "is_Integer", False):
        return int(obj)
    if getattr(obj, "is_Float", False):
        return float(obj)
    return obj


def json_safe(obj):
    """A copy of ``obj`` made only of JSON values (see the module docstring).

    Args:
        obj: nested dicts, lists and tuples of numbers, strings, NumPy and SymPy values.

    Returns:
        The same structure with dicts, lists, ``str``, ``int``, ``float``, ``bool`` and ``None``.
    """
    import numpy as np  # deferred: the CLI sets its BLAS thread count before NumPy is loaded

    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    obj = _sympy_plain(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def to_json(obj) -> str:
    """``obj`` as indented JSON text (:func:`json_safe` first), keys in their order.

    Args:
        obj: as for :func:`json_safe`.

    Returns:
        The JSON text, without a final newline.
    """
    return json.dumps(json_safe(obj), indent=2, sort_keys=False)
