"""``iclft derive``: the derived gradient of an objective over a trained subset, as coefficients
on the named basis (:func:`theory.present.gradient_presentation`), in text, LaTeX or JSON; under
another convention (``--convention NAME``) with the convention's pretraining optimum.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
from __future__ import annotations

import sympy as sp

import vocabulary
from proofs_check.cli.endpoint_text import vocab_name
from proofs_check.storage.json_text import to_json
from proofs_check.export.latex_document import display_math
from proofs_check.storage.derivation_cache import ensure_derived
from theory import optima
from theory import printing as TL
from theory.conventions import family_optimum, g_1, g_s
from theory.objectives import NotDerived, pretrain_loss
from theory.present import gradient_presentation
from theory.symbols import K, Q, sigma2

__all__ = ["run"]


def run(args):
    """``(text, exit status)`` of ``iclft derive``: a bounded, deterministic presentation (no
    multivariate factor: :mod:`theory.present`)."""
    ensure_derived(not args.no_cache)
    full = args.format == "json"
    convention = getattr(args, "convention", "default")
    if convention != "default":
        return _convention(args, convention)
    pres = gradient_presentation(args.objective, args.train, args.form, full=full)
    chain = pres["chain_rule"]
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
        for M, bn, e in items:
            # the basis by its name, the subscript of G_{perp}, K_{perp} (one name per matrix)
            sub = vocabulary.BASIS[bn].tex if bn in vocabulary.BASIS else bn
            lhs = f"G_{{{sub}}}" if M == "G" else f"\\big[\\nabla_{{{M}}}\\big]_{{{sub}}}"
            lines.append(f"$${display_math(lhs, e)}$$")
    else:
        for M, bn, e in items:
            lines.append(f"  {'G' if M == 'G' else 'grad_' + M}[{bn}] = {text(e)}")
    return "\n".join(lines), 0


def _convention(args, convention):
    """``iclft derive --convention NAME``: the gradient derived under that convention, and for
    ``--objective pretrain`` the pretraining optimum of the convention (the family
    ``W = diag(0, g_s I_k, g_1 I_(d-k), 0)`` for an anisotropic covariance, whose manifold
    gradient is not derived)."""
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
    return "\n".join(lines), 0
