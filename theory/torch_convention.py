r"""Convert between torch's ``weight_decay`` and the L2 strength gamma of l2phase.

l2phase's loss: L = E||f(x) - y||^2 + gamma ||theta||^2 (no 1/2, E = mean over samples).

torch: ``nn.MSELoss(reduction="mean")`` averages over samples *and* the k outputs, so it is
E||f - y||^2 / k; ``SGD``/``Adam`` with ``weight_decay=lam`` add lam*theta to the gradient,
i.e. (lam/2)||theta||^2 to the objective.  torch therefore minimises
(1/k) [E||f - y||^2 + (k lam / 2) ||theta||^2], the same minimisers as l2phase's loss with

.. math:: \gamma = k \lambda / 2 \quad (\text{reduction="mean"}), \qquad
          \gamma = \lambda / (2 N) \quad (\text{reduction="sum"}, N \text{ samples}).

``AdamW`` decays the weights *decoupled* from the gradient (theta <- theta - lr*lam*theta);
its stationary points coincide with those of the L2-regularised objective only when the
Adam preconditioner is a multiple of the identity.  The mapping above is what the
conventions (docs/conventions.md) prescribe for it and is returned with that caveat.
"""

from __future__ import annotations

from .checks import check_int, check_nonnegative
from .checks import InputError, InputTypeError

__all__ = ["gamma_from_weight_decay", "weight_decay_from_gamma"]

_OPTIMIZERS = ("sgd", "adam", "adamw")
_REDUCTIONS = ("mean", "sum")


def _factor(optimizer: str, n_outputs: int, reduction: str, n_samples: int | None) -> float:
    """gamma / weight_decay for the given torch set-up."""
    if not isinstance(optimizer, str) or optimizer.lower() not in _OPTIMIZERS:
        raise InputError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
    n_outputs = check_int(n_outputs, "n_outputs", 1)
    if reduction not in _REDUCTIONS:
        raise InputError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if reduction == "mean":
        return n_outputs / 2.0
    if n_samples is None:
        raise InputTypeError("n_samples (a positive integer) is required with reduction='sum'")
    n_samples = check_int(n_samples, "n_samples (required with reduction='sum')", 1)
    return 1.0 / (2.0 * n_samples)


def gamma_from_weight_decay(
    weight_decay: float,
    optimizer: str = "sgd",
    n_outputs: int = 1,
    reduction: str = "mean",
    n_samples: int | None = None,
) -> float:
    """gamma of l2phase's loss for torch ``MSELoss(reduction)`` + ``optimizer(weight_decay=lam)``.

    gamma = n_outputs * lam / 2 for reduction "mean"; lam / (2 N) for "sum".

    >>> gamma_from_weight_decay(0.2)
    0.1
    >>> gamma_from_weight_decay(0.2, n_outputs=3)
    0.30000000000000004
    """
    lam = check_nonnegative(weight_decay, "weight_decay")
    return lam * _factor(optimizer, n_outputs, reduction, n_samples)


def weight_decay_from_gamma(
    gamma: float,
    optimizer: str = "sgd",
    n_outputs: int = 1,
    reduction: str = "mean",
    n_samples: int | None = None,
) -> float:
    """torch ``weight_decay`` that realises l2phase's gamma (inverse of :func:`gamma_from_weight_decay`).

    >>> weight_decay_from_gamma(0.1)
    0.2
    """
    gamma = check_nonnegative(gamma, "gamma")
    return gamma / _factor(optimizer, n_outputs, reduction, n_samples)
