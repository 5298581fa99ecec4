r"""Line breaking of long displays: a SymPy expression (display form) as LaTeX lines that fit
a page, broken between the terms of a sum and inside large powered sums.

:func:`break_lines` gives the lines in the *parseable* spelling of
:func:`theory.printing.to_parseable` (``" ".join(lines)`` is the un-broken string);
:func:`visual_width` estimates the rendered width of math LaTeX.  Used by the document of
:mod:`proofs_check.export.latex_document` and by ``iclft derive --latex``.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from theory.printing import display_form, to_parseable

__all__ = ["LINE_TERMS", "LINE_CHARS", "LINE_WIDTH", "visual_width", "break_lines"]

#: line-breaking limits of a display: at most this many top-level terms per line ...
LINE_TERMS = 8
#: ... at most this many characters of LaTeX source per line ...
LINE_CHARS = 300
#: ... and at most this estimated rendered width (in characters of math) per line
LINE_WIDTH = 90


_FRAC = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_SCRIPT = re.compile(r"[_^]\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\{([^{}]*)\}")
_GROUP = re.compile(r"\{([^{}]*)\}")


def visual_width(s: str) -> float:
    """Rough rendered width of math LaTeX, in characters (fractions count their wider
    part, scripts count 0.7, binary operators count 2)."""
    s = s.replace(r"\left", "").replace(r"\right", "")
    s = re.sub(r" ?\\cdot ?", "", s)
    s = re.sub(r"\\(?!frac|sqrt)[A-Za-z]+", "x", s)
    for _ in range(200):
        new = _SCRIPT.sub(lambda mo: "x" * max(1, round(0.7 * len(mo.group(1)))), s)
        new = _FRAC.sub(lambda mo: "x" * max(len(mo.group(1)), len(mo.group(2))), new)
        new = _SQRT.sub(lambda mo: "xx" + mo.group(1), new)
        if new == s:
            new = _GROUP.sub(lambda mo: mo.group(1), s)
            if new == s:
                break
        s = new
    s = s.replace(" ", "")
    ops = sum(s.count(ch) for ch in "+-=")
    return len(s) + ops


@dataclass
class _Atom:
    text: str
    term: bool = True  # counts as one term of a line


def _term_atoms(term, first: bool, budget: float) -> list[_Atom]:
    """Atoms of one summand, with its sign as an operator (``+ t``/``- t``)."""
    atoms = _atoms(term, budget)
    t0 = atoms[0].text
    if first:
        return atoms
    if t0.startswith("-"):
        atoms[0] = _Atom("- " + t0[1:].lstrip(), atoms[0].term)
    else:
        atoms[0] = _Atom("+ " + t0, atoms[0].term)
    return atoms


def _atoms(expr, budget: float) -> list[_Atom]:
    """Split the (display-form) expression into atoms; a line may break between atoms.
    Joining the atoms' texts with single spaces gives a LaTeX string of the expression.
    ``budget`` is the rendered width (characters) a line may take."""
    whole = to_parseable(expr)
    if len(whole) <= LINE_CHARS and visual_width(whole) <= budget:
        return [_Atom(whole)]
    if isinstance(expr, sp.Add):
        out: list[_Atom] = []
        for i, t in enumerate(expr.as_ordered_terms()):
            out.extend(_term_atoms(t, i == 0, budget))
        return out
    if isinstance(expr, (sp.Mul, sp.Pow)):
        small, big = [], []
        for f in sp.Mul.make_args(expr):
            base, ex = f.as_base_exp()
            if isinstance(base, sp.Add) and ex.is_Integer and ex != 0:
                text = to_parseable(base)
                if len(text) > LINE_CHARS or visual_width(text) > budget:
                    big.append((base, int(ex)))
                    continue
            small.append(f)
        if big:
            pre = sp.Mul(*small)
            out = []
            if pre == -1:
                opener = "- ("
            elif pre == 1:
                opener = "("
            else:
                opener = to_parseable(pre) + r" \cdot ("
            for i, (base, ex) in enumerate(big):
                inner = _atoms(base, budget)
                head = opener if i == 0 else r"\cdot ("
                inner[0] = _Atom(head + inner[0].text, inner[0].term)
                close = ")" if ex == 1 else f")^{{{ex}}}"
                inner[-1] = _Atom(inner[-1].text + close, inner[-1].term)
                out.extend(inner)
            return out
    return [_Atom(whole)]


def break_lines(expr, first_offset: float = 0.0) -> list[str]:
    """The LaTeX of ``expr`` (display form, parseable) split into lines of at most
    :data:`LINE_TERMS` terms, :data:`LINE_CHARS` characters and about :data:`LINE_WIDTH`
    rendered characters, less ``first_offset`` (the left-hand side: in ``align*`` every
    line starts at the column of the ``=``).
    ``" ".join(lines)`` is the un-broken expression string."""
    budget = max(30.0, LINE_WIDTH - first_offset)
    atoms = _atoms(display_form(expr), budget)
    lines: list[list[str]] = [[]]
    n_terms = 0
    for at in atoms:
        cur = lines[-1]
        cand = " ".join(cur + [at.text])
        width = budget if len(lines) == 1 else budget - 4
        if cur and (n_terms + at.term > LINE_TERMS or len(cand) > LINE_CHARS
                    or visual_width(cand) > width):
            lines.append([at.text])
            n_terms = int(at.term)
        else:
            cur.append(at.text)
            n_terms += int(at.term)
    return [" ".join(parts) for parts in lines if parts]

