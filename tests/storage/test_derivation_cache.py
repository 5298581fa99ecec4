"""The on-disk cache of derived expressions: hit, miss, corrupt files, ``--no-cache``.

The cache holds derivations only; these tests check that what comes back is what was
derived, and that a damaged or foreign file is never unpickled.
"""
import pickle

import pytest
import sympy as sp

import theory
from proofs_check.storage import derivation_cache as dc
from proofs_check.cli.main import main
from theory import memo


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    saved = memo.snapshot()
    yield tmp_path
    memo.clear()
    memo.restore(saved)


@pytest.fixture
def cheap_build(monkeypatch):
    """``build_all`` replaced by a small real derivation (the cache logic is the same)."""
    calls = []

    def build():
        calls.append(1)
        theory.gradient("zs", "v", "merged")
    monkeypatch.setattr(theory, "build_all", build)
    return calls


def test_cache_dir_follows_xdg(cache_home, monkeypatch):
    assert dc.cache_dir() == cache_home / "iclft"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored (XDG spec)
    assert dc.cache_dir().name == "iclft" and dc.cache_dir().parent.name == ".cache"


def test_miss_then_hit_gives_the_derived_expressions(cache_home, cheap_build):
    memo.clear()
    assert dc.ensure_derived() == "miss"
    assert dc.cache_path().is_file() and len(cheap_build) == 1
    derived = theory.gradient("zs", "v", "merged").flow
    memo.clear()
    assert dc.ensure_derived() == "hit"
    assert len(cheap_build) == 1  # nothing re-derived
    key = next(k for k in memo.STORE if k[0].endswith("gradients.gradient") and k[1] == ("zs", "v", "merged"))
    assert memo.STORE[key].flow == derived
    # and equal to a fresh derivation
    memo.clear()
    fresh = theory.gradient("zs", "v", "merged").flow
    assert all(sp.expand(fresh[s] - derived[s]) == 0 for s in fresh)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty", "wrong_key"])
def test_corrupt_cache_is_rebuilt_never_trusted(cache_home, cheap_build, monkeypatch, damage):
    dc.ensure_derived()
    path = dc.cache_path()
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x04not a pickle at all" * 10)
    elif damage == "flip":  # payload byte changed: digest mismatch
        path.write_bytes(raw[:-5] + bytes([raw[-5] ^ 0xFF]) + raw[-4:])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a valid file written under another key
        dc.save(path, "0" * 64, {"x": 1})
    unpickled = []
    real_loads = pickle.loads
    monkeypatch.setattr(pickle, "loads", lambda b: unpickled.append(1) or real_loads(b))
    memo.clear()
    assert dc.load(path, dc.cache_key()) is None
    assert not unpickled  # the damaged payload was not unpickled
    assert dc.ensure_derived() == "rebuilt"
    assert len(cheap_build) == 2
    assert dc.load(path, dc.cache_key()) is not None


def test_no_cache_reads_and_writes_nothing(cache_home, cheap_build):
    assert dc.ensure_derived(use_cache=False) == "off"
    assert not (cache_home / "iclft").exists() and not cheap_build


def test_no_cache_flag_on_the_cli(cache_home, cheap_build, capsys):
    assert main(["derive", "--objective", "zs", "--train", "v", "--no-cache"]) == 0
    assert "grad_V[yt]" in capsys.readouterr().out
    assert not (cache_home / "iclft").exists()
    assert main(["derive", "--objective", "zs", "--train", "v"]) == 0
    assert dc.cache_path().is_file()


def test_unwritable_cache_folder_is_not_an_error(cache_home, cheap_build, monkeypatch):
    (cache_home / "iclft").write_text("a file where the folder should be")
    assert dc.ensure_derived() == "unsaved"


def test_every_derived_expression_round_trips_through_the_file(tmp_path):
    """The file stores sums and products by their arguments (``_Pickler``): every derived
    expression comes back with the same structure (equal, same hash, same ``srepr``).  A
    plain pickle does not always: it rebuilds ``2*(d + 2)`` through ``Mul``, which
    distributes it to ``2*d + 4``."""
    from proofs_check.storage.derivation_cache import ensure_derived

    ensure_derived(True)
    store = memo.snapshot()
    path = tmp_path / "d.pkl"
    dc.save(path, "k", store)
    back = dc.load(path, "k")
    assert back.keys() == store.keys()
    for k in store:
        assert back[k] == store[k]

    def exprs(v):
        if isinstance(v, sp.Basic):
            yield v
        elif isinstance(v, dict):
            for x in v.values():
                yield from exprs(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                yield from exprs(x)
        elif hasattr(v, "__dict__"):
            yield from exprs(vars(v))
    n = 0
    for k in store:
        for a, b in zip(exprs(store[k]), exprs(back[k])):
            assert hash(a) == hash(b) and sp.srepr(a) == sp.srepr(b)
            n += 1
    assert n > 100
