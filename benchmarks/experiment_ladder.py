"""The cost of the exact ladder against the training it explains, and how training grows
with the number of vectorised seeds.

For each number of fine-tuning seeds S, one ``run_experiment`` (nothing written) reports
the wall and CPU seconds of training (compilation excluded), of compilation, and of the
ladder (every exact rung of every method, its compilation included).  The ladder does not
depend on S (it is computed from the pretrained weights), so it is measured once, at the
first S.

    python benchmarks/experiment_ladder.py [--preset default] [--seeds 1 4 16]
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiment.presets import PRESETS  # noqa: E402
from experiment.run import run_experiment  # noqa: E402
from experiment.protocol import Protocol  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 16])
    args = ap.parse_args(argv)
    preset = PRESETS[args.preset]
    proto = Protocol(**{k: v for k, v in preset.items() if k not in ("shots", "mc_samples")})
    print(f"preset {args.preset}: {proto.pretrain_steps} pretraining steps, 8 methods x {proto.finetune_steps} "
          f"fine-tuning steps, batch {proto.batch}")
    print()
    print("| seeds S | training wall s | training CPU s | compile wall s | ladder wall s | ladder CPU s |")
    print("|---|---|---|---|---|---|")
    for i, S in enumerate(args.seeds):
        r = run_experiment(proto, None, shots=tuple(preset["shots"]), write=False, seeds=S, ladder=(i == 0))
        cpu = r["cpu_seconds"]
        lad = (f"{r['ladder_seconds']:.1f} | {cpu['ladder']:.1f}" if i == 0 else "(same) | (same)")
        print(f"| {S} | {r['train_seconds']:.1f} | {cpu['train']:.1f} | {r['compile_seconds']:.1f} | {lad} |")


if __name__ == "__main__":
    main()
