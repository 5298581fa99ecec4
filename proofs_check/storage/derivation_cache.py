"""An on-disk cache of the derived SymPy expressions (never of verdicts).

Deriving every expression (``theory.build_all``) takes seconds; loading them takes a
fraction of that.  The cache file lives in ``$XDG_CACHE_HOME/iclft`` (else
``~/.cache/iclft``) and holds a pickle of :data:`theory.memo.STORE` after
``build_all``.  It is keyed by the package version, the SymPy and Python versions and a
SHA-256 of every source file of ``theory`` and ``vocabulary``: a change to the derivation
code changes the key, and a file with another key is a miss.

Layout of a cache file: ``MAGIC``, one line of JSON header ``{"key", "sha256", "size"}``,
then the pickle payload.  A file whose magic, key, size or payload digest does not match
(truncated, garbage, another version) is treated as a miss, rebuilt and rewritten: its
payload is never unpickled.  Files are written atomically.  Claims still re-check every
statement from these expressions; only the derivation step is cached.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import pickle
import sys
from pathlib import Path

from proofs_check.storage.atomic import write_bytes_atomic

__all__ = ["MAGIC", "cache_dir", "cache_key", "cache_path", "load", "save", "ensure_derived"]

#: the first bytes of a cache file (the format's version)
MAGIC = b"iclft-derivations-v2\n"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/iclft`` if ``XDG_CACHE_HOME`` is set (and absolute), else
    ``~/.cache/iclft``.

    Returns:
        The folder (not created here).
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "iclft"


def _version() -> str:
    try:
        return importlib.metadata.version("iclft")
    except Exception:  # not installed: the source hash still keys the cache
        return "0+unknown"


def cache_key() -> str:
    """SHA-256 over the package version, the SymPy and Python versions and the sources of
    ``theory`` and ``vocabulary`` (file names and contents, in sorted order).

    Returns:
        64 hex digits.
    """
    import sympy  # deferred: SymPy and theory are not loaded at the CLI's start-up

    import theory  # deferred: as above
    import vocabulary  # deferred: only its source files are read; as above

    h = hashlib.sha256()
    h.update(f"iclft {_version()} sympy {sympy.__version__} python {sys.version_info[:3]}\n".encode())
    for pkg in (theory, vocabulary):
        root = Path(pkg.__file__).parent
        for f in sorted(root.rglob("*.py")):
            h.update(f"{pkg.__name__}/{f.relative_to(root).as_posix()}\n".encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def cache_path(key: str | None = None) -> Path:
    """The cache file for ``key`` (default :func:`cache_key`).

    Args:
        key: a cache key, or None for the current one.

    Returns:
        ``cache_dir() / "derived-<first 16 hex digits>.pkl"``.
    """
    key = cache_key() if key is None else key
    return cache_dir() / f"derived-{key[:16]}.pkl"


def load(path: Path, key: str) -> dict | None:
    """The saved derivations in ``path`` if the file is intact and has ``key``, else None.

    Args:
        path: the cache file.
        key: the expected :func:`cache_key`.

    Returns:
        The dict saved by :func:`save`, or None on any mismatch or read error.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return None
    if not raw.startswith(MAGIC):
        return None
    nl = raw.find(b"\n", len(MAGIC))
    if nl < 0:
        return None
    try:
        head = json.loads(raw[len(MAGIC):nl].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    payload = raw[nl + 1:]
    if not isinstance(head, dict) or head.get("key") != key or head.get("size") != len(payload) \
            or head.get("sha256") != hashlib.sha256(payload).hexdigest():
        return None
    try:
        data = pickle.loads(payload)
    except Exception:
        return None
    return data if isinstance(data, dict) else None


class _Pickler(pickle.Pickler):
    """Pickles a sum or product as ``Add._from_args(args)`` / ``Mul._from_args(args)``: its
    saved arguments are already canonical, so loading skips SymPy's flattening and
    ordering (the loaded expressions equal the derived ones, ``tests/storage/test_derivation_cache.py``)."""

    def reducer_override(self, obj):
        import sympy as sp  # deferred: SymPy is not loaded at the CLI's start-up

        if type(obj) is sp.Add or type(obj) is sp.Mul:
            return type(obj)._from_args, (obj.args,)
        return NotImplemented


def save(path: Path, key: str, store: dict) -> None:
    """Write ``store`` to ``path`` atomically, under ``key``.

    Args:
        path: the cache file (its folder is created).
        key: the :func:`cache_key`.
        store: a :func:`theory.memo.snapshot`.

    Returns:
        None.
    """
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(store)
    payload = buf.getvalue()
    head = json.dumps({"key": key, "sha256": hashlib.sha256(payload).hexdigest(), "size": len(payload)})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, MAGIC + head.encode("utf-8") + b"\n" + payload)


def ensure_derived(use_cache: bool = True) -> str:
    """Make every derived expression available in this process.

    With ``use_cache``: load the cache file if it is intact and current ("hit"); otherwise
    derive everything (``theory.build_all``) and write the file ("miss" or "rebuilt" when
    a damaged or stale file was there).  A cache folder that cannot be written is not an
    error: the derivations are simply not saved ("unsaved").  Without ``use_cache``
    nothing is read or written and expressions are derived on demand ("off").

    Args:
        use_cache: read and write the on-disk cache.

    Returns:
        One of ``"hit"``, ``"miss"``, ``"rebuilt"``, ``"unsaved"``, ``"off"``.
    """
    if not use_cache:
        return "off"
    import theory  # deferred: SymPy and theory are not loaded at the CLI's start-up
    from theory import memo  # deferred: as above

    key = cache_key()
    path = cache_path(key)
    data = load(path, key)
    if data is not None:
        memo.restore(data)
        return "hit"
    existed = path.exists()
    theory.build_all()
    try:
        save(path, key, memo.snapshot())
    except (OSError, ValueError):
        return "unsaved"
    return "rebuilt" if existed else "miss"
