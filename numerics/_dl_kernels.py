"""Private numba kernel: overdamped Langevin first passages of a full deep linear network.

Flat parameter layout as ``empirical.NetSpec`` (no biases): W_1 (dims[1] x dims[0]) row-major,
then W_2, ..., W_n.  Loss (no 1/2): tr(W A W^T) - 2 tr(W beta) + E||y||^2 + gamma |theta|^2,
W = W_n ... W_1.  Randomness: numba's generator seeded by ``np.random.seed(seed)`` in the
kernel (numpy's global generator when NUMBA_DISABLE_JIT=1).  numba's generator state is per
thread and the kernel releases the GIL (``nogil``), so calls with their own seeds may run in
parallel threads and give the same numbers as one after the other.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def first_passage(theta0, temps, dims, A, beta, gamma, u, v, lo, hi, dt, max_steps, check_every, seed):
    """Escape step counts (R,) (-1 where censored): stop when u^T W v < lo or > hi.

    Leimkuhler-Matthews step theta' = theta - dt grad L + sqrt(2 T dt) (xi_n + xi_{n+1}) / 2:
    one gradient per step like Euler-Maruyama, but second-order accurate for the invariant
    law exp(-L/T) (exact for a harmonic well), so the barrier is not lowered by O(dt lambda).

    theta0 (R, P); temps (R,); dims (n + 1,) layer sizes d, h, ..., k.
    """
    np.random.seed(seed)
    R, P = theta0.shape
    n = dims.shape[0] - 1
    d = dims[0]
    k = dims[n]
    offs = np.zeros(n + 1, dtype=np.int64)
    for l in range(n):
        offs[l + 1] = offs[l] + dims[l + 1] * dims[l]
    maxdim = 0
    for l in range(n + 1):
        if dims[l] > maxdim:
            maxdim = dims[l]
    pre = np.zeros((n, maxdim, d))  # pre[l] = W_l ... W_1 (dims[l+1] x d)
    S = np.zeros((maxdim, d))
    S2 = np.zeros((maxdim, d))
    G = np.zeros((k, d))
    grad = np.zeros(P)
    out = np.full(R, -1, dtype=np.int64)
    xi = np.zeros(P)
    for r in range(R):
        th = theta0[r].copy()
        amp = 0.5 * np.sqrt(2.0 * temps[r] * dt)
        for p in range(P):
            xi[p] = np.random.standard_normal()
        for it in range(max_steps + 1):
            # forward prefix products
            for l in range(n):
                o, i_ = dims[l + 1], dims[l]
                if l == 0:
                    for a in range(o):
                        for b in range(d):
                            pre[0, a, b] = th[offs[0] + a * i_ + b]
                else:
                    for a in range(o):
                        for b in range(d):
                            s = 0.0
                            for m in range(i_):
                                s += th[offs[l] + a * i_ + m] * pre[l - 1, m, b]
                            pre[l, a, b] = s
            if it % check_every == 0:
                proj = 0.0
                for a in range(k):
                    for b in range(d):
                        proj += u[a] * pre[n - 1, a, b] * v[b]
                if proj < lo or proj > hi:
                    out[r] = it
                    break
                if it == max_steps:
                    break
            # G = 2 (W A - beta^T)
            for a in range(k):
                for b in range(d):
                    s = 0.0
                    for m in range(d):
                        s += pre[n - 1, a, m] * A[m, b]
                    G[a, b] = 2.0 * (s - beta[b, a])
            # backward: S = (W_n..W_{l+1})^T G, shape dims[l+1] x d
            for a in range(k):
                for b in range(d):
                    S[a, b] = G[a, b]
            for l in range(n - 1, -1, -1):
                o, i_ = dims[l + 1], dims[l]
                for a in range(o):
                    for b in range(i_):
                        if l == 0:
                            g = S[a, b]
                        else:
                            g = 0.0
                            for m in range(d):
                                g += S[a, m] * pre[l - 1, b, m]
                        grad[offs[l] + a * i_ + b] = g + 2.0 * gamma * th[offs[l] + a * i_ + b]
                if l > 0:
                    for b in range(i_):
                        for m in range(d):
                            s = 0.0
                            for a in range(o):
                                s += th[offs[l] + a * i_ + b] * S[a, m]
                            S2[b, m] = s
                    for b in range(i_):
                        for m in range(d):
                            S[b, m] = S2[b, m]
            for p in range(P):
                xn = np.random.standard_normal()
                th[p] = th[p] - dt * grad[p] + amp * (xi[p] + xn)  # Leimkuhler-Matthews
                xi[p] = xn
    return out
