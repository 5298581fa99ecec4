"""Shared pytest configuration: a fixed, derandomised hypothesis profile for CI, and the
fixtures several test folders use (the command line run in-process, a small configuration,
the fine-tuning problem at the pretrained point)."""
import json
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

from proofs_check.cli.main import main  # noqa: E402
from vocabulary import Config  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _derived_expressions():
    """Every derived expression once per session: loaded from the on-disk cache of
    ``proofs_check.storage.derivation_cache`` (keyed by the theory sources) or derived and saved;
    tests of the derivation itself clear and re-derive what they check."""
    from proofs_check.storage.derivation_cache import ensure_derived

    ensure_derived(True)


@pytest.fixture
def run_cli(capsys):
    """``run_cli(argv) -> (exit code, stdout, stderr)``: ``iclft ARGV`` run in-process."""
    def run(argv):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


@pytest.fixture
def cli_json(run_cli):
    """``cli_json(argv) -> dict``: ``iclft ARGV`` run in-process; it must exit 0, and its
    standard output is parsed as JSON."""
    def run(argv):
        code, out, err = run_cli(argv)
        assert code == 0, err
        return json.loads(out)
    return run


@pytest.fixture
def small_config():
    """A small configuration away from every edge: ``d = 3, m = 5, N = 2, sigma2 = 0.1, lam = 1``."""
    return Config(3, 5, 2, 0.1, 1.0)

