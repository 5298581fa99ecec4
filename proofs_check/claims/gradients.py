"""Claim 13: symbolic, closed-form NumPy and Monte Carlo gradients agree.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
The symbolic route is
:func:`theory.gradient` (coefficients on the named basis, dimension-free, evaluated at a
concrete ``d`` with :func:`theory.manifold.basis_matrix`); the NumPy route is
:mod:`numerics.gradients` on the embedded matrices (:mod:`numerics.manifold`), which
shares no code with the symbolic one; Monte Carlo is :func:`numerics.monte_carlo_loss_grad`.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

import numerics
import vocabulary
from numerics.hessian import hessian, hessian_vector_product
from numerics.problem import Problem
from numerics.manifold import merged_point, separate_point
from numerics.sgd import sgd_step, sgd_terms
from theory import gradient
from theory.gradients import SUBSETS
from theory.manifold import basis_matrix
from theory.symbols import INV_KEYS, K, N, Q, a, alpha, b, beta, d, h, lam, m, q, sigma2, to_expr

from proofs_check.export.prose import tx
from vocabulary import Config
from proofs_check.claims.claim import Claim, Evidence, Findings
from proofs_check.claims.exact import rational

__all__ = ["CLAIMS", "symbolic_full_gradient", "numeric_gradient", "POINTS", "manifold_point", "check_agree",
           "separate_sgd_evidence", "line_derivative_evidence"]

#: configurations and generic manifold points (rational coordinates) of the comparison
POINTS = [
    (Config(2, 7, 3, 0.25, 0.5), 11),
    (Config(3, 20, 5, 0.1, 1.0), 12),
    (Config(5, 20, 20, 0.1, 1.0), 13),
]


def manifold_point(seed):
    """A generic point of the reduced manifold with exact coordinates in ``(1/16) Z`` (entries
    in ``[-1, 1]``), drawn from ``default_rng(seed)``: ``(merged, sep, rng)`` with the merged
    coordinates ``a, b, q, alpha, beta, h``, the separate ones ``a, b, K_<key>, Q_<key>``, and
    the generator, to draw a task from the same stream."""
    rng = np.random.default_rng(seed)
    merged = {s: sp.Rational(int(x), 16) for s, x in zip((a, b, q, alpha, beta, h), rng.integers(-16, 17, 6))}
    sep = {a: merged[a], b: merged[b]}
    for key in INV_KEYS:
        sep[K[key]] = sp.Rational(int(rng.integers(-16, 17)), 16)
        sep[Q[key]] = sp.Rational(int(rng.integers(-16, 17)), 16)
    return merged, sep, rng


def _point(seed):
    merged, sep, rng = manifold_point(seed)
    return merged, sep, rng.standard_normal(32)


def _theta0(d_, g):
    t = g[:d_].copy()
    return t / np.linalg.norm(t)


def symbolic_full_gradient(obj, subset, form, cfg, coords, theta0, memo=None):
    """``{matrix: D x D array}`` from the symbolic basis coefficients.

    ``memo``: an optional dict kept by the caller for one ``(cfg, coords, theta0)``: the
    objectives and subsets share coefficient expressions (68 distinct ones among the 208 of
    one point), and each is then evaluated once per point."""
    res = gradient(obj, subset, form)
    sub = {d: sp.Integer(cfg.d), m: sp.Integer(cfg.m), N: sp.Integer(cfg.N),
           sigma2: rational(cfg.sigma2), lam: rational(cfg.lam), **coords}
    memo = {} if memo is None else memo
    out = {}
    for M, co in res.matrices.items():
        G = np.zeros((cfg.d + 2, cfg.d + 2))
        for name, expr in co.items():
            key, bkey = ("value", to_expr(expr)), ("basis", name)
            if key not in memo:
                memo[key] = float(key[1].xreplace(sub))
            if bkey not in memo:
                memo[bkey] = np.array(basis_matrix(name, cfg.d, theta0), dtype=float)
            G += memo[key] * memo[bkey]
        out[M] = G
    return out


def _merged_grad(obj, V, W, cfg, theta0):
    """``sum_k w_k grad L_{n_k}(task_k)`` over the terms of ``vocabulary.OBJECTIVES[obj]``
    (``ValueError`` for an unknown objective): ``expected_loss_grad`` at ``kappa theta0``,
    ``pretrain_loss_grad`` for the sphere."""
    gV, gW = np.zeros_like(V), np.zeros_like(W)
    for n_, task, w in vocabulary.objective_terms(obj, N=cfg.N, m=cfg.m, lam=cfg.lam):
        tk = vocabulary.TASKS[task]
        if tk.kappa is None:
            a_, b_ = numerics.pretrain_loss_grad(V, W, n_, cfg.sigma2)
        elif tk.rho == 0:
            a_, b_ = numerics.expected_loss_grad(V, W, tk.kappa * theta0, n_, cfg.sigma2)
        else:
            raise ValueError(f"objective {obj!r}: task {task!r} (rho != 0) is not a fine-tuning task")
        gV += w * a_
        gW += w * b_
    return gV, gW


def numeric_gradient(obj, form, cfg, coords, theta0):
    """``{matrix: D x D array}`` from the closed-form NumPy gradients at the embedded point."""
    if form == "merged":
        V, W = merged_point({s.name: float(v) for s, v in coords.items()}, theta0)
        gV, gW = _merged_grad(obj, V, W, cfg, theta0)
        gW = gW.copy()
        gW[:, -1] = 0.0  # column y never enters the loss
        return {"V": gV, "W": gW}
    sep = {"a": float(coords[a]), "b": float(coords[b])}
    for key in INV_KEYS:
        sep["K_" + key] = float(coords[K[key]])
        sep["Q_" + key] = float(coords[Q[key]])
    V, Kx, Qx = separate_point(sep, theta0)
    # the public separate-form route of numerics (its own chain rule through W = K^T Q) for
    # every fixed-task term; sphere terms have no separate-form function: chain rule here
    out = {M: np.zeros_like(V) for M in ("V", "K", "Q")}
    for n_, task, w in vocabulary.objective_terms(obj, N=cfg.N, m=cfg.m, lam=cfg.lam):
        tk = vocabulary.TASKS[task]
        if tk.kappa is None:
            gV, gW = numerics.pretrain_loss_grad(V, Kx.T @ Qx, n_, cfg.sigma2)
            parts = (gV, Qx @ gW.T, Kx @ gW)
        elif tk.rho == 0:
            parts = numerics.expected_loss_grad_kq(V, Kx, Qx, tk.kappa * theta0, n_, cfg.sigma2)
        else:
            raise ValueError(f"objective {obj!r}: task {task!r} (rho != 0) is not a fine-tuning task")
        for M, g_ in zip(("V", "K", "Q"), parts):
            out[M] = out[M] + w * g_
    return out


def check_agree() -> Findings:
    ev = []
    worst, count = 0.0, 0
    memos = {}  # per point and form: each distinct coefficient expression evaluated once
    for cfg, seed in POINTS:
        merged, sep, g = _point(seed)
        t0 = _theta0(cfg.d, g)
        for obj in tuple(vocabulary.OBJECTIVES):
            for form, subsets in SUBSETS.items():
                coords = merged if form == "merged" else sep
                memo = memos.setdefault((seed, form), {})
                num_g = numeric_gradient(obj, form, cfg, coords, t0)
                for sub in subsets:
                    sym_g = symbolic_full_gradient(obj, sub, form, cfg, coords, t0, memo)
                    for M, G in sym_g.items():
                        scale = max(1.0, float(np.abs(num_g[M]).max()))
                        worst = max(worst, float(np.abs(G - num_g[M]).max()) / scale)
                        count += 1
    ev.append(Evidence("numeric", tx("symbolic full-matrix gradients (basis coefficients, $d$ symbolic) equal the NumPy "
                                     "closed-form gradients at generic manifold points (generic $theta0$, $d = 2, 3, 5$): "
                                     "{} objectives, each in the merged form (subsets all, $V$, $W$) and the separate "
                                     "form (all, $V$, $KQ$, $K$, $Q$), {} matrix comparisons",
                                     len(tuple(vocabulary.OBJECTIVES)), count), worst < 1e-9, {"max_rel_diff": worst, "comparisons": count}))
    # Monte Carlo: merged form, every objective, at the d = 3 point
    cfg, seed = POINTS[1]
    merged, _, g = _point(seed)
    t0 = _theta0(cfg.d, g)
    V, W = merged_point({s.name: float(v) for s, v in merged.items()}, t0)
    zmax = 0.0
    samples = 100_000
    for obj in tuple(vocabulary.OBJECTIVES):
        parts = []
        for nn, task, wgt in vocabulary.objective_terms(obj, N=cfg.N, m=cfg.m, lam=cfg.lam):
            if vocabulary.TASKS[task].kappa is None:
                p = numerics.monte_carlo_pretrain_loss_grad(V, W, nn, cfg.sigma2, samples, seed=7)
            else:
                p = numerics.monte_carlo_loss_grad(V, W, vocabulary.TASKS[task].kappa * t0, nn, cfg.sigma2,
                                                   samples, seed=8 + nn)
            parts.append((wgt, p))
        mV = sum(w_ * p[0] for w_, p in parts)
        mW = sum(w_ * p[1] for w_, p in parts)
        sV = np.sqrt(sum((w_ * p[2]) ** 2 for w_, p in parts))
        sW = np.sqrt(sum((w_ * p[3]) ** 2 for w_, p in parts))
        sym = symbolic_full_gradient(obj, "all", "merged", cfg, merged, t0, memos[(seed, "merged")])
        for G, mc, se in ((sym["V"][-1], mV[-1], sV[-1]), (sym["W"][:, :-1], mW[:, :-1], sW[:, :-1])):
            mask = se > 0
            zmax = max(zmax, float(np.max(np.abs(G[mask] - mc[mask]) / se[mask])))
            if np.any(~mask):
                zmax = max(zmax, float(np.max(np.abs(G[~mask] - mc[~mask]))) * 1e12)
    ev.append(Evidence("monte-carlo", tx("Monte Carlo gradients ({} prompts per objective, seeds 7-28) agree "
                                         "with the symbolic gradient entrywise within 5 standard errors (merged form, "
                                         "$d = 3$)", samples),
                       zmax < 5.0, {"max_z_score": zmax}))
    ev.append(separate_sgd_evidence())
    ev.append(line_derivative_evidence())
    return Findings(ev, grid=[{**c.as_dict(), "point_seed": s} for c, s in POINTS])


def separate_sgd_evidence(seed: int = 31, batches: int = 40, batch: int = 1000) -> Evidence:
    """Monte Carlo in the separate form, through the SGD machinery: the mean step of
    :func:`numerics.sgd.sgd_step` (lr 1, fresh prompts per step) over ``batches`` steps from one
    random full-matrix point ``(V, K, Q)`` estimates the exact separate-form gradient
    (:meth:`numerics.problem.Problem.grad`, ZS + lam FS, d = 2); entrywise within 5 standard
    errors of the batch means."""
    cfg = POINTS[0][0]
    D = cfg.d + 2
    rng = np.random.default_rng(seed)
    V, K_, Q_ = 0.5 * rng.standard_normal((3, D, D))
    t0 = _theta0(cfg.d, rng.standard_normal(cfg.d))
    pb = Problem.build("zsfs", "separate", "all", cfg, (V, K_, Q_), theta0=t0)
    blocks = pb.block_slices()
    g = pb.grad(pb.pack())
    exact = np.concatenate([g[blocks["V"]].reshape(D, D)[-1], g[blocks["K"]], g[blocks["Q"]]])
    terms = sgd_terms("zsfs", t0, cfg.N, cfg.lam, cfg.m)
    steps = []
    draw = np.random.default_rng(seed + 1)
    for _ in range(batches):
        v1, (_, K1, Q1), _ = sgd_step(V[-1].copy(), [V, K_, Q_], "separate", (True, True, True), terms, batch,
                                      cfg.sigma2, draw, 1.0)
        steps.append(np.concatenate([V[-1] - v1, (K_ - K1).ravel(), (Q_ - Q1).ravel()]))
    steps = np.array(steps)
    mean, se = steps.mean(0), steps.std(0, ddof=1) / np.sqrt(batches)
    diff = np.abs(mean - exact)
    mask = se > 0
    z = diff[mask] / se[mask]
    # entries the prompts never move (the query's empty label slot): exactly zero in both routes
    fixed = float(diff[~mask].max()) if np.any(~mask) else 0.0
    resolved = int(np.sum(np.abs(exact) > 10 * se))
    return Evidence("monte-carlo", tx("separate form: the mean minibatch SGD step (learning rate 1, {} steps of {} "
                                      "prompts per term, seed {}) from a random full-matrix point $(V, K, Q)$ equals the "
                                      "exact separate-form gradient (chain rule $G_K = Q G_W^T$, $G_Q = K G_W$) entrywise "
                                      "within 5 standard errors ($ZS + lam FS$, $d = {}$)", batches, batch, seed + 1,
                                      cfg.d), float(z.max()) < 5.0 and fixed < 1e-12 and resolved > 0,
                    {"max_z_score": float(z.max()), "max_abs_diff_unsampled_entries": fixed,
                     "entries_resolved_above_10_se": resolved})


def line_derivative_evidence(seed: int = 29, lines: int = 3) -> Evidence:
    """The exact gradient and Hessian against the loss alone, along random lines.

    ``t -> L(x + t u)`` is a polynomial of degree 4 (merged form: ``yhat`` is bilinear in
    ``(V, W)``) or 6 (separate: trilinear in ``(V, K, Q)``), so its interpolant through
    ``deg + 1`` loss values is exact and gives ``u.g = p'(0)`` and ``u^T H u = p''(0)`` with
    no step-size error.  Compared: the closed-form gradient (:meth:`numerics.problem.Problem.grad`),
    the full Hessian :func:`numerics.hessian.hessian` (the one the stability verdicts use) and
    :func:`numerics.hessian.hessian_vector_product`, at a random full-matrix point, d = 2."""
    rng = np.random.default_rng(seed)
    cfg = POINTS[0][0]
    D = cfg.d + 2
    worst = 0.0
    for form, deg in (("merged", 4), ("separate", 6)):
        mats = tuple(0.5 * rng.standard_normal((D, D)) for _ in vocabulary.MATRICES[form])
        pb = Problem.build("zsfs", form, "all", cfg, mats)
        x = pb.pack()
        H = hessian(pb, x).H
        g = pb.grad(x)
        ts = np.linspace(-0.5, 0.5, deg + 1)
        for _ in range(lines):
            u = rng.standard_normal(x.size)
            u /= np.linalg.norm(u)
            p = np.polynomial.polynomial.polyfit(ts, [pb.loss(x + t * u) for t in ts], deg)
            d1, d2 = p[1], 2.0 * p[2]
            scale = max(1.0, abs(d1), abs(d2))
            worst = max(worst, abs(u @ g - d1) / scale, abs(u @ H @ u - d2) / scale,
                        abs(u @ hessian_vector_product(pb, x, u) - d2) / scale)
    return Evidence("numeric", tx("along {} random lines per form through a random full-matrix point ($ZS + lam FS$, "
                                  "$d = {}$, merged and separate): the closed-form gradient, the full Hessian and the "
                                  "Hessian-vector product equal the first and second derivatives of the exact polynomial "
                                  "interpolating the loss alone (degree 4 and 6), to $1e-7$ relative", lines, cfg.d), worst < 1e-7,
                    {"max_rel_diff": float(worst)})


CLAIMS = [
    Claim("gradients.agree", "Three routes to the gradient agree",
          "For every objective and every trainable subset, the symbolic gradient, the closed-form NumPy gradient and "
          "a Monte Carlo estimate agree, in both the merged and the separate form.",
          r"\nabla^{\mathrm{SymPy}} = \nabla^{\mathrm{NumPy}} \approx \nabla^{\mathrm{MC}}",
          check_agree),
]
