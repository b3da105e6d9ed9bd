r"""Overdamped-Langevin first passages of full deep linear networks (numba, no torch).

The network: D hidden layers, widths ``dims = (d, h_1, ..., h_D, k)``, flat parameters in
the layout of ``empirical.NetSpec`` (W_1 row-major, ..., W_n; no biases); the loss from
the data statistics (docs/conventions.md, no 1/2):

.. math:: L(\theta) = \mathrm{tr}(W A W^\top) - 2\,\mathrm{tr}(W\beta) + E\|y\|^2 + \gamma|\theta|^2,
          \qquad W = W_n \cdots W_1 ,

and overdamped Langevin d theta = -grad L dt + sqrt(2 T) dW integrated by the
Leimkuhler-Matthews scheme theta_{j+1} = theta_j - dt grad L(theta_j) + sqrt(2 T dt)
(xi_j + xi_{j+1})/2 (one gradient per step as Euler-Maruyama, but second order in dt for the
stationary law exp(-L/T): Euler-Maruyama's O(dt lambda) error in the sampled variance
lowers an Arrhenius barrier by a few percent at practical steps), one replica after the
other, each with its own temperature.  A replica escapes the first time the end-to-end singular
value along a data mode, s = u^T W v, leaves (``exit_below``, ``exit_above``) (checked every
``check_every`` steps).  This is the scalar chain of :func:`numerics.escape_times`
generalised to any widths and several inputs and outputs; ``empirical.langevin_escape``
is the batched torch version of the same dynamics (3x slower per replica-step with 200
replicas of a 12-parameter net, more with fewer replicas; benchmarks/bench_escape.py).
"""

from __future__ import annotations

import numpy as np

from l2phase.theory.checks import InputError

from . import _dl_kernels as _k

__all__ = ["deep_linear_first_passage"]


def deep_linear_first_passage(
    theta0,
    temperatures,
    dims,
    A,
    beta,
    gamma: float,
    u,
    v,
    *,
    exit_below: float = -np.inf,
    exit_above: float = np.inf,
    dt: float,
    max_steps: int,
    check_every: int = 1,
    seed: int = 0,
):
    """First-passage times of R replicas (rows of ``theta0``), censored at ``max_steps * dt``.

    Returns
    -------
    times : (R,) escape time (steps x dt), or the budget max_steps x dt where censored
    censored : (R,) bool
    """
    th = np.ascontiguousarray(np.atleast_2d(np.asarray(theta0, dtype=float)))
    dims = np.asarray(dims, dtype=np.int64)
    P = int(np.sum(dims[1:] * dims[:-1]))
    if dims.ndim != 1 or dims.size < 2 or np.any(dims < 1) or th.shape[1] != P:
        raise InputError(f"theta0 must be (R, P) with P = {P} for dims {dims.tolist()}, got {th.shape}")
    T = np.asarray(temperatures, dtype=float).reshape(-1)
    if T.shape != (th.shape[0],) or np.any(T <= 0):
        raise InputError(f"temperatures must hold {th.shape[0]} values > 0 (one per replica)")
    d, k = int(dims[0]), int(dims[-1])
    A = np.ascontiguousarray(A, dtype=float)
    beta = np.ascontiguousarray(np.asarray(beta, dtype=float).reshape(d, k))
    if A.shape != (d, d):
        raise InputError(f"A must be ({d}, {d}), got {A.shape}")
    if not (dt > 0 and max_steps >= 1 and check_every >= 1):
        raise InputError("dt must be > 0, max_steps and check_every >= 1")
    steps = _k.first_passage(th, T, dims, A, beta, float(gamma), np.asarray(u, dtype=float).reshape(k),
                             np.asarray(v, dtype=float).reshape(d), float(exit_below), float(exit_above),
                             float(dt), int(max_steps), int(check_every), int(seed))
    cens = steps < 0
    times = np.where(cens, max_steps, steps) * float(dt)
    return times, cens
