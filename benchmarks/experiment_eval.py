"""Exact evaluation of trained models against the authors' Monte Carlo budget.

The authors evaluate each model on theta0 and -theta0 for n = 0..20 with 100,000 prompts
per point and 5-10 seeds.  Here the same curves are computed exactly (numerics closed
form; numerics.multihead for H heads) and by Monte Carlo with that budget, side by side:

* time of the 42 exact values against the time of the Monte Carlo budget (measured with
  ``--seeds`` seeds of 100,000 prompts; the default 1 seed is scaled to 5 seeds, stated);
* accuracy: the Monte Carlo standard error reached (the exact values are exact up to
  rounding, checked against the Monte Carlo within 5 standard errors), and the number of
  prompts Monte Carlo would need to reach a 1e-6 relative error at n = 20.

    python benchmarks/experiment_eval.py [--seeds 1] [--heads 1 2]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numerics  # noqa: E402
from numerics.flow import pretrained_point  # noqa: E402
from numerics.multihead import multihead_loss  # noqa: E402

PROMPTS = 100_000
SHOTS = range(0, 21)


def model(H, d, rng):
    """Pretrained point plus a random perturbation per head (a generic trained-like model)."""
    V0, W0 = pretrained_point(d, 20, 0.1)
    Vs = np.stack([V0 + 0.1 * rng.standard_normal(V0.shape) for _ in range(H)])
    Ws = np.stack([W0 + 0.1 * rng.standard_normal(W0.shape) for _ in range(H)])
    return Vs, Ws


def exact(Vs, Ws, th, n, s2):
    if Vs.shape[0] == 1:
        return numerics.expected_loss(Vs[0], Ws[0], th, n, s2)
    return multihead_loss(Vs, Ws, th, n, s2)


def mc(Vs, Ws, th, n, s2, samples, rng, chunk=20_000):
    """Head-averaged Monte Carlo (squared errors of sampled prompts): (mean, stderr)."""
    d = th.shape[0]
    tot = tot2 = 0.0
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        X = rng.standard_normal((b, n, d))
        y = X @ th + np.sqrt(s2) * rng.standard_normal((b, n))
        xq = rng.standard_normal((b, d))
        yq = xq @ th + np.sqrt(s2) * rng.standard_normal(b)
        pred = np.mean([numerics.predict(V, W, X, y, xq) for V, W in zip(Vs, Ws)], axis=0)
        e = (pred - yq) ** 2
        tot += e.sum()
        tot2 += (e * e).sum()
        done += b
    mean = tot / samples
    return mean, np.sqrt(max(tot2 / samples - mean * mean, 0.0) / (samples - 1)), np.sqrt(max(tot2 / samples - mean * mean, 0.0))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--heads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--d", type=int, default=5)
    args = ap.parse_args(argv)
    d, s2 = args.d, 0.1
    th0 = np.eye(d)[0]
    print(f"d={d}, sigma2={s2}, n = 0..20 on theta0 and -theta0 (42 values); Monte Carlo: "
          f"{PROMPTS:,} prompts x {args.seeds} seed(s) measured, scaled to 5 seeds\n")
    print("(CPU time of this process, so the ratio does not depend on the load of the machine)\n")
    print("| heads | exact CPU time | MC CPU time (5 seeds x 100k) | max MC stderr (5 seeds) | max abs(exact - MC)/stderr "
          "| prompts for 1e-6 rel. at n=20 | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for H in args.heads:
        rng = np.random.default_rng(H)
        Vs, Ws = model(H, d, rng)
        t = time.process_time()
        ex = {(s, n): exact(Vs, Ws, s * th0, n, s2) for s in (1, -1) for n in SHOTS}
        t_exact = time.process_time() - t
        t = time.process_time()
        worst_se = worst_z = 0.0
        sd20 = None
        for s in (1, -1):
            for n in SHOTS:
                vals = [mc(Vs, Ws, s * th0, n, s2, PROMPTS, rng) for _ in range(args.seeds)]
                mean = np.mean([v[0] for v in vals])
                se = np.sqrt(np.sum([v[1] ** 2 for v in vals])) / len(vals)
                se5 = se * np.sqrt(len(vals) / 5.0)  # the standard error with 5 seeds
                worst_se = max(worst_se, se5)
                worst_z = max(worst_z, abs(mean - ex[(s, n)]) / se)
                if s == 1 and n == 20:
                    sd20 = vals[0][2]
        t_mc = (time.process_time() - t) * 5 / args.seeds
        need = (sd20 / (1e-6 * ex[(1, 20)])) ** 2
        print(f"| {H} | {t_exact * 1e3:.1f} ms | {t_mc:.1f} s | {worst_se:.2e} | {worst_z:.2f} | {need:.1e} "
              f"| {t_mc / t_exact:,.0f}x |")


if __name__ == "__main__":
    main()
