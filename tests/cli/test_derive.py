"""``iclft derive``: bounded, deterministic presentation of the derived gradients.

The presentation (``theory.present``) never runs a multivariate ``factor``; these tests
check that it is equal to the derived expression, that the separate-form chain rule
``grad_K = Q G^T``, ``grad_Q = K G`` rebuilds the full coefficients, and that the output
does not depend on the hash seed.
"""
import json
import os
import subprocess
import sys

import pytest
import sympy as sp

from proofs_check.cli.main import main
from theory import gradient
from theory.gradients import OBJECTIVE_NAMES, SUBSETS
from theory.present import G_SYMBOLS, gradient_presentation, present

ALL = [(obj, form, sub) for obj in OBJECTIVE_NAMES for form, subs in SUBSETS.items() for sub in subs]


@pytest.mark.parametrize("obj,form,sub", ALL)
def test_every_derive_runs(obj, form, sub, capsys):
    """Every objective x train x form goes through ``derive`` (text and LaTeX)."""
    # LaTeX once per form (the same printer for every objective)
    extras = ([], ["--latex"]) if (obj, sub) in {("zs", "all"), ("fs", "kq")} else ([],)
    for extra in extras:
        code = main(["derive", "--objective", obj, "--train", sub, "--form", form, *extra])
        out = capsys.readouterr().out
        assert code == 0
        res = gradient(obj, sub, form)
        # one line per trainable matrix coefficient (or per G / K / Q coefficient)
        for M in res.matrices:
            assert (f"grad_{M}[" in out) or (f"nabla_{{{M}}}" in out)


@pytest.mark.parametrize("obj", ["zs", "fs"])
def test_presentation_equals_derivation(obj):
    """``present(e) == e`` for every merged coefficient (an independent ``cancel``)."""
    pres = gradient_presentation(obj, "all", "merged")
    res = gradient(obj, "all", "merged")
    for M, co in res.matrices.items():
        for bn, e in co.items():
            assert sp.cancel(pres["matrices"][M][bn] - e) == 0
    for s, v in res.flow.items():
        assert sp.cancel(pres["flow"][s] - v) == 0


@pytest.mark.parametrize("obj,sub", [("zs", "all"), ("fs", "kq")])
def test_chain_rule_rebuilds_separate_coefficients(obj, sub):
    """Substituting ``G`` and ``W = K^T Q`` into the chain-rule form gives the full
    separate-form coefficients derived by :func:`theory.gradient`."""
    pres = gradient_presentation(obj, sub, "separate", full=False)
    chain = pres["chain_rule"]
    res = gradient(obj, sub, "separate")
    gsub = {G_SYMBOLS[bn]: e for bn, e in chain["G"].items()}
    for M, co in chain["matrices"].items():
        for bn, e in co.items():
            rebuilt = e.subs(gsub).subs(chain["substitution"], simultaneous=True)
            assert sp.expand(sp.cancel(rebuilt - res.matrices[M][bn])) == 0
    for bn, e in chain.get("V", {}).items():
        rebuilt = e.subs(chain["substitution"], simultaneous=True)
        assert sp.expand(sp.cancel(rebuilt - res.matrices["V"][bn])) == 0


def test_present_keeps_small_expressions():
    a, N = sp.symbols("a N")
    assert present(sp.Integer(3)) == 3
    assert present(0 * a) == 0
    e = 2 * a * (N + 1) / (N + 2)
    assert sp.cancel(present(e) - e) == 0


def test_derive_identical_under_two_hash_seeds():
    outs = []
    for seed in ("0", "1"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        r = subprocess.run([sys.executable, "-m", "proofs_check", "derive", "--objective", "zsfs",
                            "--train", "kq", "--format", "json"], capture_output=True, text=True,
                           env=env, timeout=600)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]
    data = json.loads(outs[0])
    assert set(data["gradient"]) == {"K", "Q"} and set(data["chain_rule"]["G"]) == set(G_SYMBOLS)
