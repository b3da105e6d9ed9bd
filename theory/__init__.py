"""theory: exact results for L2 phase transitions, derived with sympy.

Conventions (docs/conventions.md): depth D = number of hidden layers (n = D + 1 weight
matrices); loss L = E[(f(x)-y)^2] + gamma * sum_l ||W_l||_F^2 with no factor 1/2; torch's
MSELoss(mean) + weight_decay lam means gamma = k lam / 2 for k outputs.

Orders (computed by :func:`critical_point`, Ehrenfest): D = 1 second order, D >= 2 first
order, D = 0 no transition.  Third-party summaries of Ziyin & Ueda
(arXiv:2205.12510) and the v1 abstract of Ersoy & Wiesner (arXiv:2505.06597) state it
reversed; Ziyin & Ueda's abstract itself and later versions of Ersoy & Wiesner's paper agree.

Two-layer ReLU initialisation phase diagram (Luo et al., arXiv:2007.07497): :mod:`theory.init_scaling`
(its coordinates are called gamma_energy / gamma_dynamic, never gamma).

This package never imports torch or numba.
"""

# Names resolve on first use (PEP 562): ``import l2phase.theory`` costs nothing, and the
# input validators (used by numerics) load without sympy.
from importlib import import_module as _import_module

_SUBMODULE_OF = {
    "CriticalPoint": "closed_form",
    "OptimalSolution": "closed_form",
    "SymbolicCriticalPoint": "derivation",
    "critical_point": "closed_form",
    "critical_point_symbolic": "derivation",
    "optimal_solution": "closed_form",
    "Transition": "general_data",
    "DataTransitions": "general_data",
    "data_transitions": "general_data",
    "RANGE_RTOL": "data_range",
    "RangeRestriction": "data_range",
    "restrict_to_range": "data_range",
    "FactoredBranch": "factored_branch",
    "GlobalTransition": "global_branches",
    "global_transitions": "global_branches",
    "NuclearPathPoint": "nuclear_path",
    "nuclear_norm_path": "nuclear_path",
    "ridge_branch_critical_point": "general_data",
    "transitions": "general_data",
    "INIT_REGIMES": "init_scaling",
    "InitCoordinates": "init_scaling",
    "InitScaling": "init_scaling",
    "NAMED_INITS": "init_scaling",
    "NamedInit": "init_scaling",
    "PAPER_PLACEMENT": "init_scaling",
    "boundary_distance": "init_scaling",
    "boundary_gamma_energy": "init_scaling",
    "heuristic_rd_slope": "init_scaling",
    "init_coordinates_finite_m": "init_scaling",
    "init_coordinates_fit": "init_scaling",
    "init_regime": "init_scaling",
    "named_init": "init_scaling",
    "normalised_scales": "init_scaling",
    "normalised_step": "init_scaling",
    "CascadeBarriers": "barriers",
    "CascadeState": "barriers",
    "ScalarBarrier": "barriers",
    "cascade_barriers": "barriers",
    "scalar_barrier": "barriers",
    "stationary_branch": "barriers",
    "noise_factor": "noise",
    "noisy_covariance": "noise",
    "Branch": "order",
    "EhrenfestResult": "order",
    "ehrenfest_order": "order",
    "SYMBOLS": "reduced_problem",
    "network_loss_expr": "reduced_problem",
    "reduced_loss": "reduced_problem",
    "reduced_loss_expr": "reduced_problem",
    "CurvatureToy": "ricci",
    "ricci_scalar_formula": "ricci",
    "ricci_scalar_symbolic": "ricci",
    "scalar_chain_curvature": "ricci",
    "gamma_from_weight_decay": "torch_convention",
    "weight_decay_from_gamma": "torch_convention",
    "CollapseThreshold": "vae",
    "vae_collapse_thresholds": "vae",
    "InputError": "checks",
    "InputTypeError": "checks",
    "InvalidCovarianceError": "checks",
    "NotConvergedError": "checks",
    "check_covariance": "checks",
    "check_data_stats": "checks",
    "check_depth": "checks",
    "check_gamma": "checks",
    "check_nonnegative": "checks",
    "check_positive": "checks",
    "check_sequence_of": "checks",
    "format_number": "formatting",
    "json_ready": "formatting",
    "STATS_SCHEMA": "stats_file",
    "read_data_stats": "stats_file",
}


def __getattr__(name: str):
    if name in _SUBMODULE_OF:
        value = getattr(_import_module(f".{_SUBMODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "STATS_SCHEMA",
    "read_data_stats",
    "INIT_REGIMES",
    "PAPER_PLACEMENT",
    "NAMED_INITS",
    "InitCoordinates",
    "InitScaling",
    "NamedInit",
    "boundary_gamma_energy",
    "boundary_distance",
    "heuristic_rd_slope",
    "init_coordinates_finite_m",
    "init_coordinates_fit",
    "init_regime",
    "named_init",
    "normalised_scales",
    "normalised_step",
    "Branch",
    "CascadeBarriers",
    "CascadeState",
    "ScalarBarrier",
    "cascade_barriers",
    "scalar_barrier",
    "stationary_branch",
    "CollapseThreshold",
    "CriticalPoint",
    "CurvatureToy",
    "EhrenfestResult",
    "InputError",
    "InputTypeError",
    "InvalidCovarianceError",
    "NotConvergedError",
    "OptimalSolution",
    "SYMBOLS",
    "SymbolicCriticalPoint",
    "Transition",
    "DataTransitions",
    "data_transitions",
    "RANGE_RTOL",
    "RangeRestriction",
    "restrict_to_range",
    "FactoredBranch",
    "GlobalTransition",
    "global_transitions",
    "NuclearPathPoint",
    "nuclear_norm_path",
    "check_covariance",
    "check_data_stats",
    "check_depth",
    "check_gamma",
    "check_nonnegative",
    "check_positive",
    "critical_point",
    "critical_point_symbolic",
    "ehrenfest_order",
    "gamma_from_weight_decay",
    "network_loss_expr",
    "noise_factor",
    "noisy_covariance",
    "optimal_solution",
    "reduced_loss",
    "reduced_loss_expr",
    "ricci_scalar_formula",
    "ricci_scalar_symbolic",
    "ridge_branch_critical_point",
    "scalar_chain_curvature",
    "transitions",
    "vae_collapse_thresholds",
    "weight_decay_from_gamma",
    "check_sequence_of",
    "format_number",
    "json_ready",
]
