"""The exact start values ``iclft finetune`` prints for the matrices a subset does not train
(theory's derived ``c*`` at the configuration's decimals) are the start point numerics'
flows begin from (:func:`numerics.endpoints.pretrained_member`), in both forms and for
decimal pretrained scales: two routes, compared."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from numerics.endpoints import pretrained_member
from numerics.manifold import merged_coords, separate_coords
from proofs_check.cli.endpoint_text import vocab_name
from proofs_check.cli.finetune import exact_c, exact_start
from vocabulary import Config


def _value(text: str) -> float:
    """A printed exact value: ``p/q`` or ``sqrt(p/q)`` (parsed by hand: nothing is evaluated)."""
    if text.startswith("sqrt(") and text.endswith(")"):
        return math.sqrt(Fraction(text[5:-1]))
    return float(Fraction(text))


@pytest.mark.parametrize("form", ["merged", "separate"])
@pytest.mark.parametrize("cfg, scale", [(Config(5, 20, 20, 0.1, 1.0), 1.0), (Config(3, 7, 4, 0.35, 0.5), 0.5),
                                        (Config(2, 1, 0, 0.0, 2.0), 2.5)])
def test_exact_start_is_the_start_of_the_numerics_flow(form, cfg, scale):
    mats = pretrained_member(cfg.d, cfg.m, cfg.sigma2, form, scale)
    t0 = np.eye(cfg.d)[0]
    if form == "merged":
        want = merged_coords(mats["V"], mats["W"], t0).coeffs
    else:
        want = separate_coords(mats["V"], mats["K"], mats["Q"], t0).coeffs
    want = {vocab_name(k): float(v) for k, v in want.items()}
    got = exact_start(cfg, form, scale)
    assert set(got) == set(want)
    for name, text in got.items():
        assert _value(text) == pytest.approx(want[name], rel=1e-12, abs=1e-14), name


def test_exact_c_is_a_fraction_and_a_wrong_one_is_seen():
    cfg = Config(5, 20, 20, 0.1, 1.0)
    assert str(exact_c(cfg)) == "42/53"
    c = float(Fraction(str(exact_c(cfg))))
    numeric = pretrained_member(cfg.d, cfg.m, cfg.sigma2, "merged", 1.0)["W"][1, 1]
    assert c == pytest.approx(numeric, rel=1e-14)
    assert float(Fraction(43, 53)) != pytest.approx(numeric, rel=1e-6)  # the comparison can fail


def test_balanced_scale_has_no_exact_start():
    assert exact_start(Config(), "separate", "balanced") == {}
