"""Exact second order and the classification of stationary points.

Independent routes: the stencil Hessian of :mod:`numerics.hessian` is compared with the
SymPy Hessian of a brute-force symbolic loss over *full* matrices (d = 1, its own Gaussian
expansion, no code shared with numerics), and with a second stencil and step.  The
classification is checked on the symmetry null space the derivation predicts, on a known
saddle and on known minima.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import sympy as sp

from numerics.flow import gradient_flow, pretrained_point
from numerics.hessian import hessian, hessian_vector_product, stencil_points
from numerics.problem import Problem
from numerics.full_space import full_flow
from numerics.stability import classify, invariant_basis, unread_basis
from vocabulary import Config


# ----------------------------------------------------------------------------- SymPy route
def _moment(k):
    return 0 if k % 2 else int(np.prod(range(k - 1, 0, -2))) if k > 1 else 1


@functools.lru_cache(maxsize=None)
def _symbolic_loss(n: int, task: str):
    """E[(yhat - y_q)^2] at d = 1 for symbolic full V (row y), W: brute-force expansion.

    ``task``: ``target`` (theta = 1), ``negated`` (theta = -1) or ``sphere`` (theta = +-1
    with probability 1/2: the uniform law on S^0)."""
    D = 3
    Vs = sp.Matrix(D, D, lambda i, j: sp.Symbol(f"V{i}{j}"))
    Ws = sp.Matrix(D, D, lambda i, j: sp.Symbol(f"W{i}{j}"))
    s2 = sp.Symbol("s2")
    th = sp.Symbol("th")
    xs = [sp.Symbol(f"x{i}") for i in range(n + 1)]
    es = [sp.Symbol(f"e{i}") for i in range(n + 1)]
    toks = [sp.Matrix([1, xs[i], th * xs[i] + es[i]]) for i in range(n)]
    zq = sp.Matrix([1, xs[n], 0])
    S = zq * zq.T
    for z in toks:
        S += z * z.T
    yhat = (Vs[D - 1, :] * S * Ws * zq)[0, 0] / (n + 1)
    poly = sp.Poly(sp.expand((yhat - th * xs[n] - es[n]) ** 2), *(xs + es))
    total = 0
    for monom, coeff in poly.terms():
        val = 1
        for j, k in enumerate(monom):
            val *= _moment(k) * (s2 ** (k // 2) if j > n else 1)
        total += coeff * val
    total = sp.expand(total)
    if task == "sphere":
        total = sp.expand((total.subs(th, 1) + total.subs(th, -1)) / 2)
    else:
        total = total.subs(th, 1 if task == "target" else -1)
    return Vs, Ws, s2, total


def _sym_objective(terms, sigma2):
    Vs = Ws = None
    L = 0
    for n, task, w in terms:
        Vs, Ws, s2, Ln = _symbolic_loss(n, task)
        L += w * Ln.subs(s2, sigma2)
    return Vs, Ws, L


def _rational(rng, shape):
    return np.array([sp.Rational(int(k), 8) for k in rng.integers(-8, 9, size=int(np.prod(shape)))]).reshape(shape)


@pytest.mark.parametrize("objective,form,train", [
    ("zsfs", "merged", "all"), ("fs", "merged", "w"), ("pretrain", "merged", "all"),
    ("zs", "merged", "v"), ("zsfs", "separate", "all"), ("zs", "separate", "kq"), ("fs", "separate", "q"),
    ("zsfs", "separate", "k")])
def test_hessian_matches_sympy_d1(objective, form, train):
    """SymPy: the exact Hessian of the brute-force loss L(v, W) over the full matrices, composed
    with W = K^T Q by the second-order chain rule
    H = J^T (d2L) J + sum_i (dL/dphi_i) d2 phi_i, in exact rationals."""
    N, m, sigma2, lam = 1, 1, sp.Rational(1, 10), sp.Rational(1, 2)
    terms = {"zs": [(0, "target", 1)], "fs": [(N, "target", 1)], "zsfs": [(0, "target", 1), (N, "target", lam)],
             "pretrain": [(m, "sphere", 1)]}[objective]
    Vs, Ws, L = _sym_objective(terms, sigma2)
    rng = np.random.default_rng(3)
    D = 3
    names = {"merged": ("V", "W"), "separate": ("V", "K", "Q")}[form]
    vals = {k: _rational(rng, (D, D)) for k in names}
    syms = {"V": Vs, "W": Ws}
    if form == "separate":
        syms["K"] = sp.Matrix(D, D, lambda i, j: sp.Symbol(f"K{i}{j}"))
        syms["Q"] = sp.Matrix(D, D, lambda i, j: sp.Symbol(f"Q{i}{j}"))
    trained = {"merged": {"all": "VW", "v": "V", "w": "W"},
               "separate": {"all": "VKQ", "kq": "KQ", "q": "Q", "k": "K"}}[form][train]
    var = [s for k in trained for s in syms[k]]
    point = {s: v for k in names for s, v in zip(syms[k], vals[k].ravel())}
    merged_vars = list(Vs) + list(Ws)
    W_of = list(Ws) if form == "merged" else list(syms["K"].T * syms["Q"])
    phi = sp.Matrix(list(Vs) + W_of)  # the merged variables as functions of the parameters
    at = {mv: e.subs(point) for mv, e in zip(merged_vars, phi)}
    gL = sp.Matrix([sp.diff(L, mv) for mv in merged_vars]).subs(at)
    HL = sp.hessian(L, merged_vars).subs(at)
    J = phi.jacobian(var).subs(point)
    Hs = J.T * HL * J
    for i, e in enumerate(phi):
        if gL[i] != 0 and e.free_symbols & set(var):
            Hs += gL[i] * sp.hessian(e, var).subs(point)
    H_exact = np.array(Hs.tolist(), dtype=float)
    g_exact = np.array((J.T * gL).tolist(), dtype=float).ravel()
    mats = {k: np.array(vals[k], dtype=float) for k in names}
    pb = Problem.build(objective, form, train, Config(1, m, N, 0.1, 0.5), mats, theta0=np.array([1.0]))
    hr = hessian(pb)
    assert hr.asymmetry < 1e-10
    scale = max(1.0, np.abs(H_exact).max())
    assert np.abs(hr.H - H_exact).max() <= 1e-10 * scale
    # and the gradient the stencil differentiates is the SymPy gradient
    assert np.abs(pb.grad(pb.pack()) - g_exact).max() <= 1e-11 * max(1.0, np.abs(g_exact).max())


@pytest.mark.parametrize("form", ["merged", "separate"])
def test_hessian_two_stencils_two_steps_agree(form):
    rng = np.random.default_rng(0)
    d = 3
    D = d + 2
    names = ("V", "W") if form == "merged" else ("V", "K", "Q")
    mats = {k: rng.standard_normal((D, D)) for k in names}
    th = rng.standard_normal(d)
    pb = Problem.build("zsfs", form, "all", Config(d, 20, 4, 0.2, 0.7), mats, theta0=th / np.linalg.norm(th))
    H1 = hessian(pb, points=stencil_points(form)).H
    H2 = hessian(pb, points=7, rel_step=0.013).H
    scale = np.abs(H1).max()
    assert np.abs(H1 - H2).max() <= 1e-10 * scale
    # along a coordinate line the loss is quadratic in that entry, so even 3 points (the
    # default) are exact there
    H3 = hessian(pb).H
    assert hessian(pb).points == 3
    assert np.abs(H1 - H3).max() <= 1e-10 * scale
    # along a general direction the gradient has degree 3 (merged) or 5 (separate): the
    # 3-point stencil is then wrong, the default stencil exact
    u = rng.standard_normal(pb.size)
    exact = H1 @ u
    tol = 1e-10 * scale * np.linalg.norm(u)
    assert np.abs(hessian_vector_product(pb, pb.pack(), u) - exact).max() <= tol
    assert np.abs(hessian_vector_product(pb, pb.pack(), u, points=3) - exact).max() > 1e3 * tol


# ----------------------------------------------------------------------------- symmetry spaces
def _predicted_unread(d: int, form: str, zero_shot: bool) -> np.ndarray:
    """The derived unread space (module docstring of numerics.stability), all trained."""
    D = d + 2
    names = ("V", "W") if form == "merged" else ("V", "K", "Q")
    P = len(names) * D * D
    off = {k: i * D * D for i, k in enumerate(names)}
    vecs = []

    def coord(k, i, j):
        u = np.zeros(P)
        u[off[k] + i * D + j] = 1.0
        return u
    y = D - 1
    vecs += [coord("V", i, j) for i in range(D - 1) for j in range(D)]
    if form == "merged":
        vecs += [coord("W", i, y) for i in range(D)]
        if zero_shot:
            vecs += [coord("V", y, y)] + [coord("W", y, j) for j in range(D)]
            vecs += [coord("W", i, j) - coord("W", j, i) for i in range(D - 1) for j in range(i + 1, D - 1)]
    else:
        vecs += [coord("Q", i, y) for i in range(D)]
        if zero_shot:
            vecs += [coord("V", y, y)] + [coord("K", i, y) for i in range(D)]
    U, sv, _ = np.linalg.svd(np.array(vecs).T, full_matrices=False)  # (row y and column y share W[y, y])
    return U[:, sv > 1e-12]


@pytest.mark.parametrize("objective,form", [("zs", "merged"), ("fs", "merged"), ("zs", "separate"),
                                            ("zsfs", "separate")])
def test_unread_space_is_the_derived_one(objective, form):
    d = 2
    mats = dict(zip(("V", "W") if form == "merged" else ("V", "K", "Q"),
                    pretrained_point(d, 10, 0.1, form)))
    pb = Problem.build(objective, form, "all", Config(d, 10, 5, 0.1, 1.0), mats)
    U = unread_basis(pb)
    Pd = _predicted_unread(d, form, objective == "zs")
    assert U.shape[1] == Pd.shape[1]
    assert np.abs(U @ U.T - Pd @ Pd.T).max() < 1e-8


@functools.lru_cache(maxsize=None)
def _endpoint(objective, form, d=2, m=10, N=20, sigma2=0.2):
    fl = gradient_flow(objective, form, "all", Config(d, m, N, sigma2, 1.0))
    mats = (fl.V, fl.W) if form == "merged" else (fl.V, fl.K, fl.Q)
    return Problem.build(objective, form, "all", Config(d, m, N, sigma2, 1.0), mats, theta0=fl.theta0)


def test_known_saddle_separate_zs_symmetric_end_point():
    pb = _endpoint("zs", "separate")
    st = classify(pb)
    assert st.verdict == "saddle" and st.index >= 1
    assert st.min_eigenvalue < -1e3 * st.tolerance
    # the symmetry span is in the null space (H s = O(|grad|)) and the escape direction is a
    # unit eigenvector with the reported eigenvalue, verified by an exact Hessian-vector product
    assert st.symmetry_residual < 1e-7
    e = st.escape_vector
    He = hessian_vector_product(pb, pb.pack(), e)
    assert np.allclose(He, st.min_eigenvalue * e, atol=1e-9)
    # second order predicts descent: the loss falls along +-e
    x = pb.pack()
    for sgn in (1, -1):
        assert pb.loss(x + sgn * 1e-3 * e) < pb.loss(x) - 0.25 * abs(st.min_eigenvalue) * 1e-6


def test_known_minima_merged():
    # merged ZS+FS end point: strict modulo the symmetries (null space = symmetry span)
    st = classify(_endpoint("zsfs", "merged"))
    assert st.verdict == "minimum" and st.extra_null == 0 and st.null_dim == st.symmetry_dim
    # merged ZS end point: on the noise floor, PSD
    st = classify(_endpoint("zs", "merged"))
    assert st.verdict == "minimum" and "noise floor" in st.reason


def test_v_only_zs_is_a_strict_minimum_modulo_unread_rows():
    # ZS is a convex quadratic in V: its V-only optimum is strict apart from the unread entries
    fl = gradient_flow("zs", "merged", "v", Config(2, 10, 20, 0.2, 1.0))
    pb = Problem.build("zs", "merged", "v", Config(2, 10, 20, 0.2, 1.0), (fl.V, fl.W), theta0=fl.theta0)
    st = classify(pb)
    assert st.verdict == "minimum" and st.index == 0
    D = 4
    assert st.symmetry_dim == D * (D - 1) + 1  # rows != y and v_y (ZS never reads b)


def test_non_stationary_point_is_not_classified_as_minimum():
    d = 2
    mats = dict(zip(("V", "W"), pretrained_point(d, 10, 0.1)))
    pb = Problem.build("zs", "merged", "all", Config(d, 10, 5, 0.1, 1.0), mats)
    st = classify(pb)
    assert st.verdict == "degenerate" and "not a stationary point" in st.reason


def test_pretrained_point_is_a_pretraining_minimum():
    d, m, s2 = 2, 10, 0.2
    mats = dict(zip(("V", "W"), pretrained_point(d, m, s2)))
    st = classify(Problem.build("pretrain", "merged", "all", Config(d, m, 20, s2, 1.0), mats))
    assert st.index == 0 and st.verdict in ("minimum", "degenerate")


def test_invariant_subspace_flow_is_the_full_flow():
    pb = _endpoint("zs", "separate")
    x0 = pb.pack()
    rng = np.random.default_rng(1)
    B = invariant_basis(pb)
    u = B @ rng.standard_normal(B.shape[1])
    start = x0 + 1e-2 * u / np.linalg.norm(u)
    a = full_flow(pb, start, t_max=5.0, gtol=1e-12)
    b = full_flow(pb, start, t_max=5.0, gtol=1e-12, basis=B)
    assert a.stop == b.stop == "t cap"
    assert np.abs(a.x - b.x).max() < 1e-6


def test_full_flow_stops_at_its_evaluation_cap():
    """The cap counts every gradient (right-hand sides and the exact Jacobian's stencil
    points) and ends the flow at the last step within it, never past it (the
    solve_ivp event it replaces raised ValueError from brentq on an overshoot)."""
    pb = _endpoint("zs", "separate")
    rng = np.random.default_rng(2)
    start = pb.pack() + 1e-2 * rng.standard_normal(pb.size)
    for cap in (50, 400):
        fl = full_flow(pb, start, gtol=1e-14, max_nfev=cap)
        assert fl.stop == "evaluation cap" and fl.nfev <= cap  # never past the cap
        assert 0.0 < fl.t_final < 1e7 and np.all(np.isfinite(fl.x))


def test_bad_input():
    cfg = Config(1, 20, 20, 0.0, 1.0)
    with pytest.raises(ValueError, match="objective"):
        Problem.build("nope", "merged", "all", cfg, (np.eye(3), np.eye(3)))
    with pytest.raises(ValueError, match="train"):
        Problem.build("zs", "merged", "kq", cfg, (np.eye(3), np.eye(3)))
    with pytest.raises(ValueError, match="W"):
        Problem.build("zs", "merged", "all", cfg, (np.eye(3), np.full((3, 3), np.nan)))
    with pytest.raises(ValueError, match="^config"):  # required: no fallback on the paper's setting
        Problem.build("zs", "merged", "all", None, (np.eye(3), np.eye(3)))
    with pytest.raises(ValueError, match="^config: d = 2"):
        Problem.build("zs", "merged", "all", Config(2, 20, 20, 0.0, 1.0), (np.eye(3), np.eye(3)))
    with pytest.raises(ValueError, match="^sigma2"):
        Problem.build("zs", "merged", "all", Config(1, 20, 20, -1.0, 1.0), (np.eye(3), np.eye(3)))


@pytest.mark.parametrize("objective,form", [("zs", "separate"), ("zsfs", "merged")])
def test_symmetric_subspace_flow_equals_reduced_flow(objective, form):
    from numerics.endpoints import symmetric_outcome

    a = symmetric_outcome(objective, form, "all", Config(2, 10, 20, 0.2, 1.0), engine="reduced")
    b = symmetric_outcome(objective, form, "all", Config(2, 10, 20, 0.2, 1.0), engine="subspace")
    Va, Wa = a.merged
    Vb, Wb = b.merged
    assert np.abs(Va - Vb).max() < 1e-8 and np.abs(Wa - Wb).max() < 1e-8
    assert a.stability.verdict == b.stability.verdict
    # the balanced-factorisation saddle survives the subspace flow (no rounding escape)
    if form == "separate":
        assert b.stability.verdict == "saddle"


def test_escape_figure_data_and_drawing(tmp_path):
    from vocabulary import Config
    from proofs_check.export.escape_figure import draw_escape, escape_data
    from proofs_check.export.figures import save_figure

    cfg = Config(2, 10, 20, 0.2, 1.0)
    data = escape_data(cfg, sizes=(1e-3,))
    sym, pert = data["runs"]["symmetric start"], data["runs"]["perturbation 0.001"]
    assert sym["verdict"] == "saddle" and pert["verdict"] == "minimum"
    assert pert["objective"][-1] < sym["objective"][-1] - 0.01
    assert pert["L_perp"][-1] > data["one_plus_sigma2"]
    paths = save_figure(draw_escape(data), tmp_path, "escape")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
