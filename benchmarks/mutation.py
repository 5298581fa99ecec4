"""Mutation testing of iclft (issue 10): do the tests and ``iclft check`` catch planted bugs?

Each mutant is one realistic bug, planted as a one-line textual replacement (the old text
must occur exactly once in its file) in a *copy* of the tree (``OUT/copy``, without
``.git``); the repository itself is never written to.  For every mutant:

* **tests**: the most relevant test files first
  (``python -m pytest -q -x -p no:cacheprovider FILES``); if they pass, the whole fast suite
  (``python -m pytest -q -x -p no:cacheprovider -m "not slow"``) decides.  Killed = pytest
  exits non-zero.
* **check**: ``python -m proofs_check check --jobs 1 --format json --only IDS`` on the most
  relevant claims first; if it exits 0, the full ``check --jobs 1`` decides.  Killed = exit
  code 1 (a claim refuted or in error, or the verdict machinery's self-test failed).
  Mutants in ``theory/`` run with ``--no-cache``.

Both runs use the copy's code (``cwd`` and ``PYTHONPATH`` = the copy) and one process at a
time.  The derivation cache (``XDG_CACHE_HOME``) is ``OUT/cache``, seeded once from
``~/.cache/iclft`` when that exists: entries are keyed by the theory sources, so a mutant
in ``theory/`` can never read an entry derived from correct code.

Results go to ``OUT/results.jsonl`` (one line per mutant; rerunning skips mutants already
there unless ``--fresh``), and a table to stdout and ``OUT/table.md``.

Usage (from the repository root)::

    python benchmarks/mutation.py                      # every mutant, OUT = /tmp/iclft-mutation
    python benchmarks/mutation.py --out /tmp/mut2 --only N08,P05 --fresh
    python benchmarks/mutation.py --table              # only print the table of OUT/results.jsonl

A full run of every mutant took 12 minutes on the 2-core machine (2026-11-29): every mutant
died in the first, relevant stage; a survivor would cost a full test suite and a full check.
A stage that runs longer than :data:`TIMEOUT_S` is stopped and counted as killed (a hang
fails CI too).

Mutants ``N``/``T``/``P`` (issue 10) plant formula and checker bugs.  Mutants ``R01``-``R25``
(issue 19) were written by a reviewer who had not written the code under test, given only
the classes of bugs that had got through (column ``class`` of the table): a CLI option
whose effect no test checks, a deciding helper without a negative case, a cache key that
misses a source, formatting tested on harmless data, a derived quantity nothing reads, a
stop rule tested on one branch, shrinking never checked for minimality, and the areas where
``check`` had caught nothing (multi-head loss, chunked batching, the explore condition, the
experiment's head evaluation, the lam schedule).  They were committed before any was run;
the tests named in each mutant's row test those classes.  R18 is equivalent: ``integrate_to_norm``
checks its evaluation cap after every step before it reports ``finished``, so a chunk that
ends ``finished`` never has its budget spent, and ``or spent()`` in ``numerics.flow`` never
decides; no test can kill it.  ``iclft check`` is not meant to see most R mutants (the CLI,
formatting, the experiment), so their check column is informative only.

A mutant that only makes the *checker* more lenient (a tolerance loosened, an item that
compares a value with itself, a grid that skips configurations) leaves every result of correct
code unchanged; it is marked ``lenient`` in the table.  ``iclft check`` kills such mutants
through its negative controls (``proofs_check/claims/controls.py``): each grid comparison is
run once more with an error of 100x its tolerance planted in the independent route at the last
configuration of its grid, and the control item fails (the claim is ``refuted``) when that run
passes, which is what a weakened comparison does.  In the test suite the negative tests of
``tests/claims/test_verdicts.py`` (wrong inputs fed to the evidence) and ``tests/claims/test_controls.py``
(each comparison weakened in-process) kill them.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (id, file, old, new, description, relevant test files, relevant claim ids, lenient)
MUTANTS = [
    # --- numerics ------------------------------------------------------------------------
    ("N01", "numerics/moments.py",
     "Qp = mv(Q, p)\n        F = c0 * c0 + dot(c1, c1) + tq * tq + 2.0 * fro(Q, Q)",
     "Qp = mv(Q, p)\n        F = c0 * c0 + dot(c1, c1) + tq * tq + 1.0 * fro(Q, Q)",
     "Gaussian fourth moment: 2|Q|^2 -> |Q|^2 in E[F]",
     ["tests/numerics/test_numerics_exact.py"], ["gradients.agree", "pretrain.optimum"], False),
    ("N02", "numerics/moments.py", "np.eye(d) / d,", "np.eye(d) / (d + 1),",
     "sphere second moment E[theta theta^T] = I/d -> I/(d+1)",
     ["tests/numerics/test_numerics_exact.py", "tests/numerics/test_numerics_monte_carlo.py"], ["pretrain.optimum"], False),
    ("N03", "numerics/objectives.py", "n * (n - 1) * E_m1sq", "n * n * E_m1sq",
     "closed-form loss: n(n-1) pairs -> n^2",
     ["tests/numerics/test_numerics_exact.py"], ["pretrain.fewshot_vs_zeroshot"], False),
    ("N04", "numerics/gradients.py", "return gV, Q @ gW.T, K @ gW", "return gV, Q @ gW, K @ gW",
     "separate-form chain rule: dL/dK = Q G^T -> Q G (transposition lost)",
     ["tests/numerics/test_numerics_exact.py", "tests/theory/test_theory_numerics.py"], ["gradients.agree"], False),
    ("N05", "numerics/gradients.py", "g_p = b0 * f3 * c1 + (c0 + tq) * u + 2.0 * mv(Q, u) + c2 * e_p",
     "g_p = b0 * f3 * c1 + (c0 + tq) * u + 1.0 * mv(Q, u) + c2 * e_p",
     "closed-form gradient: factor 2 Q u -> Q u in the query terms",
     ["tests/numerics/test_numerics_exact.py"], ["gradients.agree"], False),
    ("N06", "numerics/reduced.py", "        nsq_alg[PERP] = d - 1.0", "        nsq_alg[PERP] = float(d)",
     "reduced-flow metric weight <B, B> = d - 1 -> d",
     ["tests/numerics/test_numerics_flow.py"], ["zs.all.flow_limit"], False),
    ("N07", "numerics/pretrained.py", "A = (f[2] + f[0] - 2.0 * f[1]) / 2.0",
     "A = (f[2] + f[0] - 2.0 * f[1]) / 1.0",
     "pretrained c: vertex of the quadratic with A not halved",
     ["tests/numerics/test_numerics_flow.py"], ["pretrain.optimum"], False),
    ("N08", "numerics/sampling.py", 'return np.einsum("bj,bj->b", vz, uz) / (n + 1)',
     'return np.einsum("bj,bj->b", vz, uz) / max(n, 1)',
     "Monte Carlo forward pass: 1/(n+1) -> 1/n (query token not counted)",
     ["tests/numerics/test_numerics_monte_carlo.py"], ["pretrain.optimum", "pretrain.fewshot_vs_zeroshot"], False),
    ("N09", "numerics/hessian.py", "out[:, js] = (acc * (nu[js] / h)[:, None]).T", "out[:, js] = (acc * (nu[js] / (2 * h))[:, None]).T",
     "Hessian stencil: derivative divided by 2h instead of h",
     ["tests/numerics/test_stability.py"], ["gradients.agree", "zs.all.minimizers"], False),
    ("N10", "numerics/sgd.py", "mats[i] = mats[i] - lr_k * grads[i]", "mats[i] = mats[i] + lr_k * grads[i]",
     "SGD step on W/K/Q: ascent instead of descent",
     ["tests/numerics/test_numerics_sgd.py"], ["zs.v.optimum", "zs.all.flow_limit"], False),
    ("N11", "numerics/objectives.py", "- 2.0 * lin / (n + 1) + tau\n", "- lin / (n + 1) + tau\n",
     "closed-form expected_loss: cross term -2 E[yhat y] -> -E[yhat y]",
     ["tests/numerics/test_numerics_exact.py"], ["pretrain.optimum"], False),
    ("N12", "numerics/sgd.py", 'grads = [None, gW] if form == "merged" else [None, mats[2] @ gW.T, mats[1] @ gW]',
     'grads = [None, gW] if form == "merged" else [None, mats[2] @ gW, mats[1] @ gW]',
     "SGD separate-form chain rule: G_K = Q G_W^T -> Q G_W",
     ["tests/numerics/test_numerics_sgd.py"], ["gradients.agree"], False),
    ("N13", "numerics/hessian.py", "H[:, js] = (col / h).T", "H[:, js] = (col / (2 * h)).T",
     "full Hessian (used by the stability verdicts): column divided by 2h instead of h",
     ["tests/numerics/test_stability.py"], ["gradients.agree", "zs.all.minimizers"], False),
    # --- theory --------------------------------------------------------------------------
    ("T01", "theory/objectives.py", "n * (n - 1) * E12", "n * n * E12",
     "symbolic loss: n(n-1) pairs -> n^2",
     ["tests/theory/test_theory_numerics.py"], ["pretrain.optimum", "pretrain.fewshot_vs_zeroshot"], False),
    ("T02", "theory/wick.py", "cnt * _d**k", "cnt * (_d + 2)**k",
     "Wick contraction: each closed index loop gives D = d + 2 instead of d",
     ["tests/theory/test_theory_wick.py"], ["zs.initial_gradient"], False),
    ("T03", "theory/objectives.py", '(beta - alpha) * _T["q"] ** 2)', '(alpha - beta) * _T["q"] ** 2)',
     "symbolic prediction: sign of (beta - alpha) flipped",
     ["tests/theory/test_theory_numerics.py"], ["zs.initial_gradient"], False),
    ("T04", "theory/optima.py", '"c*b": sp.factor(sp.cancel(c * sols[0]))', '"c*b": sp.factor(sp.cancel(sols[0]))',
     "derived optimum w*(N) = c b returned without the factor c",
     ["tests/theory/test_theory_optima.py"], ["zsfs.v.optimum"], False),
    # --- proofs_check --------------------------------------------------------------------
    ("P01", "proofs_check/claims/claim.py", "if not asserted or not all(e.passed for e in asserted):",
     "if not asserted or not any(e.passed for e in asserted):",
     "status aggregation: all asserted items -> any",
     ["tests/claims/test_verdicts.py"], ["zs.v.optimum"], False),
    ("P02", "proofs_check/cli/check.py",
     "return 0 if results and all(r.status in PASSING for r in results) else 1", "return 0",
     "check exit code always 0",
     ["tests/claims/test_verdicts.py"], ["zs.v.optimum"], False),
    ("P03", "proofs_check/claims/claim.py", "asserted = [e for e in evidence if e.asserted]",
     "asserted = list(evidence)",
     "reported (asserted=False) items counted in the status",
     ["tests/claims/test_verdicts.py"], ["zs.v.optimum"], False),
    ("P04", "proofs_check/claims/zs.py", 'return worst < 1e-6, {"max_abs_error": worst}',
     'return worst < 1e-2, {"max_abs_error": worst}',
     "tolerance of the ZS-V flow end-point item loosened 1e-6 -> 1e-2",
     ["tests/claims/test_verdicts.py"], ["zs.v.optimum"], True),
    ("P05", "proofs_check/claims/pretrain.py", "worst_c = max(worst_c, abs(c_num - c_sym) / c_sym)",
     "worst_c = max(worst_c, abs(c_sym - c_sym) / c_sym)",
     "evidence item compares symbolic c* with itself",
     ["tests/claims/test_verdicts.py"], ["pretrain.optimum"], True),
    ("P06", "proofs_check/claims/zs.py",
     "cs = mpmath.mpf(int(sp.numer(cs_ex))) / mpmath.mpf(int(sp.denom(cs_ex)))",
     "cs = mpmath.mpf(cfg.m) / (cfg.m + 1 + cfg.d)",
     "c* typed in as the authors' m/(m+1+d) instead of derived (ZS-all degradation)",
     ["tests/claims/test_properties.py", "tests/claims/test_check_jobs.py"], ["zs.all.icl_degraded"], False),
    ("P07", "proofs_check/claims/zsfs.py", "return 2 * L2 - L1", "return L2",
     "Richardson extrapolation step dropped in the independent large-n limit",
     ["tests/claims/test_properties.py", "tests/claims/test_verdicts.py"], ["zsfs.v.tradeoff"], False),
    ("P08", "theory/limits.py",
     "u.subs({a: opt[a], b: opt[b]}) ** 2 - u.subs({a: a_zs, b: 1}) ** 2",
     "u.subs({a: a_zs, b: 1}) ** 2 - u.subs({a: opt[a], b: opt[b]}) ** 2",
     "derived condition: gap sign swapped (ZS - FS instead of FS - ZS)",
     ["tests/claims/test_properties.py", "tests/claims/test_explore.py"], ["zsfs.v.tradeoff"], False),
    ("P09", "proofs_check/claims/pretrain.py", "    for cfg in GRID:\n        if cfg.m == 0:",
     "    for cfg in GRID[:4]:\n        if cfg.m == 0:",
     "grid that skips configurations: GRID[:4] (4 configs, all d = 2) instead of GRID (pretrained c*)",
     ["tests/claims/test_verdicts.py"], ["pretrain.optimum"], True),
    ("P10", "proofs_check/claims/zsfs.py", "    for cfg in GRID[::4]:\n        ga, gb = route(cfg)",
     "    for cfg in GRID[:4]:\n        ga, gb = route(cfg)",
     "grid that skips configurations: GRID[:4] (4 configs, all d = 2) instead of GRID[::4] (zsfs-v stationarity)",
     ["tests/claims/test_verdicts.py"], ["zsfs.v.optimum"], True),
    # --- issue 19: written by a reviewer who did not write the code, given only the classes
    # of bugs that got through before (an option whose effect no test checks, a deciding
    # helper without a negative case, a cache key missing a source, formatting tested on
    # harmless data, a derived quantity nothing reads, a stop rule tested on one branch,
    # shrinking never checked for minimality) and the areas where check caught nothing
    # (multi-head loss, chunked batching, the explore condition, the experiment's head
    # evaluation, the lam schedule); committed before any of them was run
    ("R01", "proofs_check/cli/finetune.py",
     "o = models.fine_tune(args.objective, args.form, args.train, cfg, args.start, args.pretrained_scale)",
     "o = models.fine_tune(args.objective, args.form, args.train, cfg, "
     "\"symmetric\" if args.pretrained_scale == 1.0 else args.start, args.pretrained_scale)",
     "finetune --start generic ignored at scale 1: the symmetric saddle is returned, reported as generic",
     ["tests/cli/test_option_effects.py", "tests/methods/test_stability_cli.py"], ["zs.v.optimum"], False),
    ("R02", "proofs_check/cli/curve.py", "o = models.outcome(args.method, cfg, form, start, scale)",
     'o = models.outcome(args.method, cfg, form, "generic", scale)',
     "curve --start symmetric ignored for the printed errors (the header still says symmetric)",
     ["tests/cli/test_option_effects.py", "tests/methods/test_stability_cli.py", "tests/cli/test_cli.py"], ["zs.v.optimum"], False),
    ("R03", "proofs_check/claims/explore.py", "random=random.Random(seed))", "random=random.Random(0))",
     "explore --seed ignored (every seed searches with seed 0; the output still reports the seed)",
     ["tests/cli/test_option_effects.py", "tests/claims/test_explore.py"], ["zsfs.v.tradeoff"], False),
    ("R04", "proofs_check/cli/finetune.py", "cfg, args.start, args.pretrained_scale)", "cfg, args.start, 1.0)",
     "finetune --pretrained-scale ignored on the outcome path (the member s = 1 is trained)",
     ["tests/cli/test_option_effects.py", "tests/methods/test_stability_cli.py"], ["zs.v.optimum"], False),
    ("R05", "proofs_check/claims/exact.py", "return sp.cancel(e) == 0", "return not sp.cancel(e).free_symbols",
     "is_zero accepts any constant (a rational function with no symbols left), not only 0",
     ["tests/claims/test_deciding_helpers.py", "tests/claims/test_grid_exact.py", "tests/claims/test_verdicts.py"], ["pretrain.optimum", "zs.v.optimum"], False),
    ("R06", "numerics/stability.py", "return all(n == 0 for n, _, _ in problem.terms)",
     "return any(n == 0 for n, _, _ in problem.terms)",
     "zero-shot test of the stability helper: all terms n = 0 -> any (ZS + FS treated as ZS)",
     ["tests/numerics/test_stability_branches.py", "tests/numerics/test_stability.py"], ["zs.all.minimizers"], False),
    ("R07", "proofs_check/claims/zs.py", "holds &= ok", "holds = ok",
     "explore condition of zs.all.icl_degraded: only the last task (theta_perp) decides",
     ["tests/claims/test_deciding_helpers.py", "tests/claims/test_explore.py", "tests/claims/test_properties.py"], ["zs.all.icl_degraded"], False),
    ("R08", "proofs_check/claims/zs.py", "return bool(all(v > 0 for v in vals.values())), det",
     "return bool(any(v > 0 for v in vals.values())), det",
     "explore condition of zs.v.icl_preserved (paper): B > 0 on every task -> on any task",
     ["tests/claims/test_deciding_helpers.py", "tests/claims/test_explore.py"], ["zs.v.icl_preserved"], False),
    ("R09", "proofs_check/storage/derivation_cache.py", "for pkg in (theory, vocabulary):", "for pkg in (theory,):",
     "derivation cache key does not cover the vocabulary sources",
     ["tests/storage/test_cache_keys.py", "tests/storage/test_derivation_cache.py"], ["pretrain.optimum"], False),
    ("R10", "experiment/protocol.py", "proto.lam, proto.lam_schedule, proto.finetune_steps)",
     "proto.lam, proto.finetune_steps)",
     "compiled-program cache key of the experiment misses lam_schedule (a second run reuses the other schedule)",
     ["tests/experiment/test_protocol.py", "tests/experiment/test_experiment.py"], ["zs.v.optimum"], False),
    ("R11", "numerics/flow.py", "m=m, lam=lam), d, sigma2, theta0.tobytes())", "m=m, lam=lam), d, theta0.tobytes())",
     "interpolant cache key of the fast flow misses sigma2 (a later sigma2 reuses the first one's polynomial)",
     ["tests/numerics/test_interpolant_cache.py", "tests/numerics/test_batched_gradient.py", "tests/numerics/test_numerics_flow.py"], ["zs.all.flow_limit"], False),
    ("R12", "proofs_check/methods/accuracy.py", "-int(math.floor(math.log10(tol)))", "-int(math.log10(tol))",
     "fmt_value (behind fmt_tol): digits from int() instead of floor() (one digit short for a tolerance not a power of ten)",
     ["tests/cli/test_output_formatting.py", "tests/cli/test_cli.py"], ["zs.v.optimum"], False),
    ("R13", "proofs_check/export/table_cells.py", r'return str(x).replace("\\|", "|").replace("|", "\\|").replace(',
     "return str(x).replace(",
     "md_cell: a | inside a Markdown cell is not escaped",
     ["tests/cli/test_output_formatting.py", "tests/cli/test_cli.py"], ["zs.v.optimum"], False),
    ("R14", "proofs_check/storage/json_text.py", "isinstance(obj, np.generic):", "isinstance(obj, np.floating):",
     "JSON cleaning converts only NumPy floats: NumPy booleans and integers become strings",
     ["tests/cli/test_output_formatting.py", "tests/cli/test_cli_fuzz.py", "tests/claims/test_explore.py"], ["zs.v.optimum"], False),
    ("R15", "experiment/run.py", '"rms": float(np.sqrt(np.mean(allv ** 2)))', '"rms": float(np.mean(allv))',
     "experiment curve distance: rms computed as the mean absolute difference",
     ["tests/experiment/test_protocol.py", "tests/experiment/test_experiment.py"], ["zs.v.optimum"], False),
    ("R16", "experiment/protocol.py", "math.sqrt(var / max(samples - 1, 1))", "math.sqrt(var)",
     "Monte Carlo standard error reported as the standard deviation (not divided by sqrt(n - 1))",
     ["tests/experiment/test_protocol.py", "tests/experiment/test_experiment.py"], ["zs.v.optimum"], False),
    ("R17", "numerics/ode.py", "y = sol(t)", "y = solver.y",
     "integrate_to_norm: the located crossing time is returned with the step's end state",
     ["tests/numerics/test_stability_branches.py", "tests/numerics/test_ode.py"], ["zs.all.flow_limit"], False),
    ("R18", "numerics/flow.py", 'if run.status == "cap" or spent():', 'if run.status == "cap":',
     "gradient flow: the evaluation cap is checked only when a chunk itself stops on it",
     ["tests/numerics/test_stability_branches.py", "tests/numerics/test_flow_determinism.py", "tests/numerics/test_numerics_flow.py"], ["zs.all.flow_limit"], False),
    ("R19", "numerics/full_space.py", '("converged" if gn <= gtol else "t cap")', '"converged"',
     "full_flow: reaching the end of the time span is reported as converged whatever the gradient",
     ["tests/numerics/test_stability_branches.py", "tests/numerics/test_stability.py"], ["zs.all.minimizers"], False),
    ("R20", "proofs_check/claims/explore.py", "phases=[Phase.generate, Phase.shrink]", "phases=[Phase.generate]",
     "explore: counterexamples are not shrunk (reported as shrunk/minimal)",
     ["tests/claims/test_explore_shrinking.py", "tests/claims/test_explore.py"], ["zsfs.v.tradeoff"], False),
    ("R21", "numerics/multihead.py", "G = _tensors(Vs, Ws).mean(axis=0)\n    return _loss_at(",
     "G = _tensors(Vs, Ws).sum(axis=0)\n    return _loss_at(",
     "multi-head loss: heads summed instead of averaged",
     ["tests/experiment/test_protocol.py", "tests/numerics/test_numerics_multihead.py", "tests/experiment/test_experiment.py"], ["gradients.agree"], False),
    ("R22", "numerics/batching.py", "for i in range(0, X.shape[0], rows)]", "for i in range(0, X.shape[0] - rows, rows)]",
     "in_chunks: the last chunk of a stack is dropped",
     ["tests/numerics/test_batched_gradient.py"], ["gradients.agree"], False),
    ("R23", "experiment/run.py", "one = V.shape[0] == 1", "one = True",
     "experiment exact evaluation: only the first head is evaluated for H > 1",
     ["tests/experiment/test_protocol.py", "tests/experiment/test_experiment.py"], ["zs.v.optimum"], False),
    ("R24", "experiment/protocol.py", '"lhba,lhbc->lhac", K, Q)', '"lhab,lhbc->lhac", K, Q)',
     "merged_heads: W = K Q instead of K^T Q (separate-form evaluation)",
     ["tests/experiment/test_protocol.py", "tests/experiment/test_experiment.py"], ["zs.v.optimum"], False),
    ("R25", "experiment/protocol.py", "transition_steps=T - 1)", "transition_steps=T)",
     "lam linear-decay schedule: reaches 0 one step after the last (transition T instead of T - 1)",
     ["tests/experiment/test_protocol.py", "tests/experiment/test_experiment.py"], ["zs.v.optimum"], False),
]

#: the class of each mutant (for the table): the kind of bug it plants
KIND = {**{f"N{i:02d}": "formula" for i in range(1, 14)}, **{f"T{i:02d}": "formula" for i in range(1, 5)},
        "P01": "verdict machinery", "P02": "verdict machinery", "P03": "verdict machinery",
        "P04": "lenient checker", "P05": "lenient checker", "P06": "typed-in constant", "P07": "formula",
        "P08": "formula", "P09": "lenient checker", "P10": "lenient checker",
        "R01": "CLI option", "R02": "CLI option", "R03": "CLI option", "R04": "CLI option",
        "R05": "deciding helper", "R06": "deciding helper", "R07": "explore condition",
        "R08": "explore condition", "R09": "cache key", "R10": "cache key", "R11": "cache key",
        "R12": "formatting", "R13": "formatting", "R14": "formatting", "R15": "derived quantity",
        "R16": "derived quantity", "R17": "stop rule", "R18": "stop rule", "R19": "stop rule",
        "R20": "shrinking", "R21": "multi-head loss", "R22": "chunked batching",
        "R23": "head evaluation", "R24": "head evaluation", "R25": "lam schedule"}

FIELDS = ("id", "file", "old", "new", "description", "tests", "claims", "lenient")


def mutants():
    return [dict(zip(FIELDS, m), kind=KIND[m[0]]) for m in MUTANTS]


def _copy(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", ".pytest_cache", ".hypothesis", "*.egg-info", "build", "dist"))


def apply(mut: dict, copy: Path) -> None:
    p = copy / mut["file"]
    text = p.read_text()
    n = text.count(mut["old"])
    if n != 1:
        raise ValueError(f"{mut['id']}: the old text occurs {n} times in {mut['file']} (must be 1)")
    p.write_text(text.replace(mut["old"], mut["new"]))
    # a realistic mutant still compiles
    subprocess.run([sys.executable, "-m", "py_compile", str(p)], check=True)


def _env(copy: Path, cache: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy)
    env["XDG_CACHE_HOME"] = str(cache)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


#: a stage that runs longer than this is stopped and counts as killed (a hang fails CI too)
TIMEOUT_S = 1200


def _run(cmd: list[str], copy: Path, env: dict):
    """``subprocess.run`` with :data:`TIMEOUT_S`; a timeout gives return code 124."""
    try:
        return subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timeout after {TIMEOUT_S} s")


def _pytest(copy: Path, env: dict, args: list[str]) -> tuple[bool, str]:
    r = _run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *args], copy, env)
    out = r.stdout + r.stderr
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    tail = (out.strip().splitlines() or [""])[-1]
    return r.returncode != 0, (failed[0] if failed else tail)[:160]


def _check(copy: Path, env: dict, only: list[str] | None, no_cache: bool) -> tuple[bool, str]:
    cmd = [sys.executable, "-m", "proofs_check", "check", "--jobs", "1", "--format", "json"]
    if only:
        cmd += ["--only", ",".join(only)]
    if no_cache:
        cmd.append("--no-cache")
    r = _run(cmd, copy, env)
    why = ""
    try:
        claims = json.loads(r.stdout)["claims"]
        bad = [f"{c['id']} ({c['status']})" for c in claims if c["status"] not in ("verified", "refined")]
        why = ", ".join(bad)
    except (ValueError, KeyError, TypeError):
        why = (r.stderr.strip().splitlines() or [""])[-1][:160]
    if r.returncode not in (0, 1):
        why = f"exit {r.returncode}: {why}"
    return r.returncode != 0, why


def run_one(mut: dict, out: Path, src: Path, full: bool) -> dict:
    copy = out / "copy"
    _copy(src, copy)
    apply(mut, copy)
    env = _env(copy, out / "cache")
    rec = {k: mut[k] for k in ("id", "kind", "file", "description", "lenient")}
    t0 = time.perf_counter()
    killed, why = _pytest(copy, env, mut["tests"])
    stage = "relevant"
    if not killed and full:
        killed, why = _pytest(copy, env, ["-m", "not slow"])
        stage = "full"
    rec.update(tests_killed=killed, tests_by=why if killed else "", tests_stage=stage,
               tests_seconds=round(time.perf_counter() - t0, 1))
    t0 = time.perf_counter()
    no_cache = mut["file"].startswith("theory/")
    killed, why = _check(copy, env, mut["claims"], no_cache)
    stage = "relevant"
    if not killed and full:
        killed, why = _check(copy, env, None, no_cache)
        stage = "full"
    rec.update(check_killed=killed, check_by=why if killed else "", check_stage=stage,
               check_seconds=round(time.perf_counter() - t0, 1))
    shutil.rmtree(copy, ignore_errors=True)
    return rec


def load(path: Path) -> dict:
    res = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                res[r["id"]] = r
    return res


def table(results: dict) -> str:
    order = [m["id"] for m in mutants()]
    kinds = {m["id"]: m["kind"] for m in mutants()}
    rows = [results[i] for i in order if i in results]
    lines = ["| id | class | file | mutant | tests | check |", "|---|---|---|---|---|---|"]

    def cell(r, k):
        if r[f"{k}_killed"]:
            return f"killed ({r[f'{k}_by']})"
        return f"**survived** ({r[f'{k}_stage']} stage)" + (" - lenient" if r["lenient"] and k == "check" else "")
    for r in rows:
        desc = r["description"].replace("|", "\\|")  # a |Q|^2 inside a cell would split it
        lines.append(f"| {r['id']} | {kinds[r['id']]} | {r['file']} | {desc} | {cell(r, 'tests')} "
                     f"| {cell(r, 'check')} |")
    n = len(rows)
    if n:
        kt = sum(r["tests_killed"] for r in rows)
        kc = sum(r["check_killed"] for r in rows)
        parts = []
        for label, group in (("that change a result", [r for r in rows if not r["lenient"]]),
                             ("lenient (they only weaken a checker; the negative controls catch them)",
                              [r for r in rows if r["lenient"]])):
            if group:
                k = sum(r["check_killed"] for r in group)
                parts.append(f"{k}/{len(group)} {label}")
        lines += ["", f"tests kill {kt}/{n} ({100 * kt / n:.0f}%); check kills {kc}/{n} ({100 * kc / n:.0f}%): "
                      + ", ".join(parts)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/iclft-mutation", help="work and results directory (outside the repo)")
    ap.add_argument("--src", default=str(ROOT), help="tree to mutate (default: this repository)")
    ap.add_argument("--only", default="", help="comma-separated mutant ids")
    ap.add_argument("--fresh", action="store_true", help="rerun mutants already in OUT/results.jsonl")
    ap.add_argument("--relevant-only", action="store_true",
                    help="skip the full-suite and full-check stages (a survivor there is not decided)")
    ap.add_argument("--table", action="store_true", help="only print the table of OUT/results.jsonl")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args(argv)
    out, src = Path(args.out).resolve(), Path(args.src).resolve()
    if out == src or src in out.parents:
        ap.error("--out must be outside the tree that is mutated")
    muts = mutants()
    if args.list:
        for m in muts:
            print(f"{m['id']}  {m['file']}: {m['description']}")
        return 0
    results_path = out / "results.jsonl"
    if not args.table:
        out.mkdir(parents=True, exist_ok=True)
        home_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "iclft"
        if not (out / "cache" / "iclft").exists() and home_cache.is_dir():
            shutil.copytree(home_cache, out / "cache" / "iclft")
        wanted = set(filter(None, args.only.split(",")))
        unknown = wanted - {m["id"] for m in muts}
        if unknown:
            ap.error(f"unknown mutant ids {sorted(unknown)}")
        for m in muts:  # every pattern must match exactly once before anything runs
            if src.joinpath(m["file"]).read_text().count(m["old"]) != 1:
                ap.error(f"{m['id']}: its old text does not occur exactly once in {m['file']}")
        done = load(results_path)
        for m in muts:
            if wanted and m["id"] not in wanted:
                continue
            if m["id"] in done and not args.fresh:
                continue
            print(f"{m['id']} {m['description']} ...", flush=True)
            rec = run_one(m, out, src, full=not args.relevant_only)
            print(f"  tests {'killed' if rec['tests_killed'] else 'SURVIVED'} ({rec['tests_seconds']} s) "
                  f"{rec['tests_by']}; check {'killed' if rec['check_killed'] else 'SURVIVED'} "
                  f"({rec['check_seconds']} s) {rec['check_by']}", flush=True)
            with results_path.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
    text = table(load(results_path))
    if not args.table:
        (out / "table.md").write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
