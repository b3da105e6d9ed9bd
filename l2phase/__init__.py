"""l2phase: the public facade a notebook imports (``import l2phase as lp``).

It re-exports the most used names of the three layers under one roof; each layer keeps
its own complete public API (``l2phase.theory``, ``l2phase.numerics``,
``l2phase.empirical``). Nothing is imported until it is used (PEP 562): ``import l2phase``
loads neither torch nor numba nor sympy; ``lp.critical_point`` loads sympy,
``lp.ricci_scalar`` numba, ``lp.sweep_gamma`` torch.

Conventions: depth D = number of hidden layers; loss E[(f(x)-y)^2] + gamma sum_l ||W_l||_F^2
(no 1/2); torch MSELoss(mean) + weight_decay lam means gamma = k lam / 2 for k outputs.
"""

from importlib import import_module as _import_module

from l2phase.theory.lazy_exports import lazy_exports as _lazy_exports

__version__ = "0.1.0"

_SUBPACKAGES = ("theory", "numerics", "empirical")

_PACKAGE_OF = {
    "CriticalPoint": "theory",
    "InputError": "theory",
    "InvalidCovarianceError": "theory",
    "NotConvergedError": "theory",
    "Transition": "theory",
    "critical_point": "theory",
    "scalar_barrier": "theory",
    "cascade_barriers": "theory",
    "critical_point_symbolic": "theory",
    "gamma_from_weight_decay": "theory",
    "noisy_covariance": "theory",
    "optimal_solution": "theory",
    "reduced_loss": "theory",
    "scalar_chain_curvature": "theory",
    "transitions": "theory",
    "data_transitions": "theory",
    "read_data_stats": "theory",
    "restrict_to_range": "theory",
    "vae_collapse_thresholds": "theory",
    "weight_decay_from_gamma": "theory",
    "ChangePoint": "numerics",
    "ChangePointDetector": "numerics",
    "detect_change_points": "numerics",
    "read_curve_table": "numerics",
    "table_change_points": "numerics",
    "free_energy": "numerics",
    "locate_transitions": "numerics",
    "ricci_scalar": "numerics",
    "ricci_scalar_batched": "numerics",
    "ricci_scalar_from_moments": "numerics",
    "Dataset": "empirical",
    "NetSpec": "empirical",
    "SweepConfig": "empirical",
    "TrainConfig": "empirical",
    "VAESpec": "empirical",
    "VAESweepConfig": "empirical",
    "ValidationConfig": "empirical",
    "accuracy_regimes": "empirical",
    "classification_metrics": "empirical",
    "classification_split": "empirical",
    "collapse_analysis": "empirical",
    "curvature_exact": "empirical",
    "curvature_matrix_free": "empirical",
    "data_stats": "empirical",
    "detect_curve_change_points": "empirical",
    "hysteresis_loop": "empirical",
    "judge": "empirical",
    "load_digits_dataset": "empirical",
    "load_mnist": "empirical",
    "match_transitions": "empirical",
    "predicted_transitions": "empirical",
    "refine_sweep": "empirical",
    "run_validation": "empirical",
    "scan": "empirical",
    "sweep_beta": "empirical",
    "sweep_gamma": "empirical",
    "synthetic_teacher": "empirical",
    "train_batched": "empirical",
}


_facade_getattr, __dir__ = _lazy_exports(__name__, _PACKAGE_OF, extra=_SUBPACKAGES)


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return _import_module(f"{__name__}.{name}")
    return _facade_getattr(name)


__all__ = [
    "VAESpec",
    "VAESweepConfig",
    "accuracy_regimes",
    "classification_metrics",
    "classification_split",
    "collapse_analysis",
    "sweep_beta",
    "ChangePoint",
    "ChangePointDetector",
    "critical_point",
    "scalar_barrier",
    "cascade_barriers",
    "critical_point_symbolic",
    "CriticalPoint",
    "curvature_exact",
    "curvature_matrix_free",
    "data_stats",
    "Dataset",
    "detect_change_points",
    "read_curve_table",
    "table_change_points",
    "scan",
    "detect_curve_change_points",
    "free_energy",
    "gamma_from_weight_decay",
    "hysteresis_loop",
    "InputError",
    "judge",
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
    "data_transitions",
    "read_data_stats",
    "restrict_to_range",
    "vae_collapse_thresholds",
    "ValidationConfig",
    "weight_decay_from_gamma",
]
