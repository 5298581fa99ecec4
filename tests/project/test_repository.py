"""Repository hygiene: the project stands alone.

No tracked file may cite a document that lives outside the repository (the project's
own theory document is ``docs/theory.md``).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# spelled in pieces so that this file does not match itself
FORBIDDEN = ("THEORY" + ".md", "INTERFACE" + ".md", ".." + "/shared")


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / p for p in out.stdout.decode().split("\0") if p]


def test_no_reference_to_files_outside_the_repository():
    hits = []
    for path in _tracked_files():
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary (figures)
        for lineno, line in enumerate(text.splitlines(), 1):
            for word in FORBIDDEN:
                if word in line:
                    hits.append(f"{path.relative_to(ROOT)}:{lineno}: {word}")
    assert not hits, "references to files outside the repository:\n" + "\n".join(hits)


def test_no_work_reports_inside_the_packages():
    """Design notes live in docs/; reports about the work belong in issue notes."""
    found = [p.relative_to(ROOT) for pkg in ("vocabulary", "theory", "numerics", "proofs_check")
             for p in (ROOT / pkg).rglob("*NOTES*.md")]
    assert not found, f"work reports inside the packages: {found}"


def test_theory_document_states_every_registered_claim():
    """docs/theory.md lists each registry id (and no id the registry does not have)."""
    from proofs_check.claims import claim_ids

    text = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")
    section = text.split("## 5.", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"\*\*`([a-z_.]+)`\*\*", section)
    assert sorted(documented) == sorted(claim_ids())


def test_every_mutant_of_the_mutation_benchmark_still_applies():
    """``benchmarks/mutation.py`` plants each mutant by replacing a line that must occur
    exactly once; a rewrite of that line would silently drop the mutant from the table."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mutation_benchmark", ROOT / "benchmarks" / "mutation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    stale = [m["id"] for m in mod.mutants() if (ROOT / m["file"]).read_text().count(m["old"]) != 1]
    assert not stale, f"mutants whose old text no longer occurs exactly once: {stale}"


def test_readme_claim_counts_match_the_registry():
    """The README's prose counts (claims, verified, refined) and its list of refined claims are
    the registry's (``Claim.expected``)."""
    import re

    from proofs_check.claims import registry

    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    claims = registry()
    refined = [c.id for c in claims if c.expected == "refined"]
    total, n_ref = len(claims), len(refined)
    assert f"every one of the {total} claims" in text
    assert f"`iclft check` runs all {total} claims" in text
    m = re.search(r"Today (\d+) claims are verified and (\d+) refined \(([^)]*)\)", text)
    assert m and (int(m[1]), int(m[2])) == (total - n_ref, n_ref)
    assert re.findall(r"`([a-z_.]+)`", m[3]) == refined
    assert f"{total - n_ref} claims verify and {n_ref} are refined" in text


def test_every_test_the_mutation_benchmark_and_readme_name_exists():
    """The test files each mutant runs (``benchmarks/mutation.py``) and the test ids of the
    README's mutation table exist: pytest on a missing file fails, which the benchmark would
    count as a kill."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("mutation_benchmark", ROOT / "benchmarks" / "mutation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    missing = [f"{m['id']}: {f}" for m in mod.mutants() for f in m["tests"] if not (ROOT / f).is_file()]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path, name in set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", readme)):
        if not (ROOT / path).is_file() or not re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M):
            missing.append(f"README: {path}::{name}")
    assert not missing, missing
