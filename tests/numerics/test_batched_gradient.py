"""The batched exact gradient against the one-point gradient, row by row.

Independent routes: :meth:`numerics.problem.Problem.grad_many` (one closed-form evaluation
for a stack of points) against a Python loop of :meth:`Problem.grad`; :func:`hessian`
against its definition (a loop of one-point gradients over the stencil); the batched
unread basis and interpolant projection against loops of one-point calls.  Planted errors
show that each comparison can fail.
"""
from __future__ import annotations

import numpy as np
import pytest

from numerics.finetune_objective import loss_terms
from numerics.gradients import weighted_loss_grad
from numerics.hessian import STENCILS, hessian, stencil_step
from numerics.problem import Problem
from numerics.moments import fixed_task, sphere_task
from numerics.reduced import ReducedProblem
from numerics.stability import unread_basis
from vocabulary import FINETUNE_OBJECTIVES, MATRICES, OBJECTIVES, Config


def row_errors(G: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per row: ``max |G_i - ref_i| / max(|ref_i|_inf, 1e-300)``."""
    scale = np.maximum(np.abs(ref).max(axis=1), 1e-300)
    return np.abs(G - ref).max(axis=1) / scale


def random_problem(objective, form, train, d, seed):
    rng = np.random.default_rng(seed)
    D = d + 2
    mats = tuple(0.5 * rng.standard_normal((D, D)) for _ in MATRICES[form])
    theta0 = rng.standard_normal(d)
    theta0 /= np.linalg.norm(theta0)
    return Problem.build(objective, form, train, Config(d, 11, 7, 0.1, 0.6), mats, theta0=theta0), rng


@pytest.mark.parametrize("d", [1, 2, 5])
@pytest.mark.parametrize("form", list(MATRICES))
@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_grad_many_equals_single_gradients(objective, form, d):
    """Every objective (fixed tasks and the sphere average), both forms, all matrices trained
    and one subset with frozen matrices, random points."""
    for train in ("all", "v"):
        pb, rng = random_problem(objective, form, train, d, seed=100 * d + len(objective))
        X = rng.standard_normal((5, pb.size))
        ref = np.array([pb.grad(x) for x in X])
        G = pb.grad_many(X)
        assert G.shape == X.shape
        assert np.abs(ref).max() > 0.1  # a comparison of zeros would prove nothing
        assert row_errors(G, ref).max() <= 1e-12, (objective, form, train, d)


@pytest.mark.parametrize("d", [1, 2, 5])
def test_weighted_loss_grad_stack_fixed_and_sphere(d):
    """The closed form itself on a stack (B, D, D), for a fixed task and the sphere, with
    two shot counts on one task (one grouped evaluation)."""
    rng = np.random.default_rng(7 + d)
    D, B = d + 2, 6
    V, W = rng.standard_normal((B, D, D)), rng.standard_normal((B, D, D))
    theta = rng.standard_normal(d)
    for tm in (fixed_task(theta, 0.2), fixed_task(-theta, 0.0), sphere_task(d, 0.3)):
        terms = ((0, tm, 1.0), (9, tm, 0.7))
        gV, gW = weighted_loss_grad(V, W, terms)
        assert gV.shape == gW.shape == (B, D, D)
        for i in range(B):
            a, b = weighted_loss_grad(V[i], W[i], terms)
            ref = np.concatenate([a.ravel(), b.ravel()])[None]
            got = np.concatenate([gV[i].ravel(), gW[i].ravel()])[None]
            assert row_errors(got, ref)[0] <= 1e-12


def test_planted_wrong_row_is_detected():
    """A stack with one perturbed input row: the comparison fails there and only there."""
    pb, rng = random_problem("zsfs", "separate", "all", 2, seed=3)
    X = rng.standard_normal((4, pb.size))
    ref = np.array([pb.grad(x) for x in X])
    Xbad = X.copy()
    Xbad[2, pb.block_slices()["K"].start + 5] += 1e-6  # K[1, 1]: read (a V row != y is not)
    err = row_errors(pb.grad_many(Xbad), ref)
    assert err[2] > 1e-12
    assert np.all(np.delete(err, 2) <= 1e-12)


def hessian_by_loop(pb, x, points, bad_column=None):
    """The definition: column ``j`` is ``sum_k w_k grad(x + k h e_j) / h``, one gradient at
    a time; ``bad_column`` plants a wrong point in one column (its first stencil point moved
    by a relative 1e-4, which the stencil no longer cancels)."""
    P = x.size
    h = stencil_step(x, 0.05)
    offs, wts = STENCILS[points]
    H = np.zeros((P, P))
    for j in range(P):
        col = np.zeros(P)
        for k, w in zip(offs, wts):
            xk = x.copy()
            xk[j] += k * h * (1.0 + 1e-4 * (j == bad_column and k == offs[0]))
            col += w * pb.grad(xk)
        H[:, j] = col / h
    return 0.5 * (H + H.T)


@pytest.mark.parametrize("objective,form,train,points", [
    ("zsfs", "merged", "all", 3), ("zs", "separate", "all", 3), ("fs", "separate", "kq", 7),
    ("pretrain", "merged", "w", 5), ("zsfs", "separate", "q", 3)])
def test_hessian_equals_its_loop_definition(objective, form, train, points):
    pb, rng = random_problem(objective, form, train, 2, seed=11)
    x = pb.pack() + 0.1 * rng.standard_normal(pb.size)
    H_ref = hessian_by_loop(pb, x, points)
    H = hessian(pb, x, points=points).H
    scale = np.abs(H_ref).max()
    assert scale > 0.1
    assert np.abs(H - H_ref).max() <= 1e-10 * scale
    H_bad = hessian_by_loop(pb, x, points, bad_column=int(np.argmax(np.abs(H_ref).max(axis=0))))
    assert np.abs(H - H_bad).max() > 1e-10 * scale  # the comparison can fail


def test_hessian_batches_do_not_change_it(monkeypatch):
    """Several batched calls (a small HESSIAN_BATCH) give the same Hessian as one."""
    import numerics.hessian as hm

    pb, rng = random_problem("zsfs", "separate", "all", 2, seed=5)
    H1 = hessian(pb).H
    monkeypatch.setattr(hm, "HESSIAN_BATCH", 7)
    H2 = hessian(pb).H
    assert np.abs(H1 - H2).max() <= 1e-12 * np.abs(H1).max()


def test_grad_many_bad_input():
    pb, _ = random_problem("zs", "merged", "all", 2, seed=1)
    for bad in (np.zeros(pb.size), np.zeros((2, pb.size + 1)), np.full((1, pb.size), np.nan)):
        with pytest.raises(ValueError, match="X"):
            pb.grad_many(bad)
    assert pb.grad_many(np.zeros((0, pb.size))).shape == (0, pb.size)


@pytest.mark.parametrize("objective,form,train", [("zs", "separate", "all"), ("zsfs", "merged", "all"),
                                                  ("pretrain", "separate", "k")])
def test_unread_basis_equals_loop(objective, form, train):
    """The batched unread basis spans the orthogonal complement of one-point gradients at
    the same seeded points."""
    pb, _ = random_problem(objective, form, train, 2, seed=2)
    U = unread_basis(pb, seed=4, extra=8)
    rng = np.random.default_rng(4)
    G = np.array([pb.grad(rng.standard_normal(pb.size)) for _ in range(pb.size + 8)])
    s = np.linalg.svd(G, compute_uv=False)
    rank = int(np.sum(s > 1e-9 * s[0]))
    assert U.shape == (pb.size, pb.size - rank)
    assert np.abs(G @ U).max() <= 1e-9 * np.abs(G).max()


@pytest.mark.parametrize("objective", FINETUNE_OBJECTIVES)
@pytest.mark.parametrize("d", [1, 2, 5])
def test_interpolant_projection_equals_raw_coeffs(objective, d):
    t = np.eye(d)[0]
    pb = ReducedProblem(loss_terms(objective, t, 20, 0.1, 1.0), "all", "merged", d, t)
    X = np.random.default_rng(d).uniform(-1.5, 1.5, size=(9, 6))
    ref = np.array([pb.raw_coeffs(x) for x in X])
    assert row_errors(pb.raw_coeffs(X), ref).max() <= 1e-12
    Xbad = X.copy()
    Xbad[4, 2] += 1e-6
    assert row_errors(pb.raw_coeffs(Xbad), ref)[4] > 1e-12


# ---- stacks through the reduced problem, the projections and the loss ---------------------
@pytest.mark.parametrize("form,train", [("merged", "all"), ("merged", "v"), ("separate", "all"), ("separate", "kq")])
def test_reduced_problem_on_a_stack_equals_row_by_row(form, train):
    """``ReducedProblem.coeffs``, ``grad_norm`` and ``loss`` at a stack of points (one batched
    gradient) equal the one-point values row by row."""
    from numerics.flow import setup_problem

    pb, *_ = setup_problem("zsfs", form, train, Config(3, 10, 5, 0.1, 1.0), theta0=None)
    X = np.random.default_rng(3).standard_normal((7, len(pb.names)))
    g, resid = pb.coeffs(X)
    rows = [pb.coeffs(x) for x in X]
    assert np.allclose(g, [r[0] for r in rows], rtol=1e-12, atol=1e-13)
    assert np.allclose(resid, [r[1] for r in rows], rtol=1e-12, atol=1e-13)
    assert np.allclose(pb.grad_norm(X), [pb.grad_norm(x) for x in X], rtol=1e-12, atol=1e-13)
    assert np.allclose(pb.loss(X), [pb.loss(x) for x in X], rtol=1e-12, atol=1e-13)
    # the comparison can fail: one moved row is seen
    Y = X.copy()
    Y[4, 0] += 1e-3
    assert not np.allclose(pb.loss(Y), [pb.loss(x) for x in X], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("objective,form,train", [("zsfs", "separate", "all"), ("zs", "merged", "all"),
                                                  ("zsfs", "separate", "kq"), ("fs", "merged", "v")])
def test_problem_loss_on_a_stack_equals_row_by_row(objective, form, train):
    from numerics.endpoints import pretrained_problem

    pb, _, _ = pretrained_problem(objective, form, train, Config(2, 10, 5, 0.1, 1.0), scale=1.0)
    X = pb.pack() + 0.3 * np.random.default_rng(5).standard_normal((6, pb.size))
    L = pb.loss(X)
    assert L.shape == (6,)
    assert np.allclose(L, [pb.loss(x) for x in X], rtol=1e-12, atol=1e-14)


def test_projections_of_a_stack_equal_row_by_row():
    from numerics.manifold import project_merged_arrays, project_separate_arrays

    rng = np.random.default_rng(0)
    t = rng.standard_normal(3)
    t /= np.linalg.norm(t)
    G = rng.standard_normal((3, 4, 5, 5))
    for proj, args in ((project_merged_arrays, (G[0], G[1])), (project_separate_arrays, (G[0], G[1], G[2]))):
        c, res, nrm = proj(*args, t)
        for i in range(4):
            ci, resi, nrmi = proj(*(a[i] for a in args), t)
            assert np.allclose(c[i], ci, rtol=1e-14, atol=1e-15)
            assert all(abs(res[k][i] - resi[k]) <= 1e-14 * max(1.0, resi[k]) for k in resi)
            assert abs(nrm[i] - nrmi) <= 1e-14 * max(1.0, nrmi)


@pytest.mark.parametrize("form,train", [("merged", "all"), ("separate", "all"), ("separate", "kq")])
def test_hessian_times_a_basis_equals_the_hessian_on_it(form, train):
    """``hessian_times(pb, x, U)`` (directional stencils, the escape flows' Jacobian) equals
    the full Hessian (coordinate stencils) times ``U``; a zero column gives zeros."""
    from numerics.hessian import hessian_times, hessian_vector_product

    pb, _ = random_problem("zsfs", form, train, 2, 11)
    x = pb.pack() + 0.2 * np.random.default_rng(1).standard_normal(pb.size)
    U = np.random.default_rng(2).standard_normal((pb.size, 5))
    U[:, 3] = 0.0
    HU = hessian_times(pb, x, U)
    ref = hessian(pb, x).H @ U
    scale = np.abs(ref).max()
    assert np.abs(HU - ref).max() <= 1e-9 * scale
    assert not np.any(HU[:, 3])
    assert np.abs(HU[:, 1] - hessian_vector_product(pb, x, U[:, 1])).max() <= 1e-12 * scale
    # too short a stencil for a general direction of the separate form is seen
    if form == "separate":
        assert np.abs(hessian_times(pb, x, U, points=3) - ref).max() > 1e-6 * scale


def test_stacks_in_chunks_equal_one_stack(monkeypatch):
    """Large stacks are evaluated in row chunks of bounded memory (``STACK_FLOATS``): with a
    tiny bound (chunks of 3 points) the gradients, losses and projected coefficients are the
    ones of a single stack."""
    import numerics.batching as batching
    from numerics.flow import setup_problem

    pb, _ = random_problem("zsfs", "separate", "all", 2, 4)
    red, *_ = setup_problem("zsfs", "separate", "all", Config(2, 10, 5, 0.1, 1.0), theta0=None)
    X = pb.pack() + 0.3 * np.random.default_rng(0).standard_normal((10, pb.size))
    Y = np.random.default_rng(1).standard_normal((10, 14))
    merged, *_ = setup_problem("zs", "merged", "all", Config(2, 10, 5, 0.1, 1.0), theta0=None)
    Z = Y[:, :6]

    def values():
        return (pb.grad_many(X), pb.loss(X), red.coeffs(Y)[0], red.coeffs(Y)[1], red.loss(Y),
                merged.raw_coeffs(Z))
    whole = values()
    monkeypatch.setattr(batching, "STACK_FLOATS", 3 * 16)
    chunked = values()
    for a, b in zip(whole, chunked):
        assert a.shape == b.shape
        assert np.allclose(a, b, rtol=1e-13, atol=1e-14)
