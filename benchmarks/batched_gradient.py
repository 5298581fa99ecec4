"""Benchmark: the exact gradient at one point (the flows' right-hand side) and at a stack
of points (Problem.grad_many: the Hessian stencil, the unread basis, the interpolant fit).

Run by hand from the repository root:

    python benchmarks/batched_gradient.py                      # this tree
    python benchmarks/batched_gradient.py --baseline /tmp/base # and an A/B against a tree

``--baseline`` names another checkout (e.g. ``git archive main | tar -x -C /tmp/base``):
its ``weighted_loss_grad`` is loaded next to this tree's and the two are timed interleaved
in one process (CPU time, best of ``--rounds`` rounds of 50 calls), so machine load hits
both alike.  All times are CPU seconds (``time.process_time``).
"""
from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path):
    """``(weighted_loss_grad, fixed_task, sphere_task)`` of the tree at ``path``."""
    for k in [k for k in sys.modules if k.split(".")[0] in ("numerics", "vocabulary")]:
        del sys.modules[k]
    sys.path.insert(0, str(path))
    try:
        import numerics.gradients as g
        import numerics.moments as m
    finally:
        sys.path.remove(str(path))
    return g.weighted_loss_grad, m.fixed_task, m.sphere_task


def single_point(trees: dict, rounds: int) -> None:
    impls = {name: _load(path) for name, path in trees.items()}
    names = list(impls)
    print("One exact gradient, one point (weighted_loss_grad of L_0 + L_20 on one task), "
          "microseconds per call:\n")
    print("| d | task | " + " | ".join(names) + (" | ratio |" if len(names) == 2 else ""))
    print("|---|---|" + "---|" * (len(names) + (len(names) == 2)))
    rng = np.random.default_rng(0)
    ratios = []
    for d in (2, 5, 10):
        D = d + 2
        V, W = 0.3 * rng.standard_normal((D, D)), 0.3 * rng.standard_normal((D, D))
        th = rng.standard_normal(d)
        th /= np.linalg.norm(th)
        for kind in ("fixed", "sphere"):
            fns = []
            for wg, ft, st in impls.values():
                tm = ft(th, 0.1) if kind == "fixed" else st(d, 0.1)
                terms = ((0, tm, 1.0), (20, tm, 1.0))
                fns.append(lambda wg=wg, terms=terms: wg(V, W, terms))
            best = [float("inf")] * len(fns)
            for _ in range(rounds):
                for i, fn in enumerate(fns):
                    best[i] = min(best[i], timeit.timeit(fn, number=50, timer=time.process_time) / 50)
            row = " | ".join(f"{1e6 * b:.1f}" for b in best)
            if len(best) == 2:
                ratios.append(best[1] / best[0])
                row += f" | {ratios[-1]:.3f}"
            print(f"| {d} | {kind} | {row} |")
    if ratios:
        print(f"\nmean ratio {names[1]} / {names[0]}: {np.mean(ratios):.3f}")


def batched_routes(repeats: int) -> None:
    sys.path.insert(0, str(ROOT))
    from numerics.finetune_objective import loss_terms
    from numerics.hessian import hessian
    from numerics.problem import Problem
    from numerics.pretrained import pretrained_point
    from numerics.reduced import Interpolant, ReducedProblem
    from vocabulary import Config

    def best(fn):
        return min(timeit.repeat(fn, number=1, repeat=repeats, timer=time.process_time))

    pb = Problem.build("zsfs", "separate", "all", Config(3, 20, 20, 0.1, 1.0),
                       pretrained_point(3, 20, 0.1, "separate"))
    X = np.random.default_rng(1).standard_normal((2 * pb.size, pb.size))
    t = np.eye(5)[0]
    rp = ReducedProblem(loss_terms("zsfs", t, 20, 0.1, 1.0), "all", "merged", 5, t)
    print(f"\nStacks of points (CPU ms, best of {repeats}):\n")
    print("| what | batched | loop of one-point calls |")
    print("|---|---|---|")
    print(f"| {2 * pb.size} gradients, zsfs separate all, d=3 (P={pb.size}) | "
          f"{1e3 * best(lambda: pb.grad_many(X)):.1f} | {1e3 * best(lambda: [pb.grad(x) for x in X]):.1f} |")
    print(f"| hessian() of that problem (3-point stencil, {2 * pb.size} gradients) | "
          f"{1e3 * best(lambda: hessian(pb)):.1f} | |")
    print(f"| Interpolant(zsfs, d=5) (102 gradients) | {1e3 * best(lambda: Interpolant(rp)):.1f} | |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="another checkout to compare the one-point gradient with")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    trees = {"baseline": args.baseline, "this tree": ROOT} if args.baseline else {"this tree": ROOT}
    single_point(trees, args.rounds)
    batched_routes(args.repeats)


if __name__ == "__main__":
    main()
