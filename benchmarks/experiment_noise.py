"""Is the gap between the experiment and the last exact rung minibatch noise?  Fine-tune
from a saved pretrained model with growing batches (S seeds each) and measure the largest
|mean experiment - same_data| over the four tasks and n = 0..20: if the gap is minibatch
noise it shrinks as the batch grows (same data, same optimiser, same steps).

    python benchmarks/experiment_noise.py --pretrained exp/params/pretrained.npz \\
        [--methods zs-all,zsfs-all] [--batches 256 1024 4096] [--seeds 2]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiment import ladder as Lad  # noqa: E402
from experiment import protocol as P  # noqa: E402
from experiment.presets import PRESETS  # noqa: E402
from experiment.run import curve_distance, exact_curves  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pretrained", required=True, help="params/pretrained.npz of an experiment (one layer, head)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default")
    ap.add_argument("--methods", default="zs-all,zsfs-all")
    ap.add_argument("--batches", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args(argv)
    preset = PRESETS[args.preset]
    base = {k: v for k, v in preset.items() if k not in ("shots", "mc_samples")}
    proto = P.Protocol(**base)
    with np.load(args.pretrained) as f:
        start = {k: np.asarray(f[k], dtype=float) for k in f.files}
    theta0 = P.sample_theta0(proto.seed, proto.d)
    data = P.make_dataset(proto.seed, theta0, proto)
    shots = list(range(preset["shots"][0], preset["shots"][1] + 1))
    moments = Lad.DataMoments(*data)
    print("| method | batch | max abs(mean experiment - same_data) | rms | seed std at the worst point |")
    print("|---|---|---|---|---|")
    for mth in args.methods.split(","):
        V, W, _ = Lad.same_data(mth, proto, start, moments)
        sd = exact_curves(V[None], W[None], theta0, shots, proto.sigma2)
        for B in args.batches:
            pr = P.Protocol(**dict(base, batch=B))
            out, _ = P.finetune_many({k: v[None, None, None] for k, v in start.items()}, mth, theta0, data, pr,
                                     seeds=args.seeds)
            runs = []
            for i in range(args.seeds):
                Vt, Wt = P.merged_heads({k: v[i] for k, v in out.items()})
                runs.append(exact_curves(Vt[0], Wt[0], theta0, shots, proto.sigma2))
            mean = {t: (None if runs[0][t] is None else list(np.mean([r[t] for r in runs], axis=0))) for t in runs[0]}
            dist = curve_distance(mean, sd)
            task = max(dist["per_task_max_abs"], key=dist["per_task_max_abs"].get)
            k = int(np.argmax(np.abs(np.asarray(mean[task]) - np.asarray(sd[task]))))
            std = float(np.std([r[task][k] for r in runs], ddof=1)) if args.seeds > 1 else 0.0
            print(f"| {mth} | {B} | {dist['max_abs']:.3g} ({task}, n={shots[k]}) | {dist['rms']:.3g} | {std:.3g} |")


if __name__ == "__main__":
    main()
