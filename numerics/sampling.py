r"""Prompt sampling, the vectorised forward pass and Monte Carlo estimates.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

Monte Carlo is the third, independent witness for the closed forms: it samples prompts
and never uses a moment identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import (check_batch, check_count, check_nonneg, check_pair,
                         check_positive_int, check_theta)

__all__ = ["Prompts", "sample_prompts", "predict", "monte_carlo_loss",
           "monte_carlo_pretrain_loss", "monte_carlo_loss_grad",
           "monte_carlo_pretrain_loss_grad", "sample_sphere", "rng_from_seed", "draw_prompts",
           "token_array"]

_CHUNK_FLOATS = 1_000_000  # bound on the working set of one chunk (8 MB of float64)


@dataclass(frozen=True)
class Prompts:
    """A batch of prompts: ``X`` (B, n, d) demonstrations, ``y`` (B, n) their labels,
    ``xq`` (B, d) queries, ``yq`` (B,) the query targets (never shown to the model)."""

    X: np.ndarray
    y: np.ndarray
    xq: np.ndarray
    yq: np.ndarray


def rng_from_seed(seed) -> np.random.Generator:
    """A NumPy ``Generator`` from a seed (an integer ``>= 0``) or the generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a numpy.random.Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def sample_sphere(d: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` tasks uniform on the unit sphere ``S^{d-1}`` (normalised Gaussians)."""
    g = rng.standard_normal((size, d))
    return g / np.linalg.norm(g, axis=1, keepdims=True)


def draw_prompts(theta: np.ndarray, n: int, size: int, sigma2: float, rng) -> Prompts:
    """Unchecked :func:`sample_prompts` with a generator: ``theta`` is (d,) or (size, d),
    one task per prompt."""
    d = theta.shape[-1]
    X = rng.standard_normal((size, n, d))
    xq = rng.standard_normal((size, d))
    s = np.sqrt(sigma2)
    if theta.ndim == 1:  # one task for every prompt
        y, yq = X @ theta, xq @ theta
    else:
        y, yq = (X @ theta[:, :, None])[:, :, 0], np.einsum("bd,bd->b", xq, theta)
    y = y + s * rng.standard_normal((size, n))
    yq = yq + s * rng.standard_normal(size)
    return Prompts(X, y, xq, yq)


def sample_prompts(theta, n, size, sigma2=0.0, seed=0) -> Prompts:
    """Draw ``size`` prompts for the task ``theta``: ``x_i, x_q ~ N(0, I_d)``,
    ``y = theta.x + eps``, ``eps ~ N(0, sigma2)``.

    Args:
        theta: the task, a vector of length ``d >= 1``.
        n: demonstrations per prompt, an int ``>= 0``.
        size: number of prompts, an int ``>= 1``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.
        seed: an int ``>= 0`` or a ``numpy.random.Generator`` (same seed, same prompts).

    Returns:
        A :class:`Prompts` batch.

    Raises:
        ValueError: a bad ``theta``, ``n``, ``size``, ``sigma2`` or ``seed`` (named).

    Example:

    >>> p = sample_prompts([1.0, 0.0, 0.0], n=4, size=2, sigma2=0.1, seed=0)
    >>> p.X.shape, p.y.shape, p.xq.shape, p.yq.shape
    ((2, 4, 3), (2, 4), (2, 3), (2,))
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"theta must be a 1-D vector, got shape {theta.shape}")
    theta = check_theta(theta, theta.shape[0])
    if theta.shape[0] < 1:
        raise ValueError("theta must have length d >= 1")
    return draw_prompts(theta, check_count("n", n), check_positive_int("size", size),
                        check_nonneg("sigma2", sigma2), rng_from_seed(seed))


def _predict(v: np.ndarray, W: np.ndarray, X, y, xq) -> np.ndarray:
    n = X.shape[1]
    Z = token_array(X, y, xq)
    u = Z[:, n, :] @ W.T  # u = W z_q, batched
    vz = Z @ v  # v.z_j
    uz = np.einsum("bjD,bD->bj", Z, u)  # z_j^T W z_q
    return np.einsum("bj,bj->b", vz, uz) / (n + 1)


def predict(V, W, X, y, xq) -> np.ndarray:
    """Vectorised forward pass ``yhat = e_y^T V S W z_q`` for a batch.

    ``yhat_b = sum_j (v.z_j)(z_j^T W z_q) / (n+1)`` over the ``n+1`` tokens, query included.

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        X: demonstrations, shape (B, n, d).
        y: their labels, shape (B, n).
        xq: queries, shape (B, d).

    Returns:
        ``yhat``, shape (B,).

    Raises:
        ValueError: inconsistent shapes or non-finite entries (the argument is named).

    Example: with no demonstrations the pretrained point predicts
    ``c |x_q|^2 v.z_q = 0`` (its value row ``e_y`` reads the empty label slot).

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> p = sample_prompts(theta0, n=0, size=3, seed=1)
    >>> predict(V, W, p.X, p.y, p.xq).tolist()
    [0.0, 0.0, 0.0]
    """
    V, W = check_pair(V, W)
    X, y, xq = check_batch(V.shape[0] - 2, X, y, xq)
    return _predict(V[-1], W, X, y, xq)


def _mc(v, W, theta_draw, n, samples, sigma2, rng):
    d = W.shape[0] - 2
    chunk = max(1, _CHUNK_FLOATS // ((n + 1) * (d + 2)))
    total, total_sq, done = 0.0, 0.0, 0
    while done < samples:
        b = min(chunk, samples - done)
        pr = draw_prompts(theta_draw(b), n, b, sigma2, rng)
        err = (_predict(v, W, pr.X, pr.y, pr.xq) - pr.yq) ** 2
        total += err.sum()
        total_sq += (err * err).sum()
        done += b
    mean = total / samples
    var = max(total_sq / samples - mean * mean, 0.0)
    return float(mean), float(np.sqrt(var / max(samples - 1, 1)))


def _check_mc(V, W, n_name, n, sigma2, samples):
    V, W = check_pair(V, W)
    n = check_count(n_name, n)
    sigma2 = check_nonneg("sigma2", sigma2)
    samples = check_positive_int("samples", samples)
    if samples < 2:
        raise ValueError("samples must be >= 2 to estimate a standard error")
    return V, W, n, sigma2, samples


def monte_carlo_loss(V, W, theta, n, sigma2=0.0, samples=100_000, seed=0):
    """Monte Carlo estimate of ``L_n(V, W; theta)`` over ``samples`` independent prompts
    (the third, sampling-based witness for :func:`numerics.expected_loss`).

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        theta: the task, a vector of length ``d``.
        n: demonstrations per prompt, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.
        samples: number of prompts, an int ``>= 2``.
        seed: an int ``>= 0`` or a ``numpy.random.Generator``.

    Returns:
        ``(mean, standard_error)`` of the squared error, floats.

    Raises:
        ValueError: a bad argument (named), or ``samples < 2``.

    Example: within a few standard errors of the exact value.

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> from numerics import expected_loss
    >>> mean, se = monte_carlo_loss(V, W, theta0, n=10, sigma2=0.1, samples=20_000, seed=0)
    >>> bool(abs(mean - expected_loss(V, W, theta0, 10, 0.1)) < 4 * se)
    True
    """
    V, W, n, sigma2, samples = _check_mc(V, W, "n", n, sigma2, samples)
    theta = check_theta(theta, V.shape[0] - 2)
    rng = rng_from_seed(seed)
    return _mc(V[-1], W, lambda b: theta, n, samples, sigma2, rng)


def monte_carlo_pretrain_loss(V, W, m, sigma2=0.0, samples=100_000, seed=0):
    """Monte Carlo estimate of ``L_pre``: a fresh ``theta ~ U(S^{d-1})`` for every prompt.

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        m: demonstrations per prompt, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.
        samples: number of prompts, an int ``>= 2``.
        seed: an int ``>= 0`` or a ``numpy.random.Generator``.

    Returns:
        ``(mean, standard_error)``, floats.

    Raises:
        ValueError: a bad argument (named), or ``samples < 2``.

    Example:

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> from numerics import pretrain_loss
    >>> mean, se = monte_carlo_pretrain_loss(V, W, m=20, sigma2=0.1, samples=20_000, seed=0)
    >>> bool(abs(mean - pretrain_loss(V, W, 20, 0.1)) < 4 * se)
    True
    """
    V, W, m, sigma2, samples = _check_mc(V, W, "m", m, sigma2, samples)
    rng = rng_from_seed(seed)
    d = V.shape[0] - 2
    return _mc(V[-1], W, lambda b: sample_sphere(d, b, rng), m, samples, sigma2, rng)


def token_array(X, y, xq):
    """The prompts as tokens ``z = (1, x, y)``: shape (B, n + 1, d + 2), the query last
    with label slot 0."""
    B, n, d = X.shape
    Z = np.empty((B, n + 1, d + 2))
    Z[:, :, 0] = 1.0
    Z[:, :n, 1:-1] = X
    Z[:, :n, -1] = y
    Z[:, n, 1:-1] = xq
    Z[:, n, -1] = 0.0
    return Z


def _mc_grad(V, W, theta_draw, n, sigma2, samples, rng):
    v = V[-1]
    D = V.shape[0]
    chunk = max(1, _CHUNK_FLOATS // ((n + 1 + D) * D))
    sums = [np.zeros(D), np.zeros((D, D))]
    sq = [np.zeros(D), np.zeros((D, D))]
    done = 0
    while done < samples:
        b = min(chunk, samples - done)
        pr = draw_prompts(theta_draw(b), n, b, sigma2, rng)
        Z = token_array(pr.X, pr.y, pr.xq)
        zq = Z[:, n, :]
        u = zq @ W.T
        Su = np.einsum("bjD,bj->bD", Z, np.einsum("bjD,bD->bj", Z, u)) / (n + 1)
        Sv = np.einsum("bjD,bj->bD", Z, Z @ v) / (n + 1)
        err2 = 2.0 * (Su @ v - pr.yq)
        gv = err2[:, None] * Su
        sums[0] += gv.sum(0)
        sq[0] += (gv * gv).sum(0)
        sums[1] += np.einsum("b,bD,bE->DE", err2, Sv, zq)
        sq[1] += np.einsum("b,bD,bE->DE", err2 * err2, Sv * Sv, zq * zq)
        done += b
    means = [s_ / samples for s_ in sums]
    ses = [np.sqrt(np.maximum(q_ / samples - m_ * m_, 0.0) / (samples - 1)) for q_, m_ in zip(sq, means)]
    gV = np.zeros((D, D))
    gV[-1] = means[0]
    seV = np.zeros((D, D))
    seV[-1] = ses[0]
    return gV, means[1], seV, ses[1]


def monte_carlo_loss_grad(V, W, theta, n, sigma2=0.0, samples=100_000, seed=0):
    """Monte Carlo estimate of ``(dL/dV, dL/dW)`` with entrywise standard errors.

    Per prompt, with ``S = Z^T Z/(n+1)`` and ``err = yhat - y_q``:
    ``d err^2/dV = 2 err e_y (S W z_q)^T`` and ``d err^2/dW = 2 err (S v) z_q^T``
    (``S`` is symmetric).

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        theta: the task, a vector of length ``d``.
        n: demonstrations per prompt, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.
        samples: number of prompts, an int ``>= 2``.
        seed: an int ``>= 0`` or a ``numpy.random.Generator``.

    Returns:
        ``(gV, gW, seV, seW)``: the mean gradients and their entrywise standard errors,
        arrays of the shape of ``V`` and ``W``.

    Raises:
        ValueError: a bad argument (named), or ``samples < 2``.

    Example: the sampled gradient agrees with :func:`numerics.expected_loss_grad`.

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> from numerics import expected_loss_grad
    >>> gV, gW, seV, seW = monte_carlo_loss_grad(V, W, theta0, n=0, samples=20_000, seed=0)
    >>> exact_V, exact_W = expected_loss_grad(V, W, theta0, n=0)
    >>> bool((abs(gV - exact_V) <= 5 * seV + 1e-12).all())
    True
    """
    V, W, n, sigma2, samples = _check_mc(V, W, "n", n, sigma2, samples)
    theta = check_theta(theta, V.shape[0] - 2)
    return _mc_grad(V, W, lambda b: theta, n, sigma2, samples, rng_from_seed(seed))


def monte_carlo_pretrain_loss_grad(V, W, m, sigma2=0.0, samples=100_000, seed=0):
    """Monte Carlo estimate of ``(dL_pre/dV, dL_pre/dW)``: a fresh ``theta ~ U(S^{d-1})``
    for every prompt.

    Args:
        V: value matrix, ``D x D`` with ``D = d + 2`` (only its row ``y`` enters).
        W: merged key-query matrix, ``D x D``, acting on the query.
        m: demonstrations per prompt, an int ``>= 0``.
        sigma2: label-noise variance, ``>= 0``.  The API default is ``0.0`` (noise-free);
            the ``iclft`` command line defaults to ``0.1``.
        samples: number of prompts, an int ``>= 2``.
        seed: an int ``>= 0`` or a ``numpy.random.Generator``.

    Returns:
        ``(gV, gW, seV, seW)``: mean gradients and entrywise standard errors.

    Raises:
        ValueError: a bad argument (named), or ``samples < 2``.

    Example:

    >>> import numpy as np
    >>> d = 3; V = np.zeros((d + 2, d + 2)); V[-1, -1] = 1.0   # value row e_y
    >>> W = 0.5 * np.diag([0.0, 1, 1, 1, 0])                    # W = c diag(0, I, 0), c = 1/2
    >>> theta0 = np.array([1.0, 0.0, 0.0])
    >>> gV, gW, seV, seW = monte_carlo_pretrain_loss_grad(V, W, m=20, samples=2_000, seed=0)
    >>> gV.shape, gW.shape
    ((5, 5), (5, 5))
    """
    V, W, m, sigma2, samples = _check_mc(V, W, "m", m, sigma2, samples)
    rng = rng_from_seed(seed)
    d = V.shape[0] - 2
    return _mc_grad(V, W, lambda b: sample_sphere(d, b, rng), m, sigma2, samples, rng)

