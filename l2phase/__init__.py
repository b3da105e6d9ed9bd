"""l2phase: the public facade a notebook imports (``import l2phase as lp``).

It re-exports the most used names of the three layers under one roof; each layer keeps
its own complete public API (``theory``, ``numerics``, ``empirical``).

Conventions: depth D = number of hidden layers; loss E[(f(x)-y)^2] + gamma sum_l ||W_l||_F^2
(no 1/2); torch MSELoss(mean) + weight_decay lam means gamma = k lam / 2 for k outputs.
"""

from numerics import (
    ChangePoint,
    ChangePointDetector,
    detect_change_points,
    free_energy,
    locate_transitions,
    ricci_scalar,
    ricci_scalar_batched,
    ricci_scalar_from_moments,
)
from theory import (
    CriticalPoint,
    InvalidCovarianceError,
    NotConvergedError,
    Transition,
    critical_point,
    critical_point_symbolic,
    gamma_from_weight_decay,
    noisy_covariance,
    optimal_solution,
    reduced_loss,
    scalar_chain_curvature,
    transitions,
    vae_collapse_thresholds,
    weight_decay_from_gamma,
)

__version__ = "0.1.0"

__all__ = [
    "ChangePoint",
    "ChangePointDetector",
    "CriticalPoint",
    "InvalidCovarianceError",
    "NotConvergedError",
    "Transition",
    "critical_point",
    "critical_point_symbolic",
    "detect_change_points",
    "free_energy",
    "gamma_from_weight_decay",
    "locate_transitions",
    "noisy_covariance",
    "optimal_solution",
    "reduced_loss",
    "ricci_scalar",
    "ricci_scalar_batched",
    "ricci_scalar_from_moments",
    "scalar_chain_curvature",
    "transitions",
    "vae_collapse_thresholds",
    "weight_decay_from_gamma",
]
