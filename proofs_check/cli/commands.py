"""The subcommands of ``iclft``: each returns ``(text, exit status)``.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import time

from proofs_check.cli.report import render_claims

__all__ = ["run"]


def cmd_check(args):
    from proofs_check.claims import registry
    from proofs_check.claims.claim import SelfTestFailure, machinery_self_test

    problems = machinery_self_test(check_exit_code)
    if problems:
        raise SelfTestFailure("the verdict machinery failed its self-test (" + "; ".join(problems)
                              + "): no claim status can be trusted")
    claims = registry()
    if args.only:
        known = {c.id for c in claims}
        unknown = [i for i in args.only if i not in known]
        if unknown:
            raise ValueError(f"argument --only: unknown claim id {unknown[0]!r}")
        claims = [c for c in claims if c.id in args.only]
    from proofs_check.claims.parallel import default_jobs, run_claims

    convention = getattr(args, "convention", "default")
    if convention != "default":
        return _check_conventions(args, claims, convention)
    t0 = time.perf_counter()
    results = run_claims(claims, jobs=args.jobs or default_jobs(), use_cache=not args.no_cache)
    seconds = time.perf_counter() - t0
    return render_claims(results, seconds, args.format), check_exit_code(results)


def _check_conventions(args, claims, convention):
    """``iclft check --convention NAME|all``: the claims x conventions matrix
    (:mod:`proofs_check.claims.conventions`); exit 1 when a cell is refuted or an error."""
    import vocabulary

    from proofs_check.claims.conventions import NOT_DERIVED, convention_matrix, render_matrix
    from proofs_check.storage.derivation_cache import ensure_derived
    from proofs_check.claims.parallel import default_jobs, run_claims

    ensure_derived(not args.no_cache)
    convs = list(vocabulary.CONVENTIONS.values()) if convention == "all" else [vocabulary.CONVENTIONS[convention]]
    t0 = time.perf_counter()
    default_results = None
    if vocabulary.DEFAULT_CONVENTION in convs:
        default_results = {r.id: r for r in run_claims(claims, jobs=args.jobs or default_jobs(),
                                                         use_cache=not args.no_cache)}
    matrix = convention_matrix(claims, convs, default_results)
    seconds = time.perf_counter() - t0
    bad = any(st not in ("verified", "refined", NOT_DERIVED) for row in matrix["claims"]
              for st in row["statuses"].values())
    return render_matrix(matrix, seconds, args.format), 1 if bad else 0


def check_exit_code(results) -> int:
    """0 when every claim is ``verified`` or ``refined``, 1 otherwise (refuted or error)."""
    from proofs_check.claims.claim import PASSING

    return 0 if results and all(r.status in PASSING for r in results) else 1


def cmd_explore(args):
    from proofs_check.claims.explore import explore, render

    if getattr(args, "convention", "default") != "default":
        return _explore_convention(args)
    res = explore(args.claim, args.statement, args.examples, args.seed)
    return render(res, args.format), 0 if res["counterexample"] is None else 1


def _cfg(args):
    from vocabulary import Config

    return Config(args.d, args.m, args.N, args.sigma2, args.lam)


def _stability_json(st) -> dict:
    return st.summary()


def _drift(problem, x0, x) -> float:
    """The largest change of a quantity the flow of ``problem`` conserves, from ``x0`` to ``x``
    (:mod:`numerics.conservation`; 0 when the subset conserves none)."""
    from numerics.conservation import conserved_names, scalar_invariants

    a, b = scalar_invariants(problem.matrices(x0)), scalar_invariants(problem.matrices(x))
    names = conserved_names(tuple(a), problem.trained)
    return max((abs(b[k] - a[k]) for k in names), default=0.0)


def _accuracy_clause(converged: bool, measured, acc_text: str, problem=None) -> str:
    """What a command says about the accuracy of a flow end point: nothing claimed when the
    flow did not converge or the accuracy could not be measured; otherwise the measured
    accuracy ``acc_text`` and how it was measured (:mod:`proofs_check.methods.accuracy`)."""
    if not converged:
        return "no accuracy claimed (NOT converged: the values are those of a finite-time point)"
    if measured is None:
        from proofs_check.methods.accuracy import unmeasured_reason

        return f"no accuracy claimed ({unmeasured_reason(problem)})"
    return f"{acc_text} (measured: {measured.describe()})"


def _measured_outcome(o):
    """:func:`proofs_check.methods.accuracy.measure` at the end point of the outcome ``o``."""
    from proofs_check.methods.accuracy import measure

    return measure(o.problem, o.x, converged=o.flow.converged,
                   drift=_drift(o.problem, o.stages[0].flow.samples[0], o.x))


def cmd_curve(args):
    from proofs_check.methods import flow_models as models
    from proofs_check.methods import classified as outcomes
    from proofs_check.methods.accuracy import PRINT_FLOOR, fmt_value
    from proofs_check.cli.report import fmt_num, to_json

    cfg = _cfg(args)
    lo, hi = args.shots
    if hi - lo > 10_000:
        raise ValueError("shots: at most 10001 values per call")
    models.task_vector(args.task, cfg.d)  # reject a bad task before any flow runs
    if getattr(args, "convention", "default") != "default":
        return _curve_convention(args, cfg)
    form, start, scale = args.form, args.start, args.pretrained_scale
    from proofs_check.cli.progress import busy, wanted

    with busy(f"{args.method}: exact flow and curve at d={cfg.d}", wanted(args)):
        o = outcomes.outcome(args.method, cfg, form, start, scale)
        V, W = outcomes.model(args.method, cfg, form, start, scale)
        coords, off = outcomes.coords(V, W, cfg.d)
        errors = outcomes.curve(args.method, args.task, cfg, (lo, hi), form, start, scale)
        measured = acc_model = acc_err = None
        if o is not None:
            measured = _measured_outcome(o)
        if measured is not None:
            theta = models.task_vector(args.task, cfg.d)

            def model_at(x):
                return outcomes.coords(*o.problem.merged(x), cfg.d)[0]

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
            "stability": None if o is None else _stability_json(o.stability),
            "accuracy": None if measured is None else {"model": acc_model, "error": acc_err,
                                                       **measured.summary()}}
    if args.format == "json":
        return to_json({"shots": shots, "error": errors, **info}), 0
    head = (f"exact n-shot error of {args.method} on the {args.task} task "
            f"(d={cfg.d}, m={cfg.m}, N={cfg.N}, sigma2={fmt_num(cfg.sigma2)}, lam={fmt_num(cfg.lam)}; "
            f"{form} form, {start} start, pretrained scale {fmt_num(info['pretrained_scale'])})")
    conv = "" if flow is None else (
        f"flow end point ({start}: {' -> '.join(s.label for s in o.stages)}): "
        + _stop_text(flow.stop, flow.message, flow.nfev, flow.max_nfev, flow.t_final, flow.t_max)
        + f", grad norm {flow.grad_norm:.1e}"
        + ("" if flow.converged else " (NOT converged: a finite-time point)")
        + f"; stability: {o.stability.verdict}"
        + (f" (index {o.stability.index})" if o.stability.verdict == "saddle" else "")
        + (f" ({o.stability.reason})" if o.stability.verdict == "unclassified"
           else f", tolerance {o.stability.tolerance:.2g}"))
    precision = "" if flow is None else _accuracy_clause(
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


#: numerics' invariant-algebra slot names -> the basis names of ``vocabulary.BASIS``
#: (``numerics.manifold.ALGEBRA_NAMES``; identity once numerics uses the vocabulary)
_SLOT_NAMES = {"00": "0", "par": "tt", "xy": "ty", "yx": "yt", "yy": "yy", "perp": "perp",
               "0": "0", "tt": "tt", "ty": "ty", "yt": "yt", "p": "perp"}

#: the finest rounding of printed flow end-point values (:data:`proofs_check.methods.accuracy.PRINT_FLOOR`);
#: the accuracy printed with them is measured (:mod:`proofs_check.methods.accuracy`)
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
    """``x`` rounded to the accuracy ``tol`` (at least :data:`FLOW_TOL`) without trailing
    zeros (``2.38e-11 -> 0``, ``0.53984389612 -> 0.539844`` at ``tol = 1e-6``):
    :func:`proofs_check.methods.accuracy.fmt_value`."""
    from proofs_check.methods.accuracy import fmt_value

    return fmt_value(x, tol)


def _frozen_names(form: str, train: str) -> set:
    """Coordinates of the matrices a subset does not train (they keep their start value)."""
    import vocabulary as V
    trained = V.trained_matrices(form, train)
    coords = V.MERGED_COORDS if form == "merged" else V.SEPARATE_COORDS
    return {c.name for c in coords if c.matrix not in trained}


def _exact_start(cfg, form: str, scale=1.0) -> dict:
    """The pretrained member of scale ``s`` in exact arithmetic (``sigma2`` and ``s`` read as
    the decimals they were given as): ``c* = (m+1)/(m+1+d(1+sigma2))``, ``b = s``,
    ``alpha = beta = c*/s``, ``K_tt = K_perp = Q_tt = Q_perp = sqrt(c*/s)``; ``{}`` for
    ``balanced`` (an irrational scale)."""
    from fractions import Fraction

    if isinstance(scale, str):
        return {}
    s_ = Fraction(str(scale))
    s2 = Fraction(str(cfg.sigma2))
    c = Fraction(cfg.m + 1) / (cfg.m + 1 + cfg.d * (1 + s2))
    if form == "merged":
        return {"a": "0", "b": str(s_), "q": "0", "alpha": str(c / s_), "beta": str(c / s_), "h": "0"}
    out = {"a": "0", "b": str(s_)}
    for M in ("K", "Q"):
        for bn in ("0", "tt", "ty", "yt", "yy", "perp"):
            out[f"{M}_{bn}"] = f"sqrt({c / s_})" if bn in ("tt", "perp") else "0"
    return out


def _stop_text(stop: str, detail: str, nfev: int, max_nfev: int, t_final: float, t_max: float) -> str:
    """The one wording of a flow's stop, for every command: the reason (one of
    :data:`numerics.flow.STOP_REASONS`: ``converged``, ``t cap``, ``evaluation cap``,
    ``integration failed``), then the evaluations and the flow time against their caps, then
    the flow's own detail."""
    return (f"{stop} ({nfev} of at most {max_nfev} evaluations, t = {t_final:.6g} of at most {t_max:g}"
            + (f"; {detail}" if detail else "") + ")")


def _finetune_outcome(args, cfg):
    """finetune through :mod:`numerics.endpoints` (a generic start or a scale other than 1)."""
    import numpy as np

    from numerics.conservation import conserved_names, scalar_invariants
    from numerics.manifold import merged_coords, separate_coords
    from numerics.endpoints import generic_outcome, symmetric_outcome

    fn = generic_outcome if args.start == "generic" else symmetric_outcome
    o = fn(args.objective, args.form, args.train, cfg, scale=args.pretrained_scale)
    pb = o.problem
    t0 = np.eye(cfg.d)[0]
    V, W = o.merged
    final = dict(merged_coords(V, W, t0).coeffs)
    mats = o.matrices
    fsep = None if args.form == "merged" else dict(separate_coords(mats["V"], mats["K"], mats["Q"], t0).coeffs)
    first = o.stages[0].flow

    def inv(x):  # the quantities this subset's flow conserves (numerics.conservation)
        allv = scalar_invariants(pb.matrices(x))
        return {k: allv[k] for k in conserved_names(tuple(allv), pb.trained)}

    x0 = first.samples[0]
    fl = o.flow
    return o, {"c": o.c, "final": final, "final_separate": fsep, "grad_norm": fl.grad_norm,
               "converged": fl.converged, "t_final": fl.t_final, "loss_start": pb.loss(x0),
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
    import numpy as np

    from numerics.manifold import merged_coords, separate_coords

    t0 = np.eye(pb.d)[0]
    V, W = pb.merged(x)
    out = dict(merged_coords(V, W, t0).coeffs)
    if form == "separate":
        mt = pb.matrices(x)
        out.update({f"sep_{k}": v for k, v in separate_coords(mt["V"], mt["K"], mt["Q"], t0).coeffs.items()})
    return out


def cmd_finetune(args):
    from numerics.flow import gradient_flow
    from numerics.problem import Problem
    from numerics.stability import MAX_CLASSIFIED_PARAMETERS, classify, unclassified

    from proofs_check.methods.accuracy import fmt_value, measure
    from proofs_check.cli.report import md_cell, to_json

    from proofs_check.cli.progress import busy, wanted

    cfg = _cfg(args)
    if getattr(args, "convention", "default") != "default":
        return _finetune_convention(args, cfg)
    with busy(f"{args.objective}/{args.train}: exact flow at d={cfg.d}", wanted(args)):
        if args.start == "symmetric" and args.pretrained_scale == 1.0:
            fl = gradient_flow(args.objective, args.form, args.train, cfg)
            traj = fl.trajectory
            names = [vocab_name(n) for n in traj.get("names", [])]
            coords = traj.get("coords")
            trajectory = {"points": len(traj["t"]), "t": [float(x) for x in traj["t"]],
                          "loss": [float(x) for x in traj["loss"]],
                          "grad_norm": [float(x) for x in traj["grad_norm"]]}
            if coords is not None and names:
                trajectory["coords"] = {nm: [float(row[i]) for row in coords] for i, nm in enumerate(names)}
            mats = (fl.V, fl.W) if args.form == "merged" else (fl.V, fl.K, fl.Q)
            pb = Problem.build(args.objective, args.form, args.train, cfg, mats, theta0=fl.theta0)
            st = classify(pb) if pb.size <= MAX_CLASSIFIED_PARAMETERS else unclassified(pb, pb.pack())
            conserved = [k for k in fl.conserved if k in fl.invariant_start]
            measured = measure(pb, pb.pack(), converged=fl.converged,
                               drift=max((abs(fl.invariant_end[k] - fl.invariant_start[k]) for k in conserved),
                                         default=0.0))
            fl.invariant_start = {k: fl.invariant_start[k] for k in conserved}
            fl.invariant_end = {k: fl.invariant_end[k] for k in conserved}
            body = {"c": fl.c, "final": _renamed(fl.final), "final_separate": _renamed(fl.final_separate),
                    "grad_norm": fl.grad_norm, "converged": fl.converged, "t_final": fl.t_final,
                    "loss_start": fl.loss_start, "loss_end": fl.loss_end,
                    "invariant_start": _renamed(fl.invariant_start), "invariant_end": _renamed(fl.invariant_end),
                    "stop": fl.stop_reason, "stop_reason": fl.stop_reason, "nfev": fl.nfev, "max_nfev": fl.max_nfev, "t_max": fl.t_max,
                    "message": fl.message, "trajectory": trajectory}
            scale = 1.0
        else:
            o, body = _finetune_outcome(args, cfg)
            body["final"], body["final_separate"] = _renamed(body["final"]), _renamed(body["final_separate"])
            st, scale = o.stability, o.scale
            pb = o.problem
            measured = _measured_outcome(o)
        acc_coords = acc_loss = None
        if measured is not None:
            acc_coords = measured.accuracy(lambda x: _coords_at(pb, x, args.form))
            acc_loss = measured.accuracy(lambda x: [pb.loss(x)])
    frozen = _frozen_names(args.form, args.train)
    exact = _exact_start(cfg, args.form, args.pretrained_scale)
    out = {"objective": args.objective, "train": args.train, "form": args.form, "start": args.start,
           "pretrained_scale": scale, "config": cfg.as_dict(), **body, "frozen": sorted(frozen),
           "tolerance": acc_coords,
           "accuracy": None if measured is None else {"coords": acc_coords, "loss": acc_loss, **measured.summary()},
           "stability": _stability_json(st)}
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
            ("start", f"{args.start}, pretrained scale {scale:.9g}"),
            ("config", ", ".join(f"{k}={v}" for k, v in cfg.as_dict().items())),
            ("pretrained c", f"{_exact_start(cfg, 'merged')['alpha']} = " + fmt_tol(out["c"])),
            ("status", f"{status}: |grad| = {out['grad_norm']:.1e} at t = {out['t_final']:.6g}"),
            ("stop reason", _stop_text(out["stop"], out["message"], out["nfev"], out["max_nfev"],
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
    inv_s, inv_e = _renamed(out["invariant_start"]), _renamed(out["invariant_end"])
    rows += [(f"invariant {k}", f"{fmt_tol(inv_s[k])} -> {fmt_value(inv_e[k], acc_coords)} (conserved by "
              f"this subset's flow)") for k in inv_s]
    rows.append(("trajectory", f"{trajectory['points']} samples"
                 + (" (all in --format json)" if isinstance(trajectory["t"], list) and
                    len(trajectory["t"]) == trajectory["points"] else "")
                 + f", grad norm {trajectory['grad_norm'][0]:.1e} -> {trajectory['grad_norm'][-1]:.1e}"))
    rows.append(("precision", _accuracy_clause(
        out["converged"], measured, f"accuracy: coordinates {acc_coords or 0:.2g}, loss {acc_loss or 0:.2g}, each value "
                              f"rounded to its accuracy (at most {FLOW_TOL:g})", pb)))
    if args.format == "markdown":
        return "\n".join(["| quantity | value |", "|---|---|"]
                         + [f"| {md_cell(k)} | {md_cell(v)} |" for k, v in rows]), 0
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(w)}  {v}" for k, v in rows), 0


def cmd_derive(args):
    import sympy as sp

    from theory import printing as TL
    from theory.present import gradient_presentation

    from proofs_check.cli.report import to_json

    # bounded, deterministic presentation (no multivariate factor): theory/present.py
    from proofs_check.storage.derivation_cache import ensure_derived

    ensure_derived(not args.no_cache)
    full = args.format == "json"
    convention = getattr(args, "convention", "default")
    if convention != "default":
        return _derive_convention(args, convention)
    pres = gradient_presentation(args.objective, args.train, args.form, full=full)
    chain = pres["chain_rule"]
    from theory.symbols import K, Q
    rename = {s_: sp.Symbol(vocab_name(str(s_)), real=True) for s_ in (*K.values(), *Q.values())}

    def text(e):
        return sp.sstr(e.xreplace(rename) if hasattr(e, "xreplace") else e)

    def both(e):
        return {"text": text(e), "latex": TL.tex(e)}

    if args.format == "json":
        out = {"objective": args.objective, "train": args.train, "form": args.form,
               "gradient": {M: {bn: both(e) for bn, e in co.items()} for M, co in pres["matrices"].items()},
               "flow": {vocab_name(str(k)): text(v) for k, v in pres["flow"].items()}}
        if chain is not None:
            out["chain_rule"] = {"substitution": {str(k): text(v) for k, v in chain["substitution"].items()},
                                 "G": {bn: both(e) for bn, e in chain["G"].items()},
                                 "V": {bn: both(e) for bn, e in chain.get("V", {}).items()},
                                 **{M: {bn: both(e) for bn, e in co.items()} for M, co in chain["matrices"].items()}}
        return to_json(out), 0
    items = []  # (label, basis, expr)
    head = [f"Frobenius gradient of {args.objective} w.r.t. the {args.train} parameters ({args.form} form), "
            "as coefficients on the named basis (t = (0, theta0, 0), perp = x-block I - theta0 theta0^T):"]
    if chain is None:
        items = [(M, bn, e) for M, co in pres["matrices"].items() for bn, e in co.items()]
    else:
        sub = ", ".join(f"{k} = {text(v)}" for k, v in chain["substitution"].items())
        if chain["G"]:
            head.append(f"by the chain rule grad_K = Q G^T, grad_Q = K G, where G = grad_W is the merged gradient "
                        f"at W = K^T Q, i.e. at {sub}; V and G in merged coordinates:")
        else:
            head.append(f"in merged coordinates at W = K^T Q, i.e. at {sub}:")
        items = [("V", bn, e) for bn, e in chain.get("V", {}).items()]
        items += [("G", bn, e) for bn, e in chain["G"].items()]
        items += [(M, bn, e) for M, co in chain["matrices"].items() for bn, e in co.items()]
    lines = head
    if args.latex or args.format == "markdown":
        import vocabulary

        from proofs_check.export.latex_document import display_math
        for M, bn, e in items:
            # the basis by its name, the subscript of G_{perp}, K_{perp} (one name per matrix)
            sub = vocabulary.BASIS[bn].tex if bn in vocabulary.BASIS else bn
            lhs = f"G_{{{sub}}}" if M == "G" else f"\\big[\\nabla_{{{M}}}\\big]_{{{sub}}}"
            lines.append(f"$${display_math(lhs, e)}$$")
    else:
        for M, bn, e in items:
            lines.append(f"  {'G' if M == 'G' else 'grad_' + M}[{bn}] = {text(e)}")
    return "\n".join(lines), 0


def _derive_convention(args, convention):
    """``iclft derive --convention NAME``: the gradient derived under that convention, and for
    ``--objective pretrain`` the pretraining optimum of the convention (the family
    ``W = diag(0, g_s I_k, g_1 I_(d-k), 0)`` for an anisotropic covariance, whose manifold
    gradient is not derived)."""
    import sympy as sp

    import vocabulary
    from theory import optima
    from theory.conventions import family_optimum, g_1, g_s
    from theory.objectives import NotDerived, pretrain_loss
    from theory.present import gradient_presentation
    from theory import printing as TL
    from theory.symbols import c

    from proofs_check.cli.report import to_json

    conv = vocabulary.CONVENTIONS[convention]
    opt = None
    if args.objective == "pretrain":
        if conv.covariance is None:
            cs = optima.pretrain_c_star(conv)
            opt = {"family": "V = e_y e_y^T, W = c diag(0, I_d, 0)", "L_pre(c)": pretrain_loss(conv),
                   "c*": cs, "L_pre(c*)": optima.pretrain_min_loss(conv)}
        else:
            fam = family_optimum(conv)
            k, s = conv.covariance
            opt = {"family": f"V = e_y e_y^T, W = diag(0, g_s I_{k}, g_1 I_(d-{k}), 0) "
                             f"(Sigma_x = diag({s} I_{k}, I_(d-{k})))",
                   "g_s*": fam[g_s], "g_1*": fam[g_1], "L_pre(g*)": fam["loss"]}
    try:
        pres = gradient_presentation(args.objective, args.train, args.form, full=True, convention=conv)
    except NotDerived as exc:
        if opt is None:
            raise ValueError(f"--convention {convention}: {exc}") from None
        pres = None
    head = (f"convention {conv.name}: {conv.description}")
    if args.format == "json":
        out = {"objective": args.objective, "train": args.train, "form": args.form, "convention": conv.as_dict(),
               "optimum": None if opt is None else {k: (v if isinstance(v, str) else
                                                        {"text": sp.sstr(v), "latex": TL.tex(v)})
                                                    for k, v in opt.items()},
               "gradient": None if pres is None else
               {M: {bn: {"text": sp.sstr(e), "latex": TL.tex(e)} for bn, e in co.items()}
                for M, co in pres["matrices"].items()},
               "flow": None if pres is None else {vocab_name(str(k)): sp.sstr(v) for k, v in pres["flow"].items()}}
        return to_json(out), 0
    latex = args.latex or args.format == "markdown"
    lines = [head]
    if opt is not None:
        lines.append(f"pretraining family {opt['family']}:")
        for k_, v in opt.items():
            if k_ != "family":
                lines.append(f"$${k_} = {TL.tex(v)}$$" if latex else f"  {k_} = {sp.sstr(v)}")
        if "c*" in opt:
            cs = opt["c*"]
            from theory.symbols import sigma2
            lines.append(("  " if not latex else "") + f"at sigma2 = 0: c* = {sp.sstr(sp.factor(cs.subs(sigma2, 0)))}")
    if pres is None:
        lines.append(f"the gradient over all (V, W) is not derived under {conv.name} (no reduced manifold); "
                     "numerics.conventions computes it at a concrete d")
    else:
        lines.append(f"Frobenius gradient of {args.objective} w.r.t. the {args.train} parameters ({args.form} form), "
                     f"under {conv.name}, as coefficients on the named basis:")
        for M, co in pres["matrices"].items():
            for bn, e in co.items():
                lines.append(f"$$\\big[\\nabla_{{{M}}}\\big]_{{{TL.BASIS_LATEX.get(bn, bn)}}} = {TL.tex(e)}$$"
                             if latex else f"  grad_{M}[{bn}] = {sp.sstr(e)}")
    del c
    return "\n".join(lines), 0


def _convention_model(method: str, cfg, conv, form: str, start: str, scale):
    """``(V, W, info)`` of ``method`` under ``conv``: the convention's pretrained point
    (:func:`numerics.conventions.pretrained_gains`) or its V-only fine-tuned end point
    (:func:`numerics.conventions.value_only_limit`, exact: the objective is a quadratic in the
    value row); any other method is refused (its flow runs under today's convention only)."""
    import numpy as np

    import vocabulary
    from numerics.conventions import family_point, pretrained_gains, value_only_limit

    meth = vocabulary.METHODS[method]
    del start  # a V-only quadratic ends where the flow from either start does (its minimiser set)
    if form != "merged" or scale != 1.0 or (meth.objective is not None and meth.train_for("merged") != "v"):
        raise ValueError(f"--convention {conv.name}: only --method pretrained, zs-v and zsfs-v (merged form, "
                         "pretrained scale 1) are computed under another convention; the flows of the other "
                         "methods run under today's convention only")
    gains = pretrained_gains(cfg.d, cfg.m, cfg.sigma2, conv)
    V, W = family_point(cfg.d, gains)
    info = {"convention": conv.as_dict(), "pretrained_gains": [float(g) for g in gains],
            "theta0": "e_1", "flow": None}
    if meth.objective is not None:
        t0 = np.eye(cfg.d)[0]
        terms = []
        for n_, task, w in vocabulary.objective_terms(meth.objective, N=cfg.N, m=cfg.m, lam=cfg.lam):
            tk = vocabulary.TASKS[task]
            terms.append((n_, None if tk.kappa is None else tk.kappa * t0, w))
        V, gn, eig = value_only_limit(V, W, terms, cfg.sigma2, conv)
        info["flow"] = {"stop": "converged", "grad_norm": gn,
                        "method": "exact limit of the V-only flow on a quadratic: v0 - H^+ grad(v0)",
                        "hessian_min_eigenvalue": float(eig.min())}
        info["value_row"] = [float(x) for x in V[-1]]
    return V, W, info


def _curve_convention(args, cfg):
    import vocabulary
    from numerics.conventions import convention_loss

    from proofs_check.methods import flow_models as models
    from proofs_check.cli.report import fmt_num, to_json

    conv = vocabulary.CONVENTIONS[args.convention]
    V, W, info = _convention_model(args.method, cfg, conv, args.form, args.start, args.pretrained_scale)
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


def _finetune_convention(args, cfg):
    import vocabulary
    from numerics.conventions import convention_loss

    from proofs_check.cli.report import to_json

    conv = vocabulary.CONVENTIONS[args.convention]
    if args.train != "v":
        raise ValueError(f"--convention {conv.name}: only --train v is computed under another convention "
                         "(the other flows run under today's convention only)")
    method = f"{args.objective}-v"
    if method not in vocabulary.METHODS:
        raise ValueError(f"--convention {conv.name}: no V-only method for objective {args.objective!r}")
    V0, W, _ = _convention_model("pretrained", cfg, conv, args.form, "generic", args.pretrained_scale)
    V, _, info = _convention_model(method, cfg, conv, args.form, "generic", args.pretrained_scale)
    import numpy as np
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


def _explore_convention(args):
    """``iclft explore CLAIM --convention NAME``: the counterexample the claim's check finds
    under that convention (:func:`proofs_check.claims.conventions.run_under`)."""
    import vocabulary

    from proofs_check.claims import registry
    from proofs_check.claims.conventions import NOT_DERIVED, run_under
    from proofs_check.claims.explore import render

    conv = vocabulary.CONVENTIONS[args.convention]
    claims = {c.id: c for c in registry()}
    if args.claim not in claims:
        raise ValueError(f"claim: unknown claim id {args.claim!r}")
    if args.statement != "paper":
        raise ValueError(f"--convention {conv.name}: only --statement paper is searched under another convention")
    r = run_under(claims[args.claim], conv)
    if r.status == NOT_DERIVED:
        raise ValueError(f"--convention {conv.name}: {r.error}")
    if r.status in ("refuted", "error"):
        raise ValueError(f"--convention {conv.name}: the check of {args.claim} is {r.status} ({r.error or 'an item failed'})")
    res = {"claim": args.claim, "statement": args.statement, "examples": args.examples, "seed": args.seed,
           "convention": conv.name, "counterexample": r.counterexample}
    text = render(res, args.format).replace("counterexample (shrunk)", f"counterexample (convention {conv.name})")
    return text, 0 if r.counterexample is None else 1


def cmd_export_latex(args):
    import sys

    from proofs_check.export.latex_document import export_latex
    from proofs_check.cli.report import to_json

    from proofs_check.storage.derivation_cache import ensure_derived

    _check_output(args.path, "file", "argument path")  # before the derivations load
    ensure_derived(not args.no_cache)
    no_claims = getattr(args, "no_claims", False)
    summary = export_latex(args.path, progress=sys.stderr.isatty(), claims=not no_claims,
                           convention=getattr(args, "convention", "default"))
    if args.format == "json":
        return to_json(summary), 0
    st = ", ".join(f"{v} {k}" for k, v in sorted(summary["statuses"].items()))
    claims = "no claims (--no-claims)" if no_claims else f"{summary['claims']} claims ({st})"
    line = (f"wrote {summary['path']}: {summary['expressions']} expressions, "
            f"{claims} in {summary['seconds']:.1f} s")
    return (f"**{line}**" if args.format == "markdown" else line), 0


def cmd_figures(args):
    import sys

    from proofs_check.export.figures import figures_command

    cfg = _cfg(args)
    _check_output(args.out, "dir", "argument --out")
    return figures_command(args.out, cfg, sgd=args.sgd == "on", fmt=args.format,
                           progress=sys.stderr.isatty())


def cmd_experiment(args):
    from experiment.command import experiment_command

    _check_output(args.out, "dir", "argument --out")
    return experiment_command(args)


def _check_output(path, kind: str, name: str) -> None:
    """The output path is writable, checked before any work (nothing is created yet); a
    problem is one ``ValueError`` naming the argument, the user's path and what is wrong."""
    from proofs_check.storage.atomic import prepare_output

    prepare_output(path, kind, name=name, create=False)


COMMANDS = {"check": cmd_check, "figures": cmd_figures, "curve": cmd_curve, "finetune": cmd_finetune, "derive": cmd_derive,
            "export-latex": cmd_export_latex, "explore": cmd_explore}
COMMANDS["experiment"] = cmd_experiment


def run(args):
    return COMMANDS[args.command](args)
