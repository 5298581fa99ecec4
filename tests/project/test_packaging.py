"""Packaging: the project installs and runs outside its source tree.

A wheel is built from a copy of the tracked files, installed with ``pip install --no-deps``
into a fresh virtual environment in a temporary folder, and ``iclft check --only
pretrain.optimum`` runs there from a temporary working directory.  The imported packages
must come from the virtual environment, not from the source tree (nor from an editable
install of it).  A second environment gets ``pip install SRC`` (non-editable) run from
another directory.

Nothing here depends on the host's site-packages: builds use pip's build isolation (the
``[build-system]`` requirements of pyproject.toml are fetched from the package index, which
the README's own install needs anyway), and each fresh environment is made *without* the
system site packages and without pip.  So that the runtime dependencies (NumPy, SymPy, ...)
and pip need not be downloaded or installed again, a ``.pth`` file in the fresh environment
appends the site-packages folders the running test process imports them from (the test
environment of the README's install; pip run from there installs into the fresh one);
path lines of a ``.pth`` file do not run the ``.pth`` files found there, so the editable
install of the source tree stays invisible, and pip's isolated builds drop those folders too.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("vocabulary", "theory", "numerics", "proofs_check")
#: the runtime dependencies (pyproject.toml) and pip: the fresh environments borrow their folders
DEPENDENCIES = ("sympy", "numpy", "scipy", "hypothesis", "tqdm", "matplotlib", "pip")
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


def _dependency_folders() -> list[Path]:
    """The site-packages folders this test process imports the runtime dependencies from."""
    folders: list[Path] = []
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is not installed in the test environment"
        folder = Path(spec.origin).resolve().parent.parent
        assert not folder.is_relative_to(ROOT), f"{name} is imported from the source tree ({folder})"
        if folder not in folders:
            folders.append(folder)
    return folders


def _venv(path: Path) -> Path:
    """A fresh environment without the system site packages that sees the test environment's
    dependencies (and pip) through a ``.pth`` file."""
    _run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent)
    py = path / ("Scripts" if os.name == "nt" else "bin") / "python"
    assert py.exists()
    cfg = (path / "pyvenv.cfg").read_text(encoding="utf-8")
    assert "include-system-site-packages = false" in cfg, cfg
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=path.parent).stdout.strip())
    borrowed = _dependency_folders()
    (purelib / "iclft_test_dependencies.pth").write_text("".join(f"{f}\n" for f in borrowed),
                                                           encoding="utf-8")
    # no other site-packages (the host's, a user site) is on the fresh environment's path
    paths = _run([py, "-c", "import sys; print('\\n'.join(sys.path))"], cwd=path.parent).stdout.split("\n")
    for entry in filter(None, paths):
        p = Path(entry).resolve()
        if p.name in ("site-packages", "dist-packages"):
            assert p.is_relative_to(path.resolve()) or p in borrowed, f"{p} leaks into the fresh venv"
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
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", dist, src], cwd=work)
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
    _run([py, "-m", "pip", "install", "--no-deps", "--ignore-installed", src], cwd=work)
    _check_installed(py, venv, work)
