"""The presets of ``iclft experiment`` (plain data): each maps every option of the
:class:`experiment.protocol.Protocol` and the evaluation (``shots``, ``mc_samples``) to its
value; an option the user leaves unset takes the chosen preset's value.

The measured outcome of each preset (how close its pretraining gets to the optimum, and
what a run costs) is in the README's ``iclft experiment`` section and in
``benchmarks/experiment_ladder.py``.
"""
from __future__ import annotations

__all__ = ["DEFAULT", "QUICK", "AUTHORS", "PRESETS"]

#: the default preset: the paper's *model* settings (d=5, m=N=20, sigma2=0.1, lam=1) with this
#: project's *training* settings, not the authors' (those are :data:`AUTHORS`): enough SGD
#: pretraining steps for the pretraining check to find the optimum family at seed 0, then
#: 1000 fine-tuning steps on 1000 pairs
DEFAULT = dict(d=5, m=20, N=20, sigma2=0.1, lam=1.0, heads=1, layers=1, form="separate",
               pretrain_steps=8000, finetune_steps=1000, batch=256, lr_pretrain=0.02,
               lr_finetune=0.01, optimizer="sgd", momentum=0.9, clip=1.0,
               lam_schedule="linear-decay", dataset_size=1000, init_std=0.05, seed=0,
               shots=(0, 20), mc_samples=20_000)
#: the quick preset: small (d=3, a few hundred steps); its short pretraining stalls for some
#: seeds (the pretraining check flags them)
QUICK = dict(DEFAULT, d=3, m=10, N=10, pretrain_steps=400, finetune_steps=150, batch=128,
             lr_pretrain=0.05, lr_finetune=0.02, dataset_size=200, shots=(0, 20), mc_samples=5_000)
#: the authors' notebook (``regression/linear_model.ipynb``): pretraining 5000 steps, lr 0.01,
#: batch 5000; fine-tuning 5000 steps, lr 0.01, batch 5000; 100,000 fine-tuning pairs;
#: evaluation 50,000 prompts x 5 seeds by Monte Carlo (here exact for one layer;
#: ``mc_samples`` 250,000 for more layers); their state is float32, ours float64
AUTHORS = dict(DEFAULT, pretrain_steps=5000, lr_pretrain=0.01, finetune_steps=5000, lr_finetune=0.01,
               batch=5000, dataset_size=100_000, mc_samples=250_000)
#: the presets by their ``--preset`` name
PRESETS = {"default": DEFAULT, "quick": QUICK, "authors": AUTHORS}
