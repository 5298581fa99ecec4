"""Adding a claim touches its topic module only (and docs/theory.md, its statement).

A new :class:`~proofs_check.claims.claim.Claim` -- check, condition and all -- is appended to
one topic module's ``CLAIMS`` at test time and nothing else is touched: ``iclft check --only``,
``iclft check`` (one claim more), ``iclft explore`` and ``iclft export-latex`` pick it up,
and the worker balance counts it.  The other claims' checks are replaced by cheap passing
stubs (through the same ``CLAIMS`` lists) so that the whole report stays fast.

Conventions: see :mod:`proofs_check` (stated once there) and docs/theory.md section 1.
"""
import dataclasses
import importlib
import json

import pytest
from theory.symbols import d, m, sigma2

from proofs_check.claims import TOPIC_MODULES, claim_ids, gradients, registry
from proofs_check.claims.claim import Claim, Evidence, Findings
from proofs_check.claims.conditions import Condition
from proofs_check.claims.exact import c_star, exact, is_zero
from proofs_check.claims.parallel import worker_groups
from proofs_check.claims.search_evidence import search_items
from proofs_check.cli.main import main

NEW_ID = "gradients.c_star_below_one"


def _holds(cfg, _statement):
    cs = exact(c_star(), cfg)
    return bool(0 < cs < 1), {"c_star": str(cs)}


CONDITION = Condition(NEW_ID, _holds, d=1, m=1, N=0, statements=("paper",), examples=10)


def _check() -> Findings:
    gap = 1 - c_star() - d * (1 + sigma2) / (m + 1 + d * (1 + sigma2))
    ev = [Evidence("symbolic", "1 - c* = d(1+sigma2)/(m+1+d(1+sigma2)), positive", is_zero(gap))]
    return Findings(ev + search_items(CONDITION, refined=False)[0])


NEW = Claim(NEW_ID, "The pretrained c is below one", "The pretrained c* lies in (0, 1) on the whole domain.",
            r"0 < c^\star < 1", _check, condition=CONDITION)


def _stub() -> Findings:
    return Findings([Evidence("numeric", "stub of this test", True)])


@pytest.fixture
def added(monkeypatch):
    """The registry's ids before the new claim is added; the other checks become stubs."""
    for name in TOPIC_MODULES:
        mod = importlib.import_module(f"proofs_check.claims.{name}")
        monkeypatch.setattr(mod, "CLAIMS", [dataclasses.replace(c, check=_stub) for c in mod.CLAIMS])
    before = claim_ids()
    monkeypatch.setattr(gradients, "CLAIMS", gradients.CLAIMS + [NEW])
    return before


def _json(capsys, *argv):
    code = main(list(argv))
    return json.loads(capsys.readouterr().out), code


def test_check_only_runs_the_new_claim(added, capsys):
    out, code = _json(capsys, "check", "--only", NEW_ID, "--format", "json", "--jobs", "1")
    (claim,) = out["claims"]
    assert (claim["id"], claim["status"], code) == (NEW_ID, "verified", 0)
    assert [e["kind"] for e in claim["evidence"]] == ["symbolic", "search", "search"]


def test_check_reports_one_claim_more(added, capsys):
    out, code = _json(capsys, "check", "--format", "json", "--jobs", "1")
    ids = [c["id"] for c in out["claims"]]
    assert code == 0 and out["summary"]["total"] == len(added) + 1
    assert NEW_ID in ids and [i for i in ids if i != NEW_ID] == added
    assert any(NEW_ID in group for group in worker_groups(registry(), 2))


def test_explore_searches_the_new_condition(added, capsys):
    out, code = _json(capsys, "explore", NEW_ID, "--examples", "10", "--format", "json")
    assert (out["claim"], out["counterexample"], code) == (NEW_ID, None, 0)
    assert main(["explore", NEW_ID, "--statement", "derived"]) == 2
    assert "only the statement 'paper'" in capsys.readouterr().err


def test_export_latex_typesets_the_new_claim(added, tmp_path, capsys):
    path = tmp_path / "claims.tex"
    assert main(["export-latex", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert f"{len(added) + 1} claims" in text and "The pretrained c is below one" in text


def test_a_claim_refuses_inconsistent_parts():
    with pytest.raises(ValueError, match="condition"):
        dataclasses.replace(NEW, id="gradients.other")
    with pytest.raises(ValueError, match="expected"):
        dataclasses.replace(NEW, expected="refuted")
    with pytest.raises(ValueError, match="expected_reason"):
        dataclasses.replace(NEW, expected="refined")
