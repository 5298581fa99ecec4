"""LaTeX names, registry coverage and package-level API (the cold build time is measured by
``benchmarks/symbolic.py``, not by a timed test)."""
from __future__ import annotations


import pytest

import theory
import vocabulary
from theory.gradients import OBJECTIVE_NAMES, SUBSETS, gradient
from theory.printing import SYMBOL_NAMES, registry
from theory.symbols import LOSS_SYMBOLS, alpha, lam, sigma2


def test_package_exports():
    assert theory.expected_loss().free_symbols <= LOSS_SYMBOLS
    assert isinstance(theory.latex("zs"), str)


def test_readable_symbol_names():
    s = theory.latex(alpha * sigma2 ** 2 + lam)
    assert r"\alpha" in s and r"\sigma^{4}" in s and r"\lambda" in s
    assert r"\cdot" not in s and r"\sigma_{2}" not in s
    assert r"\kappa" in theory.latex("expected_loss") and r"\rho" in theory.latex("expected_loss")
    assert "sigma2" not in theory.latex("expected_loss")


def test_every_registered_name_renders_and_is_stable():
    for name in registry():
        first = theory.latex(name)
        assert first and first == theory.latex(name)


def test_every_gradient_renders():
    for obj in OBJECTIVE_NAMES:
        for form, subsets in SUBSETS.items():
            for sub in subsets:
                for mat in gradient(obj, sub, form).matrices:
                    s = theory.latex(f"grad.{obj}.{form}.{sub}.{mat}")
                    assert s.startswith(r"\nabla_{" + mat + "}")
    assert r"e_y t^\top" in theory.latex("grad.zs.merged.all.V")
    assert r"K_{\perp}" in theory.latex("grad.zs.separate.k.K") or r"\Pi" in theory.latex("grad.zs.separate.k.K")
    assert vocabulary.BASIS["yt"].tex_matrix in theory.latex("grad.zs.merged.all.V")


def test_unknown_names_are_rejected_not_parsed():
    with pytest.raises(ValueError):
        theory.latex("__import__('os').getcwd()")
    with pytest.raises(ValueError):
        theory.latex("a + b")
    with pytest.raises(ValueError):
        theory.latex("grad.zs.merged.v.W")  # W is not trained in subset v
    with pytest.raises(ValueError):
        theory.latex(3)


def test_symbol_names_cover_loss_symbols():
    assert LOSS_SYMBOLS <= set(SYMBOL_NAMES)
