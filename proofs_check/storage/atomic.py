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


def _not_writable(folder, exc: OSError) -> str:
    """The reason a write into ``folder`` failed, in the user's terms (the system's words
    in parentheses: ``/proc`` answers "No such file or directory" for a folder that exists)."""
    return f"folder {str(folder)!r} is not writable (the system says: {exc.strerror or exc})"


def _probe_writable(folder: Path) -> OSError | None:
    """Create and remove a temporary file in ``folder``; the error, or ``None``."""
    try:
        fd, name = tempfile.mkstemp(prefix=".iclft-probe.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return exc
    return None


def prepare_output(path, kind: str = "file", *, name: str = "path", create: bool = True) -> Path:
    """Check that ``path`` can be written, before any long computation.

    Rule: the target itself may be created, its parent folder must exist.  ``kind="file"``:
    ``path`` is a file (not an existing folder) in an existing, writable folder.
    ``kind="dir"``: ``path`` is an output folder; it is created when missing (its parent
    must exist and be writable) and must be writable.

    Every problem is one ``ValueError`` of the form ``NAME: cannot write 'PATH': REASON``
    with the user's path and what is wrong (the folder does not exist, is not writable, the
    target is of the wrong kind).

    Args:
        path: the user's path (``str`` or ``Path``).
        kind: ``"file"`` or ``"dir"``.
        name: how messages name the argument (``path`` in the API; the command line passes
            ``argument --out`` and the like).
        create: ``kind="dir"`` only: create a missing folder (``False``: only check that it
            could be created, for a check before the work that will create it).

    Returns:
        ``Path(path)``.

    Raises:
        ValueError: an empty path, a missing parent folder, a target of the wrong kind, or
            a folder that is not writable.
    """
    if kind not in ("file", "dir"):
        raise ValueError(f"kind must be 'file' or 'dir', got {kind!r}")
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"{name}: expected a non-empty file or folder path, got {path!r}")
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    head = f"{name}: cannot write {str(path)!r}"
    if not parent.is_dir():
        raise ValueError(f"{head}: folder {str(parent)!r} does not exist (create it first)")
    if kind == "file":
        if target.is_dir():
            raise ValueError(f"{head}: it is a folder, not a file")
        folder = parent
    else:
        if target.exists() and not target.is_dir():
            raise ValueError(f"{head}: it exists and is not a folder")
        folder = target
        if not target.exists():
            if not create:
                folder = parent
            else:
                try:
                    target.mkdir()
                except OSError as exc:
                    raise ValueError(f"{head}: {_not_writable(parent, exc)}") from None
    exc = _probe_writable(folder)
    if exc is not None:
        raise ValueError(f"{head}: {_not_writable(folder, exc)}")
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
            raise ValueError(f"path: cannot write {str(self.target)!r}: folder {str(folder)!r} does not exist")
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
