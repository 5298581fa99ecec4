"""LaTeX rendering of derived expressions with stable, readable symbol names.

Conventions: token ``z = (1, x, y)``; ``S`` normalised by ``n+1`` with the query included;
merged ``W`` (row-token code ``Attn = Z M Z^T`` has ``M = W^T``); separate ``W = K^T Q``.

``latex(x)`` accepts either a SymPy expression or the *name* of a derived expression in
:func:`registry` (strings are only ever looked up, never parsed).  Gradient names have the
form ``grad.<objective>.<form>.<subset>.<matrix>``, e.g. ``grad.zs.merged.all.W``, and render
as ``\\nabla_W F = sum coef * basis``.
"""
from __future__ import annotations

import functools
from typing import Callable

import sympy as sp

import vocabulary

from . import objectives as _obj
from . import optima as _opt
from .gradients import SUBSETS, gradient
from .symbols import (INV_KEYS, K, N, Q, a, alpha, b, beta, c, d, h, kappa, lam, m, n, q,
                      rho, sigma2)

__all__ = ["latex", "registry", "derived", "SYMBOL_NAMES", "BASIS_LATEX"]

#: symbol -> LaTeX name (stable); ``K_<basis>`` with the basis' TeX subscript
SYMBOL_NAMES = {a: "a", b: "b", q: "q", alpha: r"\alpha", beta: r"\beta", h: "h",
                kappa: r"\kappa", rho: r"\rho", c: "c", d: "d", n: "n", N: "N", m: "m",
                sigma2: r"\sigma^2", lam: r"\lambda",
                **{K[k]: f"K_{{{vocabulary.BASIS[k].tex}}}" for k in INV_KEYS},
                **{Q[k]: f"Q_{{{vocabulary.BASIS[k].tex}}}" for k in INV_KEYS}}

#: basis name -> LaTeX (``t = (0, \theta_0, 0)``), from :data:`vocabulary.BASIS`
BASIS_LATEX = {k: bs.tex_matrix for k, bs in vocabulary.BASIS.items()}


def _obj_tex(name: str) -> str:
    """An objective's TeX name, in parentheses when it has several terms."""
    o = vocabulary.OBJECTIVES[name]
    return o.tex if len(o.terms) == 1 else f"({o.tex})"


@functools.lru_cache(maxsize=None)
def registry() -> dict[str, Callable[[], sp.Expr]]:
    """Name -> zero-argument callable returning the derived expression (lazy, cached)."""
    reg: dict[str, Callable[[], sp.Expr]] = {
        "expected_loss": _obj.expected_loss,
        "sphere_loss": _obj.sphere_loss,
        "pretrain_loss": _obj.pretrain_loss,
        "pretrain_objective": _obj.pretrain_objective,
        "zs": _obj.zs,
        "fs": _obj.fs,
        "zsfs": _obj.zsfs,
        "pretrain.c_star": _opt.pretrain_c_star,
        "pretrain.min_loss": _opt.pretrain_min_loss,
        "zs.v.a": lambda: _opt.zs_v_optimum()[a],
        "zs.v.min_loss": _opt.zs_v_min_loss,
        "zsfs.v.a": lambda: _opt.zsfs_v_optimum()[a],
        "zsfs.v.b": lambda: _opt.zsfs_v_optimum()[b],
        "fs.b_at_zs_a": lambda: _opt.fs_b_at_zs_a()[b],
        "fs.cb_at_zs_a": lambda: _opt.fs_b_at_zs_a()["c*b"],
        "zs.all.min_gram": lambda: _opt.zs_global_minimisers()["gram"],
        "balancedness": _opt.balancedness,
        "zs.all.flow_limit.equation": lambda: _opt.zs_all_flow_limit()["equation"],
        "zs.all.flow_limit.a": lambda: _opt.zs_all_flow_limit()["a"],
        "zs.all.flow_limit.q": lambda: _opt.zs_all_flow_limit()["q"],
    }
    return reg


def derived(name: str) -> sp.Expr:
    """The derived expression registered under ``name`` (``ValueError`` if unknown)."""
    reg = registry()
    if name not in reg:
        raise ValueError(f"unknown expression name {name!r}; known: {sorted(reg)} "
                         "and grad.<objective>.<form>.<subset>.<matrix>")
    return reg[name]()


def _sym_latex(expr) -> str:
    return sp.latex(expr, symbol_names=SYMBOL_NAMES)


@functools.lru_cache(maxsize=None)
def _tidy(coef: sp.Expr) -> sp.Expr:
    """Readable but cheap normal form: full factorisation for small coefficients; large ones
    (and the many-variable separate-form coefficients, where multivariate factoring costs
    up to a minute) only get their common content pulled out."""
    num, den = sp.fraction(coef)
    if len(sp.Add.make_args(num)) <= 40 and len(coef.free_symbols) <= 11:
        return sp.factor(coef)
    return sp.factor_terms(num) / sp.factor(den)


@functools.lru_cache(maxsize=None)
def _gradient_latex(name: str) -> str:
    parts = name.split(".")
    if len(parts) != 5:
        raise ValueError(f"gradient name must be grad.<objective>.<form>.<subset>.<matrix>, "
                         f"got {name!r}")
    _, obj, form, subset, mat = parts
    if obj not in vocabulary.OBJECTIVES or form not in SUBSETS or subset not in SUBSETS[form]:
        raise ValueError(f"bad gradient name {name!r}")
    res = gradient(obj, subset, form)
    if mat not in res.matrices:
        raise ValueError(f"matrix {mat!r} is not trained in {form}/{subset}; "
                         f"trained: {sorted(res.matrices)}")
    terms = []
    for basis, coef in res.matrices[mat].items():
        coef = _tidy(coef)
        if coef == 0:
            continue
        terms.append(rf"\left({_sym_latex(coef)}\right) {BASIS_LATEX[basis]}")
    body = " + ".join(terms) if terms else "0"
    return rf"\nabla_{{{mat}}} {_obj_tex(obj)} = {body}"


def latex(expr_or_name) -> str:
    """LaTeX string for a SymPy expression or a registered name (see module docstring)."""
    if isinstance(expr_or_name, str):
        if expr_or_name.startswith("grad."):
            return _gradient_latex(expr_or_name)
        return _sym_latex(derived(expr_or_name))
    if isinstance(expr_or_name, (sp.Basic, sp.MatrixBase)):
        return _sym_latex(expr_or_name)
    raise ValueError(f"latex expects a SymPy expression or a registered name, "
                     f"got {type(expr_or_name).__name__}")
