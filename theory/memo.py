"""Memoisation of derived expressions, with a store that can be saved and restored.

``@derivation`` replaces ``functools.lru_cache(maxsize=None)`` on the functions that
derive expressions.  Every result lands in :data:`STORE` under
``(module.qualname, args, sorted kwargs)``; :func:`snapshot` returns a copy of it and
:func:`restore` puts a saved one back, so a caller (``proofs_check.storage.derivation_cache``)
can keep the derivations on disk.  A function with a ``convention`` parameter gets it as a
:class:`vocabulary.Convention` (a name is looked up); the key holds the whole convention
(plain data, so two conventions never share an entry), except today's, which is left out
so that the keys of the default derivations are those of a function without the parameter.  A restored value is exactly what the function returned
when it was derived; nothing else changes.
"""
from __future__ import annotations

import functools
import inspect

import vocabulary

__all__ = ["derivation", "STORE", "snapshot", "restore", "clear"]

#: (function id, args, kwargs) -> derived value
STORE: dict = {}


def derivation(fn):
    """Memoise ``fn`` in :data:`STORE` (arguments must be hashable).

    Args:
        fn: a deterministic function of hashable arguments.

    Returns:
        The memoised function (``cache_clear`` empties its entries).
    """
    name = f"{fn.__module__}.{fn.__qualname__}"
    sig = inspect.signature(fn)
    plain = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in sig.parameters.values())

    conventional = "convention" in sig.parameters

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if conventional:  # a convention is passed on as a vocabulary.Convention (by name or
            # object); today's is left out of the key, so default keys are those of before
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            conv = vocabulary.convention_named(bound.arguments["convention"])
            bound.arguments["convention"] = conv
            args, kwargs = bound.args, bound.kwargs
            vals = tuple(v for k, v in bound.arguments.items()
                         if k != "convention" or conv != vocabulary.DEFAULT_CONVENTION)
            key = (name, vals, ())
        elif plain:  # one key per call, however the arguments were spelled
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            key = (name, tuple(bound.arguments.values()), ())
        else:
            key = (name, args, tuple(sorted(kwargs.items())))
        try:
            return STORE[key]
        except KeyError:
            pass
        val = fn(*args, **kwargs)
        STORE[key] = val
        return val

    def cache_clear():
        for k in [k for k in STORE if k[0] == name]:
            del STORE[k]

    wrapper.cache_clear = cache_clear
    wrapper.derivation_name = name
    return wrapper


def snapshot() -> dict:
    """A shallow copy of :data:`STORE`.

    Returns:
        dict of every memoised derivation so far.
    """
    return dict(STORE)


def restore(saved: dict) -> None:
    """Add the entries of ``saved`` (a :func:`snapshot`) to :data:`STORE`.

    Args:
        saved: a dict as returned by :func:`snapshot`.

    Returns:
        None.
    """
    if not isinstance(saved, dict):
        raise ValueError(f"saved: expected a dict of derivations, got {type(saved).__name__}")
    STORE.update(saved)


def clear() -> None:
    """Forget every memoised derivation."""
    STORE.clear()
