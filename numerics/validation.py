"""Argument checking shared by every public function of :mod:`numerics`.

Conventions: see :mod:`numerics` (stated once there) and docs/theory.md section 1.

Every check raises :class:`ValueError` whose message names the offending argument and
the rule it broke.  Nothing is coerced silently: a float ``n`` such as ``2.5`` is
rejected, not rounded.
"""
from __future__ import annotations

import numbers

import numpy as np

import vocabulary

__all__ = [
    "check_matrix",
    "check_pair",
    "check_theta",
    "check_count",
    "check_nonneg",
    "check_positive_int",
    "check_batch",
    "check_positive",
    "check_seed",
    "check_objective",
    "check_form",
    "check_train",
    "check_config",
    "check_problem",
]


def check_matrix(name: str, value, dim: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 square matrix of side ``D >= 3``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real square matrix, got {type(value).__name__}") from None
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square (D x D) matrix, got shape {arr.shape}")
    if arr.shape[0] < 3:
        raise ValueError(f"{name} must have side D = d + 2 >= 3 (d >= 1), got {arr.shape[0]}")
    if dim is not None and arr.shape[0] != dim:
        raise ValueError(f"{name} must have shape ({dim}, {dim}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must have only finite entries")
    return arr


def check_pair(V, W, *, names=("V", "W")) -> tuple[np.ndarray, np.ndarray]:
    """Check two ``D x D`` matrices of the same side."""
    Va = check_matrix(names[0], V)
    Wa = check_matrix(names[1], W, dim=Va.shape[0])
    return Va, Wa


def check_theta(theta, d: int, name: str = "theta") -> np.ndarray:
    """Return ``theta`` as a finite vector of length ``d = D - 2``."""
    try:
        arr = np.asarray(theta, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real vector, got {type(theta).__name__}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {arr.shape}")
    if arr.shape[0] != d:
        raise ValueError(f"{name} must have length D - 2 = {d}, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must have only finite entries")
    return arr


def check_count(name: str, value) -> int:
    """A shot count: an integer ``>= 0`` (``bool`` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def check_positive_int(name: str, value) -> int:
    """An integer ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def check_nonneg(name: str, value) -> float:
    """A finite real ``>= 0`` (a noise variance, a weight)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number >= 0, got {value!r}")
    x = float(value)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return x


def check_batch(d: int, X, y, xq, yq=None):
    """A batch of prompts: ``X`` (B, n, d), ``y`` (B, n), ``xq`` (B, d) and optionally
    ``yq`` (B,), all finite; returned as float64 arrays."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xq = np.asarray(xq, dtype=np.float64)
    if X.ndim != 3 or X.shape[2] != d:
        raise ValueError(f"X must have shape (B, n, {d}), got {X.shape}")
    if y.shape != X.shape[:2]:
        raise ValueError(f"y must have shape {X.shape[:2]}, got {y.shape}")
    if xq.shape != (X.shape[0], d):
        raise ValueError(f"xq must have shape {(X.shape[0], d)}, got {xq.shape}")
    arrays = [("X", X), ("y", y), ("xq", xq)]
    if yq is not None:
        yq = np.asarray(yq, dtype=np.float64)
        if yq.shape != (X.shape[0],):
            raise ValueError(f"yq must have shape {(X.shape[0],)}, got {yq.shape}")
        arrays.append(("yq", yq))
    for name, arr in arrays:
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must have only finite entries")
    return (X, y, xq) if yq is None else (X, y, xq, yq)


def check_positive(name: str, value) -> float:
    """A finite real ``> 0`` (a tolerance, a time, a step size).

    Args:
        name: the argument's name, for the error message.
        value: the value to check.

    Returns:
        ``value`` as a float.
    """
    x = check_nonneg(name, value)
    if x <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return x


def check_seed(seed) -> int:
    """A random seed: an integer ``>= 0`` (``bool`` is not a seed)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_objective(objective) -> str:
    """A fine-tuning objective: a key of :data:`vocabulary.OBJECTIVES` other than
    ``pretrain`` (which defines the starting point)."""
    names = tuple(k for k in vocabulary.OBJECTIVES if k != "pretrain")
    if objective not in names:
        raise ValueError(f"objective must be one of {', '.join(names)}, got {objective!r}")
    return objective


def check_form(form) -> str:
    """A parametrisation form: ``merged`` or ``separate`` (:data:`vocabulary.FORMS`)."""
    if form not in vocabulary.FORMS:
        raise ValueError(f"form must be one of {', '.join(vocabulary.FORMS)}, got {form!r}")
    return form


def check_train(train, form) -> str:
    """A trained subset of ``form`` (:data:`vocabulary.TRAIN`)."""
    vocabulary.trained_matrices(form, train)
    return train


def check_config(config) -> vocabulary.Config:
    """A configuration: a :class:`vocabulary.Config` with ``d >= 1``, counts ``m, N >= 0`` and
    ``sigma2, lam >= 0`` (each checked by name).  Required: a route never falls back on the
    paper's setting.

    Returns:
        The configuration with ``int`` counts and ``float`` reals.
    """
    if not isinstance(config, vocabulary.Config):
        raise ValueError(f"config must be a vocabulary.Config, got {type(config).__name__}")
    return vocabulary.Config(check_positive_int("d", config.d), check_count("m", config.m),
                             check_count("N", config.N), check_nonneg("sigma2", config.sigma2),
                             check_nonneg("lam", config.lam))


def check_problem(objective, form, train, config):
    """Validate the arguments shared by the flows and SGD: ``(objective, form, train, config)``.

    Returns:
        ``(objective, form, train, config)`` normalised.
    """
    objective = check_objective(objective)
    form = check_form(form)
    train = check_train(train, form)
    return objective, form, train, check_config(config)
