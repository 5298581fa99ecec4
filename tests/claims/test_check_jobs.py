"""``iclft check --jobs J``: results in registry order, identical to ``--jobs 1`` apart
from the timings."""
import json
import re

import pytest

from proofs_check.cli.main import main
from proofs_check.claims.parallel import default_jobs, run_claims

IDS = ["zs.initial_gradient", "zs.w_only_stationary", "zs.all.icl_degraded"]


def _strip_times(obj):
    if isinstance(obj, dict):
        return {k: _strip_times(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [_strip_times(v) for v in obj]
    return obj


def _check(capsys, jobs, fmt):
    argv = ["check", "--jobs", str(jobs), "--format", fmt]
    for i in reversed(IDS):  # --only order does not matter: output follows the registry
        argv += ["--only", i]
    code = main(argv)
    return code, capsys.readouterr().out


def test_jobs_two_equals_jobs_one(capsys, monkeypatch):
    # each --jobs value runs the claims once; the text reports re-render those results
    import proofs_check.claims.parallel as parallel

    real, seen = parallel.run_claims, {}

    def once(claims, jobs, **kw):
        key = (tuple(c.id for c in claims), jobs)
        if key not in seen:
            seen[key] = real(claims, jobs=jobs, **kw)
        return seen[key]
    monkeypatch.setattr(parallel, "run_claims", once)
    c1, j1 = _check(capsys, 1, "json")
    c2, j2 = _check(capsys, 2, "json")
    assert c1 == c2 == 0
    d1, d2 = json.loads(j1), json.loads(j2)
    assert [c["id"] for c in d2["claims"]] == IDS
    assert _strip_times(d1) == _strip_times(d2)
    t1 = _check(capsys, 1, "text")[1]
    t2 = _check(capsys, 2, "text")[1]
    times = re.compile(r"\d+\.\d+ s\b")
    assert times.sub("T", t1) == times.sub("T", t2)


def test_bad_jobs(capsys):
    assert main(["check", "--jobs", "0"]) == 2
    with pytest.raises(ValueError):
        run_claims([], jobs=0)
    assert default_jobs() >= 1
