"""Regenerate the example outputs in ``README.md`` from real runs of ``iclft``.

Usage (from the repository root)::

    python docs/readme_examples.py            # rewrite the cheap examples in README.md
    python docs/readme_examples.py --all      # also check, export-latex and figures (a minute)
    python docs/readme_examples.py --check    # exit 1 with a diff when README.md has drifted

An example is a fenced block whose lines start with ``$ iclft ARGS``; the lines after it
(up to the next ``$`` line or the closing fence) are its output and are replaced by the
output of ``python -m proofs_check ARGS`` run in a scratch folder with this checkout on
``PYTHONPATH``.  Other ``$`` lines (``pdflatex ...``) and illustrative ``$ iclft`` lines
that carry a ``# comment`` are kept as written.

Comparing (``--check`` and the test) is exact for the text and for every deterministic
number, and tolerant only for the quantities that legitimately differ between machines
(:func:`differences`, rules in :data:`LOOSE`):

* wall-clock timings (``2.73 s``) are ignored;
* rounding-level residuals (e-notation below ``1e-9``: a flow's final gradient norm, an
  error of ``1e-12``) are ignored when both printouts are below ``1e-9``;
* a flow's stop time (``t = 65.32``), its number of right-hand-side evaluations (``2522 of
  at most 50000 evaluations``) and the numerical tolerance of the stability classification
  (``tolerance 3.45e-06``, ``PSD to 3.45e-06``) depend on the CPU's last bits (another CPU
  gave ``t = 67.59``, 2366 evaluations, ``3.47e-06``): they must agree within a factor 2,
  which still catches a flow that stalls or runs into a cap;
* integers (counts, dimensions, numerators) must be equal;
* any other number (a flow end point printed to its accuracy, an exact value) may differ
  by at most one unit in the last digit of the finer printout (a rounding flip).

Timings are masked when comparing, never when writing.
"""
from __future__ import annotations

import argparse
import decimal
import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: examples that take more than a few seconds (regenerated only with ``--all``)
SLOW = ("export-latex", "figures")
_TIMING = re.compile(r"\d+(?:\.\d+)? s\b")


def run_example(args: list[str]) -> str:
    """The stdout of ``iclft ARGS`` run from a scratch folder with this checkout first on
    the path (so the examples show this checkout's code, not an installed copy)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               COLUMNS="100")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-m", "proofs_check", *args], cwd=tmp, env=env,
                              capture_output=True, text=True, timeout=1800)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"iclft {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.rstrip("\n")


def examples(text: str) -> list[tuple[int, int, list[str]]]:
    """``(first output line, end line, args)`` of every example in ``text`` (0-based, end
    exclusive)."""
    lines = text.split("\n")
    out, in_block = [], False
    for i, ln in enumerate(lines):
        if ln.startswith("```"):
            in_block = not in_block
            continue
        if in_block and ln.startswith("$ iclft ") and " #" not in ln:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("$ ") and not lines[j].startswith("```"):
                j += 1
            out.append((i + 1, j, shlex.split(ln[2:])[1:]))
    return out


def regenerate(text: str, include_slow: bool) -> str:
    """``text`` with the outputs of its (cheap, or all) examples replaced by real output."""
    lines = text.split("\n")
    for start, end, args in reversed(examples(text)):
        if args and args[0] in SLOW and not include_slow:
            continue
        if args[:1] == ["check"] and "--only" not in args and not include_slow:
            continue
        lines[start:end] = run_example(args).split("\n")
    return "\n".join(lines)


#: a number below 1e-9 in e-notation: rounding-level residuals (a flow's final gradient
#: norm, an error of 1e-12) that any change of floating-point order moves
_ROUNDING = re.compile(r"-?\b\d(?:\.\d+)?e-(?:09|1\d|[2-9]\d)\b")


def mask(text: str) -> str:
    """``text`` with wall-clock timings replaced by ``T s`` and rounding-level residuals
    (below 1e-9) by ``~0``."""
    return _ROUNDING.sub("~0", _TIMING.sub("T s", text))


#: a number in the output (not inside a name such as ``L_40`` or ``v2``)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.]*\w)")
#: machine-dependent quantities, found by the text just before (and after) the number:
#: ``(name, regex on the text before, regex on the text after)``; compared within a factor 2
LOOSE = (
    ("flow stop time", re.compile(r"\bt = $"), None),
    ("evaluation count", re.compile(r"\($"), re.compile(r"^ of at most \d+ evaluations")),
    ("classification tolerance", re.compile(r"(?:\btolerance|\bPSD to) $"), None),
)
#: how far apart two printouts of a machine-dependent quantity may be (ratio)
LOOSE_FACTOR = 2


def _kind(line: str, match: re.Match) -> str:
    """``timing``, ``residual-or-value`` kinds of the number ``match`` in ``line``."""
    before, after = line[:match.start()], line[match.end():]
    if re.match(r" s\b", after):
        return "timing"
    for name, pre, post in LOOSE:
        if pre.search(before) and (post is None or post.match(after)):
            return name
    return "value"


def _unit(token: str) -> decimal.Decimal:
    """One unit in the last printed digit of ``token`` (``0.5398439`` -> ``1e-7``)."""
    return decimal.Decimal(1).scaleb(decimal.Decimal(token).as_tuple().exponent)


def _numbers_differ(a: str, b: str, kind: str) -> str | None:
    """Why the printouts ``a`` and ``b`` of one number disagree, or ``None``."""
    x, y = decimal.Decimal(a), decimal.Decimal(b)
    if kind == "timing":
        return None
    if "e" in a and "e" in b and abs(x) < decimal.Decimal("1e-9") and abs(y) < decimal.Decimal("1e-9"):
        return None  # rounding-level residuals
    if kind != "value":
        if x == y or (x > 0 and y > 0 and max(x, y) <= LOOSE_FACTOR * min(x, y)):
            return None
        return f"{kind} {a} -> {b} (more than a factor {LOOSE_FACTOR})"
    if not any(c in a + b for c in ".e"):
        return None if x == y else f"integer {a} -> {b}"
    tol = min(_unit(a), _unit(b))
    return None if abs(x - y) <= tol else f"value {a} -> {b} (more than {tol} apart)"


def differences(old: str, new: str) -> list[str]:
    """Every disagreement between two printouts of the README (rules in the module
    docstring); empty when they agree."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    if len(old_lines) != len(new_lines):
        return [f"{len(old_lines)} lines -> {len(new_lines)} lines"]
    found = []
    for no, (lo, ln) in enumerate(zip(old_lines, new_lines), 1):
        mo, mn = list(_NUMBER.finditer(lo)), list(_NUMBER.finditer(ln))
        if _NUMBER.sub("#", lo) != _NUMBER.sub("#", ln) or len(mo) != len(mn):
            found.append(f"line {no}: text {lo!r} -> {ln!r}")
            continue
        for a, b in zip(mo, mn):
            why = _numbers_differ(a.group(), b.group(), _kind(lo, a))
            if why:
                found.append(f"line {no}: {why}: {lo!r} -> {ln!r}")
    return found


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--all", action="store_true", help="also the slow examples (check, export-latex, figures)")
    p.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on drift")
    a = p.parse_args(argv)
    old = README.read_text(encoding="utf-8")
    new = regenerate(old, a.all)
    if a.check:
        found = differences(old, new)
        if not found:
            return 0
        sys.stdout.writelines(f"{f}\n" for f in found)
        sys.stdout.writelines(difflib.unified_diff(mask(old).splitlines(True), mask(new).splitlines(True),
                                                   "README.md", "regenerated"))
        return 1
    if new != old:
        README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
