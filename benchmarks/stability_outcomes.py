"""Classify every method's end point (symmetric and generic) in both forms, and check the
generic outcome against seeded random perturbations of the pretrained point.

Run by hand: ``python benchmarks/stability_outcomes.py [table|perturb] [d m N sigma2]``.
Deterministic (fixed seeds, caps in flow time and evaluation counts, no wall-clock).
"""
from __future__ import annotations

import sys

import numpy as np

import numerics
from numerics.endpoints import generic_outcome, perturbed_outcome
from vocabulary import METHODS, Config, methods_for


def curves(o, d, sigma2, n=40):
    V, W = o.merged
    t0 = np.eye(d)[0]
    out = {"target": numerics.expected_loss(V, W, t0, n, sigma2),
           "negated": numerics.expected_loss(V, W, -t0, n, sigma2),
           "sphere": numerics.pretrain_loss(V, W, n, sigma2)}
    if d >= 2:
        out["orthogonal"] = numerics.expected_loss(V, W, np.eye(d)[1], n, sigma2)
    return out


def table(d=5, m=20, N=20, sigma2=0.1, lam=1.0):
    print("| form | method | symmetric: value, verdict (index) | generic: value, verdict | L_40 target/negated/orthogonal/sphere (generic) |")
    print("|---|---|---|---|---|")
    for form in ("merged", "separate"):
        for name in methods_for(form):
            meth = METHODS[name]
            if meth.objective is None:
                continue
            train = meth.train_for(form)
            o = generic_outcome(meth.objective, form, train, Config(d, m, N, sigma2, lam))
            s0 = o.stages[0].stability
            c = curves(o, d, sigma2)
            print(f"| {form} | {name} | {s0.value:.6g}, {s0.verdict}"
                  f"{'' if s0.verdict != 'saddle' else f' ({s0.index}, min eig {s0.min_eigenvalue:.3g})'} | "
                  f"{o.stability.value:.6g}, {o.stability.verdict} ({o.flow.stop}) | "
                  + "/".join(f"{c[k]:.4f}" for k in ("target", "negated", "orthogonal", "sphere") if k in c)
                  + " |", flush=True)


def perturb(d=3, m=10, N=20, sigma2=0.3, lam=1.0, objective="zs", form="separate", train="all"):
    g = generic_outcome(objective, form, train, Config(d, m, N, sigma2, lam))
    ref = curves(g, d, sigma2)
    print(f"generic ({objective}, {form}, {train}, d={d} m={m} N={N} sigma2={sigma2}): value "
          f"{g.stability.value:.8g} {g.stability.verdict}; L_40 " + ", ".join(f"{k} {v:.6f}" for k, v in ref.items()))
    for size in (1e-3, 1e-5, 1e-7):
        for seed in range(5):
            o = perturbed_outcome(objective, form, train, Config(d, m, N, sigma2, lam), size=size, seed=seed, gtol=1e-8)
            c = curves(o, d, sigma2)
            rel = max(abs(c[k] - ref[k]) / ref[k] for k in ref)
            print(f"size {size:g} seed {seed}: value {o.stability.value:.8g} {o.stability.verdict} "
                  f"({o.flow.stop}, nfev {o.flow.nfev}); L_40 " + ", ".join(f"{k} {v:.6f}" for k, v in c.items())
                  + f"; max rel diff to generic {rel:.2e}", flush=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "table"
    args = [int(a) if i < 3 else float(a) for i, a in enumerate(sys.argv[2:])]
    {"table": table, "perturb": perturb}[what](*args)
