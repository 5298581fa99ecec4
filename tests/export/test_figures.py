"""``proofs_check.export.figures``: files written, plotted numbers checked against independent
computations, atomic output under interruption.
"""
import struct

import numpy as np
import pytest

import numerics
from numerics.flow import pretrained_c, pretrained_point
from proofs_check.export import figure_drawing, figures
import vocabulary
from vocabulary import Config

CFG = Config()  # d=5, m=20, N=20, sigma2=0.1, lam=1
PNG_SIG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    paths, data = figures.make_figures(out, CFG, sgd=False, return_data=True)
    return out, paths, data


# ----------------------------------------------------------------------------- files
def test_make_figures_writes_eight_files(written):
    out, paths, _ = written
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{n}.{e}" for n in figures.FIGURES for e in ("png", "pdf"))
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary file left over
    assert all(p.stat().st_size > 10_000 for p in paths)
    for p in paths:
        head = p.read_bytes()[:8]
        if p.suffix == ".png":
            assert head == PNG_SIG
        else:
            assert head.startswith(b"%PDF")


def test_png_resolution_is_150_dpi(written):
    out, _, _ = written
    raw = (out / "icl_curves.png").read_bytes()
    width, height = struct.unpack(">II", raw[16:24])  # IHDR
    from proofs_check.export.figure_style import TEXT_WIDTH
    assert width == round(TEXT_WIDTH * 150) and 300 < height < 900  # two-column paper width at 150 dpi


def test_output_folder_is_created(tmp_path):
    fig = figure_drawing.draw_w_star(figures.w_star_data(CFG, Ns=(1, 3)))
    target = tmp_path / "a"
    paths = figures.save_figure(fig, figures._prepare_out(target), "w")
    assert [p.name for p in paths] == ["w.png", "w.pdf"]
    # the shared rule (proofs_check.storage.atomic.prepare_output): the parent must exist
    with pytest.raises(ValueError, match="does not exist"):
        figures._prepare_out(tmp_path / "b" / "c")


# ----------------------------------------------------------------------------- figure 1
def _e(d, i, sign=1.0):
    v = np.zeros(d)
    v[i] = sign
    return v


def _closed_form_end_points():
    """End points derived by ``theory.optima`` (independent of the figure's flows): the
    pretrained point at c*, V-only ZS, full ZS (positive root of a^4 + d c^2 a^2 - 1), V-only
    ZS + lam FS; floats of the exact values at CFG."""
    import sympy as sp

    from proofs_check.claims.exact import exact
    from theory import optima
    from theory.symbols import a, b, c

    cs = exact(optima.pretrain_c_star(), CFG)
    pre = {"a": 0.0, "b": 1.0, "q": 0.0, "alpha": float(cs), "beta": float(cs), "h": 0.0}
    a_zs = float(exact(optima.zs_v_optimum()[a], CFG, {c: cs}))
    a_all = float(sp.N(exact(optima.zs_all_flow_limit()["a"], CFG, {c: cs}), 30))
    opt = optima.zsfs_v_optimum()
    return {"pretrained": pre, "zs-v": {**pre, "a": a_zs},
            "zs-all": {"a": a_all, "b": 1.0, "q": 1 / a_all, "alpha": 0.0, "beta": 0.0, "h": 0.0},
            "zsfs-v": {**pre, "a": float(exact(opt[a], CFG, {c: cs})), "b": float(exact(opt[b], CFG, {c: cs}))}}


def test_icl_curves_equal_the_derived_loss_at_closed_form_end_points(written):
    """The plotted values against routes the figure does not use: the SymPy-derived loss
    polynomial (evaluated exactly) at the closed-form end points of theory.optima."""
    from proofs_check.claims.exact import exact_loss

    data = written[2]["icl_curves"]
    tasks = {"target": (1, 0), "negated": (-1, 0), "orthogonal": (0, 1)}
    assert data["shots"] == list(range(41))
    for mth, coords in _closed_form_end_points().items():
        for task, (k_, r_) in tasks.items():
            for n in (0, 1, 7, 20, 40):
                want = float(exact_loss(coords, k_, r_, CFG.d, n, CFG.sigma2))
                assert data["exact"][mth][task][n] == pytest.approx(want, rel=1e-7, abs=1e-9)


def test_icl_curves_show_the_paper_picture(written):
    ex = written[2]["icl_curves"]["exact"]
    s2 = CFG.sigma2
    # ZS-all destroys ICL: worse than pretrained on every task for n >= 1, and no better
    # than the no-information level 1 + sigma2 at n = 40 on the target
    for task in ("target", "negated", "orthogonal"):
        assert all(z > p for z, p in zip(ex["zs-all"][task][1:], ex["pretrained"][task][1:]))
    assert ex["zs-all"]["target"][40] > 1 + s2
    # ZS-V keeps ICL: within 25% of the pretrained error at n = 40 on every task
    for task in ("target", "negated", "orthogonal"):
        assert ex["zs-v"][task][40] < 1.25 * ex["pretrained"][task][40]
    # ZS-W does not move
    assert ex["zs-w"] == ex["pretrained"]
    # ZS+FS trades: better than ZS-V on the target at n = N, worse on the unseen tasks at n = 40
    for mth in ("zsfs-all", "zsfs-v", "zsfs-w"):
        assert ex[mth]["target"][CFG.N] < ex["zs-v"]["target"][CFG.N]
        assert ex[mth]["negated"][40] > ex["zs-v"]["negated"][40]
        assert ex[mth]["orthogonal"][40] > ex["zs-v"]["orthogonal"][40]


def test_icl_curves_tiny_sgd_markers_are_exact_losses_of_sgd_models():
    data = figures.icl_curves_data(CFG, sgd=True, methods=("zs-v",), sgd_shots=(0, 10, 40))
    s = data["sgd"]["zs-v"]
    assert s["shots"] == [0, 10, 40]
    # V-only ZS has a unique, fast-reached optimum: SGD lands on the exact curve
    for task in ("target", "negated", "orthogonal"):
        for n, v in zip(s["shots"], s[task]):
            assert v == pytest.approx(data["exact"]["zs-v"][task][n], rel=0.05)
    assert abs(s["coords"]["a"] - data["flow"]["zs-v"]["coords"]["a"]) < 0.01


# ----------------------------------------------------------------------------- figure 2
def _value(a, b, d):
    V = np.zeros((d + 2, d + 2))
    V[-1, 1] = a
    V[-1, -1] = b
    return V


def _vertex(f, x0=0.0, h=1.0):
    """Minimiser of a quadratic from three evaluations."""
    fm, f0, fp = f(x0 - h), f(x0), f(x0 + h)
    return x0 - h * (fp - fm) / (2.0 * (fp + fm - 2.0 * f0))


@pytest.mark.parametrize("N", [1, 7, 20, 60])
def test_w_star_equals_numerics_vertex(written, N):
    """``w*(N) = c*b``: ZS is quadratic in ``a`` and FS in ``b`` at the pretrained W, so the
    vertices of three numerics evaluations give ``a*`` and then ``b*``."""
    data = written[2]["w_star"]
    d, s2 = CFG.d, CFG.sigma2
    _, W = pretrained_point(d, CFG.m, s2)
    c = pretrained_c(d, CFG.m, s2)
    th = _e(d, 0)
    a_star = _vertex(lambda a: numerics.expected_loss(_value(a, 1.0, d), W, th, 0, s2))
    b_star = _vertex(lambda b: numerics.expected_loss(_value(a_star, b, d), W, th, N, s2))
    assert data["N"][N - 1] == N
    assert data["w_star"][N - 1] == pytest.approx(c * b_star, rel=1e-9, abs=1e-12)
    assert data["default_N"] == CFG.N


@pytest.mark.parametrize("N", [3, 20, 45])
def test_zsfs_v_optimum_equals_numerics_quadratic_fit(written, N):
    """The V-only ``ZS + lam FS`` objective is a quadratic in ``(a, b)``: fit it from six
    numerics evaluations and solve the 2x2 system."""
    data = written[2]["w_star"]
    d, s2, lam = CFG.d, CFG.sigma2, CFG.lam
    _, W = pretrained_point(d, CFG.m, s2)
    c = pretrained_c(d, CFG.m, s2)
    th = _e(d, 0)

    def F(a, b):
        V = _value(a, b, d)
        return numerics.expected_loss(V, W, th, 0, s2) + lam * numerics.expected_loss(V, W, th, N, s2)

    f0 = F(0, 0)
    faa = F(1, 0) + F(-1, 0) - 2 * f0          # 2 A
    fbb = F(0, 1) + F(0, -1) - 2 * f0          # 2 C
    fab = F(1, 1) - F(1, 0) - F(0, 1) + f0     # B (cross term)
    ga = (F(1, 0) - F(-1, 0)) / 2
    gb = (F(0, 1) - F(0, -1)) / 2
    a, b = np.linalg.solve([[faa, fab], [fab, fbb]], [-ga, -gb])
    i = data["N"].index(N)
    assert data["zsfs_v_cb"][i] == pytest.approx(c * b, rel=1e-8)
    assert data["zsfs_v_a"][i] == pytest.approx(a, rel=1e-8)


def test_w_star_rejects_N_zero():
    """At N = 0 the label slot is empty, FS does not depend on b: no optimal b exists."""
    d, s2 = CFG.d, CFG.sigma2
    V0, W = pretrained_point(d, CFG.m, s2)
    th = _e(d, 0)
    vals = {numerics.expected_loss(_value(0.1, b, d), W, th, 0, s2) for b in (-1.0, 0.0, 2.0)}
    assert max(vals) - min(vals) < 1e-12
    with pytest.raises(ValueError, match="Ns"):
        figures.w_star_data(CFG, Ns=(0, 10))


# ----------------------------------------------------------------------------- figure 3
def test_flow_trajectories(written):
    """End points against the closed forms of theory.optima where they are derived, and
    against the symbolic reduced flow field (theory.gradient) where they are not."""
    import sympy as sp

    from theory import gradient
    from theory.symbols import MERGED_COORDS, N, d, lam, m, sigma2, to_expr

    data = written[2]["flow_trajectories"]
    ends = _closed_form_end_points()
    c = ends["pretrained"]["alpha"]
    # every merged fine-tuning method whose flow leaves the pretrained point: all but ZS-W
    # (the ZS gradient in W vanishes there, test_icl_curves_show_the_paper_picture)
    assert data["methods"] == [m for m in vocabulary.methods_for("merged") if m not in ("pretrained", "zs-w")]
    assert data["methods"] == list(figures.moving_methods(CFG))
    for mth, f in data["flows"].items():
        assert f["t"][0] == 0.0 and f["a"][0] == 0.0 and f["alpha"][0] == pytest.approx(c)
        assert all(np.diff(f["t"]) > 0)
        assert f["converged"]
        if mth in ends:
            assert f["a"][-1] == pytest.approx(ends[mth]["a"], abs=1e-7)
            assert f["alpha"][-1] == pytest.approx(ends[mth]["alpha"], abs=1e-7)
        else:
            obj, sub = mth.split("-")
            field = gradient(obj, sub, "merged").flow
            end = {s_: sp.Float(f[s_.name][-1], 20) if s_.name in f else None for s_ in MERGED_COORDS}
            assert all(v is not None for v in end.values()), sorted(f)
            at = {**end, d: CFG.d, m: CFG.m, N: CFG.N, sigma2: sp.Rational(1, 10), lam: 1}
            speed = max(abs(float(to_expr(v).xreplace(at))) for v in field.values())
            assert speed < 1e-6, (mth, speed)
    # V-only flows keep the attention; ZS-all removes it (alpha -> 0)
    assert data["flows"]["zs-v"]["alpha"] == pytest.approx([c] * len(data["flows"]["zs-v"]["t"]))
    assert abs(data["flows"]["zs-all"]["alpha"][-1]) < 1e-4


# ----------------------------------------------------------------------------- figure 4
def test_pretrained_threshold(written):
    data = written[2]["pretrained_threshold"]
    assert data["ds"] == list(figures.THRESHOLD_DS)
    s2 = CFG.sigma2
    for d in data["ds"]:
        r = data["per_d"][d]
        V, W = pretrained_point(d, CFG.m, s2)
        for n in (0, 1, 5, 40):
            assert r["L"][n] == pytest.approx(numerics.expected_loss(V, W, _e(d, 0), n, s2), rel=1e-10)
        assert r["L0"] == pytest.approx(1 + s2)
        # the computed region L_n > L_0 is the claim-2 region n + 1 < T
        assert r["above"] == [n for n in data["shots"] if n >= 1 and n + 1 < r["threshold"]]
    assert data["per_d"][2]["above"] == [] and len(data["per_d"][20]["above"]) == 6


# ----------------------------------------------------------------------------- atomic output
class _Interrupted(KeyboardInterrupt):
    pass


def test_interrupted_save_leaves_no_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    fig = figure_drawing.draw_w_star(figures.w_star_data(CFG, Ns=(1, 3)))

    def broken(self, fname, *args, **kwargs):
        with open(fname, "wb") as fh:  # a partial file, then Ctrl-C
            fh.write(PNG_SIG + b"partial")
        raise _Interrupted()

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(KeyboardInterrupt):
        figures.save_figure(fig, tmp_path, "w_star")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    old = tmp_path / "w_star.png"
    old.write_bytes(b"old figure")
    fig = figure_drawing.draw_w_star(figures.w_star_data(CFG, Ns=(1, 3)))
    monkeypatch.setattr(Figure, "savefig", lambda *a, **k: (_ for _ in ()).throw(_Interrupted()))
    with pytest.raises(KeyboardInterrupt):
        figures.save_figure(fig, tmp_path, "w_star")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w_star.png"]
    assert old.read_bytes() == b"old figure"


# ----------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("kwargs, word", [
    ({"cfg": Config(d=1)}, "d"),
    ({"cfg": Config(m=0)}, "m"),
    ({"cfg": Config(sigma2=float("nan"))}, "sigma2"),
    ({"cfg": Config(lam=-1.0)}, "lam"),
    ({"cfg": {"d": 5}}, "cfg"),
    ({"sgd": "yes"}, "sgd"),
    ({"progress": 1}, "progress"),
])
def test_bad_arguments_raise_value_error_naming_them(tmp_path, kwargs, word):
    with pytest.raises(ValueError, match=word):
        figures.make_figures(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file_is_rejected(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="out_dir"):
        figures.make_figures(f, CFG, sgd=False)


# ----------------------------------------------------------------------------- CLI glue
def test_summary_renders_in_every_format(written):
    import json

    _, paths, data = written
    info = figures.summary(paths, data, 1.0)
    assert info["files"] == [str(p) for p in paths] and info["sgd"] is False
    assert info["methods"]["zs-all"]["target_at_40"] == data["icl_curves"]["exact"]["zs-all"]["target"][40]
    assert info["w_star_at_N"] == data["w_star"]["w_star"][CFG.N - 1]
    text = figures.render_summary(info, "text")
    assert text.splitlines()[0].startswith("wrote 8 files") and "ZS+FS-W" in text
    md = figures.render_summary(info, "markdown")
    assert "| method |" in md and "|---|" in md
    assert json.loads(figures.render_summary(info, "json"))["config"] == CFG.as_dict()
    with pytest.raises(ValueError, match="format"):
        figures.render_summary(info, "yaml")


def test_shot_range_extends_to_N():
    data = figures.icl_curves_data(Config(N=45), sgd=False, methods=("pretrained", "zs-v"))
    assert data["shots"] == list(range(46))


def test_sgd_note_states_settings_and_reasons():
    fake = {"sgd": {"zs-all": {"lr": 0.02, "steps": 4000}, "zsfs-w": {"lr": 0.2, "steps": 6000}}}
    note = figures.sgd_note(fake)
    assert "lr 0.02 x 4000 steps" in note and "lr 0.2 x 6000 steps" in note
    assert f"batch {figures.SGD_BATCH}" in note and "noise" in note and "basin" in note
    assert figures.sgd_note({"sgd": None}) == ""
