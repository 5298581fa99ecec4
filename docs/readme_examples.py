"""Regenerate the example outputs in ``README.md`` from real runs of ``iclft``.

Usage (from the repository root)::

    python docs/readme_examples.py            # rewrite the cheap examples in README.md
    python docs/readme_examples.py --all      # also check, export-latex and figures (a minute)
    python docs/readme_examples.py --check    # exit 1 with a diff when README.md has drifted

An example is a fenced block whose lines start with ``$ iclft ARGS``; the lines after it
(up to the next ``$`` line or the closing fence) are its output and are replaced by the
output of ``python -m proofs_check ARGS`` run in a scratch folder with this checkout on
``PYTHONPATH``.  Other ``$`` lines (``pdflatex ...``) and illustrative ``$ iclft`` lines
that carry a ``# comment`` are kept as written.  Wall-clock
timings (``2.73 s``) are masked when comparing, never when writing.
"""
from __future__ import annotations

import argparse
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--all", action="store_true", help="also the slow examples (check, export-latex, figures)")
    p.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on drift")
    a = p.parse_args(argv)
    old = README.read_text(encoding="utf-8")
    new = regenerate(old, a.all)
    if a.check:
        if mask(new) == mask(old):
            return 0
        sys.stdout.writelines(difflib.unified_diff(mask(old).splitlines(True), mask(new).splitlines(True),
                                                   "README.md", "regenerated"))
        return 1
    if new != old:
        README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
