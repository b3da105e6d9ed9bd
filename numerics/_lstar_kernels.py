"""Private numba kernels of the zero-temperature free energy of the scalar chain
(one mode: a = n^T A n, c = |beta|, n = D + 1 >= 2).

With w = b^n along the mode, L(b) = a b^(2n) - 2 c b^n + E[y^2] + n gamma b^2; its non-zero
stationary points are the roots of q(b) = a b^(2n-2) - c b^(n-2) + gamma = 0 (a learning
minimum and a barrier saddle), found by safeguarded Newton in brackets derived from the
closed-form turning point b_m of q, never from the closed forms of ``theory``.

* :func:`scalar_sweep` - every branch (learning, saddle) at each gamma: the fast path of
  ``ReducedLossModel`` for scalar problems;
* :func:`scalar_lstar_checked` (and ``_parallel``) - the production L* kernel: the global
  minimum only, with dL*/dgamma and d2L*/dgamma2, vectorised by chunks.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _ipow(b, k):
    """b**k for a small integer k >= 0 by repeated multiplication (cheaper than pow)."""
    r = 1.0
    for _ in range(k):
        r *= b
    return r


@njit(cache=True)
def _q(a, c, n, gam, b):
    """q(b) = L'(b) / (2 n b) = a b^(2n-2) - c b^(n-2) + gamma and q'(b) (scalar mode)."""
    bn2 = _ipow(b, n - 2)
    b2n2 = bn2 * bn2 * b * b  # b^(2n-2) = (b^(n-2))^2 b^2
    q = a * b2n2 - c * bn2 + gam
    dq = ((2 * n - 2) * a * b2n2 - (n - 2) * c * bn2) / b
    return q, dq


@njit(cache=True)
def _newton_bracket(a, c, n, gam, lo, hi, x, increasing):
    """Root of q in [lo, hi] (q changes sign once there), safeguarded Newton from x."""
    sgn = 1.0 if increasing else -1.0
    if not (lo < x < hi):
        x = 0.5 * (lo + hi)
    for _ in range(200):
        q, dq = _q(a, c, n, gam, x)
        fx = sgn * q
        if fx == 0.0:
            return x
        if fx < 0.0:
            lo = x
        else:
            hi = x
        xn = x - q / dq if dq != 0.0 else 0.5 * (lo + hi)
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        # a Newton step this small leaves an error ~ K step^2 (quadratic convergence)
        if abs(xn - x) <= 1e-14 * x or hi - lo <= 4e-16 * hi:
            return xn
        x = xn
    return x


@njit(cache=True, parallel=True)
def scalar_sweep(a, c, n, gammas, want_saddle):
    """Stationary branches of L(b) = a b^(2n) - 2 c b^n + Ey2 + n gamma b^2, n >= 2, c > 0.

    L'(b) = 2 n b q(b), q(b) = a b^(2n-2) - c b^(n-2) + gamma (integer powers only, so this
    kernel avoids exp/log).  q(b) > 0 for b^n >= c/a; for n >= 3, q' has one positive zero
    b_m (found by bisection), q falls then rises, so a learning minimum (root in
    (b_m, (c/a)^(1/n))) and a barrier (root in (0, b_m)) exist iff q(b_m) < 0.  For n = 2,
    q is increasing and has one root iff q(0) < 0.  Roots by safeguarded Newton with warm
    starts along the grid.

    Returns (dl, norm2, d2) each (m, 2): column 0 the minimum, column 1 the barrier (nan
    where absent), and gamma_s = -min_b (q - gamma) (end of the learning minimum).
    """
    m = gammas.shape[0]
    dls = np.full((m, 2), np.nan)
    nrm = np.full((m, 2), np.nan)
    d2s = np.full((m, 2), np.nan)
    bm, gamma_s, bhi = _learning_bracket(a, c, n)
    # chunks run in parallel; inside a chunk each root starts from the linear
    # extrapolation of the two previous roots (error O(h^2): one or two Newton steps)
    n_chunks = min(m, 64)
    for ch in prange(n_chunks):
        j0 = ch * m // n_chunks
        j1 = (ch + 1) * m // n_chunks
        for col in range(2 if (want_saddle and n > 2) else 1):
            p1 = -1.0
            p2 = -1.0
            g1 = 0.0
            g2 = 0.0
            for j in range(j0, j1):
                gam = gammas[j]
                if not gam < gamma_s or (col == 1 and gam <= 0.0):
                    # no root (beyond the spinodal; the barrier merges with b = 0 at gamma = 0)
                    p1 = -1.0
                    p2 = -1.0
                    continue
                start = p1
                if p1 > 0.0 and p2 > 0.0 and g1 != g2:
                    start = p1 + (p1 - p2) * (gam - g1) / (g1 - g2)
                if col == 0:
                    b = _newton_bracket(a, c, n, gam, bm, bhi, start, True)
                else:
                    b = _newton_bracket(a, c, n, gam, 0.0, bm, start, False)
                p2 = p1
                g2 = g1
                p1 = b
                g1 = gam
                bb = b * b
                bn2 = _ipow(b, n - 2)
                # L - Ey2 = b^2 (a b^(2n-2) - 2 c b^(n-2) + n gamma) = b^2 (-c b^(n-2) + (n-1) gamma) at q = 0
                dls[j, col] = bb * (-c * bn2 + (n - 1.0) * gam)
                nrm[j, col] = n * bb
                _, dq = _q(a, c, n, gam, b)
                # d2L*/dgamma2 = -(dL_b/dgamma)^2 / L_bb = -(2 n b)^2 / (2 n b q'(b))
                d2s[j, col] = -2.0 * n * b / dq
    return dls, nrm, d2s, gamma_s


# ----------------------------------------------------------------------------- lean L* kernel
#
# ``scalar_lstar_checked`` is the throughput path.  Its cost used to be the serial dependency of a
# warm start along the grid (every Newton solve waited for the previous root: latency
# bound, ~20-30 ns per point).  It now works on chunks of ``_CHUNK`` grid points whose
# starts are independent of each other, so the per-point passes are straight-line loops
# that LLVM vectorises:
#
# * the chunk's two end points (its min and max gamma) are solved by safeguarded Newton
#   (on an increasing grid the lower one is the previous chunk's upper end: one solve per
#   chunk);
# * each point starts from the cubic Hermite interpolant of b between them in
#   s = sqrt(gamma_s - gamma): b is an analytic function of s on the learning branch, also
#   at the fold (b - b_m ~ s), where it has a square-root singularity in gamma;
# * up to three unguarded Newton steps on q(b) = 0 for the whole chunk, until every point
#   passes the same test as the safeguarded solver (|step| <= 1e-11 b, root inside the
#   learning bracket (b_m, (c/a)^(1/n))); a point that does not is re-solved by the
#   safeguarded solver (``_learning_root``), so every point meets the same convergence
#   test whatever its start (results differ from other start rules at rounding level only).
#
# Chunks are grouped in blocks of ``_BLOCK`` points, each warm-started on its own, which the
# serial and the parallel kernel process identically (bit-identical results).
# ``error_model="numpy"`` (IEEE division, no ZeroDivisionError branch per division) is
# what lets the divisions vectorise; it changes no finite result.  No fastmath.

_CHUNK = 128


@njit(cache=True, error_model="numpy", inline="always")
def _pw(x, k):
    """x**k for an integer k >= 0 by repeated squaring (log2 k multiplications deep)."""
    r = 1.0
    while k:
        if k & 1:
            r *= x
        k >>= 1
        if k:
            x *= x
    return r


@njit(cache=True, error_model="numpy")
def _learning_bracket(a, c, n):
    """(b_m, gamma_s, b_hi): the learning root of q lies in (b_m, b_hi) iff gamma < gamma_s.

    b_hi = (c/a)^(1/n) (q > 0 beyond); b_m the zero of q' (bisection; 0 for n = 2);
    gamma_s = -min_b (q - gamma) = c b_m^(n-2) - a b_m^(2n-2) (c for n = 2), the spinodal.
    """
    bhi = (c / a) ** (1.0 / n)
    if n == 2:
        return 0.0, c, bhi
    lo = 0.0
    hi = bhi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid == lo or mid == hi:
            break
        if (2 * n - 2) * a * mid**n - (n - 2) * c > 0.0:
            hi = mid
        else:
            lo = mid
    bm = 0.5 * (lo + hi)
    bmn2 = bm ** (n - 2)
    return bm, -(a * bmn2 * bm**n - c * bmn2), bhi


@njit(cache=True, error_model="numpy", inline="always")
def _learning_root(a, c, n, gam, x, bm, bhi):
    """Learning root of q in (bm, bhi) by safeguarded Newton from x (bisection fallback)."""
    lo = bm
    hi = bhi
    if not (lo < x < hi):
        x = 0.5 * (lo + hi)
    for _ in range(200):
        bn2 = _pw(x, n - 2)
        b2n2 = bn2 * bn2 * x * x
        q = a * b2n2 - c * bn2 + gam
        if q < 0.0:
            lo = x
        elif q > 0.0:
            hi = x
        else:
            break
        step = q * x / ((2 * n - 2) * a * b2n2 - (n - 2) * c * bn2)  # q / q'
        # quadratic convergence: a step below 1e-11 x leaves an error ~K 1e-22 x (checked
        # before the bracket test, which a rounding-size step can fail at a bracket end)
        if abs(step) <= 1e-11 * x:
            x -= step
            break
        xn = x - step
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if hi - lo <= 4e-16 * hi:
            x = xn
            break
        x = xn
    return x


@njit(cache=True, error_model="numpy", inline="always")
def _store(a, c, ey2, n, gam, b, loss, d1, d2, j):
    """Global minimum at grid point j from the learning root b: learning iff L - Ey2 <= 0."""
    bb = b * b
    bn2 = _pw(b, n - 2)
    # L - Ey2 = b^2 (a b^(2n-2) - 2 c b^(n-2) + n gamma) = b^2 ((n-1) gamma - c b^(n-2)) at q = 0
    dl = bb * ((n - 1.0) * gam - c * bn2)
    if dl <= 0.0:
        loss[j] = ey2 + dl
        d1[j] = n * bb
        # d2L*/dgamma2 = -(dL_b/dgamma)^2 / L_bb = -2 n b / q'(b) = -2 n b^2 / (b q'(b))
        d2[j] = -2.0 * n * bb / ((2 * n - 2) * a * bn2 * bn2 * bb - (n - 2) * c * bn2)
    else:
        loss[j] = ey2
        d1[j] = 0.0
        d2[j] = 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _ds_slope(a, c, n, b, s):
    """db/ds on the learning branch, s = sqrt(gamma_s - gamma): 2 s / q'(b)."""
    bn2 = _pw(b, n - 2)
    return 2.0 * s * b / ((2 * n - 2) * a * bn2 * bn2 * b * b - (n - 2) * c * bn2)


@njit(cache=True, error_model="numpy")
def _lstar_chunks(a, c, ey2, n, gammas, bm, bhi, gamma_s, loss, d1, d2):
    m = gammas.shape[0]
    k = n - 2
    k1 = (2 * n - 2) * a
    k2 = (n - 2) * c
    W = _CHUNK
    x0 = np.empty(W)
    x = np.empty(W)
    p = np.empty(W)
    bad = np.empty(W, np.bool_)
    cg = -1.0  # upper end point (gamma, b, db/ds) of the previous smooth chunk
    cb = 0.0
    cs = 0.0
    for j0 in range(0, m, W):
        L = min(W, m - j0)
        gmin = gammas[j0]
        gmax = gmin
        for w in range(L):
            gv = gammas[j0 + w]
            gmin = gv if gv < gmin else gmin
            gmax = gv if gv > gmax else gmax
        if gmin >= gamma_s:
            # no learning root anywhere in the chunk (beyond the spinodal): trivial minimum
            loss[j0:j0 + L] = ey2
            d1[j0:j0 + L] = 0.0
            d2[j0:j0 + L] = 0.0
            continue
        if gmax >= gamma_s or L < 8:
            # chunk across the spinodal, or a short tail: point by point, warm started
            prev = -1.0
            for w in range(L):
                j = j0 + w
                gam = gammas[j]
                if not gam < gamma_s:
                    loss[j] = ey2
                    d1[j] = 0.0
                    d2[j] = 0.0
                    continue
                b = _learning_root(a, c, n, gam, prev, bm, bhi)
                prev = b
                _store(a, c, ey2, n, gam, b, loss, d1, d2, j)
            cg = -1.0
            continue
        # end points of the Hermite start (in s = sqrt(gamma_s - gamma))
        s_lo = np.sqrt(gamma_s - gmax)
        s_hi = np.sqrt(gamma_s - gmin)
        if cg >= 0.0 and cg <= gmin and gmin - cg <= gmax - gmin:
            s_hi = np.sqrt(gamma_s - cg)  # reuse the previous chunk's end point
            b_hi = cb
            m_hi = cs
        else:
            b_hi = _learning_root(a, c, n, gmin, -1.0, bm, bhi)
            m_hi = _ds_slope(a, c, n, b_hi, s_hi)
        ds = s_hi - s_lo
        b_lo = _learning_root(a, c, n, gmax, b_hi - m_hi * ds, bm, bhi)
        m_lo = _ds_slope(a, c, n, b_lo, s_lo)
        cg = gmax
        cb = b_lo
        cs = m_lo
        ml = m_lo * ds
        mh = m_hi * ds
        h2 = 3.0 * (b_hi - b_lo) - 2.0 * ml - mh
        h3 = 2.0 * (b_lo - b_hi) + ml + mh
        inv = 1.0 / ds if ds > 0.0 else 0.0
        for w in range(L):
            t = (np.sqrt(gamma_s - gammas[j0 + w]) - s_lo) * inv
            xv = ((h3 * t + h2) * t + ml) * t + b_lo
            x0[w] = xv
            x[w] = xv
        # unguarded Newton on the whole chunk until every point passes the safeguarded
        # solver's test (the bracket test rules out the barrier root); p = b^(n-2)
        for _ in range(3):
            for w in range(L):
                p[w] = 1.0
            for _r in range(k):
                for w in range(L):
                    p[w] *= x[w]
            nbad = 0
            for w in range(L):
                gam = gammas[j0 + w]
                xv = x[w]
                bn2 = p[w]
                b2n2 = bn2 * bn2 * xv * xv
                r = (a * b2n2 - c * bn2 + gam) / (k1 * b2n2 - k2 * bn2)  # Newton step / b
                xn = xv - r * xv
                bw = not ((abs(r) <= 1e-11) & (xn > bm) & (xn < bhi))
                bad[w] = bw
                nbad += bw
                x[w] = xn
                # (b (1 - r))^k = b^k (1 - k r) + O(k^2 r^2): exact to rounding when |r| <= 1e-11
                # (points with a larger step are bad: iterated again or re-solved)
                p[w] = bn2 * (1.0 - k * r)
            if nbad == 0:
                break
        for w in range(L):
            gam = gammas[j0 + w]
            xv = x[w]
            bn2 = p[w]
            bb = xv * xv
            dl = bb * ((n - 1.0) * gam - c * bn2)
            learn = dl <= 0.0
            dd = -2.0 * n * bb / (k1 * bn2 * bn2 * bb - k2 * bn2)
            loss[j0 + w] = ey2 + dl if learn else ey2
            d1[j0 + w] = n * bb if learn else 0.0
            d2[j0 + w] = dd if learn else 0.0
        if nbad:
            for w in range(L):
                if bad[w]:
                    j = j0 + w
                    gam = gammas[j]
                    b = _learning_root(a, c, n, gam, x0[w], bm, bhi)
                    _store(a, c, ey2, n, gam, b, loss, d1, d2, j)


# Independent blocks of _BLOCK grid points (each warm-started on its own: the end-point
# reuse restarts at a block boundary), so that the serial and the parallel kernel do the
# same arithmetic on every point and give bit-identical results for any thread count.
_BLOCK = 8 * _CHUNK
# free_energy_lean(..., parallel=True) uses the parallel kernel from this many points on
# (below it thread start-up costs more than it saves); read at call time
PARALLEL_MIN_POINTS = 32768
_N_TASKS = 16  # blocks are dealt round robin to this many tasks (load balance; no effect on results)


@njit(cache=True, error_model="numpy")
def _n_invalid(gammas):
    """Number of gammas not in [0, inf) (NaN, +-inf, negative), one vectorised pass."""
    n_valid = 0
    for j in range(gammas.shape[0]):
        g = gammas[j]
        n_valid += (g >= 0.0) & (g < np.inf)  # False for NaN
    return gammas.shape[0] - n_valid


@njit(cache=True, error_model="numpy")
def scalar_lstar_checked(a, c, ey2, n, gammas):
    """(n_invalid, L*, dL*/dgamma, d2L*/dgamma2), n >= 2, c > 0, serial.

    Lean sweep of the global minimum only: same stationary equation and bracket as
    :func:`scalar_sweep` (learning root of q in (b_m, (c/a)^(1/n)), the same acceptance test
    as its safeguarded Newton), no barrier branch, no per-branch arrays: the global minimum
    is picked per point (learning if L - Ey2 <= 0).  Chunked so that the per-point work
    vectorises (see the comment above); any grid order works.  Deterministic.

    ``n_invalid`` counts the gammas not in [0, inf) (NaN, +-inf, negative) in a first
    (vectorised) pass; if it is not 0 nothing is computed (the outputs are uninitialised)
    and the caller raises.  The three arrays are the rows of one (3, m) array (one
    allocation: fewer fresh pages to fault in than three).
    """
    m = gammas.shape[0]
    out = np.empty((3, m))
    n_invalid = _n_invalid(gammas)
    if n_invalid:
        return n_invalid, out[0], out[1], out[2]
    bm, gamma_s, bhi = _learning_bracket(a, c, n)
    for lo in range(0, m, _BLOCK):
        hi = min(m, lo + _BLOCK)
        _lstar_chunks(a, c, ey2, n, gammas[lo:hi], bm, bhi, gamma_s, out[0, lo:hi], out[1, lo:hi], out[2, lo:hi])
    return n_invalid, out[0], out[1], out[2]


@njit(cache=True, error_model="numpy", parallel=True)
def scalar_lstar_checked_parallel(a, c, ey2, n, gammas):
    """:func:`scalar_lstar_checked` with the blocks spread over numba's threads (prange).

    Same blocks, same arithmetic per point: bit-identical to the serial kernel.
    """
    m = gammas.shape[0]
    out = np.empty((3, m))
    n_invalid = _n_invalid(gammas)
    if n_invalid:
        return n_invalid, out[0], out[1], out[2]
    bm, gamma_s, bhi = _learning_bracket(a, c, n)
    n_blocks = (m + _BLOCK - 1) // _BLOCK
    for task in prange(_N_TASKS):
        for blk in range(task, n_blocks, _N_TASKS):
            lo = blk * _BLOCK
            hi = min(m, lo + _BLOCK)
            _lstar_chunks(a, c, ey2, n, gammas[lo:hi], bm, bhi, gamma_s, out[0, lo:hi], out[1, lo:hi], out[2, lo:hi])
    return n_invalid, out[0], out[1], out[2]
