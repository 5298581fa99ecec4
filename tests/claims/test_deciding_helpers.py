"""Deciding helpers of the claims, fed negative cases and driven down every branch: the
exact-zero test and the aggregation of the explore conditions over the tasks.

``benchmarks/mutation.py`` (mutants R05, R07, R08) plants one bug of this class.
"""
from __future__ import annotations

import pytest
import sympy as sp


def test_is_zero_rejects_every_nonzero_constant_and_expression():
    from proofs_check.claims.exact import is_zero
    from theory.symbols import c, d, sigma2

    assert is_zero(0) and is_zero(d - d) and is_zero(c / (c + 1) - 1 + 1 / (c + 1))
    assert is_zero(sp.sqrt(2) * sp.sqrt(8) - 4)
    for nonzero in (1, sp.Rational(1, 10**30), -3, d / (d + 1) - 1, (c - d) ** 2 - c ** 2 + 2 * c * d - d ** 2 + 1,
                    sigma2 - sigma2 + sp.Rational(2, 7), sp.sqrt(2), sp.sqrt(d) - d, c - 1):
        assert not is_zero(nonzero), nonzero


@pytest.mark.parametrize("failing", [0, 1, 2, None])
def test_zs_all_condition_needs_every_task(monkeypatch, small_config, failing):
    """The statement of ``zs.all.icl_degraded`` holds only if the gap is positive on every
    task (``theta0``, ``-theta0``, ``theta_perp``): a failure on any one of them decides."""
    import proofs_check.claims.zs as zs
    from proofs_check.claims.explore import evaluate

    calls = []

    def fake(coeffs, lo):
        calls.append(len(calls))
        return (False, 7) if len(calls) - 1 == failing else (True, None)

    monkeypatch.setattr(zs, "poly_positive", fake)
    holds, det = evaluate("zs.all.icl_degraded", "paper", small_config)
    assert len(calls) == 3
    assert holds is (failing is None)
    for i, name in enumerate(("theta0", "-theta0", "theta_perp")):
        assert det[f"first_failing_n_{name}"] == (7 if i == failing else None)


@pytest.mark.parametrize("negative", [None, "theta0", "-theta0", "theta_perp", "sphere"])
def test_zs_v_condition_needs_b_positive_on_every_task(monkeypatch, small_config, negative):
    """paper: ``B > 0`` on every task and the sphere; derived: each task's far-out direction
    matches the sign of its ``B`` (one mismatch decides)."""
    import proofs_check.claims.zs as zs
    from proofs_check.claims.explore import evaluate

    B = {k: sp.Rational(1, 3) for k in ("theta0", "-theta0", "theta_perp", "sphere")}
    if negative:
        B[negative] = sp.Rational(-1, 5)
    monkeypatch.setattr(zs, "zs_v_B_values", lambda cfg: dict(B))
    dec = {k: True for k in ("theta0", "-theta0", "theta_perp")}
    monkeypatch.setattr(zs, "zs_v_decreasing_far_out", lambda cfg: dict(dec))
    cfg = small_config
    assert evaluate("zs.v.icl_preserved", "paper", cfg)[0] is (negative is None)
    derived = evaluate("zs.v.icl_preserved", "derived", cfg)[0]
    assert derived is (negative in (None, "sphere"))
