"""The public API is documented and its examples run.

Every function exported by ``numerics``, ``theory`` and ``vocabulary`` documents its
arguments and its result (``Args:`` / ``Returns:``, as in optax), and the doctest examples of
the modules that define them run as part of the suite (``python -m pytest -q -n 2``).
"""
from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

PACKAGES = ("vocabulary", "numerics", "theory")


def _exports():
    for pkg_name in PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for name in pkg.__all__:
            yield pkg_name, name, getattr(pkg, name)


def _public_modules() -> list[str]:
    """Each package and every module that defines one of its exports."""
    mods = set(PACKAGES)
    for _, _, obj in _exports():
        mod = getattr(inspect.unwrap(obj), "__module__", None) if callable(obj) else None
        if mod and mod.split(".")[0] in PACKAGES:
            mods.add(mod)
    return sorted(mods)


FUNCTIONS = [(f"{p}.{n}", obj) for p, n, obj in _exports()
             if callable(obj) and not inspect.isclass(obj)]


@pytest.mark.parametrize("qualname, func", FUNCTIONS, ids=[q for q, _ in FUNCTIONS])
def test_public_function_documents_args_and_returns(qualname, func):
    doc = inspect.getdoc(func) or ""
    params = [p for p in inspect.signature(func).parameters.values()
              if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if params:
        assert "Args:" in doc, f"{qualname} does not document its arguments (Args:)"
    assert "Returns:" in doc, f"{qualname} does not document its result (Returns:)"


@pytest.mark.parametrize("qualname, func", [f for f in FUNCTIONS if f[0].startswith("numerics.")],
                         ids=[q for q, _ in FUNCTIONS if q.startswith("numerics.")])
def test_numerics_function_documents_its_value_errors(qualname, func):
    assert "Raises:" in (inspect.getdoc(func) or ""), f"{qualname} does not document what it raises (Raises:)"


def test_sigma2_default_difference_is_documented():
    """The API default sigma2 = 0.0 differs from the CLI's 0.1; each numerics function says so."""
    for qualname, func in FUNCTIONS:
        sig = inspect.signature(func)
        if "sigma2" in sig.parameters and sig.parameters["sigma2"].default == 0.0:
            doc = inspect.getdoc(func) or ""
            assert "0.1" in doc and "0.0" in doc, f"{qualname}: document the API/CLI sigma2 defaults"


@pytest.mark.parametrize("module_name", _public_modules())
def test_doctests(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {module_name}"


def test_every_package_has_examples():
    for pkg_name in PACKAGES:
        attempted = sum(doctest.testmod(importlib.import_module(m), verbose=False, report=False).attempted
                        for m in _public_modules() if m.split(".")[0] == pkg_name)
        assert attempted > 0, f"no doctest examples in {pkg_name}"
