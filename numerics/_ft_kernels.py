"""Private numba kernels of the finite-temperature scalar chain (Metropolis, overdamped Langevin).

Scalar chain with P = D + 1 parameters theta (one unit per layer), p = prod(theta):

    L(theta; gamma) = a p^2 - 2 c p + E[y^2] + gamma |theta|^2.

Randomness comes from numba's internal generator seeded by ``np.random.seed(seed)`` inside
the kernel (numpy's global generator when NUMBA_DISABLE_JIT=1), so a seed fixes the run.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _chain_loss(theta, gamma, a, c, ey2):
    p = 1.0
    s = 0.0
    for i in range(theta.shape[0]):
        p *= theta[i]
        s += theta[i] * theta[i]
    return a * p * p - 2.0 * c * p + ey2 + gamma * s, s


@njit(cache=True)
def metropolis_batches(theta0, gammas, T, a, c, ey2, n_burn, n_batches, batch_len, seed):
    """Random-walk Metropolis on exp(-L/T), several independent chains per gamma.

    theta0 : (n_chains, P) starting points (the same for every gamma).
    The isotropic Gaussian step is tuned during burn-in (every 200 steps) towards an
    acceptance rate of 0.35, then frozen so that the sampling phase is a valid chain.

    Returns (n_gamma, n_chains, n_batches, 2): per batch the means of q = |theta|^2 and q^2.
    """
    np.random.seed(seed)
    ng = gammas.shape[0]
    nc, P = theta0.shape
    out = np.zeros((ng, nc, n_batches, 2))
    th = np.empty(P)
    pr = np.empty(P)
    for g in range(ng):
        gam = gammas[g]
        for ch in range(nc):
            for i in range(P):
                th[i] = theta0[ch, i]
            L, q = _chain_loss(th, gam, a, c, ey2)
            step = np.sqrt(T / (2.0 * gam + 2.0 * a + 1e-300))
            acc = 0
            total = n_burn + n_batches * batch_len
            for it in range(total):
                for i in range(P):
                    pr[i] = th[i] + step * np.random.standard_normal()
                Ln, qn = _chain_loss(pr, gam, a, c, ey2)
                if Ln <= L or np.random.random() < np.exp(-(Ln - L) / T):
                    for i in range(P):
                        th[i] = pr[i]
                    L = Ln
                    q = qn
                    acc += 1
                if it < n_burn:
                    if (it + 1) % 200 == 0:
                        rate = acc / 200.0
                        step *= np.exp(rate - 0.35)  # multiplicative Robbins-Monro-like tuning
                        acc = 0
                else:
                    b = (it - n_burn) // batch_len
                    out[g, ch, b, 0] += q
                    out[g, ch, b, 1] += q * q
    return out / batch_len


@njit(cache=True)
def langevin_escape(theta0, gamma, T, a, c, ey2, dt, p_exit, max_steps, n_runs, seed):
    """First-passage times of overdamped Langevin dtheta = -grad L dt + sqrt(2 T dt) xi.

    Every run starts at ``theta0`` and stops when |prod theta| < ``p_exit`` (past the
    barrier, inside the basin of theta = 0).  Returns (n_runs,) times (inf if a run did
    not escape within ``max_steps``).
    """
    np.random.seed(seed)
    P = theta0.shape[0]
    out = np.full(n_runs, np.inf)
    th = np.empty(P)
    gr = np.empty(P)
    noise = np.sqrt(2.0 * T * dt)
    for r in range(n_runs):
        for i in range(P):
            th[i] = theta0[i]
        for it in range(max_steps):
            p = 1.0
            for i in range(P):
                p *= th[i]
            if abs(p) < p_exit:
                out[r] = it * dt
                break
            f = 2.0 * a * p - 2.0 * c
            for i in range(P):
                others = 1.0  # prod of the other coordinates (no division by theta_i)
                for j in range(P):
                    if j != i:
                        others *= th[j]
                gr[i] = f * others + 2.0 * gamma * th[i]
            for i in range(P):
                th[i] = th[i] - gr[i] * dt + noise * np.random.standard_normal()
    return out
