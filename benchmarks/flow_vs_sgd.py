"""Time-to-answer and accuracy: exact population flow vs minibatch SGD (run by hand).

    python benchmarks/flow_vs_sgd.py [--progress]

For each configuration prints the flow end point (fast polynomial RHS and engine RHS), the
SGD end point (Polyak average, batch-means stderr) and the wall time of each.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from numerics import flow, sgd  # noqa: E402

CASES = [
    # objective, train, d, m, N, sigma2, lam, coord, sgd kwargs
    ("zs", "v", 5, 20, 20, 0.1, 1.0, "a", dict(lr=0.005, steps=4000, batch=64)),
    ("zsfs", "v", 5, 20, 20, 0.1, 1.0, "b", dict(lr=0.005, steps=8000, batch=64)),
    ("zs", "all", 3, 10, 10, 0.0, 1.0, "a", dict(lr=0.005, steps=10000, batch=2048)),
    ("zs", "all", 5, 20, 20, 0.1, 1.0, "a", dict(lr=0.005, steps=10000, batch=2048)),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    hdr = f"{'config':34s} {'coord':5s} {'flow(fast)':>12s} {'t':>6s} {'flow(exact)':>12s} {'t':>6s} {'sgd':>10s} {'stderr':>8s} {'t':>6s} {'|sgd-flow|':>10s}"
    print(hdr)
    print("-" * len(hdr))
    for obj, tr, d, m, N, s2, lam, k, kw in CASES:
        t0 = time.perf_counter()
        ff = flow.gradient_flow(obj, tr, d, m, N, s2, lam, rhs="fast")
        tf = time.perf_counter() - t0
        t0 = time.perf_counter()
        fe = flow.gradient_flow(obj, tr, d, m, N, s2, lam, rhs="exact")
        te = time.perf_counter() - t0
        t0 = time.perf_counter()
        rs = sgd.sgd_finetune(obj, tr, d, m, N, s2, lam, seed=0, progress=args.progress, **kw)
        ts = time.perf_counter() - t0
        cfg = f"{obj}-{tr} d={d} m={m} N={N} s2={s2} lam={lam}"
        se = rs.stderr[k] if rs.stderr else float("nan")
        print(f"{cfg:34s} {k:5s} {ff.final[k]:12.8f} {tf:6.2f} {fe.final[k]:12.8f} {te:6.2f} "
              f"{rs.coords[k]:10.5f} {se:8.1e} {ts:6.2f} {abs(rs.coords[k] - ff.final[k]):10.2e}")


if __name__ == "__main__":
    main()
