"""The subcommands of ``iclft``: each returns ``(text, exit status)``.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query
(``M = W^T`` in row-token code), ``W = K^T Q`` in the separate form.
"""
from __future__ import annotations

import time

from .report import render_claims

__all__ = ["run"]


def cmd_check(args):
    from .claims import registry, run_claim

    claims = registry()
    if args.only:
        known = {c.id for c in claims}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            raise ValueError(f"--only: unknown claim id {unknown[0]!r}")
        claims = [c for c in claims if c.id in args.only]
    t0 = time.perf_counter()
    results = [run_claim(c) for c in claims]
    seconds = time.perf_counter() - t0
    ok = all(r.status == "verified" for r in results)
    return render_claims(results, seconds, args.format), 0 if ok else 1


def _cfg(args):
    from .claims.base import Config

    return Config(args.d, args.m, args.N, args.sigma2, args.lam)


def _stability_json(st) -> dict:
    return st.summary()


def cmd_curve(args):
    from . import models, outcomes
    from .report import fmt_num, to_json

    cfg = _cfg(args)
    lo, hi = args.shots
    if hi - lo > 10_000:
        raise ValueError("shots: at most 10001 values per call")
    models.task_vector(args.task, cfg.d)  # reject a bad task before any flow runs
    form, start, scale = args.form, args.start, args.pretrained_scale
    o = outcomes.outcome(args.method, cfg, form, start, scale)
    V, W = outcomes.model(args.method, cfg, form, start, scale)
    coords, off = outcomes.coords(V, W, cfg.d)
    errors = outcomes.curve(args.method, args.task, cfg, (lo, hi), form, start, scale)
    shots = list(range(lo, hi + 1))
    flow = None if o is None else o.flow
    info = {"method": args.method, "task": args.task, "form": form, "start": start,
            "pretrained_scale": scale if o is None else o.scale, "config": cfg.as_dict(), "model": coords,
            "off_manifold": off,
            "flow": None if flow is None else {"grad_norm": flow.grad_norm, "converged": flow.converged,
                                               "t_final": flow.t_final, "stop": flow.stop, "stop_reason": flow.stop,
                                               "message": flow.message, "nfev": flow.nfev,
                                               "stages": [s.label for s in o.stages]},
            "stability": None if o is None else _stability_json(o.stability)}
    if args.format == "json":
        return to_json({"shots": shots, "error": errors, **info}), 0
    head = (f"exact n-shot error of {args.method} on the {args.task} task "
            f"(d={cfg.d}, m={cfg.m}, N={cfg.N}, sigma2={fmt_num(cfg.sigma2)}, lam={fmt_num(cfg.lam)}; "
            f"{form} form, {start} start, pretrained scale {fmt_num(info['pretrained_scale'])})")
    conv = "" if flow is None else (
        f"flow end point ({start}: {' -> '.join(s.label for s in o.stages)}): {flow.stop}, "
        f"grad norm {flow.grad_norm:.2e} at t = {flow.t_final:.4g}, stop reason: {flow.message}"
        + ("" if flow.converged else " (NOT converged: a finite-time point)")
        + f"; stability: {o.stability.verdict}"
        + (f" (index {o.stability.index})" if o.stability.verdict == "saddle" else "")
        + f", tolerance {o.stability.tolerance:.2g}")
    if args.format == "markdown":
        lines = [f"**{head}**", "", conv, "", "| n | error |", "|---|---|"]
        lines += [f"| {k} | {e:.10g} |" for k, e in zip(shots, errors)]
        return "\n".join(lines), 0
    lines = [head, "model: " + ", ".join(f"{k}={v:.6g}" for k, v in coords.items())
             + (f" (projection; off-manifold part {off:.3g})" if off > 1e-9 else "")]
    if conv:
        lines.append(conv)
    lines += [f"{k:6d}  {e:.10g}" for k, e in zip(shots, errors)]
    return "\n".join(lines), 0


def _finetune_outcome(args, cfg):
    """finetune through :mod:`numerics.outcomes` (a generic start or a scale other than 1)."""
    import numpy as np

    from numerics.manifold import merged_coords, separate_coords
    from numerics.outcomes import generic_outcome, symmetric_outcome

    fn = generic_outcome if args.start == "generic" else symmetric_outcome
    o = fn(args.objective, args.form, args.train, cfg.d, cfg.m, cfg.N, cfg.sigma2, cfg.lam,
           scale=args.pretrained_scale)
    pb = o.problem
    t0 = np.eye(cfg.d)[0]
    V, W = o.merged
    final = dict(merged_coords(V, W, t0).coeffs)
    mats = o.matrices
    fsep = None if args.form == "merged" else dict(separate_coords(mats["V"], mats["K"], mats["Q"], t0).coeffs)
    first = o.stages[0].flow

    def inv(x):
        mt = pb.matrices(x)
        v2 = float(mt["V"][-1] @ mt["V"][-1])
        if args.form == "merged":
            return {"v2_minus_W2": v2 - float(np.sum(mt["W"] ** 2))}
        K2, Q2 = float(np.sum(mt["K"] ** 2)), float(np.sum(mt["Q"] ** 2))
        return {"v2_minus_K2": v2 - K2, "v2_minus_Q2": v2 - Q2, "K2_minus_Q2": K2 - Q2}

    x0 = first.samples[0]
    fl = o.flow
    return o, {"c": o.c, "final": final, "final_separate": fsep, "grad_norm": fl.grad_norm,
               "converged": fl.converged, "t_final": fl.t_final, "loss_start": pb.loss(x0),
               "loss_end": pb.loss(o.x), "invariant_start": inv(x0), "invariant_end": inv(o.x),
               "stop": fl.stop, "stop_reason": f"{fl.stop}: {fl.message}", "nfev": fl.nfev,
               "message": fl.message,
               "stages": [{"label": s.label, "stop": s.flow.stop, "t_final": s.flow.t_final,
                           "nfev": s.flow.nfev, "value": s.stability.value, "verdict": s.stability.verdict}
                          for s in o.stages],
               "trajectory": {"points": sum(len(s.flow.t) for s in o.stages),
                              "t": [0.0, float(fl.t_final)], "loss": [pb.loss(x0), pb.loss(o.x)],
                              "grad_norm": [float(np.linalg.norm(pb.grad(x0))), fl.grad_norm]}}


def cmd_finetune(args):
    from numerics.flow import gradient_flow
    from numerics.hessian import Problem
    from numerics.stability import classify

    from .report import to_json

    cfg = _cfg(args)
    if args.start == "symmetric" and args.pretrained_scale == 1.0:
        fl = gradient_flow(args.objective, args.train, cfg.d, cfg.m, cfg.N, cfg.sigma2, cfg.lam, form=args.form)
        traj = fl.trajectory
        summary = {"points": len(traj["t"]), "t": [float(traj["t"][0]), float(traj["t"][-1])],
                   "loss": [float(traj["loss"][0]), float(traj["loss"][-1])],
                   "grad_norm": [float(traj["grad_norm"][0]), float(traj["grad_norm"][-1])]}
        mats = (fl.V, fl.W) if args.form == "merged" else (fl.V, fl.K, fl.Q)
        pb = Problem.build(args.objective, args.form, args.train, mats, fl.theta0, N=cfg.N, m=cfg.m,
                           sigma2=cfg.sigma2, lam=cfg.lam)
        st = classify(pb)
        body = {"c": fl.c, "final": fl.final, "final_separate": fl.final_separate, "grad_norm": fl.grad_norm,
                "converged": fl.converged, "t_final": fl.t_final, "loss_start": fl.loss_start,
                "loss_end": fl.loss_end, "invariant_start": fl.invariant_start,
                "invariant_end": fl.invariant_end, "stop": "converged" if fl.converged else "not converged",
                "stop_reason": fl.stop_reason, "nfev": fl.nfev, "max_nfev": fl.max_nfev, "t_max": fl.t_max,
                "message": fl.message, "trajectory": summary}
        scale = 1.0
    else:
        o, body = _finetune_outcome(args, cfg)
        st, scale, summary = o.stability, o.scale, body["trajectory"]
    out = {"objective": args.objective, "train": args.train, "form": args.form, "start": args.start,
           "pretrained_scale": scale, "config": cfg.as_dict(), **body, "stability": _stability_json(st)}
    if args.format == "json":
        return to_json(out), 0
    status = "converged" if out["converged"] else "NOT converged (finite-time point, not the limit)"
    verdict = st.verdict + (f" (index {st.index}, most negative eigenvalue {st.min_eigenvalue:.4g})"
                            if st.verdict == "saddle" else "")
    rows = [("objective", f"{args.objective} ({args.form} form, train {args.train})"),
            ("start", f"{args.start}, pretrained scale {scale:.9g}"),
            ("config", ", ".join(f"{k}={v}" for k, v in cfg.as_dict().items())),
            ("pretrained c", f"{out['c']:.9g}"),
            ("status", f"{status}: |grad| = {out['grad_norm']:.3e} at t = {out['t_final']:.6g}"),
            ("stop reason", f"{out['stop_reason']}"),
            ("loss", f"{out['loss_start']:.9g} -> {out['loss_end']:.9g}"),
            ("stability", verdict),
            ("  null / symmetry", f"{st.null_dim} / {st.symmetry_dim} (tolerance {st.tolerance:.3g})"),
            ("  reason", st.reason)]
    if "stages" in out:
        rows += [("  stage", f"{s['label']}: {s['stop']} at t = {s['t_final']:.6g}, value {s['value']:.9g}, "
                  f"{s['verdict']}") for s in out["stages"]]
    rows += [(f"final {k}", f"{v:.9g}") for k, v in out["final"].items()]
    if out["final_separate"]:
        rows += [(f"final {k}", f"{v:.9g}") for k, v in out["final_separate"].items() if k not in out["final"]]
    rows += [(f"invariant {k}", f"{out['invariant_start'][k]:.9g} -> {out['invariant_end'][k]:.9g}")
             for k in out["invariant_start"]]
    rows.append(("trajectory", f"{summary['points']} samples, grad norm {summary['grad_norm'][0]:.3e} -> "
                 f"{summary['grad_norm'][1]:.3e}"))
    if args.format == "markdown":
        return "\n".join(["| quantity | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]), 0
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows), 0


def cmd_derive(args):
    import sympy as sp

    from theory import gradient, latex

    from .report import to_json

    res = gradient(args.objective, args.train, args.form)  # raises ValueError for a bad subset
    items = [(M, basis, sp.factor(expr)) for M, co in res.matrices.items() for basis, expr in co.items()]
    if args.format == "json":
        return to_json({"objective": args.objective, "train": args.train, "form": args.form,
                        "gradient": {M: {bn: {"text": sp.sstr(e), "latex": latex(e)} for _, bn, e in
                                         [it for it in items if it[0] == M]} for M in res.matrices},
                        "flow": {str(k): sp.sstr(sp.factor(v)) for k, v in res.flow.items()}}), 0
    lines = [f"Frobenius gradient of {args.objective} w.r.t. the {args.train} parameters ({args.form} form), "
             "as coefficients on the named basis (t = (0, theta0, 0), perp = x-block I - theta0 theta0^T):"]
    if args.latex or args.format == "markdown":
        for M, bn, e in items:
            lines.append(f"$$\\nabla_{{{M}}}\\big|_{{{bn}}} = {latex(e)}$$")
    else:
        for M, bn, e in items:
            lines.append(f"  grad_{M}[{bn}] = {sp.sstr(e)}")
    return "\n".join(lines), 0


def cmd_export_latex(args):
    import sys

    from .latex_export import export_latex
    from .report import to_json

    summary = export_latex(args.path, progress=sys.stderr.isatty())
    if args.format == "json":
        return to_json(summary), 0
    st = ", ".join(f"{v} {k}" for k, v in sorted(summary["statuses"].items()))
    line = (f"wrote {summary['path']}: {summary['expressions']} expressions, "
            f"{summary['claims']} claims ({st}) in {summary['seconds']:.1f} s")
    return (f"**{line}**" if args.format == "markdown" else line), 0


def cmd_figures(args):
    import sys

    from .figures import figures_command

    return figures_command(args.out, _cfg(args), sgd=args.sgd == "on", fmt=args.format,
                           progress=sys.stderr.isatty())


def cmd_experiment(args):
    from .experiment import experiment_command

    return experiment_command(args)


COMMANDS = {"check": cmd_check, "figures": cmd_figures, "curve": cmd_curve, "finetune": cmd_finetune, "derive": cmd_derive,
            "export-latex": cmd_export_latex}
COMMANDS["experiment"] = cmd_experiment


def run(args):
    return COMMANDS[args.command](args)
