"""The subcommands of ``iclft``: each returns ``(text, exit status)``.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import sys
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
    conv = "" if flow is None else (f"flow end point: grad norm {flow.grad_norm:.1e} at t = {flow.t_final:.4g}, "
                                    f"stop reason: {flow.stop_reason}"
                                    + ("" if flow.converged else " (NOT converged: a finite-time point)"))
    # the errors are exact at the model; the model (a flow end point) is good to FLOW_TOL
    precision = f"values printed to {FLOW_TOL:g}, the accuracy of the flow end point" if flow is not None else ""

    def show(e):  # the pretrained model is exact: full float precision
        return fmt_tol(e) if flow is not None else f"{e:.10g}"
    if args.format == "markdown":
        lines = [f"**{head}**", "", conv, "", "| n | error |", "|---|---|"]
        lines += [f"| {k} | {show(e)} |" for k, e in zip(shots, errors)]
        return "\n".join(lines + ([] if not precision else ["", precision])), 0
    lines = [head, "model: " + ", ".join(f"{vocab_name(k)}={fmt_tol(v)}" for k, v in coords.items())]
    if conv:
        lines.append(conv + f"; {precision}")
    lines += [f"{k:6d}  {show(e)}" for k, e in zip(shots, errors)]
    return "\n".join(lines), 0


#: numerics' invariant-algebra slot names -> the basis names of ``vocabulary.BASIS``
#: (``numerics.manifold.ALGEBRA_NAMES``; identity once numerics uses the vocabulary)
_SLOT_NAMES = {"00": "0", "par": "tt", "xy": "ty", "yx": "yt", "yy": "yy", "perp": "perp",
               "0": "0", "tt": "tt", "ty": "ty", "yt": "yt", "p": "perp"}

#: printed precision of flow end points: the flow stops at |grad| <= gtol with integrator
#: tolerances rtol = 1e-11, atol = 1e-14, so end points are good to about 1e-7
FLOW_TOL = 1e-7


def vocab_name(key: str) -> str:
    """A coordinate or invariant name with its basis suffix in the vocabulary's spelling
    (``K_par -> K_tt``, ``K_00 -> K_0``, ``KKt_minus_QQt_yx -> KKt_minus_QQt_yt``)."""
    head, sep, tail = key.rpartition("_")
    if sep and tail in _SLOT_NAMES and head:
        return f"{head}_{_SLOT_NAMES[tail]}"
    return key


def _basis_order(name: str) -> int:
    import vocabulary as V
    tail = name.rpartition("_")[2]
    return V.BASIS_NAMES.index(tail) if tail in V.BASIS_NAMES else -1


def _renamed(coords: dict | None) -> dict | None:
    """``coords`` with vocabulary names, ``a b`` first, then ``K_*`` and ``Q_*`` in basis order."""
    if coords is None:
        return None
    items = [(vocab_name(k), v) for k, v in coords.items()]
    return dict(sorted(items, key=lambda kv: (kv[0][:2] if "_" in kv[0] else "", _basis_order(kv[0]))))


def fmt_tol(x: float, tol: float = FLOW_TOL) -> str:
    """``x`` rounded to the accuracy ``tol`` of the computation that produced it, without
    trailing zeros (``2.38e-11 -> 0``, ``0.53984389612 -> 0.539844`` at ``tol = 1e-6``)."""
    import math

    if not math.isfinite(x):
        return str(x)
    digits = max(0, -int(math.floor(math.log10(tol))))
    text = f"{round(x, digits):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _frozen_names(form: str, train: str) -> set:
    """Coordinates of the matrices a subset does not train (they keep their start value)."""
    import vocabulary as V
    trained = V.trained_matrices(form, train)
    coords = V.MERGED_COORDS if form == "merged" else V.SEPARATE_COORDS
    return {c.name for c in coords if c.matrix not in trained}


def _exact_start(cfg, form: str) -> dict:
    """The pretrained point in exact arithmetic (``sigma2`` read as the decimal it was given
    as): ``c* = (m+1)/(m+1+d(1+sigma2))``, ``K_tt = K_perp = Q_tt = Q_perp = sqrt(c*)``."""
    from fractions import Fraction

    s2 = Fraction(str(cfg.sigma2))
    c = Fraction(cfg.m + 1) / (cfg.m + 1 + cfg.d * (1 + s2))
    if form == "merged":
        return {"a": "0", "b": "1", "q": "0", "alpha": str(c), "beta": str(c), "h": "0"}
    out = {"a": "0", "b": "1"}
    for M in ("K", "Q"):
        for bn in ("0", "tt", "ty", "yt", "yy", "perp"):
            out[f"{M}_{bn}"] = f"sqrt({c})" if bn in ("tt", "perp") else "0"
    return out


def cmd_finetune(args):
    from numerics.flow import gradient_flow

    from .report import md_cell, to_json

    cfg = _cfg(args)
    fl = gradient_flow(args.objective, args.train, cfg.d, cfg.m, cfg.N, cfg.sigma2, cfg.lam, form=args.form)
    traj = fl.trajectory
    names = [vocab_name(n) for n in traj.get("names", [])]
    coords = traj.get("coords")
    trajectory = {"points": len(traj["t"]), "t": [float(x) for x in traj["t"]],
                  "loss": [float(x) for x in traj["loss"]],
                  "grad_norm": [float(x) for x in traj["grad_norm"]]}
    if coords is not None and names:
        trajectory["coords"] = {nm: [float(row[i]) for row in coords] for i, nm in enumerate(names)}
    stop_reason = fl.stop_reason
    frozen = _frozen_names(args.form, args.train)
    exact = _exact_start(cfg, args.form)
    final = _renamed(fl.final)
    final_sep = _renamed(fl.final_separate)
    out = {"objective": args.objective, "train": args.train, "form": args.form, "config": cfg.as_dict(),
           "c": fl.c, "final": final, "final_separate": final_sep, "frozen": sorted(frozen),
           "grad_norm": fl.grad_norm, "converged": fl.converged, "stop_reason": stop_reason,
           "t_final": fl.t_final, "nfev": fl.nfev, "max_nfev": fl.max_nfev, "t_max": fl.t_max,
           "loss_start": fl.loss_start, "loss_end": fl.loss_end,
           "invariant_start": _renamed(fl.invariant_start), "invariant_end": _renamed(fl.invariant_end),
           "tolerance": FLOW_TOL, "trajectory": trajectory}
    if args.format == "json":
        return to_json(out), 0
    status = "converged" if fl.converged else "NOT converged (finite-time point, not the limit)"

    def value(name, x):
        if name in frozen and name in exact:
            return f"{exact[name]} (not trained: exact start value)"
        return fmt_tol(x)

    rows = [("objective", f"{args.objective} ({args.form} form, train {args.train})"),
            ("config", ", ".join(f"{k}={v}" for k, v in cfg.as_dict().items())),
            ("pretrained c", f"{_exact_start(cfg, 'merged')['alpha']} = {fmt_tol(fl.c)}"),
            ("status", f"{status}: |grad| = {fl.grad_norm:.1e} at t = {fl.t_final:.6g}"),
            ("stop reason", f"{fl.stop_reason} ({fl.nfev} of at most {fl.max_nfev} evaluations, "
                            f"t cap {fl.t_max:g})"),
            ("loss", f"{fmt_tol(fl.loss_start)} -> {fmt_tol(fl.loss_end)}")]
    rows += [(f"final {k}", value(k, v)) for k, v in final.items()]
    if final_sep:
        rows += [(f"final {k}", value(k, v)) for k, v in final_sep.items() if k not in final]
    inv_s, inv_e = _renamed(fl.invariant_start), _renamed(fl.invariant_end)
    rows += [(f"invariant {k}", f"{fmt_tol(inv_s[k])} -> {fmt_tol(inv_e[k])}") for k in inv_s]
    rows.append(("trajectory", f"{trajectory['points']} samples (all in --format json), grad norm "
                 f"{trajectory['grad_norm'][0]:.1e} -> {trajectory['grad_norm'][-1]:.1e}"))
    rows.append(("precision", f"flow end points printed to {FLOW_TOL:g} (their accuracy)"))
    if args.format == "markdown":
        return "\n".join(["| quantity | value |", "|---|---|"]
                         + [f"| {md_cell(k)} | {md_cell(v)} |" for k, v in rows]), 0
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows), 0


def cmd_derive(args):
    import sympy as sp

    import theory
    from theory import gradient

    from .report import md_cell, to_json

    TL = sys.modules["theory.latex"]
    res = gradient(args.objective, args.train, args.form)  # raises ValueError for a bad subset
    items = [(M, TL._MANIFOLD_BASIS.get(bn, bn), TL.tidy(expr))
             for M, co in res.matrices.items() for bn, expr in co.items()]

    def sym_name(sym):
        return vocab_name(str(sym))

    from theory.symbols import K, Q
    rename = {s_: sp.Symbol(sym_name(s_), real=True) for s_ in (*K.values(), *Q.values())}

    def text(e):
        return sp.sstr(e.xreplace(rename) if hasattr(e, "xreplace") else e)

    if args.format == "json":
        return to_json({"objective": args.objective, "train": args.train, "form": args.form,
                        "gradient": {M: {bn: {"text": text(e), "latex": TL.tex(e)} for M2, bn, e in items
                                         if M2 == M} for M in res.matrices},
                        "flow": {sym_name(k): text(TL.tidy(v)) for k, v in res.flow.items()}}), 0
    del theory
    lines = [f"Frobenius gradient of {args.objective} w.r.t. the {args.train} parameters ({args.form} form), "
             "as coefficients on the named basis (t = (0, theta0, 0); basis 0 tt ty yt yy perp = "
             "e_0 e_0^T, t t^T, t e_y^T, e_y t^T, e_y e_y^T, Pi = x-block I - theta0 theta0^T):"]
    if args.latex or args.format == "markdown":
        for M, bn, e in items:
            basis = TL.BASIS_LATEX[bn]
            lines.append(f"$$\\big[\\nabla_{{{M}}}\\big]_{{{basis}}} = {TL.tex(e)}$$")
    else:
        for M, bn, e in items:
            lines.append(f"  grad_{M}[{bn}] = {text(e)}")
    return "\n".join(lines), 0


def cmd_export_latex(args):
    import sys

    from .latex_export import export_latex
    from .report import to_json

    no_claims = getattr(args, "no_claims", False)
    summary = export_latex(args.path, progress=sys.stderr.isatty(), claims=not no_claims)
    if args.format == "json":
        return to_json(summary), 0
    st = ", ".join(f"{v} {k}" for k, v in sorted(summary["statuses"].items()))
    claims = "no claims (--no-claims)" if no_claims else f"{summary['claims']} claims ({st})"
    line = (f"wrote {summary['path']}: {summary['expressions']} expressions, "
            f"{claims} in {summary['seconds']:.1f} s")
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
