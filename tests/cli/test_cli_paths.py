"""Errors about one argument have one form on every command: exit 2, exactly one stderr
line ``iclft: error: argument NAME: ...``; an unwritable output names the user's path and
what is wrong (the folder does not exist, is not writable, the target has the wrong kind),
checked before any work."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proofs_check.storage.atomic import prepare_output
from proofs_check.cli.main import main

#: the commands that write, with the argument that names their output
WRITERS = [(["export-latex", "{}", "--no-claims"], "path", "file"),
           (["figures", "--out", "{}"], "--out", "dir"),
           (["experiment", "--out", "{}"], "--out", "dir")]


def _error_line(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, (code, captured.err)
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


def _argv(template, path) -> list[str]:
    return [a.format(path) for a in template]


@pytest.mark.parametrize("template, name, kind", WRITERS)
def test_missing_folder_names_the_argument_the_path_and_the_folder(capsys, tmp_path, template, name, kind):
    path = tmp_path / "no-such-folder" / ("x.tex" if kind == "file" else "out")
    line = _error_line(capsys, _argv(template, path))
    assert line == (f"iclft: error: argument {name}: cannot write {str(path)!r}: folder "
                    f"{str(path.parent)!r} does not exist (create it first)")
    assert not path.parent.exists()


@pytest.mark.parametrize("template, name, kind", WRITERS)
def test_target_of_the_wrong_kind(capsys, tmp_path, template, name, kind):
    if kind == "file":
        path, why = tmp_path, "it is a folder, not a file"
    else:
        path, why = tmp_path / "a-file", "it exists and is not a folder"
        path.write_text("x")
    line = _error_line(capsys, _argv(template, path))
    assert line == f"iclft: error: argument {name}: cannot write {str(path)!r}: {why}"


def _unwritable_folders(tmp_path) -> list[Path]:
    """Folders this process cannot create files in: ``/proc`` (Linux) and a read-only
    folder (unless the process, e.g. root, writes there anyway)."""
    found = []
    if _cannot_create_in(Path("/proc")):
        found.append(Path("/proc"))
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o555)
    if _cannot_create_in(ro):
        found.append(ro)
    return found


def _cannot_create_in(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    try:
        (folder / ".iclft-test-probe").mkdir()
    except OSError:
        return True
    (folder / ".iclft-test-probe").rmdir()
    return False


@pytest.mark.parametrize("template, name, kind", WRITERS)
def test_unwritable_folder_is_named_as_not_writable(capsys, tmp_path, template, name, kind):
    folders = _unwritable_folders(tmp_path)
    if not folders:
        pytest.skip("no folder on this machine refuses writes to this process")
    for folder in folders:
        for path in ([folder / "x.tex"] if kind == "file" else [folder / "out", folder]):
            line = _error_line(capsys, _argv(template, path))
            prefix = f"iclft: error: argument {name}: cannot write {str(path)!r}: folder "
            assert line.startswith(prefix), line
            assert line[len(prefix):].startswith(f"{str(folder)!r} is not writable (the system says: "), line
            assert not (folder / "out").exists()


@pytest.mark.parametrize("template, name, kind", WRITERS)
def test_refused_write_is_named_as_not_writable_on_any_machine(capsys, tmp_path, monkeypatch, template, name, kind):
    """A folder that refuses new files (simulated: root ignores permission bits)."""
    import errno

    import proofs_check.storage.atomic as atomic

    def refuse(*a, dir=None, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(dir) + "/.iclft-probe.x")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    path = tmp_path / ("x.tex" if kind == "file" else "out")
    line = _error_line(capsys, _argv(template, path))
    assert line == (f"iclft: error: argument {name}: cannot write {str(path)!r}: folder {str(tmp_path)!r} "
                    "is not writable (the system says: Permission denied)")
    assert not path.exists()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="no /proc on this system")
def test_export_latex_into_proc_from_a_real_process():
    """``export-latex /proc/x.tex`` (a folder that exists but takes no new file): the message
    names the path, the folder and that it is not writable, in one line, exit 2."""
    r = subprocess.run([sys.executable, "-m", "proofs_check", "export-latex", "/proc/x.tex"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("iclft: error: argument path: cannot write '/proc/x.tex': folder '/proc' "
                               "is not writable (the system says: "), r.stderr


@pytest.mark.parametrize("argv, name", [
    (["export-latex", ""], "path"),
    (["figures", "--out", ""], "--out"),
    (["check", "--only", "no.such.claim"], "--only"),
    (["finetune", "--objective", "zs", "--train", "kq", "--form", "merged"], "--train"),
    (["finetune", "--objective", "zs", "--train", "w", "--form", "separate"], "--train"),
    (["curve", "--method", "zs-k", "--task", "target"], "--method"),
    (["curve", "--method", "zs-v", "--task", "orthogonal", "--d", "1"], "--d"),
    (["curve", "--method", "nope", "--task", "target"], "--method"),  # argparse's own wording
])
def test_argument_errors_share_one_prefix(capsys, argv, name):
    assert _error_line(capsys, argv).startswith(f"iclft: error: argument {name}: ")


def test_a_check_before_the_work_creates_nothing(tmp_path):
    target = tmp_path / "out"
    assert prepare_output(target, "dir", create=False) == target
    assert not target.exists()
    assert prepare_output(target, "dir").is_dir()  # the work's own call creates it
    with pytest.raises(ValueError, match=r"^out_dir: cannot write '.*/x': it exists and is not a folder$"):
        (tmp_path / "x").write_text("")
        prepare_output(tmp_path / "x", "dir", name="out_dir")
