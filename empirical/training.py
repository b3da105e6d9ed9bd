r"""Full-batch training of B independent networks at once (one per gamma / init).

Every row of ``theta`` (B, P) is its own run with its own gamma: the summed objective
sum_b L_{gamma_b}(theta_b) is separable, so one backward pass gives every run's
gradient, and a run that has converged (or diverged) is frozen while the others go on.
A run's trajectory therefore never depends on which other runs share its batch (the
property resumable sweeps rely on), except with ``optimizer="lbfgs"``, whose line search
is over the summed objective.

Convergence criterion: ||grad L_gamma(theta)||_2 <= ``gtol`` (L as in docs/conventions.md,
E = mean ||f(x) - y||^2 + gamma sum_l ||W_l||_F^2).  Runs with a non-finite loss are
flagged ``diverged`` and frozen, never averaged in.

Optimisers: ``"gd"``, ``"adam"`` (hand-written, batched, per-run freezing), ``"lbfgs"``
(torch.optim.LBFGS with strong Wolfe line search), ``"newton"`` (saddle-free damped
Newton from the exact per-run Hessian: step = -V diag(1/(|lambda| + mu)) V^T g with a
per-run Levenberg factor mu and a decrease test; converges quadratically at a
non-degenerate minimum and escapes saddles).  ``polish="newton"`` finishes a first-order
run with Newton steps, which is what makes the critical slowing down near a second-order
gamma_c (a vanishing Hessian eigenvalue) harmless for small models.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from .hessian_curvature import loss_grad_hessian
from .models import NetSpec, error, loss, penalty
from l2phase.theory.checks import InputError, check_int

# Bound on every step count: 10**8 steps of the smallest net already take days.
MAX_STEPS = 10**8

__all__ = ["TrainConfig", "TrainResult", "train_batched", "OPTIMIZERS"]

OPTIMIZERS = ("gd", "adam", "lbfgs", "newton")


@dataclass(frozen=True)
class TrainConfig:
    """How to train (see module docstring).

    Parameters
    ----------
    optimizer : {"gd", "adam", "lbfgs", "newton"}
    lr : float
        Learning rate of gd/adam/lbfgs.
    max_steps : int
        Steps of the first-order phase.
    gtol : float
        Convergence: ||grad L_gamma|| <= gtol.
    switch_tol : float
        With a polish, the first-order phase of a run stops once its gradient norm is
        below this (the polish is much faster from there).
    polish : {"newton", None}
        Second-order finish (only if P <= ``newton_max_params``).
    max_polish : int
        Newton iterations at most.
    newton_max_params : int
        Largest P for which exact Hessians are formed.
    """

    optimizer: str = "adam"
    lr: float = 0.01
    max_steps: int = 3000
    gtol: float = 1e-9
    switch_tol: float = 1e-3
    polish: str | None = "newton"
    max_polish: int = 200
    newton_max_params: int = 1500

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.polish not in (None, "newton"):
            raise InputError(f"polish must be 'newton' or None, got {self.polish!r}")
        for name in ("lr", "gtol", "switch_tol"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"{name} must be a positive finite number, got {v!r}")
        for name in ("max_steps", "max_polish", "newton_max_params"):
            check_int(getattr(self, name), name, 0, MAX_STEPS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """Per-run outcome; every array has one entry per row of theta."""

    theta: torch.Tensor
    loss: np.ndarray
    error: np.ndarray
    param_norm_sq: np.ndarray
    grad_norm: np.ndarray
    converged: np.ndarray
    diverged: np.ndarray
    n_steps: np.ndarray

    def status(self) -> list[str]:
        return [
            "diverged" if d else ("converged" if c else "not_converged")
            for c, d in zip(self.converged, self.diverged)
        ]


def _as_gamma(gamma, B: int, like: torch.Tensor) -> torch.Tensor:
    g = torch.as_tensor(np.asarray(gamma, dtype=float), dtype=like.dtype, device=like.device)
    if g.ndim == 0:
        g = g.expand(B)
    if g.shape != (B,):
        raise InputError(f"gamma must be a scalar or have one entry per run ({B}), got shape {tuple(g.shape)}")
    if not torch.all(torch.isfinite(g)) or torch.any(g < 0):
        raise InputError("gamma must be finite and >= 0")
    return g.contiguous()


def _loss_and_grad(spec, theta, X, Y, gamma):
    th = theta.detach().requires_grad_(True)
    L = loss(spec, th, X, Y, gamma)
    (g,) = torch.autograd.grad(L.sum(), th)
    return L.detach(), g.detach()


def _first_order(spec, theta, X, Y, gamma, cfg, active, diverged, converged, steps, stop_tol):
    """gd / adam with per-run freezing; mutates the masks; returns theta."""
    m = torch.zeros_like(theta)
    v = torch.zeros_like(theta)
    b1, b2, eps = 0.9, 0.999, 1e-12
    t_run = torch.zeros(theta.shape[0], dtype=theta.dtype, device=theta.device)
    for _ in range(cfg.max_steps):
        if not bool(active.any()):
            break
        L, g = _loss_and_grad(spec, theta, X, Y, gamma)
        gn = torch.linalg.vector_norm(g, dim=-1)
        bad = ~torch.isfinite(L) | ~torch.isfinite(gn)
        diverged |= bad & active
        converged |= (gn <= cfg.gtol) & active & ~bad
        active &= ~bad & (gn > stop_tol)
        if not bool(active.any()):
            break
        a = active[:, None]
        steps += active.to(steps.dtype)
        if cfg.optimizer == "gd":
            theta = torch.where(a, theta - cfg.lr * g, theta)
        else:
            t_run = t_run + active.to(theta.dtype)
            m = torch.where(a, b1 * m + (1 - b1) * g, m)
            v = torch.where(a, b2 * v + (1 - b2) * g * g, v)
            tt = t_run.clamp(min=1.0)[:, None]
            mhat = m / (1 - b1**tt)
            vhat = v / (1 - b2**tt)
            theta = torch.where(a, theta - cfg.lr * mhat / (vhat.sqrt() + eps), theta)
    return theta


def _lbfgs(spec, theta, X, Y, gamma, cfg):
    th = theta.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([th], lr=1.0, max_iter=cfg.max_steps, tolerance_grad=cfg.gtol / math.sqrt(theta.shape[0]),
                            tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        L = loss(spec, th, X, Y, gamma).sum()
        L.backward()
        return L

    opt.step(closure)
    return th.detach(), int(opt.state[opt._params[0]].get("n_iter", 0))


def _newton(spec, theta, X, Y, gamma, cfg, active, diverged, converged, steps):
    """Batched saddle-free damped Newton on the active runs."""
    B = theta.shape[0]
    mu = torch.full((B,), 1e-3, dtype=theta.dtype, device=theta.device)
    tiny = torch.finfo(theta.dtype).eps
    for _ in range(cfg.max_polish):
        idx = torch.nonzero(active, as_tuple=False).flatten()
        if idx.numel() == 0:
            break
        th = theta[idx]
        gam = gamma[idx]
        L, G, H = loss_grad_hessian(spec, th, X, Y, gam)
        gn = torch.linalg.vector_norm(G, dim=-1)
        bad = ~torch.isfinite(L) | ~torch.isfinite(gn) | ~torch.isfinite(H).all(-1).all(-1)
        diverged[idx[bad]] = True
        done = (gn <= cfg.gtol) & ~bad
        converged[idx[done]] = True
        go = ~bad & ~done
        active[idx[~go]] = False
        if not bool(go.any()):
            break
        idx, th, gam, L, G, H = idx[go], th[go], gam[go], L[go], G[go], H[go]
        lam, V = torch.linalg.eigh(0.5 * (H + H.transpose(-1, -2)))
        scale = lam.abs().amax(-1).clamp(min=tiny)
        # |lambda| turns saddles into descent; the floor keeps symmetry (zero) modes finite
        denom = torch.maximum(lam.abs() + (mu[idx] * scale)[:, None], (1e-12 * scale)[:, None])
        step = -(V @ ((V.transpose(-1, -2) @ G[:, :, None])[:, :, 0] / denom)[:, :, None])[:, :, 0]
        trial = th + step
        Lt = loss(spec, trial, X, Y, gam)
        ok = torch.isfinite(Lt) & (Lt <= L + 8 * tiny * L.abs().clamp(min=1.0))
        theta[idx[ok]] = trial[ok]
        mu[idx] = torch.where(ok, (mu[idx] / 4).clamp(min=0.0), (mu[idx] * 8).clamp(max=1e12))
        mu[idx[ok & (mu[idx] < 1e-10)]] = 0.0
        steps[idx] += 1
        # a run whose step is rejected at huge damping cannot make progress: stop it
        stuck = ~ok & (mu[idx] >= 1e12)
        active[idx[stuck]] = False
    return theta


def train_batched(
    spec: NetSpec,
    theta0: torch.Tensor,
    X: torch.Tensor,
    Y: torch.Tensor,
    gamma,
    config: TrainConfig | None = None,
) -> TrainResult:
    r"""Minimise L_gamma_b(theta_b) = E(theta_b) + gamma_b sum_l ||W_l||_F^2 for every row b.

    Any model spec with ``error``/``penalty`` methods trains the same way (L = error +
    gamma_b * penalty, see :mod:`empirical.models`); ``param_norm_sq`` is then its penalty.

    Parameters
    ----------
    spec : NetSpec (or another model spec)
    theta0 : (B, P) tensor
        Starting points (not modified).
    X, Y : (N, d), (N, k) tensors
        The full training batch (same dtype/device as theta0).
    gamma : float or (B,) array
        L2 strength of each run (docs/conventions.md: no 1/2, all weight matrices).
    config : TrainConfig

    Returns
    -------
    TrainResult with the final theta and per-run loss, error, ||theta_w||^2, gradient
    norm, converged/diverged flags and step counts.
    """
    cfg = config or TrainConfig()
    if not isinstance(theta0, torch.Tensor) or theta0.ndim != 2 or theta0.shape[1] != spec.n_params:
        raise InputError(f"theta0 must be a (B, {spec.n_params}) tensor")
    if X.ndim != 2 or X.shape[1] != spec.in_dim or Y.ndim != 2 or Y.shape[1] != spec.out_dim or X.shape[0] != Y.shape[0]:
        raise InputError(f"X, Y must be (N, {spec.in_dim}), (N, {spec.out_dim}); got {tuple(X.shape)}, {tuple(Y.shape)}")
    B = theta0.shape[0]
    gamma = _as_gamma(gamma, B, theta0)
    theta = theta0.detach().clone()
    active = torch.ones(B, dtype=torch.bool, device=theta.device)
    diverged = torch.zeros_like(active)
    converged = torch.zeros_like(active)
    steps = torch.zeros(B, dtype=torch.int64, device=theta.device)
    use_newton = cfg.polish == "newton" and spec.n_params <= cfg.newton_max_params
    if cfg.optimizer == "newton":
        if spec.n_params > cfg.newton_max_params:
            raise InputError(f"optimizer='newton' needs P <= newton_max_params={cfg.newton_max_params}, P={spec.n_params}")
        theta = _newton(spec, theta, X, Y, gamma, cfg, active, diverged, converged, steps)
    elif cfg.optimizer == "lbfgs":
        theta, n_it = _lbfgs(spec, theta, X, Y, gamma, cfg)
        steps += n_it
        if use_newton:
            theta = _newton(spec, theta, X, Y, gamma, cfg, active, diverged, converged, steps)
    else:
        stop = max(cfg.switch_tol, cfg.gtol) if use_newton else cfg.gtol
        theta = _first_order(spec, theta, X, Y, gamma, cfg, active, diverged, converged, steps, stop)
        if use_newton:
            active = ~diverged & ~converged
            theta = _newton(spec, theta, X, Y, gamma, cfg, active, diverged, converged, steps)
    # final, uniform measurement
    with torch.no_grad():
        E = error(spec, theta, X, Y)
        pn = penalty(spec, theta, X)
    L, g = _loss_and_grad(spec, theta, X, Y, gamma)
    gn = torch.linalg.vector_norm(g, dim=-1)
    finite = torch.isfinite(L) & torch.isfinite(gn)
    diverged = diverged | ~finite
    converged = (gn <= cfg.gtol) & ~diverged
    return TrainResult(
        theta=theta,
        loss=L.cpu().numpy(),
        error=E.cpu().numpy(),
        param_norm_sq=pn.cpu().numpy(),
        grad_norm=gn.cpu().numpy(),
        converged=converged.cpu().numpy(),
        diverged=diverged.cpu().numpy(),
        n_steps=steps.cpu().numpy(),
    )
