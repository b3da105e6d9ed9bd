r"""Scalar (Ricci) curvature of a landscape, the graph of F: R^P -> R (docs/theory.md).

With G = grad F, H = Hessian of F and W = 1 + |G|^2, the graph {(theta, F(theta))} with
the induced metric g = I + G G^T has scalar curvature

.. math::

    R = \frac{(\operatorname{tr} H)^2 - \operatorname{tr}(H^2)}{W}
        - \frac{2}{W^2}\left[\operatorname{tr} H \; G^T H G - G^T H^2 G\right]

(sign convention: a sphere has R > 0).  At a critical point (G = 0) this is
(tr H)^2 - ||H||_F^2 = 2 sum_{i<j} lambda_i lambda_j.  The loss landscape of an
L2-regularised net uses F = L_gamma; the error landscape uses F = L_0 (same data
Hessian, H_E = H_L - 2 gamma I).

Example
-------
>>> import numpy as np
>>> from l2phase.numerics import ricci_scalar
>>> ricci_scalar(np.zeros(2), np.diag([2.0, 3.0]))   # 2 * 2 * 3
12.0
"""

from __future__ import annotations

import numpy as np

from ._cp_kernels import ricci_batched as _ricci_batched
from l2phase.theory.checks import InputError, InputTypeError

__all__ = ["ricci_scalar", "ricci_scalar_batched", "ricci_scalar_from_moments"]


def _as_finite(x, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a numeric array") from None
    if arr.ndim != ndim:
        raise InputError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    return arr


#: Largest accepted |H - H^T| relative to max |H| (float64 Hessians from autodiff are
#: symmetric to ~1e-15 relative; finite differences to ~1e-8).
SYMMETRY_RTOL = 1e-8


def _check_symmetric(h: np.ndarray, name: str) -> None:
    """Raise InputError when the last two axes of ``h`` are not symmetric to SYMMETRY_RTOL."""
    ht = np.swapaxes(h, -1, -2)
    scale = np.abs(h).max(axis=(-1, -2), keepdims=True)
    bad = np.abs(h - ht).max(axis=(-1, -2), keepdims=True) > SYMMETRY_RTOL * np.maximum(scale, 1e-300)
    if np.any(bad):
        where = "" if h.ndim == 2 else f" (point {int(np.flatnonzero(bad.reshape(-1))[0])})"
        raise InputError(f"{name} is not symmetric{where}: |H - H^T| exceeds {SYMMETRY_RTOL:g} x max |H|; "
                         "a Hessian is symmetric (pass (H + H^T)/2 if the asymmetry is rounding)")


def ricci_scalar(gradient, hessian) -> float:
    r"""Scalar curvature R of the graph of F at one point (formula of docs/theory.md).

    Parameters
    ----------
    gradient : (P,) array
        G = grad F at the point.
    hessian : (P, P) array
        H = Hessian of F at the point.  It must be symmetric to within
        ``SYMMETRY_RTOL`` (1e-8) of its largest entry, else :class:`InputError` (a
        Hessian with a larger asymmetry is not a Hessian: a bug upstream, or the wrong
        array); within the tolerance the formula reads H through tr(H H^T), i.e. its
        symmetric part up to O(asymmetry^2).

    Returns
    -------
    float
        R = [(tr H)^2 - tr(H^2)]/W - (2/W^2)[tr H G^T H G - G^T H^2 G], W = 1 + |G|^2.
    """
    g = _as_finite(gradient, "gradient", 1)
    h = _as_finite(hessian, "hessian", 2)
    if h.shape != (g.size, g.size):
        raise InputError(f"hessian must have shape ({g.size}, {g.size}) to match gradient, got {h.shape}")
    _check_symmetric(h, "hessian")
    hg = h @ g
    return float(
        ricci_scalar_from_moments(np.trace(h), np.sum(h * h.T), g @ g, g @ hg, hg @ hg)
    )


def ricci_scalar_batched(gradients, hessians) -> np.ndarray:
    """Scalar curvature at N points at once (numba loop, no (N, P, P) temporaries).

    Parameters
    ----------
    gradients : (N, P) array
    hessians : (N, P, P) array

    Returns
    -------
    (N,) float array, equal to :func:`ricci_scalar` point by point.
    """
    g = _as_finite(gradients, "gradients", 2)
    h = _as_finite(hessians, "hessians", 3)
    if h.shape == (g.shape[0], g.shape[1], g.shape[1]):
        _check_symmetric(h, "hessians")
    if h.shape != (g.shape[0], g.shape[1], g.shape[1]):
        raise InputError(
            f"hessians must have shape (N, P, P) = ({g.shape[0]}, {g.shape[1]}, {g.shape[1]}), got {h.shape}"
        )
    return _ricci_batched(np.ascontiguousarray(g), np.ascontiguousarray(h))


def ricci_scalar_from_moments(tr_h, tr_h2, grad_norm2, g_h_g, h_g_norm2):
    r"""Scalar curvature from the five scalar moments (vectorised numpy, matrix-free use).

    .. math:: R = \frac{(\operatorname{tr}H)^2 - \operatorname{tr}H^2}{W}
              - \frac{2}{W^2}\left(\operatorname{tr}H\, G^T H G - |H G|^2\right),\quad W = 1 + |G|^2

    Parameters
    ----------
    tr_h, tr_h2 : float or array
        tr H and tr(H^2) (e.g. Hutchinson estimates).
    grad_norm2 : float or array
        |G|^2 >= 0.
    g_h_g, h_g_norm2 : float or array
        G^T H G and |H G|^2 (one Hessian-vector product).

    Returns
    -------
    float for scalar inputs, else an array of the broadcast shape.
    """
    args = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (tr_h, tr_h2, grad_norm2, g_h_g, h_g_norm2)))
    names = ("tr_h", "tr_h2", "grad_norm2", "g_h_g", "h_g_norm2")
    for name, v in zip(names, args):
        if np.any(np.isnan(v)):
            raise InputError(f"{name} contains NaN")
    tr, tr2, g2, ghg, hg2 = args
    if np.any(g2 < 0):
        raise InputError("grad_norm2 must be >= 0")
    w = 1.0 + g2
    r = (tr * tr - tr2) / w - 2.0 / (w * w) * (tr * ghg - hg2)
    return float(r) if r.ndim == 0 else r
