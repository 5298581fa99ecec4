"""Atomic file output: write to a temporary file in the target folder, then rename.

An interrupted run (Ctrl-C, a crash) leaves either the old file or no file, never a
partial one.  Errors name the user's path, never the temporary file.

One rule for every command that writes (:func:`prepare_output`, called before any long
computation): the *target* may be created (a file, or an output folder), but its parent
folder must already exist; nothing else is created.  The folder that receives the files
must be writable, checked by creating and removing a probe file in it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic", "write_bytes_atomic", "atomic_path", "prepare_output"]


def _probe_writable(folder: Path, shown: str) -> None:
    """Create and remove a temporary file in ``folder``; an ``OSError`` names ``shown``."""
    try:
        fd, name = tempfile.mkstemp(prefix=".iclft-probe.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write into folder ({exc.strerror})", shown) from None


def prepare_output(path, kind: str = "file") -> Path:
    """Check that ``path`` can be written, before any long computation.

    Rule: the target itself may be created, its parent folder must exist.  ``kind="file"``:
    ``path`` is a file (not an existing folder) in an existing, writable folder.
    ``kind="dir"``: ``path`` is an output folder; it is created when missing (its parent
    must exist) and must be writable.

    Args:
        path: the user's path (``str`` or ``Path``).
        kind: ``"file"`` or ``"dir"``.

    Returns:
        ``Path(path)``.

    Raises:
        ValueError: an empty path, a missing parent folder, or a target of the wrong kind.
        OSError: the folder is not writable (``filename`` is the user's path).
    """
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"path must be a non-empty file or folder path, got {path!r}")
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"path: folder {str(parent)!r} does not exist (create it first)")
    if kind == "file":
        if target.is_dir():
            raise ValueError(f"path: {str(target)!r} is a folder, not a file")
        _probe_writable(parent, str(path))
    else:
        if target.exists() and not target.is_dir():
            raise ValueError(f"path: {str(target)!r} exists and is not a folder")
        if not target.exists():
            try:
                target.mkdir()
            except OSError as exc:
                raise OSError(exc.errno, f"cannot create folder ({exc.strerror})", str(path)) from None
        _probe_writable(target, str(path))
    return target


class atomic_path:
    """Context manager yielding a temporary path beside ``target``; on success it is
    renamed onto ``target``, on any exception it is removed."""

    def __init__(self, target, suffix: str = ""):
        self.target = Path(target)
        self.suffix = suffix or self.target.suffix
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        folder = self.target.parent if str(self.target.parent) else Path(".")
        if not folder.is_dir():
            raise ValueError(f"path: folder {str(folder)!r} does not exist")
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=self.suffix + ".tmp", dir=folder)
        except OSError as exc:  # name the user's path, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(self.target)) from None
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        assert self.tmp is not None
        if exc_type is None:
            # mkstemp creates 0600; give the result the mode a plain open() would
            umask = os.umask(0)
            os.umask(umask)
            try:
                os.chmod(self.tmp, 0o666 & ~umask)
                os.replace(self.tmp, self.target)
            except OSError as err:
                self._remove_tmp()
                raise OSError(err.errno, err.strerror, str(self.target)) from None
        else:
            self._remove_tmp()
            if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) == str(self.tmp):
                raise OSError(exc.errno, exc.strerror, str(self.target)) from None
        return False

    def _remove_tmp(self) -> None:
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


def write_bytes_atomic(target, data: bytes) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text_atomic(target, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))
