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
    return render_claims(results, seconds, args.format), check_exit_code(results)


def check_exit_code(results) -> int:
    """0 when every claim is ``verified`` or ``refined``, 1 otherwise (refuted or error)."""
    from .claims.base import PASSING

    return 0 if results and all(r.status in PASSING for r in results) else 1


def cmd_explore(args):
    from .explore import explore, render

    res = explore(args.claim, args.statement, args.examples, args.seed)
    return render(res, args.format), 0 if res["counterexample"] is None else 1


def _cfg(args):
    from .claims.base import Config

    return Config(args.d, args.m, args.N, args.sigma2, args.lam)


def cmd_curve(args):
    from . import models
    from .report import fmt_num, to_json

    cfg = _cfg(args)
    lo, hi = args.shots
    if hi - lo > 10_000:
        raise ValueError("shots: at most 10001 values per call")
    models.task_vector(args.task, cfg.d)  # reject a bad task before any flow runs
    coords, flow = models.endpoint(args.method, cfg)
    errors = models.curve(args.method, args.task, cfg, (lo, hi))
    shots = list(range(lo, hi + 1))
    info = {"method": args.method, "task": args.task, "config": cfg.as_dict(), "model": coords,
            "flow": None if flow is None else {"grad_norm": flow.grad_norm, "converged": flow.converged,
                                               "stop_reason": flow.stop_reason, "t_final": flow.t_final,
                                               "nfev": flow.nfev}}
    if args.format == "json":
        return to_json({"shots": shots, "error": errors, **info}), 0
    head = (f"exact n-shot error of {args.method} on the {args.task} task "
            f"(d={cfg.d}, m={cfg.m}, N={cfg.N}, sigma2={fmt_num(cfg.sigma2)}, lam={fmt_num(cfg.lam)})")
    conv = "" if flow is None else (f"flow end point: grad norm {flow.grad_norm:.2e} at t = {flow.t_final:.4g}, "
                                    f"stop reason: {flow.stop_reason}"
                                    + ("" if flow.converged else " (NOT converged: a finite-time point)"))
    if args.format == "markdown":
        lines = [f"**{head}**", "", conv, "", "| n | error |", "|---|---|"]
        lines += [f"| {k} | {e:.10g} |" for k, e in zip(shots, errors)]
        return "\n".join(lines), 0
    lines = [head, "model: " + ", ".join(f"{k}={v:.6g}" for k, v in coords.items())]
    if conv:
        lines.append(conv)
    lines += [f"{k:6d}  {e:.10g}" for k, e in zip(shots, errors)]
    return "\n".join(lines), 0


def cmd_finetune(args):
    from numerics.flow import gradient_flow

    from .report import to_json

    cfg = _cfg(args)
    fl = gradient_flow(args.objective, args.train, cfg.d, cfg.m, cfg.N, cfg.sigma2, cfg.lam, form=args.form)
    traj = fl.trajectory
    summary = {"points": len(traj["t"]), "t": [float(traj["t"][0]), float(traj["t"][-1])],
               "loss": [float(traj["loss"][0]), float(traj["loss"][-1])],
               "grad_norm": [float(traj["grad_norm"][0]), float(traj["grad_norm"][-1])]}
    out = {"objective": args.objective, "train": args.train, "form": args.form, "config": cfg.as_dict(),
           "c": fl.c, "final": fl.final, "final_separate": fl.final_separate, "grad_norm": fl.grad_norm,
           "converged": fl.converged, "stop_reason": fl.stop_reason, "t_final": fl.t_final, "nfev": fl.nfev,
           "max_nfev": fl.max_nfev, "t_max": fl.t_max, "loss_start": fl.loss_start, "loss_end": fl.loss_end,
           "invariant_start": fl.invariant_start, "invariant_end": fl.invariant_end, "trajectory": summary}
    if args.format == "json":
        return to_json(out), 0
    status = "converged" if fl.converged else "NOT converged (finite-time point, not the limit)"
    rows = [("objective", f"{args.objective} ({args.form} form, train {args.train})"),
            ("config", ", ".join(f"{k}={v}" for k, v in cfg.as_dict().items())),
            ("pretrained c", f"{fl.c:.9g}"),
            ("status", f"{status}: |grad| = {fl.grad_norm:.3e} at t = {fl.t_final:.6g}"),
            ("stop reason", f"{fl.stop_reason} ({fl.nfev} of at most {fl.max_nfev} evaluations, "
                            f"t cap {fl.t_max:g})"),
            ("loss", f"{fl.loss_start:.9g} -> {fl.loss_end:.9g}")]
    rows += [(f"final {k}", f"{v:.9g}") for k, v in fl.final.items()]
    if fl.final_separate:
        rows += [(f"final {k}", f"{v:.9g}") for k, v in fl.final_separate.items() if k not in fl.final]
    rows += [(f"invariant {k}", f"{fl.invariant_start[k]:.9g} -> {fl.invariant_end[k]:.9g}")
             for k in fl.invariant_start]
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


COMMANDS = {"check": cmd_check, "figures": cmd_figures, "curve": cmd_curve, "finetune": cmd_finetune, "derive": cmd_derive,
            "export-latex": cmd_export_latex, "explore": cmd_explore}


def run(args):
    return COMMANDS[args.command](args)
