"""numerics: fast, closed-form-independent numerics for L2 phase transitions (numba kernels).

Public API
----------
Curvature (DESIGN section 5): :func:`ricci_scalar`, :func:`ricci_scalar_batched`,
:func:`ricci_scalar_from_moments`.
Zero-temperature free energy: :func:`free_energy`, :func:`free_energy_general`,
:func:`locate_transitions`, :class:`ReducedLossModel`.
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
    locate_transitions,
)
from .curvature import ricci_scalar, ricci_scalar_batched, ricci_scalar_from_moments

__all__ = [
    "Branch",
    "FreeEnergyCurve",
    "NumericalTransition",
    "ReducedLossModel",
    "free_energy",
    "free_energy_general",
    "locate_transitions",
    "ChangePoint",
    "ChangePointDetector",
    "SEGMENT_DEGREES",
    "detect_change_points",
    "ricci_scalar",
    "ricci_scalar_batched",
    "ricci_scalar_from_moments",
]
