"""``iclft finetune``: the exact population gradient flow of an objective over a trained subset,
from a start and a pretrained member, to its classified end point
(:func:`proofs_check.methods.models.fine_tune`), with its stop, stability, conserved quantities
and measured accuracy; or the V-only end point under another convention (``--convention NAME``).

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

import vocabulary
from numerics.conservation import conserved_names, scalar_invariants
from numerics.conventions import convention_loss
from numerics.manifold import merged_coords, separate_coords
from proofs_check.cli.arguments import config_from
from proofs_check.cli.endpoint_text import FLOW_TOL, accuracy_clause, fmt_tol, renamed, stop_text, vocab_name
from proofs_check.cli.progress import busy, wanted
from proofs_check.export.table_cells import md_cell
from proofs_check.storage.json_text import to_json
from proofs_check.methods import models
from proofs_check.methods.accuracy import fmt_value, measure_outcome
from theory import symbols as S
from theory.optima import pretrain_c_star

__all__ = ["run", "exact_c", "exact_start", "frozen_names"]


def run(args):
    """``(text, exit status)`` of ``iclft finetune``: one route (objective, subset, start,
    member -> classified end point -> report)."""
    cfg = config_from(args)
    if getattr(args, "convention", "default") != "default":
        return _convention(args, cfg)
    with busy(f"{args.objective}/{args.train}: exact flow at d={cfg.d}", wanted(args)):
        o = models.fine_tune(args.objective, args.form, args.train, cfg, args.start, args.pretrained_scale)
        pb, st = o.problem, o.stability
        # numerics runs the symmetric stage of the member s = 1 as the reduced flow
        # (numerics.endpoints.symmetric_outcome): its record has the trajectory on the coordinates
        reduced = models.reduced_record(args.objective, args.form, args.train, cfg) \
            if o.start == "symmetric" and o.scale == 1.0 else None
        body = _outcome_fields(o, args.form) if reduced is None else _reduced_fields(reduced)
        measured = measure_outcome(o)
        acc_coords = acc_loss = None
        if measured is not None:
            acc_coords = measured.accuracy(lambda x: _coords_at(pb, x, args.form))
            acc_loss = measured.accuracy(lambda x: [pb.loss(x)])
    frozen = frozen_names(args.form, args.train)
    exact = exact_start(cfg, args.form, args.pretrained_scale)
    out = {"objective": args.objective, "train": args.train, "form": args.form, "start": args.start,
           "pretrained_scale": o.scale, "config": cfg.as_dict(), **body, "frozen": sorted(frozen),
           "tolerance": acc_coords,
           "accuracy": None if measured is None else {"coords": acc_coords, "loss": acc_loss, **measured.summary()},
           "stability": st.summary()}
    if args.format == "json":
        return to_json(out), 0
    status = "converged" if out["converged"] else "NOT converged (finite-time point, not the limit)"
    verdict = st.verdict + (f" (index {st.index}, most negative eigenvalue {st.min_eigenvalue:.4g})"
                            if st.verdict == "saddle" else "")
    trajectory = out["trajectory"]

    def value(name, x):
        if name in frozen and name in exact:
            return f"{exact[name]} (not trained: exact start value)"
        return fmt_value(x, acc_coords)

    rows = [("objective", f"{args.objective} ({args.form} form, train {args.train})"),
            ("start", f"{args.start}, pretrained scale {o.scale:.9g}"),
            ("config", ", ".join(f"{k}={v}" for k, v in cfg.as_dict().items())),
            ("pretrained c", f"{exact_c(cfg)} = " + fmt_tol(out["c"])),
            ("status", f"{status}: |grad| = {out['grad_norm']:.1e} at t = {out['t_final']:.6g}"),
            ("stop reason", stop_text(out["stop"], out["message"], out["nfev"], out["max_nfev"],
                                      out["t_final"], out["t_max"])),
            ("loss", f"{fmt_tol(out['loss_start'])} -> {fmt_value(out['loss_end'], acc_loss)}"),
            ("stability", verdict)]
    if st.verdict != "unclassified":
        rows.append(("  null / symmetry", f"{st.null_dim} / {st.symmetry_dim} (tolerance {st.tolerance:.3g})"))
    rows.append(("  reason", st.reason))
    if "stages" in out:
        rows += [("  stage", f"{s['label']}: {s['stop']} at t = {s['t_final']:.6g}, value {s['value']:.9g}, "
                  f"{s['verdict']}") for s in out["stages"]]
    final, final_sep = out["final"], out["final_separate"]
    rows += [(f"final {k}", value(k, v)) for k, v in final.items()]
    if final_sep:
        rows += [(f"final {k}", value(k, v)) for k, v in final_sep.items() if k not in final]
    inv_s, inv_e = renamed(out["invariant_start"]), renamed(out["invariant_end"])
    rows += [(f"invariant {k}", f"{fmt_tol(inv_s[k])} -> {fmt_value(inv_e[k], acc_coords)} (conserved by "
              f"this subset's flow)") for k in inv_s]
    rows.append(("trajectory", f"{trajectory['points']} samples"
                 + (" (all in --format json)" if isinstance(trajectory["t"], list) and
                    len(trajectory["t"]) == trajectory["points"] else "")
                 + f", grad norm {trajectory['grad_norm'][0]:.1e} -> {trajectory['grad_norm'][-1]:.1e}"))
    rows.append(("precision", accuracy_clause(
        out["converged"], measured, f"accuracy: coordinates {acc_coords or 0:.2g}, loss {acc_loss or 0:.2g}, each value "
                              f"rounded to its accuracy (at most {FLOW_TOL:g})", pb)))
    if args.format == "markdown":
        return "\n".join(["| quantity | value |", "|---|---|"]
                         + [f"| {md_cell(k)} | {md_cell(v)} |" for k, v in rows]), 0
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows), 0


def _reduced_fields(fl) -> dict:
    """The report fields of a reduced flow (:class:`numerics.flow.FlowResult`): its reduced
    coordinates, losses, the quantities this subset's flow conserves and its trajectory."""
    traj = fl.trajectory
    names = [vocab_name(n) for n in traj.get("names", [])]
    coords = traj.get("coords")
    trajectory = {"points": len(traj["t"]), "t": [float(x) for x in traj["t"]],
                  "loss": [float(x) for x in traj["loss"]],
                  "grad_norm": [float(x) for x in traj["grad_norm"]]}
    if coords is not None and names:
        trajectory["coords"] = {nm: [float(row[i]) for row in coords] for i, nm in enumerate(names)}
    conserved = [k for k in fl.conserved if k in fl.invariant_start]
    return {"c": fl.c, "final": renamed(fl.final), "final_separate": renamed(fl.final_separate),
            "grad_norm": fl.grad_norm, "converged": fl.converged, "t_final": fl.t_final,
            "loss_start": fl.loss_start, "loss_end": fl.loss_end,
            "invariant_start": renamed({k: fl.invariant_start[k] for k in conserved}),
            "invariant_end": renamed({k: fl.invariant_end[k] for k in conserved}),
            "stop": fl.stop_reason, "stop_reason": fl.stop_reason, "nfev": fl.nfev, "max_nfev": fl.max_nfev,
            "t_max": fl.t_max, "message": fl.message, "trajectory": trajectory}


def _outcome_fields(o, form: str) -> dict:
    """The report fields of an end point's flow stages (:class:`numerics.endpoints.ClassifiedEndpoint`):
    the coordinates of its matrices, losses and conserved quantities at the start of the first
    stage and at the end point, and every stage with its verdict."""
    pb = o.problem
    t0 = np.eye(pb.d)[0]
    V, W = o.merged
    mats = o.matrices
    fsep = None if form == "merged" else dict(separate_coords(mats["V"], mats["K"], mats["Q"], t0).coeffs)

    def inv(x):  # the quantities this subset's flow conserves (numerics.conservation)
        allv = scalar_invariants(pb.matrices(x))
        return {k: allv[k] for k in conserved_names(tuple(allv), pb.trained)}

    x0 = o.stages[0].flow.samples[0]
    fl = o.flow
    return {"c": o.c, "final": renamed(dict(merged_coords(V, W, t0).coeffs)), "final_separate": renamed(fsep),
            "grad_norm": fl.grad_norm, "converged": fl.converged, "t_final": fl.t_final, "loss_start": pb.loss(x0),
            "loss_end": pb.loss(o.x), "invariant_start": inv(x0), "invariant_end": inv(o.x),
            "stop": fl.stop, "stop_reason": fl.stop, "nfev": fl.nfev, "max_nfev": fl.max_nfev,
            "t_max": fl.t_max, "message": fl.message,
            "stages": [{"label": s.label, "stop": s.flow.stop, "t_final": s.flow.t_final,
                        "nfev": s.flow.nfev, "value": s.stability.value, "verdict": s.stability.verdict}
                       for s in o.stages],
            "trajectory": {"points": sum(len(s.flow.t) for s in o.stages),
                           "t": [0.0, float(fl.t_final)], "loss": [pb.loss(x0), pb.loss(o.x)],
                           "grad_norm": [float(np.linalg.norm(pb.grad(x0))), fl.grad_norm]}}


def _coords_at(pb, x, form: str) -> dict:
    """The printed coordinates of the point ``x`` of ``pb``: merged (of ``W = K^T Q`` in the
    separate form) and, in the separate form, those of ``K`` and ``Q``."""
    t0 = np.eye(pb.d)[0]
    V, W = pb.merged(x)
    out = dict(merged_coords(V, W, t0).coeffs)
    if form == "separate":
        mt = pb.matrices(x)
        out.update({f"sep_{k}": v for k, v in separate_coords(mt["V"], mt["K"], mt["Q"], t0).coeffs.items()})
    return out


def frozen_names(form: str, train: str) -> set:
    """Coordinates of the matrices a subset does not train (they keep their start value)."""
    trained = vocabulary.trained_matrices(form, train)
    coords = vocabulary.MERGED_COORDS if form == "merged" else vocabulary.SEPARATE_COORDS
    return {c.name for c in coords if c.matrix not in trained}


def exact_c(cfg) -> sp.Rational:
    """The pretrained ``c*`` of the configuration in exact arithmetic: the derived
    :func:`theory.optima.pretrain_c_star` at ``d``, ``m`` and ``sigma2`` (read as the decimal
    it was given as)."""
    return pretrain_c_star().subs({S.d: cfg.d, S.m: cfg.m, S.sigma2: sp.Rational(str(cfg.sigma2))})


def exact_start(cfg, form: str, scale=1.0) -> dict:
    """The pretrained member of scale ``s`` in exact arithmetic, as text by coordinate name:
    the pretrained point of :mod:`theory.symbols` (``PRETRAINED``, ``PRETRAINED_SEPARATE``) at
    ``c = c*/s`` (:func:`exact_c`) with the coordinates of ``V`` times ``s`` (``s`` read as the
    decimal it was given as); ``{}`` for ``balanced`` (an irrational scale)."""
    if isinstance(scale, str):
        return {}
    s = sp.Rational(str(scale))
    cs = exact_c(cfg) / s
    point = S.PRETRAINED if form == "merged" else S.PRETRAINED_SEPARATE
    coords = vocabulary.MERGED_COORDS if form == "merged" else vocabulary.SEPARATE_COORDS
    of_v = {co.name for co in coords if co.matrix == "V"}
    placeholder = sp.Symbol("C")  # c*/s printed as the fraction it is, inside sqrt() in the separate form
    return {str(k): str(S.to_expr(v) * s) if str(k) in of_v
            else sp.sstr(S.to_expr(v).subs(S.c, placeholder)).replace("C", str(cs))
            for k, v in point.items()}


def _convention(args, cfg):
    """``iclft finetune --convention NAME``: the V-only end point under that convention
    (:func:`proofs_check.methods.models.convention_model`)."""
    conv = vocabulary.CONVENTIONS[args.convention]
    if args.train != "v":
        raise ValueError(f"--convention {conv.name}: only --train v is computed under another convention "
                         "(the other flows run under today's convention only)")
    method = f"{args.objective}-v"
    if method not in vocabulary.METHODS:
        raise ValueError(f"--convention {conv.name}: no V-only method for objective {args.objective!r}")
    V0, W, _ = models.convention_model("pretrained", cfg, conv, args.form, "generic", args.pretrained_scale)
    V, _, info = models.convention_model(method, cfg, conv, args.form, "generic", args.pretrained_scale)
    t0 = np.eye(cfg.d)[0]

    def obj(Vx):
        out = 0.0
        for n_, task, w in vocabulary.objective_terms(args.objective, N=cfg.N, m=cfg.m, lam=cfg.lam):
            tk = vocabulary.TASKS[task]
            out += w * convention_loss(Vx, W, None if tk.kappa is None else tk.kappa * t0, n_, cfg.sigma2, conv)
        return out
    out = {"objective": args.objective, "train": "v", "form": args.form, "config": cfg.as_dict(),
           "final": {"a": float(V[-1, 1:-1] @ t0), "b": float(V[-1, -1])}, "loss_start": obj(V0),
           "loss_end": obj(V), **info}
    if args.format == "json":
        return to_json(out), 0
    lines = [f"V-only {args.objective} under convention {conv.name} ({conv.description})",
             f"  pretrained gains: {', '.join(f'{g:.9g}' for g in sorted(set(info['pretrained_gains'])))}",
             f"  end point: a = {out['final']['a']:.9g}, b = {out['final']['b']:.9g} (theta0 = e_1; "
             f"{info['flow']['method']}; |grad| = {info['flow']['grad_norm']:.1e})",
             f"  loss: {out['loss_start']:.9g} -> {out['loss_end']:.9g}"]
    return "\n".join(lines), 0
