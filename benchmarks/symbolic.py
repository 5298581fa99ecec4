"""Benchmark: dimension-free Wick derivation vs naive symbolic expansion (run by hand).

    python benchmarks/symbolic.py

For each concrete ``d in {2, 3}`` and ``n in {1, 2, 3}`` it times

* ``naive``: :func:`theory.naive.naive_expected_loss` -- one SymPy symbol per coordinate of
  every ``x_i``, ``x_q`` and noise, expand ``(yhat - y_q)^2`` and replace monomials by moments;
* ``derive``: a *cold* run of :func:`theory.expected_loss` (all caches cleared, so the Wick
  engine recomputes everything; SymPy's internal cache is cleared before every timing) followed by substituting ``d`` and ``n``;

checks that both give the same expression (``expand(difference) == 0``), and prints the
ratio ``naive / derive``.  Conventions: docs/theory.md
section 1.
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import sympy as sp  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

from theory import objectives, wick  # noqa: E402
from theory.naive import naive_expected_loss  # noqa: E402
from theory.symbols import d, n  # noqa: E402


def _cold_derive(dd: int, nn: int):
    objectives.expected_loss.cache_clear()
    objectives.expected_loss_numerator.cache_clear()
    wick._expect_canonical.cache_clear()
    clear_cache()
    t = time.perf_counter()
    L = objectives.expected_loss().subs({d: dd, n: nn})
    return L, time.perf_counter() - t


def cold_build_seconds() -> float:
    """Time of ``import theory; theory.build_all()`` in a fresh interpreter (every loss,
    gradient, optimum and invariant of the registry)."""
    import subprocess
    code = ("import time; t = time.perf_counter(); import theory; theory.build_all(); "
            "print(time.perf_counter() - t)")
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"Cold build of every derived expression (`import theory; theory.build_all()` in a fresh "
          f"interpreter): **{cold_build_seconds():.2f} s**\n")
    rows = []
    for dd in (2, 3):
        for nn in (1, 2, 3):
            clear_cache()
            t = time.perf_counter()
            ref = naive_expected_loss(dd, nn)
            t_naive = time.perf_counter() - t
            mine, t_derive = _cold_derive(dd, nn)
            same = sp.expand(ref - mine) == 0
            rows.append((dd, nn, t_naive, t_derive, t_naive / t_derive, same))
    print("| d | n | naive expansion (s) | derivation (s) | naive / derivation | same expression |")
    print("|---|---|---|---|---|---|")
    for dd, nn, tn, td, r, same in rows:
        print(f"| {dd} | {nn} | {tn:.3f} | {td:.3f} | {r:.2f} | {same} |")
    print("\nderivation = cold dimension-free derivation (valid for every d and n) + substitution "
          "of the concrete d, n; naive = one symbol per coordinate, expand, replace monomials by moments.")
    if not all(r[-1] for r in rows):
        raise SystemExit("MISMATCH between naive expansion and derivation")


if __name__ == "__main__":
    main()
