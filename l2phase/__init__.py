"""l2phase: the public facade a notebook imports (``import l2phase as lp``).

It re-exports the most used names of the three layers under one roof; each layer keeps
its own complete public API (``theory``, ``numerics``, ``empirical``).

Conventions: depth D = number of hidden layers; loss E[(f(x)-y)^2] + gamma sum_l ||W_l||_F^2
(no 1/2); torch MSELoss(mean) + weight_decay lam means gamma = k lam / 2 for k outputs.
"""

from empirical import (
    Dataset,
    NetSpec,
    SweepConfig,
    TrainConfig,
    ValidationConfig,
    curvature_exact,
    curvature_matrix_free,
    data_stats,
    detect_curve_change_points,
    hysteresis_loop,
    load_digits_dataset,
    load_mnist,
    match_transitions,
    predicted_transitions,
    refine_sweep,
    run_validation,
    sweep_gamma,
    synthetic_teacher,
    train_batched,
)
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
    "critical_point",
    "critical_point_symbolic",
    "CriticalPoint",
    "curvature_exact",
    "curvature_matrix_free",
    "data_stats",
    "Dataset",
    "detect_change_points",
    "detect_curve_change_points",
    "free_energy",
    "gamma_from_weight_decay",
    "hysteresis_loop",
    "InvalidCovarianceError",
    "load_digits_dataset",
    "load_mnist",
    "locate_transitions",
    "match_transitions",
    "NetSpec",
    "noisy_covariance",
    "NotConvergedError",
    "optimal_solution",
    "predicted_transitions",
    "reduced_loss",
    "refine_sweep",
    "ricci_scalar",
    "ricci_scalar_batched",
    "ricci_scalar_from_moments",
    "run_validation",
    "scalar_chain_curvature",
    "sweep_gamma",
    "SweepConfig",
    "synthetic_teacher",
    "train_batched",
    "TrainConfig",
    "Transition",
    "transitions",
    "vae_collapse_thresholds",
    "ValidationConfig",
    "weight_decay_from_gamma",
]
