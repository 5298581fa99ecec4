"""Atomic output: an interrupted or failed write leaves no partial file and keeps the old one;
a missing folder is refused; the file gets the usual mode."""
import pytest

from proofs_check.storage.atomic import atomic_path, write_text_atomic


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.tex"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half a document")
            raise KeyboardInterrupt
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    write_text_atomic(target, "complete")
    assert target.read_text() == "complete" and len(list(tmp_path.iterdir())) == 1


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "fig.png"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("new but unfinished")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_atomic_write_rejects_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="path"):
        write_text_atomic(tmp_path / "nope" / "x.tex", "x")


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    import os
    umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "x.tex", "x")
        assert (tmp_path / "x.tex").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(umask)
