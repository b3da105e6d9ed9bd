"""numerics: fast, closed-form-independent numerics for L2 phase transitions (numba kernels).

Public API
----------
Landscape curvature (docs/theory.md): :func:`ricci_scalar`, :func:`ricci_scalar_batched`,
:func:`ricci_scalar_from_moments`;
scalar-chain curvature maps on grids: :func:`curvature_map`, :func:`chain_gradient_hessian`.
Zero-temperature free energy: :func:`free_energy`, :func:`free_energy_general`,
:func:`free_energy_lean` (fast L*, dL*, d2L* only),
:func:`locate_transitions`, :class:`ReducedLossModel`.
Finite temperature F(gamma, T) of the scalar chain: :func:`thermal_quadrature`,
:func:`thermal_reduced`, :func:`thermal_sampler`, :func:`susceptibility_peak`,
:func:`escape_times`.
Reference solver of the D = 1 several-output cascade: :func:`proximal_rank_path`.
Escape of full deep linear nets: :func:`deep_linear_first_passage` (Langevin, numba);
escape statistics with censoring: :func:`censored_exponential_mle`, :func:`kaplan_meier`,
:func:`arrhenius_fit`.
Change points of curves y(gamma): :class:`ChangePointDetector`, :class:`ChangePoint`,
:func:`detect_change_points`; of every column of a table logged elsewhere:
:func:`read_curve_table`, :func:`table_change_points`, :func:`change_points_json`.

``numerics`` never imports torch, and imports ``theory`` only for input validators.
"""

from .change_points import SEGMENT_DEGREES, ChangePoint, ChangePointDetector, detect_change_points
from .curve_table import change_points_json, read_curve_table, table_change_points
from .free_energy import (
    Branch,
    FreeEnergyCurve,
    NumericalTransition,
    ReducedLossModel,
    free_energy,
    free_energy_general,
    free_energy_lean,
    locate_transitions,
)
from .nuclear_reference import proximal_rank_path
from .landscape_ricci import ricci_scalar, ricci_scalar_batched, ricci_scalar_from_moments
from .curvature_maps import chain_gradient_hessian, curvature_map
from .escape_statistics import ArrheniusFit, CensoredRate, arrhenius_fit, censored_exponential_mle, kaplan_meier
from .deep_linear_escape import deep_linear_first_passage
from .finite_temperature import (
    EscapeResult,
    ThermalCurve,
    escape_times,
    susceptibility_peak,
    thermal_quadrature,
    thermal_reduced,
    thermal_sampler,
)

__all__ = [
    "proximal_rank_path",
    "Branch",
    "FreeEnergyCurve",
    "NumericalTransition",
    "ReducedLossModel",
    "free_energy",
    "free_energy_general",
    "free_energy_lean",
    "locate_transitions",
    "ChangePoint",
    "ChangePointDetector",
    "SEGMENT_DEGREES",
    "detect_change_points",
    "read_curve_table",
    "table_change_points",
    "change_points_json",
    "ricci_scalar",
    "ricci_scalar_batched",
    "ricci_scalar_from_moments",
    "chain_gradient_hessian",
    "curvature_map",
    "ArrheniusFit",
    "CensoredRate",
    "arrhenius_fit",
    "censored_exponential_mle",
    "kaplan_meier",
    "deep_linear_first_passage",
    "EscapeResult",
    "ThermalCurve",
    "escape_times",
    "susceptibility_peak",
    "thermal_quadrature",
    "thermal_reduced",
    "thermal_sampler",
]
