r"""First-passage times of batched noisy dynamics: overdamped Langevin and minibatch SGD (torch).

Every replica is one row of a (R, P) parameter tensor; all replicas (and all
temperatures) advance together, and a replica stops (its time is recorded) the first time
``escaped(theta)`` is True, checked every ``check_every`` steps (times are therefore
rounded up to that resolution).  Replicas that have not escaped after ``max_steps`` are
*censored* at the budget; estimate rates with
:func:`numerics.escape_statistics.censored_exponential_mle`.

* :func:`langevin_escape`: d theta = -grad L dt + sqrt(2 T) dW, whose stationary law is
  exp(-L/T) (loss without 1/2, so T is in units of the loss), by the Leimkuhler-Matthews
  step theta - dt grad L + sqrt(2 T dt) (xi_j + xi_{j+1})/2 (second order for the stationary
  law; the same scheme as :func:`numerics.deep_linear_first_passage`).
* :func:`sgd_escape`: theta <- theta - lr grad L_B(theta), L_B the loss of a minibatch of
  ``batch_size`` samples drawn with replacement, independently for every replica.
* :func:`sgd_noise_temperature`: the temperature of SGD along a direction e,
  T_eff = lr e^T C e / 2 with C = Cov_i(grad l_i)/B the minibatch-gradient covariance
  (matching the Langevin noise variance 2 T dt with dt = lr).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from l2phase.theory.checks import InputError

from .linear_landscape import LinearLandscape

__all__ = ["FirstPassage", "langevin_escape", "sgd_escape", "sgd_noise_temperature"]


@dataclass(frozen=True)
class FirstPassage:
    """Escape times (R,) in units of dt (Langevin: time = steps * dt; SGD: time = steps * lr).

    ``censored[i]`` is True when replica i had not escaped; its time is then the budget.
    """

    times: np.ndarray
    censored: np.ndarray
    steps: int


def _run(step: Callable, theta0: torch.Tensor, escaped: Callable, max_steps: int, check_every: int, unit: float):
    theta = theta0.detach().to(torch.float64).clone()
    R = theta.shape[0]
    alive = torch.arange(R)
    times = np.full(R, max_steps * unit)
    cens = np.ones(R, dtype=bool)
    k = 0
    while k < max_steps and alive.numel():
        n = min(check_every, max_steps - k)
        for _ in range(n):
            theta = step(theta, alive)
        k += n
        done = escaped(theta, alive)
        if bool(done.any()):
            idx = alive[done].numpy()
            times[idx] = k * unit
            cens[idx] = False
            keep = ~done
            theta, alive = theta[keep], alive[keep]
    return FirstPassage(times, cens, k)


def langevin_escape(
    landscape: LinearLandscape,
    theta0: torch.Tensor,
    temperatures,
    escaped: Callable[[torch.Tensor], torch.Tensor],
    *,
    dt: float,
    max_steps: int,
    check_every: int = 10,
    seed: int = 0,
) -> FirstPassage:
    """Overdamped Langevin first passages of R replicas (rows of ``theta0``) at ``temperatures`` (R,)."""
    T = torch.as_tensor(np.asarray(temperatures, dtype=float))
    if T.shape != (theta0.shape[0],) or bool((T <= 0).any()):
        raise InputError(f"temperatures must be {theta0.shape[0]} values > 0 (one per replica)")
    gen = torch.Generator().manual_seed(int(seed))
    amp = 0.5 * torch.sqrt(2.0 * T * dt)[:, None]
    prev = torch.randn(theta0.shape, generator=gen, dtype=torch.float64)

    def step(theta, alive):
        _, g = landscape.loss_and_grad(theta)
        new = torch.randn(theta.shape, generator=gen, dtype=torch.float64)
        old = prev[alive]
        prev[alive] = new
        return theta - dt * g + amp[alive] * (old + new)

    return _run(step, theta0, lambda th, alive: escaped(th), int(max_steps), int(check_every), float(dt))


def sgd_escape(
    spec,
    X: torch.Tensor,
    Y: torch.Tensor,
    gamma: float,
    theta0: torch.Tensor,
    escaped: Callable[[torch.Tensor], torch.Tensor],
    *,
    lr: float,
    batch_size: int,
    max_steps: int,
    check_every: int = 10,
    seed: int = 0,
) -> FirstPassage:
    """Minibatch-SGD first passages of R replicas, each with its own minibatch stream."""
    X = torch.as_tensor(X, dtype=torch.float64)
    Y = torch.as_tensor(Y, dtype=torch.float64).reshape(X.shape[0], -1)
    N = X.shape[0]
    if not 1 <= batch_size <= N:
        raise InputError(f"batch_size must be in 1..{N}, got {batch_size}")
    gen = torch.Generator().manual_seed(int(seed))

    def step(theta, alive):
        idx = torch.randint(0, N, (theta.shape[0], batch_size), generator=gen)
        Xb, Yb = X[idx], Y[idx]  # (r, B, d), (r, B, k)
        A = Xb.transpose(1, 2) @ Xb / batch_size
        beta = Xb.transpose(1, 2) @ Yb / batch_size
        _, g = LinearLandscape(spec, A, beta, 0.0, gamma).loss_and_grad(theta)
        return theta - lr * g

    return _run(step, theta0, lambda th, alive: escaped(th), int(max_steps), int(check_every), float(lr))


def sgd_noise_temperature(spec, X, Y, gamma: float, theta: torch.Tensor, direction: torch.Tensor, *, lr: float,
                          batch_size: int) -> float:
    """T_eff = lr e^T C e / 2 at ``theta`` along unit ``direction`` e (C = per-sample gradient covariance / B)."""
    X = torch.as_tensor(X, dtype=torch.float64)
    Y = torch.as_tensor(Y, dtype=torch.float64).reshape(X.shape[0], -1)
    A = X[:, :, None] * X[:, None, :]
    beta = X[:, :, None] * Y[:, None, :]
    _, g = LinearLandscape(spec, A, beta, 0.0, gamma).loss_and_grad(theta.expand(X.shape[0], -1))
    e = direction / direction.norm()
    proj = g @ e
    return float(lr * proj.var(unbiased=False) / batch_size / 2.0)
