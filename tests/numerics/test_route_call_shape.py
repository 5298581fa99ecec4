"""Every route of :mod:`numerics` from a method to its end point shares one call shape,
``(objective, form, train, config, *, options)`` with ``config`` a :class:`vocabulary.Config`
and no default for it: one table of routes, one test body per property."""
import inspect

import pytest

from numerics.endpoints import (generic_outcome, perturbed_outcome, pretrained_problem, reduced_flow,
                                symmetric_outcome)
from numerics.flow import full_matrix_flow, gradient_flow, setup_problem
from numerics.problem import Problem
from numerics.sgd import sgd_finetune
from vocabulary import Config

ROUTES = [gradient_flow, full_matrix_flow, setup_problem, reduced_flow, symmetric_outcome, generic_outcome,
          perturbed_outcome, pretrained_problem, sgd_finetune]
SHAPE = ["objective", "form", "train", "config"]


def _name(f):
    return f.__name__


@pytest.mark.parametrize("route", ROUTES, ids=_name)
def test_one_call_shape(route):
    params = list(inspect.signature(route).parameters.values())
    assert [p.name for p in params[:4]] == SHAPE
    assert all(p.default is inspect.Parameter.empty for p in params[:4])  # config is required
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[4:]), route.__name__


def test_problem_build_has_the_shape_then_the_matrices():
    params = list(inspect.signature(Problem.build).parameters.values())
    assert [p.name for p in params[:5]] == SHAPE + ["mats"]
    assert all(p.default is inspect.Parameter.empty for p in params[:5])
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[5:])


@pytest.mark.parametrize("config,match", [
    (None, "^config"), ({"d": 3, "m": 10, "N": 5, "sigma2": 0.1, "lam": 1.0}, "^config"),
    (Config(0, 10, 5, 0.1, 1.0), "^d "), (Config(3, -1, 5, 0.1, 1.0), "^m "), (Config(3, 10, 2.5, 0.1, 1.0), "^N "),
    (Config(3, 10, 5, -0.1, 1.0), "^sigma2 "), (Config(3, 10, 5, 0.1, float("nan")), "^lam "),
])
@pytest.mark.parametrize("route", ROUTES, ids=_name)
def test_a_bad_or_missing_config_is_refused_by_name(route, config, match):
    with pytest.raises(ValueError, match=match):
        route("zs", "merged", "all", config)
