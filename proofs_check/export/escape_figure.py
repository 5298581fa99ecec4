"""The escape figure: the objective and ``L_40(theta_perp)`` along the exact flows of full
ZS fine-tuning in the separate form ``W = K^T Q``, from the exactly symmetric pretrained
point (which stops at a saddle) and from seeded random perturbations of it.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query;
``theta0 = e_1``, ``theta_perp = e_2``.  Deterministic: fixed seeds, caps in flow time and
evaluation counts.  Written atomically through :func:`proofs_check.export.figures.save_figure`.
"""
from __future__ import annotations

import numpy as np

import numerics
import vocabulary
from numerics.endpoints import perturbed_outcome, symmetric_outcome
from proofs_check.export import figure_style as FS
from proofs_check.export.latex_text import num_tex
from vocabulary import DEFAULT_CONFIG, Config

__all__ = ["escape_data", "draw_escape", "SIZES"]

SIZES = (1e-7, 1e-5, 1e-3)


def escape_data(cfg: Config = DEFAULT_CONFIG, sizes=SIZES, seed: int = 0, objective: str = "zs",
                n_eval: int = 40) -> dict:
    """Trajectories ``{label: {"t", "objective", "L_perp"}}`` plus the noise floor.

    Args:
        cfg: the configuration (``d >= 2``).
        sizes: perturbation sizes.
        seed: the seed of every perturbation.
        objective: a fine-tuning objective of :data:`vocabulary.OBJECTIVES`.
        n_eval: the shots of the ``L_n(theta_perp)`` curve.

    Returns:
        A dict with ``runs``, ``config``, ``one_plus_sigma2`` and ``floor`` (the objective's
        noise floor ``sigma2 * sum of its term weights``: each ``L_n >= sigma2``).

    Raises:
        ValueError: ``d < 2``, or ``objective`` is not a fine-tuning objective.
    """
    if objective not in vocabulary.FINETUNE_OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(vocabulary.FINETUNE_OBJECTIVES)}, got {objective!r}")
    if cfg.d < 2:
        raise ValueError("d must be >= 2 for theta_perp")
    runs = {}
    tp = np.eye(cfg.d)[1]

    def track(label, o):
        fl = o.flow
        pb = o.problem
        Lp = [numerics.expected_loss(*pb.merged(x), tp, n_eval, cfg.sigma2) for x in fl.samples]
        runs[label] = {"t": fl.t.tolist(), "objective": fl.values.tolist(), "L_perp": Lp,
                       "verdict": o.stability.verdict, "stop": fl.stop}

    track("symmetric start", symmetric_outcome(objective, "separate", "all", cfg, engine="subspace"))
    for s in sizes:
        track(f"perturbation {s:g}", perturbed_outcome(objective, "separate", "all", cfg,
                                                       size=s, seed=seed, gtol=1e-8))
    floor = cfg.sigma2 * sum(w for _, _, w in vocabulary.objective_terms(objective, N=cfg.N, m=cfg.m, lam=cfg.lam))
    return {"runs": runs, "config": cfg.as_dict(), "one_plus_sigma2": 1 + cfg.sigma2, "floor": floor,
            "n_eval": n_eval, "objective": objective, "seed": seed}


def draw_escape(data: dict):
    """Two panels against flow time (log scale): the objective and ``L_n(theta_perp)``.
    The start ``t = 0`` is not on a log axis: each curve begins at its first positive time;
    the symmetric start (it stops at the saddle) is drawn thick and black on top."""
    obj = vocabulary.OBJECTIVES[data["objective"]].label
    with FS.paper_style():
        fig = FS.figure(2, 2.9)
        axes = fig.subplots(1, 2)
        colours = [FS.SUBSET_COLORS[k] for k in ("V", "all", "W", "K", "Q")]
        perturbed = [k for k in data["runs"] if k != "symmetric start"]
        for label in perturbed + ["symmetric start"]:
            r = data["runs"][label]
            t = np.asarray(r["t"], dtype=float)
            keep = t > 0
            sym = label == "symmetric start"
            kw = dict(color="black", lw=2.2, ls="-", zorder=5) if sym else \
                dict(color=colours[perturbed.index(label) % len(colours)], lw=1.2, ls=(0, (4, 2)), zorder=3)
            name = "symmetric start" if sym else f"perturbation of size ${num_tex(float(label.split()[-1]))}$"
            axes[0].plot(t[keep], np.asarray(r["objective"])[keep], label=f"{name} ({r['verdict']})", **kw)
            axes[1].plot(t[keep], np.asarray(r["L_perp"])[keep], **kw)
        axes[0].axhline(data["floor"], color=FS.NEUTRAL, lw=0.7, ls=":", label="noise floor")
        axes[1].axhline(data["one_plus_sigma2"], color=FS.NEUTRAL, lw=0.7, ls="-.", label=r"$1+\sigma^2$")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xlabel("flow time $t$ (log scale)")
        axes[0].set_ylabel(f"objective {obj}")
        axes[1].set_ylabel(rf"$L_{{{data['n_eval']}}}(\theta_\perp)$")
        FS.panel_title(axes[0], "a", f"{obj} along the flow")
        FS.panel_title(axes[1], "b", rf"orthogonal-task error $L_{{{data['n_eval']}}}(\theta_\perp)$")
        h0, l0 = axes[0].get_legend_handles_labels()
        h1, l1 = axes[1].get_legend_handles_labels()
        fig.legend(h0 + h1, l0 + l1, loc="outside upper center", ncol=3, fontsize=7)
        FS.add_caption(fig, FS.caption(data["config"], seeds=data.get("seed"))
                       + rf"; separate form $W = K^\top Q$, full {obj} fine-tuning" + "\n"
                       "the symmetric pretrained start stops at a saddle; seeded perturbations of it follow it "
                       "(hidden under the black line) until they escape")
    return fig
