"""Verdicts that can fail: a wrong value fed to each kind of evidence turns the claim
``refuted`` and ``iclft check --only ID`` exits 1; the status aggregation and the exit code
are tested on their own.

Each test monkeypatches one route (a perturbed loss, a wrong constant, a transposed or
scaled gradient, a shifted flow end point, a biased Monte Carlo estimate) and runs the
claim in-process through :func:`proofs_check.cli.main.main`, the same code path as ``iclft``.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
import dataclasses
import json

import pytest

import numerics
from proofs_check.cli import main as cli
from proofs_check.methods import models
from proofs_check.claims import pretrain
from proofs_check.claims import zsfs as few_shot
from proofs_check.claims import zs as zero_shot
from proofs_check.claims.claim import Claim, ClaimResult, Evidence, Findings, run_claim, status_of
from proofs_check.cli.check import check_exit_code


def _check(capsys, claim_id):
    """``(status, exit code, claim json)`` of ``iclft check --only claim_id --format json``."""
    code = cli.main(["check", "--only", claim_id, "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    (claim,) = out["claims"]
    return claim["status"], code, claim


# ---------------------------------------------------------------- aggregation and exit code
def _ev(passed, asserted=True):
    return Evidence("numeric", "x", passed, asserted=asserted)


@pytest.mark.parametrize("items, cx, want", [
    ([_ev(True), _ev(True)], None, "verified"),
    ([_ev(True), _ev(False)], None, "refuted"),          # one asserted failure is enough
    ([_ev(False), _ev(False)], None, "refuted"),
    ([_ev(True), _ev(False, asserted=False)], None, "verified"),  # a reported item never decides
    ([_ev(True, asserted=False)], None, "refuted"),      # nothing asserted: nothing verified
    ([], None, "refuted"),
    ([_ev(True)], {"config": {}, "details": {}}, "refined"),
    ([_ev(False)], {"config": {}, "details": {}}, "refuted"),
])
def test_status_aggregation(items, cx, want):
    assert status_of(items, cx) == want


def _result(status):
    return ClaimResult("x", "t", "s", "", status, [])


@pytest.mark.parametrize("statuses, code", [
    (["verified"], 0), (["refined"], 0), (["verified", "refined"], 0), (["refuted"], 1), (["error"], 1),
    (["verified", "refuted"], 1), (["refined", "error"], 1), ([], 1)])
def test_exit_code(statuses, code):
    assert check_exit_code([_result(s) for s in statuses]) == code


def _fake_registry(monkeypatch, outcome_or_exc):
    def check():
        if isinstance(outcome_or_exc, Exception):
            raise outcome_or_exc
        return outcome_or_exc
    claim = Claim("fake.claim", "fake", "a fake statement", "", check)
    monkeypatch.setattr("proofs_check.claims.registry", lambda: [claim])


@pytest.mark.parametrize("outcome, status, code", [
    (Findings([_ev(True), _ev(False)]), "refuted", 1),
    (Findings([_ev(True), _ev(False, asserted=False)]), "verified", 0),
    (Findings([_ev(True)], counterexample={"config": {"d": 1}, "details": {"gap": "-1/2"}}), "refined", 0),
    (ZeroDivisionError("boom"), "error", 1),
])
def test_cli_status_and_exit_code_through_main(monkeypatch, capsys, outcome, status, code):
    _fake_registry(monkeypatch, outcome)
    got, rc, claim = _check(capsys, "fake.claim")
    assert (got, rc) == (status, code)
    assert cli.main(["check", "--only", "fake.claim"]) == code
    text = capsys.readouterr().out
    assert text.startswith(f"[{status.upper():8}] fake.claim")
    if status == "refined":
        assert claim["counterexample"]["details"]["gap"] == "-1/2" and "counterexample" in text
        assert "1 refined" in text
    if status == "verified":
        assert "info [numeric] (reported, not asserted" in text


# ---------------------------------------------------------------- each kind of evidence
def test_symbolic_evidence_fails_on_a_wrong_gradient(monkeypatch, capsys):
    """A symbolic gradient with the V[y, x] coefficient scaled by 1.01."""
    real = zero_shot.gradient

    def wrong(obj, subset, form):
        g = real(obj, subset, form)
        mats = {M: dict(co) for M, co in g.matrices.items()}
        mats["V"]["yt"] = 1.01 * mats["V"]["yt"]
        return dataclasses.replace(g, matrices=mats)

    monkeypatch.setattr(zero_shot, "gradient", wrong)
    status, code, claim = _check(capsys, "zs.initial_gradient")
    assert (status, code) == ("refuted", 1)
    assert not claim["evidence"][1]["passed"]


def test_numeric_evidence_fails_on_a_transposed_gradient(monkeypatch, capsys):
    """The NumPy gradient with grad_V transposed (a transposed chain rule)."""
    real = numerics.expected_loss_grad
    monkeypatch.setattr(numerics, "expected_loss_grad", lambda *a, **k: (real(*a, **k)[0].T, real(*a, **k)[1]))
    status, code, claim = _check(capsys, "zs.initial_gradient")
    assert (status, code) == ("refuted", 1)
    # the numeric item fails; its negative control (a planted error on top) still passes
    assert [e["passed"] for e in claim["evidence"]] == [True, True, False, True]
    assert claim["evidence"][3]["description"].startswith("negative control:")


def test_grid_inequality_fails_on_a_perturbed_loss(monkeypatch, capsys):
    """The NumPy loss curve off by one shot for n >= 1 (normalisation n instead of n+1 tokens):
    the region L_n > L_0 no longer matches the threshold."""
    from proofs_check.methods import models

    real = models.exact_curve
    monkeypatch.setattr(models, "exact_curve", lambda V, W, th, s2, shots: [
        real(V, W, th, s2, (k + 1 if k else 0, k + 1 if k else 0))[0] for k in range(shots[0], shots[1] + 1)])
    status, code, claim = _check(capsys, "pretrain.fewshot_vs_zeroshot")
    assert (status, code) == ("refuted", 1)
    grid_item = next(e for e in claim["evidence"] if "mismatches" in e["details"])
    assert not grid_item["passed"] and grid_item["details"]["mismatches"] > 0


def test_symbolic_evidence_fails_on_a_wrong_constant(monkeypatch, capsys):
    """c* off by 1% (a wrong constant): the derived optimum no longer matches."""
    real = pretrain.optima.pretrain_c_star
    monkeypatch.setattr(pretrain.optima, "pretrain_c_star", lambda: real() * 101 / 100)
    monkeypatch.setattr(numerics, "monte_carlo_pretrain_loss", lambda *a, **k: (0.0, 1.0))  # skip the sampling cost
    status, code, claim = _check(capsys, "pretrain.optimum")
    assert (status, code) == ("refuted", 1)
    assert not claim["evidence"][0]["passed"]


def test_numeric_evidence_fails_on_a_wrong_numeric_minimiser(monkeypatch, capsys):
    """The NumPy vertex of L_pre(c) off by 1e-6 relative: the numeric c* item fails."""
    real = pretrain.pretrained_c
    monkeypatch.setattr(pretrain, "pretrained_c", lambda d, m, s2=0.0: real(d, m, s2) * (1 + 1e-6))
    monkeypatch.setattr(numerics, "monte_carlo_pretrain_loss", lambda *a, **k: (0.0, 1.0))
    status, code, claim = _check(capsys, "pretrain.optimum")
    assert (status, code) == ("refuted", 1)
    assert not claim["evidence"][4]["passed"]


def test_grid_evidence_covers_the_whole_grid(monkeypatch, capsys):
    """The NumPy vertex of L_pre(c) wrong at the *last* grid configuration only: a loop that
    skips configurations (``GRID[:4]`` for ``GRID``) would miss it."""
    from vocabulary import GRID

    last = GRID[-1]
    real = pretrain.pretrained_c

    def wrong_at_last(d, m, s2=0.0):
        c = real(d, m, s2)
        return c * (1 + 1e-6) if (d, m, s2) == (last.d, last.m, last.sigma2) else c

    monkeypatch.setattr(pretrain, "pretrained_c", wrong_at_last)
    monkeypatch.setattr(numerics, "monte_carlo_pretrain_loss", lambda *a, **k: (0.0, 1.0))
    status, code, claim = _check(capsys, "pretrain.optimum")
    assert (status, code) == ("refuted", 1)
    assert not claim["evidence"][4]["passed"]


def test_monte_carlo_curve_fails_on_a_wrong_forward_pass(monkeypatch, capsys):
    """The Monte Carlo pretrained curve with the forward pass normalised by n instead of
    n + 1 (the query token not counted): the sampled n-shot error leaves the closed form.
    (The sampled L_pre of pretrain.optimum cannot see this: at the stationary c* a rescaled
    prediction changes the loss only to second order.)"""
    import numerics.sampling as sampling

    def by_n(v, W, X, y, xq):
        n = X.shape[1]
        Z = sampling.token_array(X, y, xq)
        u = Z[:, n, :] @ W.T
        return (Z @ v * sampling.np.einsum("bjD,bD->bj", Z, u)).sum(1) / max(n, 1)

    monkeypatch.setattr(sampling, "_predict", by_n)
    status, code, claim = _check(capsys, "pretrain.fewshot_vs_zeroshot")
    assert (status, code) == ("refuted", 1)
    failed = [e for e in claim["evidence"] if not e["passed"]]
    assert [e["kind"] for e in failed] == ["monte-carlo"]  # the domain-search items are unaffected
    assert failed[0]["details"]["max_z_score"] > 5


@pytest.mark.parametrize("route", ["hessian", "hessian_vector_product", "grad"])
def test_line_derivative_evidence_catches_a_wrong_derivative(route, monkeypatch):
    """gradients.agree compares the gradient, the full Hessian and the Hessian-vector product
    with derivatives of the interpolated loss: any of them off by 0.1% refutes the item."""
    import numerics.hessian as nh
    from proofs_check.claims import gradients
    from proofs_check.claims.gradients import line_derivative_evidence

    assert line_derivative_evidence().passed
    if route == "hessian":
        real = nh.hessian
        monkeypatch.setattr(gradients, "hessian", lambda *a, **k: dataclasses.replace(r := real(*a, **k), H=1.001 * r.H))
    elif route == "hessian_vector_product":
        real = nh.hessian_vector_product
        monkeypatch.setattr(gradients, route, lambda *a, **k: 1.001 * real(*a, **k))
    else:
        real = nh.Problem.grad
        monkeypatch.setattr(nh.Problem, "grad", lambda self, x: 1.001 * real(self, x))
    ev = line_derivative_evidence()
    assert not ev.passed and ev.asserted


def test_separate_sgd_evidence_catches_a_transposed_chain_rule(monkeypatch):
    """The separate-form SGD step with G_K = Q G_W (transposition lost, as a planted bug in
    numerics.sgd would do) leaves the exact gradient by many standard errors."""
    import numerics.sgd as sgd_mod
    from proofs_check.claims.gradients import separate_sgd_evidence

    assert separate_sgd_evidence().passed
    real = sgd_mod._batch_grad

    def transposed(*a):
        loss, gv, gW = real(*a)
        return loss, gv, gW.T  # the separate step then uses G_K = Q G_W, G_Q = K G_W^T

    monkeypatch.setattr(sgd_mod, "_batch_grad", transposed)
    ev = separate_sgd_evidence()
    assert not ev.passed and ev.asserted


def test_zsfs_v_stationarity_covers_its_grid(monkeypatch, capsys):
    """The NumPy gradient off by 1e-6 at d = 10 only (the last block of the grid): the
    stationarity item of zsfs.v.optimum, declared on GRID[::4], must see it (a loop that
    skips configurations, such as GRID[:4], would not)."""
    real = numerics.expected_loss_grad

    def off_at_d10(V, W, theta, n, sigma2=0.0):
        gV, gW = real(V, W, theta, n, sigma2)
        if V.shape[0] == 12:
            gV = gV.copy()
            gV[-1, -1] += 1e-6
        return gV, gW

    monkeypatch.setattr(numerics, "expected_loss_grad", off_at_d10)
    monkeypatch.setattr(few_shot, "sgd_endpoint_evidence", lambda *a, **k: Evidence("monte-carlo", "skipped", True))
    status, code, claim = _check(capsys, "zsfs.v.optimum")
    assert (status, code) == ("refuted", 1)
    item = next(e for e in claim["evidence"] if "vanishes to 1e-9" in e["description"])
    assert not item["passed"]


def test_flow_evidence_fails_on_a_shifted_end_point(monkeypatch, capsys):
    """The V-only ZS flow end point with a shifted by 1e-4."""
    real = models.endpoint

    def shifted(method, cfg):
        coords, fl = real(method, cfg)
        if method == "zs-v":
            coords = {**coords, "a": coords["a"] + 1e-4}
        return coords, fl

    monkeypatch.setattr(models, "endpoint", shifted)
    monkeypatch.setattr(zero_shot, "sgd_endpoint_evidence", lambda *a, **k: Evidence("monte-carlo", "skipped", True))
    status, code, claim = _check(capsys, "zs.v.optimum")
    assert (status, code) == ("refuted", 1)
    assert not claim["evidence"][3]["passed"]


def test_sgd_evidence_fails_on_biased_sgd(monkeypatch, capsys):
    """SGD end points shifted by 10 standard errors."""
    from proofs_check.claims import sgd_evidence as sgd_mod

    real = sgd_mod.sgd_finetune

    def biased(*a, **k):
        r = real(*a, **k)
        return dataclasses.replace(r, coords={key: v + 10 * (r.stderr or {}).get(key, 0.0) for key, v in r.coords.items()})

    monkeypatch.setattr(sgd_mod, "sgd_finetune", biased)
    ev = sgd_mod.sgd_endpoint_evidence("zs", "v", ("a", "b"))
    assert not ev.passed and ev.asserted


def test_monte_carlo_evidence_fails_on_a_biased_estimate(monkeypatch, capsys):
    """Monte Carlo gradients shifted by 8 standard errors."""
    real = numerics.monte_carlo_loss_grad

    def biased(*a, **k):
        mV, mW, sV, sW = real(*a, **k)
        return mV + 8 * sV, mW, sV, sW

    monkeypatch.setattr(numerics, "monte_carlo_loss_grad", biased)
    status, code, claim = _check(capsys, "gradients.agree")
    assert (status, code) == ("refuted", 1)
    assert [e["passed"] for e in claim["evidence"]] == [True, False, True, True]


def test_refined_claim_turns_refuted_when_its_derived_condition_is_wrong(monkeypatch):
    """zsfs.v.tradeoff is refined; with a wrong sign of the derived gap it is refuted."""
    real = few_shot.v_tradeoff_numbers

    def flipped(cfg):
        v = dict(real(cfg))
        v["gap"] = -v["gap"]
        return v

    monkeypatch.setattr(few_shot, "v_tradeoff_numbers", flipped)
    monkeypatch.setattr(few_shot, "GRID", few_shot.GRID[::8])
    claim = next(c for c in few_shot.CLAIMS if c.id == "zsfs.v.tradeoff")
    res = run_claim(claim)
    assert res.status == "refuted"
    assert res.evidence[2].details["mismatches"] > 0


def _evidence_calls():
    import ast
    import inspect

    for mod in (pretrain, zero_shot, few_shot):
        for node in ast.walk(ast.parse(inspect.getsource(mod))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Evidence" and len(node.args) >= 3:
                yield mod, node


def test_reported_items_are_marked_not_asserted():
    """An item whose description says "reported" is constructed with ``asserted=False``."""
    import ast

    seen = 0
    for mod, node in _evidence_calls():
        desc = node.args[1]
        if isinstance(desc, ast.Call) and getattr(desc.func, "id", "") == "tx":  # marked text (prose.tx)
            desc = desc.args[0]
        first = desc.values[0] if isinstance(desc, ast.JoinedStr) else desc
        if isinstance(first, ast.Constant) and str(first.value).startswith("reported"):
            seen += 1
            kw = {k.arg: k.value for k in node.keywords}
            assert isinstance(kw.get("asserted"), ast.Constant) and kw["asserted"].value is False, \
                f"{mod.__name__}:{node.lineno}"
    assert seen >= 2


def test_no_evidence_item_is_a_literal_true():
    """No claim module passes a literal ``True`` as an evidence outcome."""
    import ast

    for mod, node in _evidence_calls():
        assert not (isinstance(node.args[2], ast.Constant) and node.args[2].value is True), \
            f"{mod.__name__}:{node.lineno}"



# --------------------------------------------------------------------------- the machinery checks itself
def test_machinery_self_test_passes_on_the_real_machinery():
    from proofs_check.claims.claim import machinery_self_test
    from proofs_check.cli.check import check_exit_code
    assert machinery_self_test(check_exit_code) == []


@pytest.mark.parametrize("mutant", ["any", "always0", "ignore_asserted"])
def test_check_exits_1_when_the_machinery_is_broken(mutant, monkeypatch, capsys):
    """A broken aggregation or exit code (planted) is caught by the self-test that iclft
    check runs before any claim: exit 1, one line, no report."""
    from proofs_check.cli import check as check_command
    from proofs_check.claims import claim as base

    if mutant == "any":
        monkeypatch.setattr(base, "status_of", lambda ev, cx=None: "verified" if any(e.passed for e in ev) else "refuted")
    elif mutant == "always0":
        monkeypatch.setattr(check_command, "check_exit_code", lambda results: 0)
    else:
        monkeypatch.setattr(base, "status_of",
                            lambda ev, cx=None: ("refined" if cx else "verified") if all(e.passed for e in ev) else "refuted")
    assert cli.main(["check", "--only", "zs.initial_gradient"]) == 1
    err = capsys.readouterr()
    assert "self-test" in err.err and err.out == ""


def test_flow_norm_evidence_catches_a_wrong_gradient(monkeypatch):
    """The stopping-rule norm a flow reports is compared with the full NumPy gradient: a
    gradient scaled by 1.01 on the NumPy side refutes the item."""
    import numerics.finetune_objective as fo
    from proofs_check.claims.zs import flow_norm_evidence

    assert flow_norm_evidence().passed
    real = fo.objective_grad
    monkeypatch.setattr(zero_shot, "objective_grad", lambda *a, **k: tuple(1.01 * g for g in real(*a, **k)))
    assert not flow_norm_evidence().passed
