"""Shared pytest configuration: a fixed, derandomised hypothesis profile for CI."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _derived_expressions():
    """Every derived expression once per session: loaded from the on-disk cache of
    ``proofs_check.storage.derivation_cache`` (keyed by the theory sources) or derived and saved;
    tests of the derivation itself clear and re-derive what they check."""
    from proofs_check.storage.derivation_cache import ensure_derived

    ensure_derived(True)
