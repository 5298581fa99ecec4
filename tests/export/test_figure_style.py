"""The figure style module, the paper-quality checks of every figure, and the staleness of the
committed docs figures.

* No text artist of any figure extends outside the figure (titles, captions, legends, tick
  labels), checked on real data at a small configuration; a planted outside text is caught.
* Every method of the vocabulary has a style; colours encode what is trained.
* ``docs/figures/MANIFEST.json``: each figure's code digest equals the digest of the code
  now (a figure older than its drawing code fails), and the data digests of the closed-form
  figures equal their recomputed data (a figure older than its numbers fails).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import vocabulary
from proofs_check.export import figure_manifest as FM
from proofs_check.export import figure_style as FS

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(d=2, m=5, N=5, sigma2=0.1, lam=1.0)


def test_every_vocabulary_method_has_a_distinct_style():
    seen = set()
    for name in vocabulary.METHODS:
        st = FS.method_style(name)
        assert st.label == vocabulary.METHODS[name].label
        key = (st.color, str(st.ls), st.marker, st.filled)
        assert key not in seen, name
        seen.add(key)
    with pytest.raises(ValueError, match="name"):
        FS.method_style("zs-x")


def test_caption_and_figure_sizes():
    assert FS.caption({"d": 5, "m": 20, "N": 20, "sigma2": 0.1, "lam": 1.0}, seeds=range(4)) == \
        r"$d=5$, $m=20$, $N=20$, $\sigma^2=0.1$, $\lambda=1$; seeds 0-3"
    assert FS.caption({"d": 3}, seeds=7, extra="x") == "$d=3$; seed 7; x"
    assert FS.figure(1, 2.0).get_size_inches()[0] == FS.COLUMN_WIDTH
    assert FS.figure(2, 2.0).get_size_inches()[0] == FS.TEXT_WIDTH
    for bad in ({"columns": 3}, {"height": 0}):
        with pytest.raises(ValueError):
            FS.figure(**bad)


def test_smoothed_is_the_bias_corrected_moving_average():
    y = np.array([1.0, 3.0, 2.0, np.nan, 5.0])
    w = 2 ** -1.0
    s = FS.smoothed(y, halflife=1.0)
    num, den, want = 0.0, 0.0, []
    for v in y:
        num, den = (w * num + v, w * den + 1) if np.isfinite(v) else (w * num, w * den)
        want.append(num / den)
    assert np.allclose(s, want)
    assert np.allclose(FS.smoothed(np.full(50, 2.5)), 2.5)


def test_text_outside_catches_a_planted_text():
    with FS.paper_style():
        fig = FS.figure(1, 2.0)
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1])
        FS.panel_title(ax, "a", "inside")
        assert FS.text_outside(fig) == []
        fig.text(0.95, 0.5, "a long text that runs off the right edge")
        assert len(FS.text_outside(fig)) == 1


@pytest.fixture(scope="module")
def small_figures():
    from proofs_check.export import figure_drawing as D
    from proofs_check.export import figures as F
    from vocabulary import Config
    cfg = Config(**SMALL)
    return {
        "icl_curves": D.draw_icl_curves(F.icl_curves_data(cfg, sgd=False)),
        "w_star": D.draw_w_star(F.w_star_data(cfg, Ns=(1, 12))),
        "flow_trajectories": D.draw_flow_trajectories(F.flow_trajectories_data(cfg, max_points=60)),
        "pretrained_threshold": D.draw_pretrained_threshold(F.pretrained_threshold_data(cfg, ds=(2, 3, 5))),
    }


def test_no_text_outside_any_figure(small_figures):
    for name, fig in small_figures.items():
        assert FS.text_outside(fig) == [], name
        w, _h = fig.get_size_inches()
        assert w in (FS.COLUMN_WIDTH, FS.TEXT_WIDTH), name
        for ax in fig.get_axes():
            if ax.get_visible():
                assert ax.get_title(loc="left").startswith("("), (name, "every panel titled")


def test_coinciding_curves_are_named_in_the_caption(small_figures):
    fig = small_figures["icl_curves"]
    text = fig.get_supxlabel()  # the caption line (FS.add_caption)
    assert "$d=2$" in text and "coincides with pretrained" in text  # ZS-W does not move


def test_escape_figure_has_no_text_outside():
    from proofs_check.export.escape_figure import draw_escape
    data = {"runs": {"symmetric start": {"t": [0.0, 0.1, 1.0, 10.0], "objective": [1.1, 1.0, 0.5, 0.4],
                                         "L_perp": [1.0, 1.1, 1.2, 1.2], "verdict": "saddle", "stop": "x"},
                     "perturbation 0.001": {"t": [0.0, 0.1, 1.0, 100.0], "objective": [1.1, 1.0, 0.4, 0.1],
                                            "L_perp": [1.0, 1.1, 1.5, 1.6], "verdict": "minimum", "stop": "x"}},
            "config": SMALL, "one_plus_sigma2": 1.1, "floor": 0.1, "n_eval": 40, "objective": "zs", "seed": 0}
    fig = draw_escape(data)
    assert FS.text_outside(fig) == []
    assert [ax.get_title(loc="left")[:3] for ax in fig.get_axes()] == ["(a)", "(b)"]


# --------------------------------------------------------------------------- staleness


def _manifest():
    path = ROOT / "docs" / "figures" / "MANIFEST.json"
    assert path.exists(), "run python docs/regenerate_figures.py"
    return json.loads(path.read_text())


def test_committed_figures_are_not_older_than_their_code():
    man = _manifest()
    assert set(man) == set(FM.drawers())
    stale = [name for name, entry in man.items() if entry["code"] != FM.code_digest(name)]
    assert not stale, f"figures drawn by older code: {stale}; run python docs/regenerate_figures.py"
    for entry in man.values():
        for f in entry["files"]:
            assert (ROOT / "docs" / "figures" / f).exists(), f


def test_committed_closed_form_figures_match_their_data():
    from proofs_check.export import figures as F
    man = _manifest()
    assert man["w_star"]["data"] == FM.data_digest(F.w_star_data()), "run python docs/regenerate_figures.py"
    assert man["pretrained_threshold"]["data"] == FM.data_digest(F.pretrained_threshold_data()), \
        "run python docs/regenerate_figures.py"


def test_data_digest_sees_real_changes_only():
    data = {"x": [0.123456789, 2.0], "seconds": 1.0, "n": 3}
    base = FM.data_digest(data)
    assert FM.data_digest({**data, "seconds": 99.0}) == base  # wall time is not data
    assert FM.data_digest({**data, "x": [0.123456789 * (1 + 1e-12), 2.0]}) == base  # last bits
    assert FM.data_digest({**data, "x": [0.1235, 2.0]}) != base
    assert FM.data_digest({**data, "n": 4}) != base
    with pytest.raises(ValueError, match="name"):
        FM.code_digest("nope")


def test_wrap_never_breaks_a_formula():
    text = "a b $c = d + e$ f " * 10
    out = FS.wrap(text.strip(), 20)
    for line in out.split("\n"):
        assert line.count("$") % 2 == 0 and (len(line) <= 20 or " " not in line.replace("$c = d + e$", "x"))


def _synthetic_experiment(runs: int = 3) -> dict:
    """A small result dict of ``iclft experiment`` with every key the figures read: two
    methods whose theory curves coincide (the overlap note), four tasks, a ladder."""
    rng = np.random.default_rng(0)
    shots = list(range(6))
    tasks = list(vocabulary.TASKS)

    def curves():
        return {t: list(np.exp(rng.normal(size=len(shots)))) for t in tasks}

    def entry(theory):
        c = curves()
        spread = {t: {"std": [0.1] * len(shots), "min": list(np.asarray(c[t]) * 0.8),
                      "max": list(np.asarray(c[t]) * 1.2)} for t in tasks}
        two = {t: c[t] for t in ("target", "negated")}
        return {"shots": shots, "curves": c, "spread": spread, "runs": runs, "evaluation": "exact",
                "theory": {"curves": theory, "start": "generic"}, "train_loss": list(np.exp(-np.linspace(0, 2, 50))
                                                                                 + 0.1 * rng.random(50)),
                "ladder": {"idealised": {"curves": two}, "same_data": {"curves": two}},
                "attribution": {"start": 1.0, "optimizer": 0.5, "data": 0.2, "noise": 0.3},
                "agreement": {"within": bool(rng.random() < 0.5)}}

    shared = curves()
    methods = {"zs-q": entry(shared), "zs-k": entry(shared), "zsfs-v": entry(curves())}
    cfg = dict(SMALL, heads=1, layers=1, form="separate", optimizer="sgd", finetune_steps=50, batch=8,
               lam_schedule="linear-decay", dataset_size=100, seed=0, seeds=runs, pretrain_seeds=1)
    return {"config": cfg, "methods": methods,
            "pretrained": {"train_loss": list(np.exp(-np.linspace(0, 3, 80)) + 0.1)}}


def test_experiment_figures_have_no_text_outside_and_titled_panels(tmp_path):
    from experiment.figures import (attribution_figure, draw_figures, draw_ladder_figures, ladder_figure,
                                    losses_figure, thetas_figure)

    result = _synthetic_experiment()
    with FS.paper_style():
        for make in (thetas_figure, losses_figure, ladder_figure, attribution_figure):
            fig = make(result)
            assert FS.text_outside(fig) == [], make.__name__
            visible = [ax for ax in fig.get_axes() if ax.get_visible()]
            assert all(ax.get_title(loc="left") or ax.get_title() for ax in visible), make.__name__
            assert r"$d=2$" in fig._supxlabel.get_text(), make.__name__
    cap = thetas_figure(result)._supxlabel.get_text()
    assert "equals that of" in cap  # the coinciding theory curves are named
    names = {p.name for p in draw_figures(tmp_path, result) + draw_ladder_figures(tmp_path, result)}
    assert names == {f"{n}.{x}" for n in ("linear_tf_thetas_qkv", "train_losses", "experiment_ladder",
                                          "experiment_attribution") for x in ("png", "pdf")}
