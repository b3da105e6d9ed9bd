r"""Minimum-energy paths by the climbing-image string method, batched over the images (torch).

The string method (E, Ren & Vanden-Eijnden, J. Chem. Phys. 126, 164103 (2007)) moves N
images phi_i between two fixed minima by steepest descent, phi_i <- phi_i - dt grad L(phi_i),
and after every step redistributes them at equal arc length along the piecewise linear
curve.  The fixed point is a minimum-energy path (grad L parallel to the path).  Once the
string has settled (after ``climb_after`` of the steps) the highest image climbs: it moves
with -grad L + 2 (grad L . tau) tau (tau the unit tangent), which ascends along the path
and descends across it, so it converges onto the saddle point itself and the barrier is
read off a true stationary point (its gradient norm is reported), not off the discretised
curve; the images on either side are redistributed separately.

All images are evaluated in one batched call ``energy_grad(images) -> (E (N,), G (N, P))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from l2phase.theory.checks import InputError

__all__ = ["MinimumEnergyPath", "string_method"]


@dataclass(frozen=True)
class MinimumEnergyPath:
    """Result of :func:`string_method` (float64 tensors).

    images (N, P), energies (N,); ``saddle`` the highest (climbing) image, ``saddle_energy``
    its energy and ``saddle_grad_norm`` |grad L| there; ``barrier_forward`` =
    saddle_energy - E(start), ``barrier_backward`` = saddle_energy - E(end).
    """

    images: torch.Tensor
    energies: torch.Tensor
    saddle: torch.Tensor
    saddle_index: int
    saddle_energy: float
    saddle_grad_norm: float
    barrier_forward: float
    barrier_backward: float
    n_steps: int
    converged: bool


def _redistribute(path: torch.Tensor) -> torch.Tensor:
    """Images at equal arc length along the piecewise linear curve through ``path`` (N, P)."""
    seg = (path[1:] - path[:-1]).norm(dim=-1)
    s = torch.cat([seg.new_zeros(1), torch.cumsum(seg, 0)])
    if s[-1] <= 0:
        return path.clone()
    target = torch.linspace(0.0, float(s[-1]), path.shape[0], dtype=path.dtype)
    j = torch.clamp(torch.searchsorted(s, target, right=True) - 1, 0, path.shape[0] - 2)
    w = ((target - s[j]) / torch.clamp(seg[j], min=1e-300)).clamp(0.0, 1.0)[:, None]
    out = path[j] * (1 - w) + path[j + 1] * w
    out[0], out[-1] = path[0], path[-1]
    return out


def string_method(
    energy_grad: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    start: torch.Tensor,
    end: torch.Tensor,
    *,
    n_images: int = 21,
    init: torch.Tensor | None = None,
    dt: float = 0.01,
    n_steps: int = 20_000,
    climb_after: float = 0.3,
    tol: float = 1e-9,
) -> MinimumEnergyPath:
    r"""Minimum-energy path and saddle between two minima ``start`` and ``end`` (P,).

    Parameters
    ----------
    energy_grad : batched loss and gradient, (N, P) -> ((N,), (N, P)).
    n_images : images including the two fixed end points (>= 5).
    init : optional (n_images, P) initial string (default: the straight segment).
    dt : descent step (stable for dt < 2 / largest Hessian eigenvalue along the path).
    n_steps : maximum number of steps; stops earlier once the climbing image's gradient
        norm is below ``tol`` (then ``converged``).
    """
    if n_images < 5:
        raise InputError(f"n_images must be >= 5, got {n_images}")
    start = start.detach().to(torch.float64)
    end = end.detach().to(torch.float64)
    if init is None:
        u = torch.linspace(0.0, 1.0, n_images, dtype=torch.float64)[:, None]
        path = start * (1 - u) + end * u
    else:
        if init.shape != (n_images, start.numel()):
            raise InputError(f"init must have shape ({n_images}, {start.numel()}), got {tuple(init.shape)}")
        path = init.detach().to(torch.float64).clone()
        path[0], path[-1] = start, end
    path = _redistribute(path)
    n_free = int(climb_after * n_steps)
    ci = None
    converged = False
    step = 0
    for step in range(1, n_steps + 1):
        E, G = energy_grad(path)
        upd = G.clone()
        upd[0] = 0.0
        upd[-1] = 0.0
        if step > n_free:
            if ci is None:
                ci = int(torch.argmax(E[1:-1])) + 1
            tau = path[ci + 1] - path[ci - 1]
            tau = tau / tau.norm().clamp(min=1e-300)
            gc = G[ci]
            upd[ci] = gc - 2.0 * (gc @ tau) * tau
            if float(gc.norm()) < tol:
                converged = True
                break
        path = path - dt * upd
        if ci is None:
            path = _redistribute(path)
        else:
            left = _redistribute(path[: ci + 1])
            right = _redistribute(path[ci:])
            path = torch.cat([left, right[1:]])
    E, G = energy_grad(path)
    k = ci if ci is not None else int(torch.argmax(E[1:-1])) + 1
    return MinimumEnergyPath(
        images=path,
        energies=E,
        saddle=path[k].clone(),
        saddle_index=k,
        saddle_energy=float(E[k]),
        saddle_grad_norm=float(G[k].norm()),
        barrier_forward=float(E[k] - E[0]),
        barrier_backward=float(E[k] - E[-1]),
        n_steps=step,
        converged=converged,
    )
