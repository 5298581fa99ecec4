"""Conventions as parameters: the three routes under each convention, the memo
keys of today's convention, the claims x conventions matrix and its negative controls."""
from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

import numerics
import vocabulary
from numerics import conventions as NC
from numerics.moments import TaskMoments
from proofs_check.cli.main import main
from theory import memo, optima
from theory.conventions import family_optimum, g_1, g_s
from theory.objectives import (NotDerived, expected_loss_numerator, prior_average, pretrain_loss,
                               sphere_loss)
from theory.symbols import a, alpha, b, beta, d, h, kappa, m, n, q, rho, sigma2

CONV = vocabulary.CONVENTIONS


def _point(d_, seed=0):
    rng = np.random.default_rng(seed)
    D = d_ + 2
    return 0.5 * rng.standard_normal((D, D)), 0.5 * rng.standard_normal((D, D)), rng.standard_normal(d_)


def test_convention_names():
    assert vocabulary.convention_named(None) is vocabulary.DEFAULT_CONVENTION
    assert vocabulary.convention_named("query-excluded").query_in_context is False
    assert vocabulary.DEFAULT_CONVENTION.is_default and not CONV["gaussian-prior"].is_default
    with pytest.raises(ValueError, match="convention must be one of"):
        vocabulary.convention_named("bogus")


def test_default_memo_keys_unchanged():
    """Today's convention is left out of the memo key: one entry however it is named."""
    expected_loss_numerator()
    keys = [k for k in memo.STORE if k[0].endswith("expected_loss_numerator")]
    expected_loss_numerator("default")
    expected_loss_numerator(vocabulary.DEFAULT_CONVENTION)
    assert [k for k in memo.STORE if k[0].endswith("expected_loss_numerator")] == keys
    assert (keys[0][1]) == ()
    expected_loss_numerator("query-excluded")
    assert any(CONV["query-excluded"] in k[1] for k in memo.STORE if k[0].endswith("expected_loss_numerator"))


def test_pretraining_optimum_per_convention():
    assert sp.simplify(optima.pretrain_c_star("query-excluded") - m / (m + 1 + d * (1 + sigma2))) == 0
    # the query token adds nothing in the pretrained family: same predictor at c m/(m+1), same minimum
    assert sp.simplify(optima.pretrain_min_loss("query-excluded") - optima.pretrain_min_loss()) == 0
    assert sp.simplify(optima.pretrain_c_star("gaussian-prior") - optima.pretrain_c_star()) == 0
    # the authors' m/(m+1+d) is the query-excluded optimum at sigma2 = 0
    assert sp.simplify(optima.pretrain_c_star("query-excluded").subs(sigma2, 0) - m / (m + 1 + d)) == 0


def test_gaussian_prior_moments():
    """E|theta|^4 = (d+2)/d for N(0, I/d); the sphere gives 1."""
    assert sp.simplify(prior_average((kappa ** 2 + rho ** 2) ** 2, "gaussian-prior") - (d + 2) / d) == 0
    assert sp.simplify(prior_average((kappa ** 2 + rho ** 2) ** 2) - 1) == 0


def test_anisotropic_family_against_hand_formula():
    """The block Wick route against the per-direction optimum
    g_j = (m+1)/((m+1) lambda_j + tr Sigma + d sigma2) worked out by hand (Sigma = diag(4, 1, ...))."""
    fam = family_optimum("anisotropic")
    tr = d - 1 + 4
    assert sp.simplify(fam[g_s] - (m + 1) / (4 * (m + 1) + tr + d * sigma2)) == 0
    assert sp.simplify(fam[g_1] - (m + 1) / ((m + 1) + tr + d * sigma2)) == 0
    iso = family_optimum("default")
    assert sp.simplify(iso[g_1] - optima.pretrain_c_star()) == 0
    with pytest.raises(NotDerived):
        pretrain_loss("anisotropic")


@pytest.mark.parametrize("name", ["default", "query-excluded", "gaussian-prior"])
def test_symbolic_prior_loss_matches_numerics(name):
    """theory's prior-averaged L_n at a manifold point equals numerics.conventions (cubature
    of the sphere / radial interpolation for the Gaussian prior)."""
    from numerics.manifold import merged_point
    pt = {a: sp.Rational(1, 3), b: sp.Rational(-2, 5), q: sp.Rational(1, 2), alpha: sp.Rational(3, 4),
          beta: sp.Rational(-1, 4), h: sp.Rational(1, 5)}
    d_, n_, s2 = 3, 4, sp.Rational(1, 10)
    sym = float(sphere_loss(name).subs(pt).subs({d: d_, n: n_, sigma2: s2}))
    V, W = merged_point({k.name: float(v) for k, v in pt.items()}, np.eye(d_)[0])
    assert NC.convention_loss(V, W, None, n_, 0.1, name) == pytest.approx(sym, rel=1e-12)


def test_default_convention_is_bitwise_today():
    V, W, th = _point(3)
    assert NC.convention_loss(V, W, th, 5, 0.1) == numerics.expected_loss(V, W, th, 5, 0.1)
    assert NC.convention_loss(V, W, None, 5, 0.1) == numerics.pretrain_loss(V, W, 5, 0.1)
    gV, gW = NC.convention_loss_grad(V, W, th, 5, 0.1)
    eV, eW = numerics.expected_loss_grad(V, W, th, 5, 0.1)
    assert np.array_equal(gV, eV) and np.array_equal(gW, eW)


def test_cubature_reproduces_the_sphere():
    """Sigma = I through the cubature route (a 'two-level' spectrum of variance 1) equals the
    sphere's task moments."""
    unit = vocabulary.Convention("unit-two-level", covariance=(1, 1))
    V, W, _ = _point(4, 1)
    assert NC.convention_loss(V, W, None, 3, 0.2, unit) == pytest.approx(numerics.pretrain_loss(V, W, 3, 0.2),
                                                                         rel=1e-12)
    pts = NC.prior_points(4, 0.2, unit)
    assert sum(w for _, w in pts) == pytest.approx(1.0) and isinstance(pts[0][0], TaskMoments)


@pytest.mark.parametrize("name", list(CONV))
def test_closed_form_gradient_and_monte_carlo(name):
    V, W, th = _point(2, 3)
    for task in (th, None):
        for n_ in (0, 2):
            L = NC.convention_loss(V, W, task, n_, 0.1, name)
            mean, se = NC.monte_carlo_convention_loss(V, W, task, n_, 0.1, name, samples=20_000, seed=4)
            assert abs(mean - L) < 5 * se
            gV, gW = NC.convention_loss_grad(V, W, task, n_, 0.1, name)
            E = np.zeros_like(W)
            E[1, 2] = 1e-6
            fd = (NC.convention_loss(V, W + E, task, n_, 0.1, name)
                  - NC.convention_loss(V, W - E, task, n_, 0.1, name)) / 2e-6
            assert fd == pytest.approx(gW[1, 2], abs=1e-6)


def test_pretrained_gains_and_value_only_limit():
    assert NC.pretrained_gains(5, 20, 0.1, "query-excluded") == pytest.approx(np.full(5, 20 / 26.5), rel=1e-12)
    g = NC.pretrained_gains(5, 20, 0.1, "anisotropic")
    assert g[0] == pytest.approx(21 / (5.5 + 87), rel=1e-12) and g[1] == pytest.approx(21 / (5.5 + 24), rel=1e-12)
    V, W = NC.family_point(5, 42 / 53)
    Vend, gn, _ = NC.value_only_limit(V, W, [(0, np.eye(5)[0], 1.0)], 0.1)
    assert Vend[-1, 1] == pytest.approx(0.140212, abs=1e-6) and gn < 1e-10  # the V-only ZS reference value a = 0.140212


def _cli_json(capsys, argv):
    code = main(argv)
    return code, capsys.readouterr()


def test_check_convention_matrix_cli(capsys):
    code, out = _cli_json(capsys, ["check", "--convention", "query-excluded", "--only", "pretrain.optimum",
                                   "--only", "zs.all.icl_degraded", "--format", "json"])
    assert code == 0
    res = json.loads(out.out)
    st = {row["id"]: row["statuses"]["query-excluded"] for row in res["claims"]}
    assert st["pretrain.optimum"] == "refined" and st["zs.all.icl_degraded"] in ("not derived", "verified", "refined")
    cex = res["claims"][0]["results"]["query-excluded"]["counterexample"]
    assert cex["details"]["derived_condition"] == "c* = m/(d*sigma2 + d + m + 1)"


def test_check_convention_bad_name(capsys):
    assert main(["check", "--convention", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "convention" in err


def test_derive_convention_prints_the_optimum(capsys):
    assert main(["derive", "--objective", "pretrain", "--train", "all", "--convention", "query-excluded"]) == 0
    out = capsys.readouterr().out
    assert "c* = m/(d*sigma2 + d + m + 1)" in out and "at sigma2 = 0: c* = m/(d + m + 1)" in out
    assert main(["derive", "--objective", "zs", "--train", "v", "--convention", "anisotropic"]) == 2


def test_curve_convention_refuses_unsupported_method(capsys):
    assert main(["curve", "--method", "zs-all", "--task", "target", "--convention", "gaussian-prior"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("kind", ["numeric", "monte-carlo", "symbolic"])
def test_negative_controls_refute(monkeypatch, kind, capsys):
    """A wrong value fed to each kind of evidence of a convention check gives 'refuted' and exit 1."""
    from proofs_check.claims import convention_checks as CC
    if kind == "numeric":
        real = CC.convention_loss_grad
        monkeypatch.setattr(CC, "convention_loss_grad",
                            lambda *a_, **k_: tuple(x + 1e-6 for x in real(*a_, **k_)))
    elif kind == "monte-carlo":
        real_mc = CC.monte_carlo_convention_loss
        monkeypatch.setattr(CC, "monte_carlo_convention_loss",
                            lambda *a_, **k_: (real_mc(*a_, **k_)[0] + 0.1, real_mc(*a_, **k_)[1]))
    else:  # a wrong c* (a fresh convention object, so that no memoised derivation is reused)
        from proofs_check.claims.claim import status_of
        real_c = CC.optima.pretrain_c_star
        monkeypatch.setattr(CC.optima, "pretrain_c_star",
                            lambda conv=None: real_c(conv) * sp.Rational(1000001, 1000000))
        out = CC.check_pretrain_optimum(vocabulary.Convention("gaussian-control", task_prior="gaussian"))
        assert not out.evidence[0].passed and out.evidence[0].kind == "symbolic"
        assert status_of(out.evidence, out.counterexample) == "refuted"
        return
    code = main(["check", "--convention", "gaussian-prior", "--only", "pretrain.optimum", "--format", "json"])
    res = json.loads(capsys.readouterr().out)
    assert res["claims"][0]["statuses"]["gaussian-prior"] == "refuted" and code == 1


def test_authors_formulas_table():
    from proofs_check.claims.conventions import authors_formulas
    rows = {r["where"]: r["verdicts"] for r in authors_formulas()}
    assert rows["OptParamGenerator.VQ('pretrain')"]["query-excluded"] == "exact at sigma2 = 0"
    assert rows["OptParamGenerator.VQ('pretrain')"]["default"] == "not exact"
    assert rows["VQ('zs_finetune')"]["anisotropic"].startswith("exact")


def test_export_latex_default_unchanged():
    from proofs_check.claims.conventions import convention_latex
    assert convention_latex(None) == "" and convention_latex("default") == ""
    assert "m + d" in convention_latex("query-excluded") or "d + m" in convention_latex("query-excluded")


def test_explore_finetune_export_under_a_convention(capsys, tmp_path):
    assert main(["explore", "pretrain.optimum", "--convention", "query-excluded", "--format", "json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert res["convention"] == "query-excluded" and res["counterexample"]["details"]["derived_c_star"] == \
        pytest.approx(20 / 26.5)
    assert main(["explore", "zsfs.all.tradeoff", "--convention", "query-excluded"]) == 2
    capsys.readouterr()
    assert main(["finetune", "--objective", "zs", "--train", "v", "--convention", "query-excluded",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["final"]["a"] == pytest.approx(1 / ((20 / 26.5) * 9), rel=1e-10) and out["final"]["b"] == 1.0
    path = tmp_path / "doc.tex"
    assert main(["export-latex", str(path), "--no-claims", "--convention", "anisotropic"]) == 0
    assert "Convention of this document: anisotropic" in path.read_text()
