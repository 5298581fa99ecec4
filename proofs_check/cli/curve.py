"""``iclft curve``: the exact n-shot test error of a method's model on a task
(:mod:`proofs_check.methods.models`), with the flow end point's stop, stability and measured
accuracy, or under another convention (``--convention NAME``).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import vocabulary
from numerics.conventions import convention_loss
from proofs_check.cli.arguments import config_from
from proofs_check.cli.endpoint_text import accuracy_clause, stop_text, vocab_name
from proofs_check.cli.progress import busy, wanted
from proofs_check.export.table_cells import fmt_num
from proofs_check.storage.json_text import to_json
from proofs_check.methods import models
from proofs_check.methods.accuracy import PRINT_FLOOR, fmt_value, measure_outcome

__all__ = ["run"]


def run(args):
    """``(text, exit status)`` of ``iclft curve``."""
    cfg = config_from(args)
    lo, hi = args.shots
    if hi - lo > 10_000:
        raise ValueError("shots: at most 10001 values per call")
    theta = models.task_vector(args.task, cfg.d)  # rejects a bad task before any flow runs
    if getattr(args, "convention", "default") != "default":
        return _convention(args, cfg)
    form, start, scale = args.form, args.start, args.pretrained_scale
    with busy(f"{args.method}: exact flow and curve at d={cfg.d}", wanted(args)):
        o = models.outcome(args.method, cfg, form, start, scale)
        # the model of the classified end point this command reports (the pretrained member: no outcome)
        V, W = models.model(args.method, cfg, form, start, scale) if o is None else o.merged
        coords, off = models.coords(V, W, cfg.d)
        errors = models.exact_curve(V, W, theta, cfg.sigma2, (lo, hi))
        measured = acc_model = acc_err = None
        if o is not None:
            measured = measure_outcome(o)
        if measured is not None:
            def model_at(x):
                return models.coords(*o.problem.merged(x), cfg.d)[0]

            def errors_at(x):
                return models.exact_curve(*o.problem.merged(x), theta, cfg.sigma2, (lo, hi))
            acc_model, acc_err = measured.accuracy(model_at), measured.accuracy(errors_at)
    shots = list(range(lo, hi + 1))
    flow = None if o is None else o.flow
    info = {"method": args.method, "task": args.task, "form": form, "start": start,
            "pretrained_scale": scale if o is None else o.scale, "config": cfg.as_dict(), "model": coords,
            "off_manifold": off,
            "flow": None if flow is None else {"grad_norm": flow.grad_norm, "converged": flow.converged,
                                               "t_final": flow.t_final, "stop": flow.stop, "stop_reason": flow.stop,
                                               "message": flow.message, "nfev": flow.nfev,
                                               "stages": [s.label for s in o.stages]},
            "stability": None if o is None else o.stability.summary(),
            "accuracy": None if measured is None else {"model": acc_model, "error": acc_err,
                                                       **measured.summary()}}
    if args.format == "json":
        return to_json({"shots": shots, "error": errors, **info}), 0
    head = (f"exact n-shot error of {args.method} on the {args.task} task "
            f"(d={cfg.d}, m={cfg.m}, N={cfg.N}, sigma2={fmt_num(cfg.sigma2)}, lam={fmt_num(cfg.lam)}; "
            f"{form} form, {start} start, pretrained scale {fmt_num(info['pretrained_scale'])})")
    conv = "" if flow is None else (
        f"flow end point ({start}: {' -> '.join(s.label for s in o.stages)}): "
        + stop_text(flow.stop, flow.message, flow.nfev, flow.max_nfev, flow.t_final, flow.t_max)
        + f", grad norm {flow.grad_norm:.1e}"
        + ("" if flow.converged else " (NOT converged: a finite-time point)")
        + f"; stability: {o.stability.verdict}"
        + (f" (index {o.stability.index})" if o.stability.verdict == "saddle" else "")
        + (f" ({o.stability.reason})" if o.stability.verdict == "unclassified"
           else f", tolerance {o.stability.tolerance:.2g}"))
    precision = "" if flow is None else accuracy_clause(
        flow.converged, measured, f"accuracy: model {acc_model or 0:.2g}, errors {acc_err or 0:.2g}, each value rounded "
                        f"to its accuracy (at most {PRINT_FLOOR:g})", o.problem if o is not None else None)

    def show(e):  # the pretrained model is exact: full float precision
        return fmt_value(e, acc_err) if flow is not None else f"{e:.10g}"

    def show_model(v):
        return fmt_value(v, acc_model) if flow is not None else fmt_value(v, PRINT_FLOOR)
    if args.format == "markdown":
        lines = [f"**{head}**", "", conv, "", "| n | error |", "|---|---|"]
        lines += [f"| {k} | {show(e)} |" for k, e in zip(shots, errors)]
        return "\n".join(lines + ([] if not precision else ["", precision])), 0
    lines = [head, "model: " + ", ".join(f"{vocab_name(k)}={show_model(v)}" for k, v in coords.items())
             + (f" (projection; off-manifold part {off:.3g})" if off > 1e-9 else "")]
    if conv:
        lines.append(conv + f"; {precision}")
    lines += [f"{k:6d}  {show(e)}" for k, e in zip(shots, errors)]
    return "\n".join(lines), 0


def _convention(args, cfg):
    """``iclft curve --convention NAME``: the curve of the method's model under that convention
    (:func:`proofs_check.methods.models.convention_model`)."""
    conv = vocabulary.CONVENTIONS[args.convention]
    V, W, info = models.convention_model(args.method, cfg, conv, args.form, args.start, args.pretrained_scale)
    th = models.task_vector(args.task, cfg.d)
    lo, hi = args.shots
    shots = list(range(lo, hi + 1))
    errors = [convention_loss(V, W, th, n_, cfg.sigma2, conv) for n_ in shots]
    if args.format == "json":
        return to_json({"shots": shots, "error": errors, "method": args.method, "task": args.task,
                        "form": args.form, "config": cfg.as_dict(), **info}), 0
    head = (f"exact n-shot error of {args.method} on the {args.task} task under convention {conv.name} "
            f"({conv.description}; d={cfg.d}, m={cfg.m}, N={cfg.N}, sigma2={fmt_num(cfg.sigma2)}, "
            f"lam={fmt_num(cfg.lam)}; pretrained gains {', '.join(f'{g:.6g}' for g in sorted(set(info['pretrained_gains'])))})")
    lines = [head] + [f"  n={n_:>4}  {e:.12g}" for n_, e in zip(shots, errors)]
    if args.format == "markdown":
        lines = [f"**{head}**", "", "| n | error |", "|---|---|"] + [f"| {n_} | {e:.12g} |" for n_, e in zip(shots, errors)]
    return "\n".join(lines), 0
