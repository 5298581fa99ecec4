"""Benchmark: the exact closed form against Monte Carlo, and its cost in matmuls.

Run by hand:  python benchmarks/closed_form.py
Every ratio is measured side by side in this one run (best of several repeats).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import numerics


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--dims", type=int, nargs="*", default=[64, 256, 512, 1024])
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    d, n, sigma2 = 5, 20, 0.1
    D = d + 2
    V, W = 0.3 * rng.standard_normal((D, D)), 0.3 * rng.standard_normal((D, D))
    theta = rng.standard_normal(d)
    theta /= np.linalg.norm(theta)
    t_cf = best_of(lambda: numerics.expected_loss(V, W, theta, n, sigma2), 50)
    t0 = time.perf_counter()
    mean, se = numerics.monte_carlo_loss(V, W, theta, n, sigma2, samples=args.samples, seed=1)
    t_mc = time.perf_counter() - t0
    exact = numerics.expected_loss(V, W, theta, n, sigma2)
    print(f"Closed form vs Monte Carlo (d={d}, n={n}, sigma2={sigma2}):\n")
    print("| method | time (s) | value | abs(error) / stderr |")
    print("|---|---|---|---|")
    print(f"| closed form `expected_loss` | {t_cf:.3g} | {exact:.8f} | exact |")
    print(f"| Monte Carlo, {args.samples:,} prompts | {t_mc:.3g} | {mean:.8f} ± {se:.2g} | {abs(mean - exact) / se:.2f} |")
    print(f"\nMonte Carlo / closed-form time ratio: **{t_mc / t_cf:,.0f}x**\n")

    print("Scaling in d: one `expected_loss_grad` in units of one (d+2)x(d+2) matmul:\n")
    print("| d | matmul (s) | gradient (s) | gradient / matmul |")
    print("|---|---|---|---|")
    for dd in args.dims:
        DD = dd + 2
        A = rng.standard_normal((DD, DD)) / np.sqrt(DD)
        B = rng.standard_normal((DD, DD)) / np.sqrt(DD)
        th = rng.standard_normal(dd) / np.sqrt(dd)
        reps = 7 if dd <= 512 else 3
        t_mm = best_of(lambda: A @ B, reps)
        t_g = best_of(lambda: numerics.expected_loss_grad(A, B, th, n, sigma2), reps)
        print(f"| {dd} | {t_mm:.3g} | {t_g:.3g} | {t_g / t_mm:.1f} |")


if __name__ == "__main__":
    main()
