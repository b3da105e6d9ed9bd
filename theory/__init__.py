"""theory: exact results for L2 phase transitions, derived with sympy.

Conventions (DESIGN section 3): depth D = number of hidden layers (n = D + 1 weight
matrices); loss L = E[(f(x)-y)^2] + gamma * sum_l ||W_l||_F^2 with no factor 1/2; torch's
MSELoss(mean) + weight_decay lam means gamma = k lam / 2 for k outputs.

Orders (computed by :func:`critical_point`, Ehrenfest): D = 1 second order, D >= 2 first
order, D = 0 no transition.  Seed 001's first line and seed 000's v1 abstract state it
reversed; the later version of seed 000 and seed 001's abstract body agree with this.

Two-layer ReLU initialisation phase diagram (seed 002): :mod:`theory.init_scaling`
(its coordinates are called gamma_energy / gamma_dynamic, never gamma).

This package never imports torch or numba.
"""

from .critical_point import (
    CriticalPoint,
    OptimalSolution,
    SymbolicCriticalPoint,
    critical_point,
    critical_point_symbolic,
    optimal_solution,
)
from .general_data import Transition, ridge_branch_critical_point, transitions
from .init_scaling import (
    INIT_REGIMES,
    PAPER_PLACEMENT,
    NAMED_INITS,
    InitCoordinates,
    InitScaling,
    NamedInit,
    boundary_gamma_energy,
    boundary_distance,
    heuristic_rd_slope,
    init_coordinates_finite_m,
    init_coordinates_fit,
    init_regime,
    named_init,
    normalised_scales,
    normalised_step,
)
from .noise import noise_factor, noisy_covariance
from .order import Branch, EhrenfestResult, ehrenfest_order
from .reduced_loss import SYMBOLS, network_loss_expr, reduced_loss, reduced_loss_expr
from .ricci import CurvatureToy, ricci_scalar_formula, ricci_scalar_symbolic, scalar_chain_curvature
from .torch_convention import gamma_from_weight_decay, weight_decay_from_gamma
from .vae import CollapseThreshold, vae_collapse_thresholds
from .validation import (
    InvalidCovarianceError,
    NotConvergedError,
    check_covariance,
    check_data_stats,
    check_depth,
    check_gamma,
    check_nonnegative,
    check_positive,
)

__all__ = [
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
    "CollapseThreshold",
    "CriticalPoint",
    "CurvatureToy",
    "EhrenfestResult",
    "InvalidCovarianceError",
    "NotConvergedError",
    "OptimalSolution",
    "SYMBOLS",
    "SymbolicCriticalPoint",
    "Transition",
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
]
