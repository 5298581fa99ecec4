"""Negative controls: a weakened comparison turns its claim ``refuted`` inside ``iclft check``.

Each grid comparison of a claim (``proofs_check/claims/controls.py``) is run on the real route
and once more with an error of 100x its tolerance planted at the last configuration of its
grid; the control item passes only when the planted run fails.  Here each comparison is
weakened in-process, the way a lenient bug would weaken it (a tolerance loosened, a value
compared with itself, a loop over the first four configurations only): the weakened function
is the comparison's own source with one token replaced, compiled in its module and
monkeypatched in.  The real item still passes (the code is correct), so only the negative
control can notice: it must fail, the claim must be ``refuted`` and ``iclft check --only ID``
must exit 1.

Conventions: token ``z = (1, x, y)``, normalisation by ``n+1``, ``W`` acting on the query.
"""
import inspect
import json
import sys
import textwrap

import pytest

import numerics
from proofs_check.cli import main as cli
from proofs_check.claims import controls, registry
from proofs_check.claims import zs as zero_shot
from vocabulary import Config
from proofs_check.claims.claim import Evidence
from vocabulary import GRID


def _weakened(monkeypatch, mod, name, old, new):
    """Replace ``mod.name`` by its own source with ``old`` (occurring once) replaced by ``new``."""
    src = textwrap.dedent(inspect.getsource(getattr(mod, name)))
    assert src.count(old) == 1, f"{name}: {old!r} occurs {src.count(old)} times"
    ns = dict(vars(mod))
    exec(compile(src.replace(old, new), f"<weakened {mod.__name__}.{name}>", "exec"), ns)
    monkeypatch.setattr(mod, name, ns[name])


def _topic_modules():
    """The topic modules of the registered claims."""
    return list(dict.fromkeys(sys.modules[c.check.__module__] for c in registry()))


def _skip_slow_routes(monkeypatch):
    """The sampled, stability and search items are not under test here: replace them by cheap
    passing ones in every topic module that uses them."""
    skipped = Evidence("monte-carlo", "skipped in this test", True)
    monkeypatch.setattr(numerics, "monte_carlo_pretrain_loss", lambda V, W, m, s2, samples, seed: (
        numerics.pretrain_loss(V, W, m, s2), 1.0))
    monkeypatch.setattr(numerics, "monte_carlo_loss", lambda V, W, t, n, s2, samples, seed: (
        numerics.expected_loss(V, W, t, n, s2), 1.0))
    for mod in _topic_modules():
        for name in ("sgd_endpoint_evidence", "verdict_evidence"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, lambda *a, **k: skipped)
        # the domain searches have their own controls (tests/claims/test_verdict_search.py)
        if hasattr(mod, "search_items"):
            monkeypatch.setattr(mod, "search_items", lambda *a, **k: ([skipped], None))


#: (claim, module, comparison, old text, weakened text, what the weakening is), read off the
#: registry: each claim's ``weakenings``
WEAKENINGS = [(c.id, sys.modules[w.comparison.__module__], w.comparison.__name__, w.old, w.new, w.what)
              for c in registry() for w in c.weakenings]


def test_weakenings_name_the_comparisons_their_checks_call():
    """Each weakening's comparison is the module attribute its check calls, so that
    monkeypatching the weakened source reaches the check; every kind occurs."""
    assert {w[5] for w in WEAKENINGS} == {"tolerance", "self", "grid"}
    for c in registry():
        for w in c.weakenings:
            assert getattr(sys.modules[w.comparison.__module__], w.comparison.__name__) is w.comparison


def _run(capsys, claim_id):
    code = cli.main(["check", "--only", claim_id, "--format", "json"])
    (claim,) = json.loads(capsys.readouterr().out)["claims"]
    return claim, code


@pytest.mark.parametrize("claim_id", sorted({w[0] for w in WEAKENINGS}))
def test_controls_pass_on_the_real_comparisons(monkeypatch, capsys, claim_id):
    """Unweakened, every negative control passes (its planted run failed) and the claim verifies."""
    _skip_slow_routes(monkeypatch)
    claim, code = _run(capsys, claim_id)
    ctl = [e for e in claim["evidence"] if e["description"].startswith("negative control:")]
    assert ctl and all(e["passed"] and e["asserted"] for e in ctl)
    assert all(e["details"]["planted_run_passed"] is False for e in ctl)
    assert claim["status"] in ("verified", "refined") and code == 0


@pytest.mark.parametrize("claim_id, mod, name, old, new, what", WEAKENINGS,
                         ids=[f"{w[2]}-{w[5]}-{i}" for i, w in enumerate(WEAKENINGS)])
def test_weakened_comparison_is_caught_by_its_control(monkeypatch, capsys, claim_id, mod, name, old, new, what):
    _skip_slow_routes(monkeypatch)
    _weakened(monkeypatch, mod, name, old, new)
    claim, code = _run(capsys, claim_id)
    assert (claim["status"], code) == ("refuted", 1)
    failed = [e for e in claim["evidence"] if e["asserted"] and not e["passed"]]
    # correct code still passes the weakened item itself: only a negative control can fail
    assert failed and all(e["description"].startswith("negative control:") for e in failed)
    assert all(e["details"]["planted_run_passed"] is True for e in failed)


def test_weakened_check_exits_1_in_text_format(monkeypatch, capsys):
    """The text report marks the failing control and ``iclft check`` exits 1."""
    _skip_slow_routes(monkeypatch)
    _weakened(monkeypatch, zero_shot, "_zs_v_endpoints", "worst < 1e-6", "worst < 1e-2")
    assert cli.main(["check", "--only", "zs.v.optimum"]) == 1
    out = capsys.readouterr().out
    assert "[REFUTED ] zs.v.optimum" in out
    assert "FAIL [numeric] negative control:" in out


# ----------------------------------------------------------------------------- the helpers themselves
def test_recorded_route_is_computed_once_per_config():
    calls = []
    r = controls.Recorded(lambda cfg: calls.append(cfg) or cfg.d)
    assert [r(g) for g in (GRID[0], GRID[1], GRID[0])] == [GRID[0].d, GRID[1].d, GRID[0].d]
    assert calls == [GRID[0], GRID[1]]


def test_planted_route_differs_only_at_its_config():
    route = controls.planted(lambda cfg: float(cfg.d), GRID[-1], lambda v: v + 1.0)
    assert [route(g) for g in GRID[:-1]] == [float(g.d) for g in GRID[:-1]]
    assert route(GRID[-1]) == GRID[-1].d + 1.0


@pytest.mark.parametrize("visits, tol, passed", [(GRID, 1e-6, True), (GRID[:4], 1e-6, False), (GRID, 1e-2, False)])
def test_negative_control_passes_only_when_the_planted_run_fails(visits, tol, passed):
    """A toy comparison ``max |route| < tol`` over ``visits``, error 1e-4 planted at GRID[-1]."""
    def compare(route):
        worst = max(abs(route(g)) for g in visits)
        return worst < tol, {"worst": worst}
    ev = controls.negative_control("numeric", "'toy'", compare, lambda cfg: 0.0, GRID[-1],
                                   lambda v: v + 1e-4, "on the toy route", 1e-4)
    assert ev.passed is passed and ev.asserted and ev.kind == "numeric"
    assert ev.description.startswith("negative control: 'toy' rejects a planted error of size 0.0001")
    assert ev.details["planted_run_passed"] is (not passed)


def test_config_text():
    assert controls.config_text(Config(10, 40, 20, 0.5, 4.0)) == "d=10, m=40, N=20, sigma2=0.5, lam=4"
