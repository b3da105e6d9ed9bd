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
Change points of curves y(gamma): :class:`ChangePointDetector`, :class:`ChangePoint`,
:func:`detect_change_points`.

``numerics`` never imports torch, and imports ``theory`` only for input validators.
"""

from .change_points import SEGMENT_DEGREES, ChangePoint, ChangePointDetector, detect_change_points
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
from .landscape_ricci import ricci_scalar, ricci_scalar_batched, ricci_scalar_from_moments
from .curvature_maps import chain_gradient_hessian, curvature_map
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
    "ricci_scalar",
    "ricci_scalar_batched",
    "ricci_scalar_from_moments",
    "chain_gradient_hessian",
    "curvature_map",
    "EscapeResult",
    "ThermalCurve",
    "escape_times",
    "susceptibility_peak",
    "thermal_quadrature",
    "thermal_reduced",
    "thermal_sampler",
]
