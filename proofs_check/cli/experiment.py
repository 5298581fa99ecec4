"""``iclft experiment``: the authors' SGD protocol (JAX/optax, the optional :mod:`experiment`
package) with exact evaluation; its options, which default to the chosen preset's values.

Conventions: see :mod:`proofs_check` (stated once there).
"""
from __future__ import annotations

from experiment.presets import AUTHORS, DEFAULT, QUICK
from proofs_check.cli.arguments import check_output, float_at_least, int_at_least, int_in, shot_range

__all__ = ["add_arguments", "run"]


def add_arguments(p):
    """``iclft experiment``: options left unset take the preset's value (``--preset``,
    default ``default``); the help states each preset's value."""
    pos_int, nonneg_int = (lambda n: int_at_least(1, n)), (lambda n: int_at_least(0, n))

    def dflt(key):
        vals = [DEFAULT[key], QUICK[key], AUTHORS[key]]
        if vals[0] == vals[1] == vals[2]:
            return f"default {vals[0]:g}" if isinstance(vals[0], float) else f"default {vals[0]}"
        fmt = (lambda v: f"{v:g}") if isinstance(vals[0], float) else str
        return f"default {fmt(vals[0])}; quick {fmt(vals[1])}; authors {fmt(vals[2])}"

    p.add_argument("--form", choices=("separate", "merged"), default=None, help="default separate (V, K, Q)")
    p.add_argument("--methods", default=None, metavar="LIST",
                   help="comma list (default: zs-all,zsfs-all,zs-q,zsfs-q,zs-k,zsfs-k,zs-v,zsfs-v)")
    p.add_argument("--d", type=pos_int("d"), default=None, help=f"feature dimension ({dflt('d')})")
    p.add_argument("--m", type=nonneg_int("m"), default=None, help=f"pretraining shots ({dflt('m')})")
    p.add_argument("--N", type=nonneg_int("N"), default=None, help=f"fine-tuning shots ({dflt('N')})")
    p.add_argument("--sigma2", type=float_at_least(0.0, "sigma2", 1e3), default=None, help=f"noise ({dflt('sigma2')})")
    p.add_argument("--lam", type=float_at_least(0.0, "lam", 1e3), default=None, help=f"FS weight ({dflt('lam')})")
    p.add_argument("--heads", type=pos_int("heads"), default=None,
                   help="heads H (default 1; the theory overlay stays one-head, and the ladder needs H = 1)")
    p.add_argument("--layers", type=pos_int("layers"), default=None, help="layers L (default 1)")
    p.add_argument("--pretrain-steps", type=nonneg_int("pretrain-steps"), default=None,
                   help=f"SGD steps of pretraining ({dflt('pretrain_steps')}; 0: start from the closed-form "
                        "pretrained point, every head of layer 1, later layers 0)")
    p.add_argument("--finetune-steps", type=pos_int("finetune-steps"), default=None,
                   help=f"SGD steps of fine-tuning ({dflt('finetune_steps')})")
    p.add_argument("--batch", type=pos_int("batch"), default=None, help=f"prompts per SGD step ({dflt('batch')})")
    p.add_argument("--lr-pretrain", type=float_at_least(1e-300, "lr-pretrain", 1e3), default=None,
                   help=f"learning rate of pretraining ({dflt('lr_pretrain')})")
    p.add_argument("--lr-finetune", type=float_at_least(1e-300, "lr-finetune", 1e3), default=None,
                   help=f"learning rate of fine-tuning ({dflt('lr_finetune')})")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=None, help="default sgd (momentum 0.9)")
    p.add_argument("--momentum", type=float_at_least(0.0, "momentum", 0.999), default=None,
                   help="SGD momentum, in [0, 0.999] (default 0.9)")
    p.add_argument("--clip", type=float_at_least(1e-300, "clip", 1e300), default=None, help="global-norm clip (default 1)")
    p.add_argument("--lam-schedule", choices=("constant", "linear-decay"), default=None,
                   help="FS weight schedule (default linear-decay)")
    p.add_argument("--dataset-size", type=nonneg_int("dataset-size"), default=None,
                   help=f"fine-tuning pairs (0: fresh samples; {dflt('dataset_size')})")
    p.add_argument("--init-std", type=float_at_least(1e-300, "init-std", 1e3), default=None,
                   help=f"standard deviation of the random initialisation ({dflt('init_std')})")
    p.add_argument("--seed", type=nonneg_int("seed"), default=None, help="random seed (default 0; same seed, same run)")
    p.add_argument("--seeds", type=int_in(1, 1024, "seeds"), default=None,
                   help="fine-tuning seeds per pretrained model, trained together (jax.vmap; default 1)")
    p.add_argument("--pretrain-seeds", type=int_in(1, 1024, "pretrain-seeds"), default=None,
                   help="pretraining runs, seeds seed..seed+P-1 (default 1)")
    p.add_argument("--no-ladder", action="store_true", help="skip the exact ladder of predictions")
    p.add_argument("--shots", type=shot_range, default=None, help="evaluated shots A:B (default 0:20)")
    p.add_argument("--mc-samples", type=int_at_least(2, "mc-samples"), default=None,
                   help=f"Monte Carlo prompts per point when layers > 1 ({dflt('mc_samples')})")
    p.add_argument("--preset", choices=("default", "quick", "authors"), default=None,
                   help="default: the paper's model settings with this project's training settings; quick: "
                        "small (d=3, few steps); authors: the authors' notebook "
                        "(5000 steps, lr 0.01, batch 5000, 100,000 pairs; float64 here, float32 theirs)")
    p.add_argument("--quick", action="store_true", help="the same as --preset quick")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="output folder (created; checked writable before training)")


def run(args):
    """``(text, exit status)`` of ``iclft experiment``; the output folder is checked first."""
    check_output(args.out, "dir", "argument --out")
    from experiment.command import experiment_command  # deferred: NumPy, JAX and the run load only when it runs

    return experiment_command(args)
