"""Atomic file output: write to a temporary file in the target folder, then rename.

An interrupted run (Ctrl-C, a crash) leaves either the old file or no file, never a
partial one.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_text_atomic", "write_bytes_atomic", "atomic_path"]


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
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=self.suffix + ".tmp", dir=folder)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        assert self.tmp is not None
        if exc_type is None:
            # mkstemp creates 0600; give the result the mode a plain open() would
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp, 0o666 & ~umask)
            os.replace(self.tmp, self.target)
        else:
            try:
                self.tmp.unlink()
            except FileNotFoundError:
                pass
        return False


def write_bytes_atomic(target, data: bytes) -> None:
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def write_text_atomic(target, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))
