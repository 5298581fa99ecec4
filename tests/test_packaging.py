"""Packaging: the project installs and runs outside its source tree.

A wheel is built from a copy of the tracked files, installed with ``pip install --no-deps``
into a fresh virtual environment in a temporary folder (``--system-site-packages`` so that
the dependencies need not be downloaded), and ``iclft check --only pretrain.optimum`` runs
there from a temporary working directory.  The imported packages must come from the
virtual environment, not from the source tree (nor from an editable install of it).  A
second environment gets ``pip install SRC`` (non-editable) run from another directory.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("vocabulary", "theory", "numerics", "proofs_check")
PROBE = ("import sys, vocabulary, theory, numerics, proofs_check, proofs_check.claims; "
         "print('\\n'.join(m.__file__ for m in (vocabulary, theory, numerics, proofs_check, "
         "proofs_check.claims)))")


def _tracked_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [p for p in out.stdout.decode().split("\0") if p and (ROOT / p).is_file()]


def _copy_source(dest: Path) -> Path:
    """The tracked files only: no build/, *.egg-info or caches of the working tree."""
    src = dest / "src"
    for rel in _tracked_files():
        target = src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return src


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _run(cmd, cwd, timeout=600):
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"{cmd} exited {res.returncode}\nstdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    return res


def _venv(path: Path) -> Path:
    _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", path], cwd=path.parent)
    py = path / ("Scripts" if os.name == "nt" else "bin") / "python"
    assert py.exists()
    return py


def _check_installed(py: Path, venv: Path, cwd: Path) -> None:
    """The packages import from ``venv`` and ``iclft check --only pretrain.optimum`` exits 0."""
    files = _run([py, "-c", PROBE], cwd=cwd).stdout.split()
    assert len(files) == 5
    for f in files:
        resolved = Path(f).resolve()
        assert resolved.is_relative_to(venv.resolve()), f"{f} is not inside the venv {venv}"
        assert not resolved.is_relative_to(ROOT), f"{f} comes from the source tree"
    script = py.parent / "iclft"
    assert script.exists(), "the iclft console script was not installed"
    res = _run([script, "check", "--only", "pretrain.optimum"], cwd=cwd)
    assert "[VERIFIED] pretrain.optimum" in res.stdout


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_runs(tmp_path):
    src = _copy_source(tmp_path)
    dist = tmp_path / "dist"
    work = tmp_path / "elsewhere"
    work.mkdir()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, src], cwd=work)
    wheels = list(dist.glob("iclft-*.whl"))
    assert len(wheels) == 1, wheels
    # every tracked file of every package is in the wheel (Python modules and any data file)
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    missing = [rel for rel in _tracked_files() if rel.split("/")[0] in PACKAGES and rel not in names]
    assert not missing, f"files missing from the wheel: {missing}"

    venv = tmp_path / "venv"
    py = _venv(venv)
    _run([py, "-m", "pip", "install", "--no-deps", "--ignore-installed", wheels[0]], cwd=work)
    _check_installed(py, venv, work)


@pytest.mark.slow
def test_pip_install_of_the_source_folder_from_another_directory(tmp_path):
    src = _copy_source(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    venv = tmp_path / "venv"
    py = _venv(venv)
    _run([py, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--ignore-installed", src], cwd=work)
    _check_installed(py, venv, work)
