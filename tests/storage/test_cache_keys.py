"""The derivation cache key changes when any source it depends on changes.

``benchmarks/mutation.py`` (mutant R09) plants one bug of this class.
"""
from __future__ import annotations

import shutil

import sympy as sp


def test_derivation_cache_key_changes_with_every_source(tmp_path, monkeypatch):
    """The key of the derivation cache file changes when any file of ``theory`` or
    ``vocabulary`` changes (content, a new file), and with the SymPy and package versions."""
    import importlib.metadata

    import theory
    import vocabulary
    from proofs_check.storage.derivation_cache import cache_key

    for pkg in (theory, vocabulary):
        src = type(tmp_path)(pkg.__file__).parent
        dst = tmp_path / pkg.__name__
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.setattr(pkg, "__file__", str(dst / "__init__.py"))
    base = cache_key()
    assert cache_key() == base
    for pkg in ("theory", "vocabulary"):
        f = sorted((tmp_path / pkg).glob("*.py"))[-1]
        text = f.read_text()
        f.write_text(text + "\n# changed\n")
        assert cache_key() != base, f"an edit of {pkg}/{f.name} kept the key"
        f.write_text(text)
        assert cache_key() == base
        extra = tmp_path / pkg / "zz_new_module.py"
        extra.write_text("X = 1\n")
        assert cache_key() != base, f"a new file in {pkg} kept the key"
        extra.unlink()
    monkeypatch.setattr(sp, "__version__", sp.__version__ + ".post1")
    assert cache_key() != base
    monkeypatch.undo()
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "999.0")
    k = cache_key()
    monkeypatch.undo()
    assert k != cache_key()
