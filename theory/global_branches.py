r"""Several outputs, D >= 2, any A: the transitions by a certified global numerical search.

No closed form is known.  The reduced problem (loss without 1/2, one gamma on every layer,
n = D + 1)

.. math:: L^*(\gamma) = E\|y\|^2 + \min_W \; \mathrm{tr}(W^T A W) - 2\,\mathrm{tr}(W^T B)
          + n\gamma \sum_i \sigma_i(W)^{2/n}

is solved rank by rank: for each rank r the lowest branch L_r(gamma) is found by Newton's
method on the variable-projected problem (:class:`FactoredBranch`) from many starts (the
top-r right singular vectors of B and seeded random ones) at the bottom of a geometric
gamma grid, then followed by continuation in gamma upward from every distinct minimum and
back down from the top, keeping the lowest value at every grid point.  A branch ends where
Newton's method no longer finds a full-rank local minimum (its spinodal).  L_0 = E||y||^2.

The global rank changes where the lowest branch changes; each such crossing
L_r(gamma) = L_r'(gamma) is located by brentq on the two continued branches (first order:
dL*/dgamma jumps by the difference of sum_l ||W_l||^2 of the two branches).  Every result
carries a certificate: the number of starts, the stationarity residual of both branches at
gamma_c, the gap to the next-best branch at gamma_c, and the spinodals of both branches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq
from threadpoolctl import threadpool_limits

from .closed_form import critical_point
from .factored_branch import FactoredBranch

__all__ = ["GlobalTransition", "global_transitions"]

_RES_OK = 1e-8  # relative stationarity residual below which a branch point counts as found


@dataclass(frozen=True)
class GlobalTransition:
    """One change of the global minimiser's rank, found numerically.

    Attributes
    ----------
    gamma_c : float
    rank_below, rank_above : int
        Rank of the global minimiser just below / above gamma_c.
    latent_heat : float
        Jump of dL*/dgamma (sum_l ||W_l||^2 of the rank_below branch minus that of rank_above).
    spinodal_up : float
        Largest gamma at which the rank_below branch still exists (end of its metastability).
    spinodal_down : float
        Smallest gamma at which the rank_above branch still exists (0 for the origin, which
        is a local minimum at every gamma for D >= 2); equal to the bottom of the search
        range (``certificate["search_range"][0]``) when the branch reaches it.
    accuracy : float
        Relative width of the final bracket of gamma_c.
    certificate : dict
        starts, distinct_minima, kkt_residual, gap_next_branch, search_range.
    """

    gamma_c: float
    rank_below: int
    rank_above: int
    latent_heat: float
    spinodal_up: float
    spinodal_down: float
    accuracy: float
    certificate: dict[str, Any] = field(default_factory=dict)


class _Rank:
    """The lowest rank-r branch on the grid."""

    def __init__(self, br: FactoredBranch, r: int, grid: np.ndarray):
        self.br, self.r, self.grid = br, r, grid
        self.val = np.full(grid.size, np.inf)
        self.Q: list[np.ndarray | None] = [None] * grid.size

    def ok(self, Q: np.ndarray, gamma: float) -> bool:
        if not np.all(np.isfinite(Q)):
            return False
        lam = np.linalg.eigvalsh(Q.T @ Q)
        return bool(lam[0] > 1e-12 * max(lam[-1], 1e-300) and self.br.residual(Q, gamma) <= _RES_OK)

    def point(self, gamma: float, Q0: np.ndarray) -> tuple[float, np.ndarray] | None:
        _, Q = self.br.solve(gamma, Q0, max_iter=25)
        if not self.ok(Q, gamma):
            return None
        return self.br.value(Q, gamma), Q

    def sweep(self, Q0: np.ndarray, start: int, direction: int) -> int:
        """Continue from grid index ``start`` in ``direction``; returns the last index reached."""
        Q, i, last = Q0, start, start
        while 0 <= i < self.grid.size:
            got = self.point(self.grid[i], Q)
            if got is None:
                break
            v, Q = got
            if v < self.val[i] - 1e-13 * self.br.scale ** 2 or self.Q[i] is None:
                self.val[i], self.Q[i] = v, Q
            last, i = i, i + direction
        return last

    def at(self, gamma: float) -> tuple[float, np.ndarray] | None:
        """The branch at any gamma, continued from the nearest grid point that has it."""
        idx = [i for i in np.argsort(np.abs(np.log(self.grid / gamma))) if self.Q[i] is not None]
        for i in idx[:3]:
            got = self.point(gamma, self.Q[i])
            if got is not None:
                return got
        return None


def _starts(B: np.ndarray, r: int, n_starts: int, scale: float, rng: np.random.Generator) -> list[np.ndarray]:
    _, _, Vt = np.linalg.svd(B, full_matrices=False)
    out = [scale * Vt[:r].T]
    for _ in range(n_starts - 1):
        out.append(scale * rng.standard_normal((B.shape[1], r)) / np.sqrt(B.shape[1]))
    return out


def global_transitions(
    eigenvalues,
    B,
    depth: int,
    *,
    n_starts: int = 8,
    seed: int = 0,
    tol: float = 1e-10,
    ratio: float = 1.1,
) -> list[GlobalTransition]:
    r"""Every rank change of the global minimiser as gamma increases (D >= 2, any A).

    Parameters
    ----------
    eigenvalues : (d,) positive array
        A in its eigenbasis (see :func:`restrict_to_range`).
    B : (d, k) array
        E[x y^T] in the same basis.
    depth : int
        Hidden layers D >= 2.
    n_starts : int
        Starts per rank (the first is B's top-r right singular vectors, the rest seeded
        random).
    seed : int
        Seed of the random starts.
    tol : float
        Relative accuracy of each gamma_c (brentq).
    ratio : float
        Ratio of consecutive points of the continuation grid.

    Returns
    -------
    list of GlobalTransition, gamma_c increasing.

    Examples
    --------
    >>> import numpy as np
    >>> [round(t.gamma_c, 4) for t in global_transitions(np.ones(2), np.diag([1.0, 0.4]), 2)]
    [0.117, 0.3969]
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _search(np.asarray(eigenvalues, float), np.asarray(B, float), int(depth), n_starts, seed, tol, ratio)


def _search(e, B, depth, n_starts, seed, tol, ratio) -> list[GlobalTransition]:
    d, k = B.shape
    s = np.linalg.svd(B, compute_uv=False)
    if s[0] == 0.0:
        return []
    r_max = min(d, k, int(np.sum(s > 1e-12 * s[0])))
    br = FactoredBranch(e, B, depth)
    U = np.linalg.svd(B, full_matrices=False)[0]
    ey2_any = 1.0  # the scalar gamma_c does not depend on E[y^2]

    def scalar(a: float, c: float):
        return critical_point(depth, a, c, max(ey2_any, c * c / a))

    # bottom of the search: below the per-mode scalar estimates (a_k = u_k^T A u_k); lowered
    # until the global minimiser at the bottom has full rank (checked below)
    g_low = 0.5 * min(scalar(float(U[:, j] @ (e * U[:, j])), float(s[j])).gamma_c for j in range(r_max))
    g_top = 2.0 * scalar(float(e.min()), float(s[0])).spinodal
    for _ in range(6):
        grid, ranks, n_distinct = _branches(br, B, s, r_max, depth, g_low, g_top, ratio, n_starts, seed)
        vals = np.vstack([np.zeros(grid.size)] + [ranks[r].val for r in range(1, r_max + 1)])
        if int(np.argmin(vals[:, 0])) == r_max:
            break
        g_low /= 4.0
    # global rank on the grid (rank 0: value 0)
    best = np.argmin(vals, axis=0)
    out: list[GlobalTransition] = []
    for i in range(grid.size - 1):
        ra, rb = int(best[i]), int(best[i + 1])
        if ra == rb:
            continue
        out.append(_refine(br, ranks, ra, rb, grid, i, tol, n_starts, n_distinct, vals))
    return out


def _branches(br, B, s, r_max, depth, g_low, g_top, ratio, n_starts, seed):
    """The lowest branch of every rank on a geometric grid from g_low (multi-start there,
    continuation up from each distinct minimum, then back down from the top)."""
    n_grid = int(np.ceil(np.log(g_top / g_low) / np.log(ratio))) + 1
    grid = g_low * ratio ** np.arange(n_grid)
    rng = np.random.default_rng(seed)
    ranks: dict[int, _Rank] = {}
    n_distinct: dict[int, int] = {}
    e = br.e
    for r in range(1, r_max + 1):
        R = _Rank(br, r, grid)
        scale = (s[0] / e.max()) ** (depth / (depth + 1.0))
        mins: list[tuple[float, np.ndarray]] = []
        for Q0 in _starts(B, r, n_starts, scale, rng):
            got = R.point(grid[0], Q0)
            if got is not None and all(abs(got[0] - v) > 1e-9 * br.scale ** 2 for v, _ in mins):
                mins.append(got)
        mins.sort(key=lambda m: m[0])
        n_distinct[r] = len(mins)
        for _, Q in mins[:3]:
            R.sweep(Q, 0, +1)
        top = max((i for i in range(grid.size) if R.Q[i] is not None), default=None)
        if top is not None:
            R.sweep(R.Q[top], top, -1)
        ranks[r] = R
    return grid, ranks, n_distinct


def _branch_value(ranks: dict[int, _Rank], r: int, gamma: float):
    if r == 0:
        return 0.0, None
    return ranks[r].at(gamma)


def _refine(br, ranks, ra, rb, grid, i, tol, n_starts, n_distinct, vals) -> GlobalTransition:
    def diff(g: float) -> float:
        a, b = _branch_value(ranks, ra, g), _branch_value(ranks, rb, g)
        if a is None:
            return np.inf
        if b is None:
            return -np.inf
        return a[0] - b[0]

    lo, hi = float(grid[i]), float(grid[i + 1])
    f_lo, f_hi = diff(lo), diff(hi)
    if np.isfinite(f_lo) and np.isfinite(f_hi) and f_lo * f_hi < 0:
        gc = brentq(diff, lo, hi, xtol=tol * lo, rtol=4 * np.finfo(float).eps)
        acc = tol
    else:  # a branch ends inside the cell: bisect on the sign of the difference
        for _ in range(60):
            mid = np.sqrt(lo * hi)
            if diff(mid) < 0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= tol * lo:
                break
        gc, acc = 0.5 * (lo + hi), (hi - lo) / lo
    pa, pb = _branch_value(ranks, ra, gc), _branch_value(ranks, rb, gc)
    res, dl = [], []
    for r, p in ((ra, pa), (rb, pb)):
        if r == 0 or p is None:
            res.append(0.0)
            dl.append(0.0)
        else:
            res.append(br.residual(p[1], gc))
            dl.append(br.dloss_dgamma(p[1], gc))
    others = [r for r in ranks if r not in (ra, rb)] + ([0] if 0 not in (ra, rb) else [])
    own = min(x[0] for x in (pa, pb) if x is not None)
    gaps = []
    for r in others:
        p = _branch_value(ranks, r, gc)
        if p is not None:
            gaps.append(p[0] - own)
    gap = float(min(gaps)) if gaps else float("inf")
    up = ranks[ra] if ra else None
    sp_up = _spinodal(up, gc, +1) if up is not None else 0.0
    down = ranks[rb] if rb else None
    sp_down = _spinodal(down, gc, -1) if down is not None else 0.0
    cert = dict(
        starts=int(n_starts),
        distinct_minima={str(r): int(n_distinct.get(r, 0)) for r in (ra, rb) if r},
        kkt_residual=float(max(res)),
        gap_next_branch=gap,
        search_range=[float(grid[0]), float(grid[-1])],
    )
    return GlobalTransition(float(gc), ra, rb, float(dl[0] - dl[1]), float(sp_up), float(sp_down), float(acc), cert)


def _spinodal(R: _Rank, gc: float, direction: int) -> float:
    """The gamma where the branch R ends, searched from gc in ``direction`` (bisection on existence)."""
    grid = R.grid
    have = [j for j in range(grid.size) if R.Q[j] is not None]
    if direction > 0:
        j_last = max(have)
        if j_last == grid.size - 1:
            return float(grid[-1])
        lo, hi, Q = float(grid[j_last]), float(grid[j_last + 1]), R.Q[j_last]
    else:
        j_first = min(have)
        if j_first == 0:
            return float(grid[0])  # exists down to the bottom of the search
        lo, hi, Q = float(grid[j_first - 1]), float(grid[j_first]), R.Q[j_first]
    for _ in range(40):
        mid = np.sqrt(lo * hi)
        got = R.point(mid, Q)
        inside = got is not None
        if (direction > 0) == inside:
            lo = mid
        else:
            hi = mid
        if inside:
            Q = got[1]
        if hi - lo <= 1e-9 * lo:
            break
    return float(lo if direction > 0 else hi)
