"""Private numba kernels of the zero-temperature free energy of deep linear networks, any A:
the general ridge-curve solver (the reference the scalar kernels of ``_lstar_kernels`` are
cross-checked against in the tests).

Every non-zero stationary point of

    L(w) = w^T A w - 2 w^T beta + E[y^2] + n gamma |w|^(2/n)      (n = D + 1)

solves (A + lam I) w = beta with lam = gamma |w|^(2/n - 2) > 0, i.e. lies on the ridge
curve w(lam), s(lam) = |w(lam)|.  In the eigenbasis of A (eigenvalues alpha_i, squared
components b2_i of beta) and tau = log(lam):

    g(tau) = log gamma(lam) = tau + (p/2) log s^2,   p = 2D/(D+1),
    s^2 = sum b2_i / (alpha_i + lam)^2.

So the stationary points at a given gamma are the roots of g(tau) = log gamma.  The curve
is cut into monotone pieces at the zeros of g' (found by exhaustive bracketing on a
grid over the interval that provably contains them, then bisection); each piece holds at
most one root, polished by safeguarded Newton (bisection fallback).  Increasing pieces
are local minima, decreasing pieces saddles/barriers (checked against full Hessians in
the tests).  Loss differences use the stationarity identity

    L - E[y^2] = sum_i b2_i ((n - 2) lam - alpha_i) / (alpha_i + lam)^2

which has no cancellation for n <= 2 and only the unavoidable one at a transition.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _sums(alpha, b2, lam):
    """(s^2, sum b2/(alpha+lam)^3, L - Ey2 without the n-dependent part) at lam."""
    s2 = 0.0
    s3 = 0.0
    for i in range(alpha.shape[0]):
        r = 1.0 / (alpha[i] + lam)
        t = b2[i] * r * r
        s2 += t
        s3 += t * r
    return s2, s3


@njit(cache=True)
def g_of_tau(alpha, b2, p, tau):
    """log gamma on the ridge curve at lam = exp(tau); tau = +inf gives the limit."""
    if tau == np.inf:
        if p == 1.0:
            tot = 0.0
            for i in range(b2.shape[0]):
                tot += b2[i]
            return 0.5 * np.log(tot)
        return np.inf if p < 1.0 else -np.inf
    if tau == -np.inf:
        return -np.inf
    lam = np.exp(tau)
    if p == 1.0:
        # sum b2 (lam/(alpha+lam))^2: finite limit as lam -> inf without cancelling tau
        tot = 0.0
        for i in range(alpha.shape[0]):
            q = lam / (alpha[i] + lam)
            tot += b2[i] * q * q
        return 0.5 * np.log(tot)
    s2, _ = _sums(alpha, b2, lam)
    return tau + 0.5 * p * np.log(s2)


@njit(cache=True)
def _gprime_lam(alpha, b2, p, lam):
    """d g / d tau = 1 - p lam sum b2/(alpha+lam)^3 / s^2, summed without cancellation
    as sum b2 (alpha + (1 - p) lam)/(alpha + lam)^3 / s^2 (exact for p <= 1)."""
    num = 0.0
    s2 = 0.0
    for i in range(alpha.shape[0]):
        r = 1.0 / (alpha[i] + lam)
        t = b2[i] * r * r
        s2 += t
        num += t * r * (alpha[i] + (1.0 - p) * lam)
    return num / s2


@njit(cache=True)
def gprime_of_tau(alpha, b2, p, tau):
    """d g / d tau at lam = exp(tau) (see ``_gprime_lam``)."""
    return _gprime_lam(alpha, b2, p, np.exp(tau))


@njit(cache=True)
def find_extrema(alpha, b2, p, n_grid):
    """All zeros of g' (extrema of gamma along the ridge curve), sorted.

    For p <= 1 (D <= 1) g' > 0 everywhere.  For p > 1, g' > 0 for lam < alpha_min/(p-1)
    and g' < 0 for lam > alpha_max/(p-1), so every zero lies in that interval (widened
    by one unit of tau): bracket sign changes on ``n_grid`` points, then bisect.
    """
    out = np.empty(n_grid)
    k = 0
    if p <= 1.0:
        return out[:0]
    amin = alpha.min()
    amax = alpha.max()
    lo = np.log(amin / (p - 1.0)) - 1.0
    hi = np.log(amax / (p - 1.0)) + 1.0
    prev_t = lo
    prev_v = gprime_of_tau(alpha, b2, p, lo)
    for j in range(1, n_grid):
        t = lo + (hi - lo) * j / (n_grid - 1)
        v = gprime_of_tau(alpha, b2, p, t)
        if (prev_v > 0.0 and v <= 0.0) or (prev_v < 0.0 and v >= 0.0):
            a = prev_t
            b = t
            fa = prev_v
            for _ in range(200):
                m = 0.5 * (a + b)
                if m == a or m == b:
                    break
                fm = gprime_of_tau(alpha, b2, p, m)
                if (fm > 0.0) == (fa > 0.0):
                    a = m
                    fa = fm
                else:
                    b = m
            out[k] = 0.5 * (a + b)
            k += 1
        prev_t = t
        prev_v = v
    return out[:k]


@njit(cache=True)
def root_in_piece(alpha, b2, p, lo, hi, increasing, target, start):
    """The unique tau in (lo, hi) with g(tau) = target on a monotone piece (safeguarded Newton).

    Infinite ends are replaced by finite brackets found by stepping outwards.
    Returns nan if the target is outside the range of g on the piece.
    """
    sgn = 1.0 if increasing else -1.0
    # finite bracket [a, b] with sgn*(g - target) < 0 at a and > 0 at b
    if lo == -np.inf:
        a = (hi if hi < np.inf else 0.0) - 1.0
        if start == start and start < a:
            a = start - 1.0
        step = 1.0
        while sgn * (g_of_tau(alpha, b2, p, a) - target) >= 0.0:
            a -= step
            step *= 2.0
            if step > 1e6:
                return np.nan
    else:
        a = lo
    if hi == np.inf:
        b = (lo if lo > -np.inf else 0.0) + 1.0
        if start == start and start > b:
            b = start + 1.0
        step = 1.0
        while sgn * (g_of_tau(alpha, b2, p, b) - target) <= 0.0:
            b += step
            step *= 2.0
            if step > 1e6:
                return np.nan
    else:
        b = hi
    fa = sgn * (g_of_tau(alpha, b2, p, a) - target)
    fb = sgn * (g_of_tau(alpha, b2, p, b) - target)
    if not (fa < 0.0 and fb > 0.0):
        if fa == 0.0:
            return a
        if fb == 0.0:
            return b
        return np.nan
    x = start if (start == start and a < start < b) else 0.5 * (a + b)
    for _ in range(200):
        fx = sgn * (g_of_tau(alpha, b2, p, x) - target)
        if fx == 0.0:
            return x
        if fx < 0.0:
            a = x
        else:
            b = x
        d = sgn * gprime_of_tau(alpha, b2, p, x)
        xn = x - fx / d if d > 0.0 else 0.5 * (a + b)
        if not (a < xn < b):
            xn = 0.5 * (a + b)
        # a Newton step this small leaves an error ~ step^2: converged
        if abs(xn - x) <= 1e-12 * max(1.0, abs(x)) or b - a <= 4e-16 * max(1.0, abs(a)):
            return xn
        x = xn
    return x


@njit(cache=True)
def branch_values(alpha, b2, n, p, gamma, tau):
    """(L - Ey2, ||theta||^2 = n s^(2/n), d2L/dgamma2, s) of the stationary point at tau."""
    if tau == -np.inf:
        lam = 0.0
    else:
        lam = np.exp(tau)
    s2, s3 = _sums(alpha, b2, lam)
    dl = 0.0
    for i in range(alpha.shape[0]):
        r = 1.0 / (alpha[i] + lam)
        dl += b2[i] * ((n - 2.0) * lam - alpha[i]) * r * r
    s2n = s2 ** (1.0 / n)  # s^(2/n) = b^2
    gp = _gprime_lam(alpha, b2, p, lam)
    # d2L*/dgamma2 = s^(2/n) (d log s^2 / d tau) / (gamma g'); d log s^2/d tau / gamma
    # = -2 s3 / (s2 s^p) avoids 0/0 at lam -> 0
    d2 = s2n * (-2.0 * s3) / (s2 * s2 ** (0.5 * p) * gp) if gp != 0.0 else -np.inf
    return dl, n * s2n, d2, np.sqrt(s2)


@njit(cache=True)
def sweep(alpha, b2, n, gammas, piece_lo, piece_hi, piece_inc):
    """Every stationary branch on a gamma grid.

    Returns (tau, dloss, norm2, d2) each (m, K) for the K monotone pieces (nan where the
    piece has no root at that gamma).  Warm starts from the previous grid point.
    """
    m = gammas.shape[0]
    K = piece_lo.shape[0]
    p = 2.0 * (n - 1.0) / n
    tau = np.full((m, K), np.nan)
    dls = np.full((m, K), np.nan)
    nrm = np.full((m, K), np.nan)
    d2s = np.full((m, K), np.nan)
    glo = np.empty(K)
    ghi = np.empty(K)
    for k in range(K):
        glo[k] = g_of_tau(alpha, b2, p, piece_lo[k])
        ghi[k] = g_of_tau(alpha, b2, p, piece_hi[k])
    prev = np.full(K, np.nan)
    for j in range(m):
        gam = gammas[j]
        lg = np.log(gam) if gam > 0.0 else -np.inf
        for k in range(K):
            inc = piece_inc[k]
            if inc:
                lo_v = glo[k]
                hi_v = ghi[k]
            else:
                lo_v = ghi[k]
                hi_v = glo[k]
            if not (lo_v < lg < hi_v):
                if gam == 0.0 and inc and piece_lo[k] == -np.inf:
                    t = -np.inf  # gamma = 0: lam = 0, the least-norm least-squares point
                else:
                    prev[k] = np.nan
                    continue
            else:
                t = root_in_piece(alpha, b2, p, piece_lo[k], piece_hi[k], inc, lg, prev[k])
            if t != t:
                prev[k] = np.nan
                continue
            prev[k] = t if t > -np.inf else np.nan
            tau[j, k] = t
            dl, nr, d2, _ = branch_values(alpha, b2, n, p, gam, t)
            dls[j, k] = dl
            nrm[j, k] = nr
            d2s[j, k] = d2
    return tau, dls, nrm, d2s
