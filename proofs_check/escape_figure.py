"""The escape figure: the objective and ``L_40(theta_perp)`` along the exact flows of full
ZS fine-tuning in the separate form ``W = K^T Q``, from the exactly symmetric pretrained
point (which stops at a saddle) and from seeded random perturbations of it.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query;
``theta0 = e_1``, ``theta_perp = e_2``.  Deterministic: fixed seeds, caps in flow time and
evaluation counts.  Written atomically through :func:`proofs_check.figures.save_figure`.
"""
from __future__ import annotations

import numpy as np

import numerics
from numerics.outcomes import perturbed_outcome, symmetric_outcome

from .claims.base import DEFAULT_CONFIG, Config

__all__ = ["escape_data", "draw_escape", "SIZES"]

SIZES = (1e-7, 1e-5, 1e-3)


def escape_data(cfg: Config = DEFAULT_CONFIG, sizes=SIZES, seed: int = 0, objective: str = "zs",
                n_eval: int = 40) -> dict:
    """Trajectories ``{label: {"t", "objective", "L_perp"}}`` plus the noise floor.

    Args:
        cfg: the configuration (``d >= 2``).
        sizes: perturbation sizes.
        seed: the seed of every perturbation.
        objective: ``zs`` or ``zsfs``.
        n_eval: the shots of the ``L_n(theta_perp)`` curve.

    Returns:
        A dict with ``runs``, ``config``, ``one_plus_sigma2`` and ``floor``.
    """
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

    track("symmetric start", symmetric_outcome(objective, "separate", "all", cfg.d, cfg.m, cfg.N, cfg.sigma2,
                                               cfg.lam, engine="subspace"))
    for s in sizes:
        track(f"perturbation {s:g}", perturbed_outcome(objective, "separate", "all", cfg.d, cfg.m, cfg.N,
                                                       cfg.sigma2, cfg.lam, size=s, seed=seed, gtol=1e-8))
    floor = cfg.sigma2 * (1 + (cfg.lam if objective == "zsfs" else 0))
    return {"runs": runs, "config": cfg.as_dict(), "one_plus_sigma2": 1 + cfg.sigma2, "floor": floor,
            "n_eval": n_eval, "objective": objective}


def draw_escape(data: dict):
    """Two panels against flow time (log scale): the objective and ``L_n(theta_perp)``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for label, r in data["runs"].items():
        t = np.maximum(np.asarray(r["t"]), 1e-2)
        style = "-" if label == "symmetric start" else "--"
        axes[0].plot(t, r["objective"], style, label=f"{label} ({r['verdict']})")
        axes[1].plot(t, r["L_perp"], style, label=label)
    axes[0].axhline(data["floor"], color="k", lw=0.8, ls=":", label="noise floor")
    axes[1].axhline(data["one_plus_sigma2"], color="k", lw=0.8, ls=":", label="1 + sigma2")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("flow time t")
    axes[0].set_ylabel(f"{data['objective'].upper()} objective")
    axes[1].set_ylabel(rf"$L_{{{data['n_eval']}}}(\theta_\perp)$")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    c = data["config"]
    fig.suptitle(f"separate form W = K^T Q, full {data['objective'].upper()} fine-tuning: escape from the "
                 f"symmetric saddle (d={c['d']}, m={c['m']}, N={c['N']}, sigma2={c['sigma2']:g})", fontsize=9)
    fig.tight_layout()
    return fig
