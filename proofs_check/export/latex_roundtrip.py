r"""The parse round trip of the LaTeX document: every display, in its *parseable* spelling
(explicit ``\cdot``, subscript ``p`` for ``\perp``: SymPy's lark grammar reads neither
implicit products nor ``K_{\perp}``), is parsed back with ``parse_latex(..., backend="lark")``
and must equal the original expression, and :func:`theory.printing.to_display` of it must be
exactly the displayed text.  The lark grammar has no ``\sigma`` (a TODO in its
``greek_symbols.lark``), so the parse reads it through the alias ``s``.  Named groups
(``R``, ...) are parsed as symbols and replaced by their definitions.  Each distinct string
is parsed once.

The only parser used is ``parse_latex`` on LaTeX that iclft generated itself, and its
symbols are mapped back to ``theory.symbols`` by name.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import functools
import re
import warnings

import sympy as sp
from sympy.parsing.latex import parse_latex

from proofs_check.export.latex_content import ExportedExpr, groups
from theory import printing
from theory import symbols as S
from theory.printing import to_display

__all__ = ["back_map", "parse_exported", "roundtrip_check", "roundtrip_export"]

@functools.lru_cache(maxsize=None)
def back_map() -> dict:
    """Parsed Symbol -> theory symbol (``s`` -> ``sqrt(sigma2)``, a group symbol -> its
    definition), found by parsing each name on its own, so the map always matches the
    parser's naming."""
    out = {}
    for sym, name in printing.PARSE_NAMES.items():
        parsed = _parse(_sigma_alias(name))
        if not isinstance(parsed, sp.Symbol):
            raise RuntimeError(f"export name {name!r} does not parse to a symbol")
        out[parsed] = sp.sqrt(S.sigma2) if sym is printing.NOISE_STD else sym
    for _sym, name, definition, _desc, _sec in groups():
        parsed = _parse(name)
        if not isinstance(parsed, sp.Symbol) or parsed in out:
            raise RuntimeError(f"group name {name!r} does not parse to a new symbol")
        out[parsed] = definition
    return out


_SIGMA = re.compile(r"\\sigma(?![A-Za-z])")


def _sigma_alias(text: str) -> str:
    """SymPy's lark grammar has no ``\\sigma`` (``greek_symbols.lark``: "TODO: What should we
    do about sigma?"), so the round trip reads the noise scale through the one-letter alias
    ``s``."""
    return _SIGMA.sub("s", text)


@functools.lru_cache(maxsize=4096)
def _parse(s: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return parse_latex(s, backend="lark")


def parse_exported(expr_latex: str):
    """Parse parseable LaTeX written by this module back to SymPy with ``theory.symbols``
    (each distinct string is parsed once).  Returns ``None`` when the parser fails, is
    ambiguous or yields unknown symbols."""
    try:
        parsed = _parse(_sigma_alias(expr_latex))
    except Exception:
        return None
    if not isinstance(parsed, (sp.Expr, sp.MatrixBase)):
        return None  # e.g. an ambiguous lark Tree or a differential tuple
    back = back_map()
    if any(s not in back for s in parsed.free_symbols):
        return None
    return parsed.xreplace(back)


def _equal(x, y) -> bool:
    diff = sp.together(x - y)
    if diff == 0:
        return True
    num, _den = sp.fraction(diff)
    if sp.expand(num) == 0:
        return True
    return sp.cancel(diff) == 0


def roundtrip_check(expr_latex: str, original, displayed: str | None = None) -> bool:
    """True when SymPy's lark LaTeX parser reads the parseable ``expr_latex`` back to
    ``original`` and (when given) ``displayed == to_display(expr_latex)``."""
    if displayed is not None and to_display(expr_latex) != displayed:
        return False
    parsed = parse_exported(expr_latex)
    if parsed is None:
        return False
    if isinstance(original, sp.MatrixBase) or isinstance(parsed, sp.MatrixBase):
        if not (isinstance(original, sp.MatrixBase) and isinstance(parsed, sp.MatrixBase)):
            return False
        if parsed.shape != original.shape:
            return False
        return all(_equal(p, o) for p, o in zip(parsed, original))
    return _equal(parsed, original)


def roundtrip_export(ex: ExportedExpr) -> bool:
    """:func:`roundtrip_check` of one display: its parseable text parses back to its
    expression and maps line by line to the displayed lines."""
    if [to_display(ln) for ln in ex.parse_lines] != ex.lines:
        return False
    return roundtrip_check(ex.parse_latex, ex.expr, to_display(ex.parse_latex))
