"""Every name ``theory`` advertises (the registry, the gradient names, the objectives)
works in every function that takes names, and a bad name is refused with the advertised form."""
import pytest


def test_every_advertised_name_works_in_every_function_that_takes_names():
    import sympy as sp

    import theory

    names = list(theory.registry()) + list(theory.gradient_names())
    assert "grad.zsfs.merged.v.V" in names
    for name in names:
        expr = theory.derived(name)
        assert isinstance(expr, (sp.Basic, sp.MatrixBase)), name
        assert isinstance(theory.latex(name), str) and theory.latex(name), name
    import vocabulary

    for name in vocabulary.OBJECTIVES:  # theory.objective takes every objective name
        assert isinstance(theory.objective(name), sp.Basic), name
    # the error message advertises exactly these
    with pytest.raises(ValueError, match=r"grad\.<objective>\.<form>\.<subset>\.<matrix>"):
        theory.derived("nope")
    with pytest.raises(ValueError):
        theory.derived("grad.zs.merged.v.W")  # W is not trained by v
