"""iclft.numerics: exact closed forms in NumPy for any matrices at a concrete ``d``.

Conventions (the one statement for the package; modules refer here; the full statement
is docs/theory.md section 1): token ``z = (1, x, y)`` with index 0 constant, indices
``1..d`` the features and index ``d+1`` the label, ``D = d + 2``; ``yhat = e_y^T V S W z_q``
with ``S = (sum_i z_i z_i^T + z_q z_q^T)/(n+1)`` (the query is a token, normalisation by
the token count ``n + 1``); ``W`` is the merged key-query matrix acting on the query,
``M = W^T`` in row-token code ``Attn = Z M Z^T``, and the separate form is ``W = K^T Q``;
``L_n = E[(yhat - y_q)^2]`` includes the noise floor ``sigma2``.
Every route from a method to its end point (the flows, the classified end points, SGD,
:meth:`numerics.problem.Problem.build`) takes ``(objective, form, train, config, *, options)``
with ``config`` a :class:`vocabulary.Config` and no default for it.
This package never imports :mod:`theory` or :mod:`proofs_check`.
"""
from .gradients import expected_loss_grad, expected_loss_grad_kq, pretrain_loss_grad
from .objectives import expected_loss, pretrain_loss
from .sampling import (Prompts, monte_carlo_loss, monte_carlo_loss_grad,
                       monte_carlo_pretrain_loss, monte_carlo_pretrain_loss_grad, predict,
                       sample_prompts)

__all__ = [
    "expected_loss", "expected_loss_grad", "expected_loss_grad_kq",
    "pretrain_loss", "pretrain_loss_grad",
    "predict", "sample_prompts", "Prompts", "monte_carlo_loss", "monte_carlo_pretrain_loss",
    "monte_carlo_loss_grad", "monte_carlo_pretrain_loss_grad",
]

#: public names of the flow modules, importable from ``numerics`` (loaded on first use, so
#: that ``import numerics`` does not import SciPy's integrators)
_LAZY = {
    "gradient_flow": "flow", "full_matrix_flow": "flow", "FlowResult": "flow",
    "FullFlowResult": "flow", "STOP_REASONS": "flow",
    "pretrain_family": "pretrained", "pretrained_c": "pretrained", "pretrained_point": "pretrained",
    "objective_value": "finetune_objective", "objective_grad": "finetune_objective",
    "objective_grad_kq": "finetune_objective",
    "sgd_finetune": "sgd", "SGDResult": "sgd", "SGDSettings": "sgd",
    "degenerate_start_outcome": "degenerate", "frozen_value_flow": "degenerate",
    "leftover_start": "degenerate", "DegenerateOutcome": "degenerate",
}
__all__ += list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib  # deferred: a flow module (SciPy's integrators) loads on first use
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
