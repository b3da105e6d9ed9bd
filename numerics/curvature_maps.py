r"""Curvature maps of the 2- and 3-parameter scalar-chain landscapes on grids.

Scalar chain with D hidden layers, P = D + 1 parameters theta, p = prod theta,
a = E[x^2], c = E[x y] (docs/conventions.md, no 1/2):

.. math:: L_\gamma(\theta) = a p^2 - 2 c p + E[y^2] + \gamma |\theta|^2 ,
          \qquad E(\theta) = L_0(\theta).

Gradient and Hessian are analytic (no finite differences, so only rounding separates
the map from the exact R), with p_i = prod_{j != i} theta_j and p_ij = prod_{k != i, j}:

.. math:: \partial_i L = (2 a p - 2 c) p_i + 2\gamma\theta_i, \quad
          H_{ii} = 2 a p_i^2 + 2\gamma, \quad
          H_{ij} = 2 a p_i p_j + (2 a p - 2 c) p_{ij}\ (i \ne j),

and the Ricci scalar of the graph (docs/theory.md) by :func:`numerics.ricci_scalar_batched`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from l2phase.theory.checks import check_depth, check_nonnegative, check_scalar_stats

from .landscape_ricci import ricci_scalar_batched
from l2phase.theory.checks import InputError

__all__ = ["chain_gradient_hessian", "curvature_map"]


def chain_gradient_hessian(theta, gamma: float, a: float = 1.0, c: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Analytic gradient (N, P) and Hessian (N, P, P) of the scalar-chain loss at N points.

    ``theta`` is (N, P) (or (P,)); gamma = 0 gives the error landscape E = L_0.
    """
    th = np.atleast_2d(np.asarray(theta, dtype=float))
    if th.ndim != 2 or th.shape[1] < 1:
        raise InputError(f"theta must have shape (N, P), got {np.shape(theta)}")
    N, P = th.shape
    idx = np.arange(P)
    p = np.prod(th, axis=1)
    pi = np.stack([np.prod(th[:, idx != i], axis=1) for i in range(P)], axis=1)
    f = 2.0 * a * p - 2.0 * c
    G = f[:, None] * pi + 2.0 * gamma * th
    H = 2.0 * a * pi[:, :, None] * pi[:, None, :]
    for i in range(P):
        H[:, i, i] += 2.0 * gamma
        for j in range(P):
            if i != j:
                H[:, i, j] += f * np.prod(th[:, (idx != i) & (idx != j)], axis=1)
    return G, H


def curvature_map(
    depth: int,
    gamma: float,
    grid_axes: Sequence,
    landscape: str = "loss",
    a: float = 1.0,
    c: float = 1.0,
    ey2: float = 1.0,
) -> np.ndarray:
    """Ricci scalar R of the loss or error landscape of the scalar chain on a tensor grid.

    Parameters
    ----------
    depth : int
        D = 1 or 2 (P = D + 1 = 2 or 3 parameters; larger D also works but costs P^2 N).
    gamma : float
        L2 strength >= 0 (the loss landscape uses it; the error landscape is L_0).
    grid_axes : sequence of P 1-D arrays
        Coordinates of theta_0..theta_D; the grid is their product ("ij" indexing).
    landscape : {"loss", "error"}
    a, c, ey2 : float
        Data statistics (ey2 shifts F only and does not enter R; accepted for symmetry).

    Returns
    -------
    R : array of shape (len(axis_0), ..., len(axis_D)).

    Examples
    --------
    >>> import numpy as np
    >>> from l2phase.numerics import curvature_map
    >>> b = np.sqrt(1 - 0.5)
    >>> round(float(curvature_map(1, 0.5, [[b], [b]])[0, 0]), 10)   # exact: 32 g (1 - g)
    8.0
    """
    depth = check_depth(depth, minimum=1)
    gamma = check_nonnegative(gamma, "gamma")
    a, c, _ = check_scalar_stats(a, c, ey2)
    if landscape not in ("loss", "error"):
        raise InputError(f"landscape must be 'loss' or 'error', got {landscape!r}")
    P = depth + 1
    if len(grid_axes) != P:
        raise InputError(f"grid_axes must hold P = depth + 1 = {P} axes, got {len(grid_axes)}")
    axes = []
    for k, ax in enumerate(grid_axes):
        arr = np.asarray(ax, dtype=float)
        if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
            raise InputError(f"grid_axes[{k}] must be a non-empty finite 1-D array")
        axes.append(arr)
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([m.ravel() for m in mesh], axis=1)
    G, H = chain_gradient_hessian(pts, gamma if landscape == "loss" else 0.0, a, c)
    return ricci_scalar_batched(G, H).reshape(mesh[0].shape)
