"""Private numba kernels of the change-point search (exact optimal partition).

Segment cost = residual sum of squares (RSS) of a least-squares polynomial of degree
``p - 1`` on the segment.  Each candidate segment start keeps its own QR factor, updated
one row at a time by Givens rotations in coordinates centred at that start; the RSS is
the running sum of the squared parts of new rows that the rotations cannot absorb.
Compared with cumulative sums of raw moments (normal equations, O(1) per cost but
condition number squared and catastrophic cancellation on short segments), this keeps
the RSS accurate to rounding for every segment length and costs O(p^2) per new point.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _givens_add_row(R, z, u, yv, p):
    """Add the row [1, u, u^2, ...] with target ``yv`` to (R, z); return the unabsorbed residual."""
    v = np.empty(p)
    v[0] = 1.0
    for k in range(1, p):
        v[k] = v[k - 1] * u
    for j in range(p):
        vj = v[j]
        if vj == 0.0:
            continue
        rjj = R[j, j]
        r = np.hypot(rjj, vj)
        cth = rjj / r
        sth = vj / r
        R[j, j] = r
        for k in range(j + 1, p):
            rjk = R[j, k]
            vk = v[k]
            R[j, k] = cth * rjk + sth * vk
            v[k] = -sth * rjk + cth * vk
        zj = z[j]
        z[j] = cth * zj + sth * yv
        yv = -sth * zj + cth * yv
    return yv


@njit(cache=True)
def _segment_cost(Rs, zs, rss_full, p, dpen):
    """min over degrees d < p of RSS_d + d * dpen (RSS_d from the nested QR: RSS_full + sum_{j>d} z_j^2)."""
    best = rss_full
    tail = 0.0
    if dpen > 0.0:
        best = rss_full + (p - 1) * dpen
        for d in range(p - 2, -1, -1):
            tail += zs[d + 1] * zs[d + 1]
            v = rss_full + tail + d * dpen
            if v < best:
                best = v
    return best


@njit(cache=True)
def pelt_rss(x, y, p, min_size, pen, dpen=0.0):
    """Exact optimal partition of (x, y) minimising sum_seg C_seg + pen * (#segments).

    The segment cost C is the RSS of the least-squares polynomial of degree p - 1
    (``dpen = 0``), or, with ``dpen > 0``, the per-segment information criterion
    min_d RSS_d + d * dpen over degrees d = 0 .. p - 1 (the column spaces are nested, so
    every RSS_d comes from the same QR factor: RSS_d = RSS_{p-1} + sum_{j>d} z_j^2).

    PELT (Killick et al. 2012) with the exact pruning rule for a minimum segment length:
    a start ``s`` found dominated at time t (F[s] + C(s, t) + K > F[t]) is only dropped
    once t + min_size has passed, because [t, T) is not an admissible segment before that.
    K = -(p - 1) dpen is the constant of the pruning lemma, C(a, b) + C(b, c) + K <= C(a, c)
    (splitting at a fixed degree d lowers the RSS and adds at most (p - 1) dpen).

    Returns
    -------
    last : int64 array (n + 1,)
        last[t] = start of the final segment of the optimal partition of [0, t).
    F : float array (n + 1,)
        Optimal penalised cost of [0, t) (inf where no admissible partition exists).
    """
    n = x.shape[0]
    F = np.full(n + 1, np.inf)
    F[0] = -pen
    last = np.full(n + 1, -1, dtype=np.int64)
    R = np.zeros((n + 1, p, p))
    z = np.zeros((n + 1, p))
    rss = np.zeros(n + 1)
    cost = np.zeros(n + 1)
    slack = (p - 1) * dpen
    active = np.empty(n + 1, dtype=np.int64)
    drop_at = np.full(n + 1, np.iinfo(np.int64).max, dtype=np.int64)
    n_active = 1
    active[0] = 0
    for t in range(1, n + 1):
        xt = x[t - 1]
        yt = y[t - 1]
        best = np.inf
        arg = -1
        for a in range(n_active):
            s = active[a]
            res = _givens_add_row(R[s], z[s], xt - x[s], yt, p)
            rss[s] += res * res
            cost[s] = _segment_cost(R[s], z[s], rss[s], p, dpen)
            if t - s >= min_size:
                val = F[s] + cost[s] + pen
                if val < best:
                    best = val
                    arg = s
        F[t] = best
        last[t] = arg
        # prune (see docstring); keep the order of ``active``
        k = 0
        for a in range(n_active):
            s = active[a]
            if t - s >= min_size and best < np.inf and F[s] + cost[s] - slack > best and drop_at[s] > t + min_size:
                drop_at[s] = t + min_size
            if drop_at[s] > t:
                active[k] = s
                k += 1
        n_active = k
        if t >= min_size and t <= n - min_size and F[t] < np.inf:
            active[n_active] = t
            n_active += 1
    return last, F


@njit(cache=True)
def split_costs(x, y, p):
    """RSS of [0, i) and of [i, m) for every i (forward and backward Givens sweeps).

    Returns ``left`` and ``right`` of length m + 1 with left[i] = RSS(0, i) and
    right[i] = RSS(i, m).
    """
    m = x.shape[0]
    left = np.zeros(m + 1)
    right = np.zeros(m + 1)
    R = np.zeros((p, p))
    z = np.zeros(p)
    acc = 0.0
    for i in range(m):
        res = _givens_add_row(R, z, x[i] - x[0], y[i], p)
        acc += res * res
        left[i + 1] = acc
    R[:, :] = 0.0
    z[:] = 0.0
    acc = 0.0
    for i in range(m - 1, -1, -1):
        res = _givens_add_row(R, z, x[i] - x[m - 1], y[i], p)
        acc += res * res
        right[i] = acc
    return left, right


@njit(cache=True)
def best_single_split(x, y, p, min_size):
    """Index i in [min_size, m - min_size] minimising RSS(0, i) + RSS(i, m); -1 if none."""
    m = x.shape[0]
    left, right = split_costs(x, y, p)
    best = np.inf
    arg = -1
    for i in range(min_size, m - min_size + 1):
        v = left[i] + right[i]
        if v < best:
            best = v
            arg = i
    return arg


@njit(cache=True)
def bootstrap_splits(x, fitted, resid, draws, p, min_size):
    """Best single split of ``fitted + resid[draws[b]]`` for each bootstrap draw b.

    ``draws`` (n_boot, m) holds the resampling indices, drawn by the caller from a seeded
    numpy Generator so that the result does not depend on whether numba is enabled.
    """
    n_boot = draws.shape[0]
    m = x.shape[0]
    out = np.empty(n_boot, dtype=np.int64)
    ys = np.empty(m)
    for b in range(n_boot):
        for i in range(m):
            ys[i] = fitted[i] + resid[draws[b, i]]
        out[b] = best_single_split(x, ys, p, min_size)
    return out


@njit(cache=True)
def ricci_batched(G, H):
    """Scalar curvature of the graph of F at N points (docs/theory.md), loop kernel."""
    N = G.shape[0]
    P = G.shape[1]
    out = np.empty(N)
    hg = np.empty(P)
    for k in range(N):
        tr = 0.0
        tr2 = 0.0
        g2 = 0.0
        for i in range(P):
            tr += H[k, i, i]
            g2 += G[k, i] * G[k, i]
            s = 0.0
            for j in range(P):
                tr2 += H[k, i, j] * H[k, j, i]
                s += H[k, i, j] * G[k, j]
            hg[i] = s
        ghg = 0.0
        hg2 = 0.0
        for i in range(P):
            ghg += G[k, i] * hg[i]
            hg2 += hg[i] * hg[i]
        W = 1.0 + g2
        out[k] = (tr * tr - tr2) / W - 2.0 / (W * W) * (tr * ghg - hg2)
    return out
