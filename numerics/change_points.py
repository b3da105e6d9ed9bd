r"""Change points of a curve y(gamma): exact optimal partition, kind (jump/kink), uncertainty.

A first-order transition shows up as a *jump* (level discontinuity) of a curve measured
against gamma (the order parameter ||theta*||^2, dL*/dgamma, a curvature at the trained
point), a second-order one as a *kink* (slope discontinuity).  This module finds both on
non-uniform (e.g. log-spaced) gamma grids.

Method
------
1. Coordinates.  x = gamma (``x_scale="linear"``) or log(gamma) (``"log"``; ``"auto"``,
   the default with automatic segments, takes the one in which the grid is more nearly
   uniform), mapped affinely onto [-1, 1]; y is standardised (mean 0, std 1), so the
   result is invariant under y -> s y + t (s > 0) up to rounding.
2. Segment model.  A fixed polynomial degree k (``segment="linear"`` etc.), or, by
   default (``segment="auto"``), a degree chosen per segment from the data: each segment
   costs min_d RSS_d + d log(n) sigma^2 over d = 0 .. ``max_degree`` (BIC per
   coefficient), so a smooth curved stretch is one segment of a higher degree rather than
   several lines.
3. Noise level sigma^2: given, or the largest of (a) a robust estimate (1.4826 x median
   absolute value) of unit-norm divided-difference pseudo-residuals (Gasser et al. 1986
   generalised to any degree and non-uniform grids) whose stencils straddle no detected
   change: sampling noise; (b) the median RMS misfit of local cubic fits on sliding
   windows that straddle no detected change: the smooth misfit; with automatic segments
   at most 3 times the misfit a smooth curve with pseudo-residuals (a) has on this grid
   (a curve with constant fourth derivative sets the ratio); (c) with automatic segments
   a resolution of 1e-3 std(y) (fixed degree: 1e-8 std(y), rounding), because a
   noise-free curve (exact training) has no noise to set a scale, and the misfit of a
   smooth piece is not a change.  Estimate, partition and re-estimate alternate; the
   first pass takes the lower quartile for (a), because on a coarse grid (20-30 points,
   two or three changes) most windows and even most stencils straddle a change.
4. Exact optimal partition (PELT, Killick et al. 2012, with the exact pruning rule for
   a minimum segment length) of

   .. math:: \sum_{\text{segments}} C_{\text{seg}} + \text{pen}\,(\#\text{segments} - 1),

   with pen = (k + 2) log(n) sigma^2 (BIC: k + 1 coefficients and one location per
   segment; automatic segments use k = ``max_degree``, so a split pays for every
   coefficient it could add) or a user multiple of sigma^2.  Segment RSS come from
   per-start Givens QR updates (numba, ``numerics._cp_kernels``), accurate for short
   segments too; the RSS of every lower degree comes from the same QR (nested columns).
   With automatic segments each boundary is then confirmed locally: within about n/8
   points on each side one polynomial of degree max(5, ``max_degree``) is compared with
   the same plus a kink and a jump at the boundary, and the boundary stays only if that
   lowers the RSS by more than 2 log(n) sigma^2 (a long smooth piece split only because
   one polynomial could not follow it is fitted locally far below the noise floor; on a
   coarse grid the window spans much of the curve, and a quintic could not follow e.g.
   tanh(gamma - 1) on 24 log-spaced points to the 1e-3 resolution).
   On noisy curves (the floor is set by the sampling-noise estimate (a)) each segment is
   then searched for a kink the partition's price misses: a high-degree piece can bend
   through a gentle kink and stay within the noise.  The segment's BIC polynomial,
   min_d RSS_d + d log(n) sigma^2, is compared with a degree-q polynomial plus a hinge
   (u - t)_+ at the best grid gap, RSS + (q + 2) log(n) sigma^2 (one slope change, one
   location) + log(n) sigma^2 margin; the segment is split where the kink wins, and the
   pieces searched again.  Measured on noisy families (0.3-1 % noise, 60-150 points,
   uniform and log grids, ``benchmarks/power_change_points.py``): a kink moving the curve
   by 20 noise s.d. over the shorter side is found once, interval containing it, in ~94-95 %
   of curves on linear and quadratic backgrounds (59 / 36 % on strongly curved exponential
   / log ones, where a smooth polynomial absorbs much of it; the test that knows the
   kink's location and the background's degree finds 95 / 74 %); smooth curves with that
   noise give none in ~98 % (~95 % on sharper backgrounds such as sqrt or tanh(3t)).
5. Kind.  Around each boundary, the two adjacent segments are refitted as one
   *continuous* piecewise polynomial with a free knot t near the boundary; if the RSS
   grows by less than log(n_window) sigma^2 (BIC for the one parameter continuity
   removes) the change is a ``"kink"`` located at t, else a ``"jump"`` located at the
   midpoint of the grid gap.  With ``continuous=True`` every change is a kink.
6. Uncertainty.  Residual bootstrap: the window of the two segments is re-generated as
   fit + resampled residuals and the single best split re-located ``n_bootstrap`` times;
   [low, high] is the 2.5-97.5 % range, widened to contain the estimate (and, for a
   jump, the grid gap it sits in).  With automatic settings residuals smaller than the
   noise floor are scaled up to it, so the interval reflects the resolution used.

Limits: a kink whose slope change is small against the noise over its segment (above all
on a strongly curved background, which a polynomial confuses with a kink), or
a smooth feature sharper than the grid resolves (e.g. log(gamma) near gamma = 0 on a
linear grid), can be missed or reported; pass ``sigma`` (the resolution you care about)
or a fixed ``segment`` when you know the curve.

Example
-------
>>> import numpy as np
>>> from l2phase.numerics import ChangePointDetector
>>> g = np.linspace(0.0, 2.0, 201)
>>> y = np.where(g < 1.0, 1.0 - g, 0.0)          # kink at gamma = 1
>>> [(round(cp.gamma, 6), cp.kind) for cp in ChangePointDetector().fit(g, y).predict()]
[(1.0, 'kink')]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

from ._cp_kernels import bootstrap_splits, pelt_rss
from l2phase.theory.checks import InputError, InputTypeError, check_int, check_seed

__all__ = ["ChangePoint", "ChangePointDetector", "detect_change_points", "SEGMENT_DEGREES", "AUTO_MAX_DEGREE"]

#: Segment models and their polynomial degree.
SEGMENT_DEGREES = {"constant": 0, "linear": 1, "quadratic": 2, "cubic": 3}

_SIGMA_FLOOR_REL = 1e-8  # relative to std(y): below this, "noise" is rounding of the curve itself
_RESOLUTION = 1e-3  # automatic segments: relative resolution (of std(y)) for curves without measurable noise
#: automatic segments: the smooth-misfit floor is at most this multiple of the misfit a smooth
#: curve with the measured pseudo-residuals would have (measured on smooth curves: <= 2)
_SMOOTH_CAP = 3.0
_KINK_MARGIN = 1.0  # automatic segments: extra price of a kink found inside a segment, in log(n) sigma^2
#: Highest per-segment polynomial degree of ``segment="auto"``.
AUTO_MAX_DEGREE = 7


@dataclass(frozen=True)
class ChangePoint:
    """One change point of a curve y(gamma).

    Attributes
    ----------
    gamma : float
        Location in gamma units (knot of the continuous fit for a kink; midpoint of the
        grid gap for a jump).
    low, high : float
        Uncertainty interval in gamma units (residual bootstrap, 95 %).
    kind : str
        ``"jump"`` (level discontinuity: first order) or ``"kink"`` (slope
        discontinuity: second order).
    size : float
        Level jump y(right) - y(left) for a jump; slope change dy/dgamma(right) -
        dy/dgamma(left) for a kink (units of y and y/gamma).
    index : int
        Position in the grid: the change lies between ``gamma[index - 1]`` and
        ``gamma[index]`` (first point of the right segment).
    level_jump, slope_change : float
        Both discontinuities as fitted (each in y units / y per gamma), whatever the kind.
    statistic : float
        RSS increase from imposing continuity, in units of sigma^2 (large: jump).
    """

    gamma: float
    low: float
    high: float
    kind: str
    size: float
    index: int
    level_jump: float = float("nan")
    slope_change: float = float("nan")
    statistic: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_curve(gamma, y) -> tuple[np.ndarray, np.ndarray]:
    try:
        g = np.asarray(gamma, dtype=float)
        yy = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError("gamma and y must be numeric 1-D arrays") from None
    if g.ndim != 1:
        raise InputError(f"gamma must be a 1-D grid, got shape {g.shape}")
    if g.size == 0:
        raise InputError("gamma is empty")
    if yy.shape != g.shape:
        raise InputError(f"y must have the shape of gamma {g.shape}, got {yy.shape}")
    if not np.all(np.isfinite(g)):
        raise InputError("gamma contains NaN or inf")
    if not np.all(np.isfinite(yy)):
        raise InputError("y contains NaN or inf")
    if g.size > 1 and np.any(np.diff(g) <= 0):
        raise InputError("gamma must be strictly increasing (sort the curve first)")
    return g, yy


def _pseudo_residual_sigma(x: np.ndarray, y: np.ndarray, order: int, bounds=None, lower: bool = False) -> float:
    """Robust noise s.d. from unit-norm divided differences of ``order`` (annihilate degree < order).

    1.4826 x the median absolute value, or with ``lower`` the lower quartile / 0.3186 (also
    consistent for Gaussian noise, and robust while up to 3/4 of the stencils straddle a
    change: a coarse grid with several changes).  Stencils that straddle one of the interior
    ``bounds`` (detected changes) are left out when enough others remain.
    """
    m = order + 1
    n = x.size
    if n < m + 1:
        return 0.0
    idx = np.arange(n - m + 1)[:, None] + np.arange(m)[None, :]
    xs = x[idx]
    w = np.ones_like(xs)
    for j in range(m):
        for l in range(m):
            if l != j:
                w[:, j] /= xs[:, j] - xs[:, l]
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    e = np.abs(np.sum(w * y[idx], axis=1))
    if bounds is not None and len(bounds) > 2:
        a = idx[:, 0]
        keep = np.ones(e.size, dtype=bool)
        for t in bounds[1:-1]:
            keep &= ~((a < t) & (t < a + m))
        if keep.sum() >= max(3, e.size // 4):
            e = e[keep]
    if lower:
        return float(np.quantile(e, 0.25) / 0.31863936396437514)
    return float(1.482602218505602 * np.median(e))


def _choose_x_scale(g: np.ndarray) -> str:
    """'log' when gamma > 0 and the grid is more nearly uniform in log(gamma) than in gamma."""
    if g.size < 3 or np.any(g <= 0):
        return "linear"
    def spread(v):
        d = np.diff(v)
        return float(np.std(d) / np.mean(d))
    return "log" if spread(np.log(g)) < spread(g) else "linear"


def _local_windows(n: int) -> list[tuple[int, int]]:
    """Sliding windows [a, b) of w = clip(n // 8, 8, 40) points, stride w // 4."""
    w = int(min(max(n // 8, 8), 40, n))
    step = max(w // 4, 1)
    starts = list(range(0, n - w + 1, step))
    if starts and starts[-1] != n - w:
        starts.append(n - w)
    return [(a, a + w) for a in starts]


def _window_misfit(u: np.ndarray, z: np.ndarray, windows) -> np.ndarray:
    """RMS residual (per degree of freedom) of a least-squares cubic on each window."""
    out = np.empty(len(windows))
    for j, (a, b) in enumerate(windows):
        deg = min(3, b - a - 2)
        _, rss = _polyfit(u[a:b], z[a:b], deg, 0.5 * (u[a] + u[b - 1]))
        out[j] = np.sqrt(rss / (b - a - deg - 1))
    return out


def _smooth_sigma(misfit: np.ndarray, windows, bounds) -> float:
    """Median window misfit over windows that straddle none of the interior ``bounds``."""
    if not len(windows):
        return 0.0
    inner = bounds[1:-1]
    keep = np.array([not any(a < t < b for t in inner) for a, b in windows])
    return float(np.median(misfit[keep] if keep.any() else misfit))


def _smooth_ratio(u: np.ndarray, windows, order: int) -> float:
    """Window misfit over pseudo-residual s.d. of a curve with constant ``order``-th derivative on this grid.

    A smooth curve's window misfit and its pseudo-residuals both measure its local
    ``order``-th derivative (times the local spacing to that power), so their ratio is set
    by the grid and the window size; a much larger measured ratio means changes inflate
    the windows (they are wider than the difference stencils).
    """
    q = u**order
    den = _pseudo_residual_sigma(u, q, order)
    if not len(windows) or den <= 0.0:
        return np.inf
    return float(np.median(_window_misfit(u, q, windows)) / den)


def _local_gain(u: np.ndarray, z: np.ndarray, a: int, i: int, b: int, degree: int = 5) -> float:
    """RSS drop on [a, b) from adding a kink and a jump at the gap (i-1, i) to one polynomial of ``degree``."""
    ub = 0.5 * (u[i - 1] + u[i])
    v = (u[a:b] - ub) / max(u[b - 1] - u[a], 1e-300)
    deg = min(degree, b - a - 4)
    if deg < 0:
        return np.inf
    V = _vander(v, deg)
    X = np.hstack([V, np.maximum(v, 0.0)[:, None], (v > 0).astype(float)[:, None]])
    y = z[a:b]
    r0 = y - V @ np.linalg.lstsq(V, y, rcond=None)[0]
    r1 = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    return float(r0 @ r0 - r1 @ r1)


def _confirm_locally(u, z, bounds, s2, threshold, degree: int = 5) -> list[int]:
    """Keep the boundaries that are changes at the local scale, not misfit of long smooth pieces.

    Around each boundary (w = clip(n // 8, 8, 40) points each side, not past the
    neighbouring boundaries) one polynomial of ``degree`` is compared with the same plus a
    kink and a jump at the grid gap: the boundary stays when the RSS drop exceeds
    ``threshold * s2``.  A long smooth stretch that the search split only because one
    polynomial could not follow it is fitted by a local polynomial to far below the noise
    floor; a real kink or jump is not.  Repeated until no boundary is dropped.
    """
    n = u.size
    w = int(min(max(n // 8, 8), 40))
    inner = list(bounds[1:-1])
    while inner:
        full = [0] + inner + [n]
        gains = [_local_gain(u, z, max(full[j - 1], full[j] - w), full[j], min(full[j + 1], full[j] + w), degree)
                 for j in range(1, len(full) - 1)]
        j = int(np.argmin(gains))
        if gains[j] > threshold * s2:
            break
        del inner[j]
    return [0] + inner + [n]


def _best_hinge(u: np.ndarray, z: np.ndarray, deg: int, min_size: int) -> tuple[float, int]:
    """Smallest RSS of a polynomial of degree ``deg`` plus a hinge (u - t)_+ at a grid gap.

    The knot t runs over the midpoints of the gaps (i - 1, i) with ``min_size`` points on
    each side; returns (RSS, i) of the best one ((inf, 0) when there is none).
    """
    n = u.size
    if n < 2 * min_size or n < deg + 3:
        return np.inf, 0
    c = 0.5 * (u[0] + u[-1])
    V = _vander((u - c) / max(0.5 * (u[-1] - u[0]), 1e-300), deg)
    Q, _ = np.linalg.qr(V)
    r0 = z - Q @ (Q.T @ z)
    rr = float(r0 @ r0)
    s0_ = np.arange(n, 0, -1, dtype=float)
    s1_ = np.cumsum(u[::-1])[::-1]
    s2_ = np.cumsum((u * u)[::-1])[::-1]
    best, arg = np.inf, 0
    lo, hi = max(min_size, 1), n - max(min_size, 1) + 1
    for c0 in range(lo, hi, 32):  # blocks of knots projected at once (small: no threaded BLAS)
        idx = np.arange(c0, min(c0 + 32, hi))
        H = np.maximum(u[:, None] - 0.5 * (u[idx - 1] + u[idx])[None, :], 0.0)
        H -= Q @ (Q.T @ H)
        hh = np.einsum("ij,ij->j", H, H)
        a = u[idx - 1]  # sum over j >= i of (u_j - a)^2 from suffix sums: the hinge's own scale
        ref = np.maximum(s2_[idx] - 2 * a * s1_[idx] + a * a * s0_[idx], 0.0)
        ok = hh > 1e-14 * np.maximum(ref, 1e-300)
        if not ok.any():
            continue
        rss = np.full(idx.size, np.inf)
        rss[ok] = rr - (r0 @ H[:, ok]) ** 2 / hh[ok]
        j = int(np.argmin(rss))
        if rss[j] < best:
            best, arg = float(rss[j]), int(idx[j])
    return best, arg


def _add_kinks(u, z, bounds, s2, logn, max_degree, min_size, margin) -> list[int]:
    """Split segments that one polynomial fits worse than a lower-or-equal degree plus a kink.

    A segment's smooth model costs min_d RSS_d + d log(n) s2 (as in the search); a kink
    model, a degree-q polynomial plus a hinge (u - t)_+ with free knot t at a grid gap,
    costs RSS + (q + 2) log(n) s2 (one slope change, one location) + ``margin`` s2.  A
    high-degree polynomial can bend through a gentle kink and stay within the noise, so
    the partition's per-split price (every coefficient) misses it; this continuous model
    pays only for what a kink adds.  Repeated on the pieces until nothing is split.
    """
    out = list(bounds)
    todo = list(zip(bounds[:-1], bounds[1:]))
    while todo:
        s, e = todo.pop()
        m = e - s
        if m < 2 * min_size + 2:
            continue
        us, zs = u[s:e], z[s:e]
        dmax = min(max_degree, m - 2)
        smooth = min(_polyfit(us, zs, d, 0.5 * (us[0] + us[-1]))[1] + d * logn * s2 for d in range(dmax + 1))
        best, arg = np.inf, 0
        for q in range(min(max_degree, m - 3) + 1):
            rss, i = _best_hinge(us, zs, q, max(min_size, 3))
            cost = rss + (q + 2) * logn * s2
            if cost < best:
                best, arg = cost, i
        if arg and best + margin * s2 < smooth:
            out.append(s + arg)
            todo += [(s, s + arg), (s + arg, e)]
    return sorted(set(out))


def _vander(u: np.ndarray, deg: int) -> np.ndarray:
    return np.vander(u, deg + 1, increasing=True)


def _polyfit(u: np.ndarray, y: np.ndarray, deg: int, center: float) -> tuple[np.ndarray, float]:
    """Least-squares coefficients in powers of (u - center) and the RSS."""
    V = _vander(u - center, deg)
    coef, *_ = np.linalg.lstsq(V, y, rcond=None)
    r = y - V @ coef
    return coef, float(r @ r)


def _polyval(coef: np.ndarray, u, center: float):
    return np.polynomial.polynomial.polyval(np.asarray(u) - center, coef)


def _continuous_rss(u, y, deg, t, scale):
    """RSS of P(u) + (u - t)_+ Q(u), deg P = deg, deg Q = deg - 1 (continuous at t)."""
    v = (u - t) / scale
    V = _vander(v, deg)
    plus = np.where(v > 0, v, 0.0)[:, None] * V[:, :deg]
    X = np.hstack([V, plus])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ coef
    return float(r @ r), coef


class ChangePointDetector:
    """Exact optimal-partition change-point detector for curves y(gamma) (fit/predict API).

    Parameters
    ----------
    segment : "auto" or {"constant", "linear", "quadratic", "cubic"} or int
        Polynomial model of each segment (in x = gamma or log gamma).  ``"auto"``
        (default): degree 0 .. ``max_degree`` chosen per segment by BIC, with the noise
        floor and local confirmation of the module docstring; works on curves nobody
        tuned for.  A fixed degree must describe the curve between change points: a
        smooth curved stretch fitted with lines is (correctly) split into several lines.
    continuous : bool
        If True the curve is assumed continuous: every change is a kink located by a
        continuous free-knot fit.
    penalty : "bic" or float
        Cost per change point: ``"bic"`` = (degree + 2) log(n) sigma^2, or a float
        multiplier of sigma^2.
    min_size : int, optional
        Minimum number of grid points in a segment (>= degree + 1; default 3, or
        degree + 1 if larger).
    x_scale : {"linear", "log", "auto"}, optional
        Fit polynomials in gamma or in log(gamma) (log needs gamma > 0; a kink or jump in
        one is a kink or jump in the other).  Default: "auto" (the axis in which the grid
        is more uniform) with ``segment="auto"``, else "linear".
    sigma : float, optional
        Noise standard deviation of y, if known (else estimated, see module docstring).
    n_bootstrap : int
        Residual-bootstrap replicates for the interval (0: interval from the grid only).
    seed : int
        Seed of the bootstrap.
    max_degree : int
        Highest segment degree of ``segment="auto"`` (default 7).

    Attributes
    ----------
    breakpoints_ : list[int]
        Start indices of segments 2..K (this and the following are set by ``fit``).
    degrees_ : list[int]
        Polynomial degree of each segment.
    x_scale_ : str
        Axis used ("linear" or "log").
    sigma_ : float
        Noise s.d. used (y units).
    noise_sigma_, smooth_sigma_ : float
        Its two data estimates (nan when sigma is given).
    penalty_ : float
        Penalty per change point (y^2 units).
    fitted_ : ndarray
        Piecewise polynomial fit of y.
    cost_ : float
        Total RSS (y^2 units).
    """

    def __init__(
        self,
        segment: str | int = "auto",
        continuous: bool = False,
        penalty: str | float = "bic",
        min_size: int | None = None,
        *,
        x_scale: str | None = None,
        sigma: float | None = None,
        n_bootstrap: int = 200,
        seed: int = 0,
        max_degree: int = AUTO_MAX_DEGREE,
    ) -> None:
        if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)) or not 0 <= max_degree <= 7:
            raise InputError(f"max_degree must be an integer 0..7, got {max_degree!r}")
        if isinstance(segment, str):
            if segment != "auto" and segment not in SEGMENT_DEGREES:
                raise InputError(f"segment must be 'auto', one of {sorted(SEGMENT_DEGREES)} or an int, got {segment!r}")
            degree = int(max_degree) if segment == "auto" else SEGMENT_DEGREES[segment]
        elif isinstance(segment, (int, np.integer)) and not isinstance(segment, bool) and 0 <= segment <= 7:
            degree = int(segment)
        else:
            raise InputError(f"segment must be 'auto', one of {sorted(SEGMENT_DEGREES)} or an int 0..7, got {segment!r}")
        self.auto_degree = segment == "auto"
        if isinstance(penalty, str):
            if penalty != "bic":
                raise InputError(f"penalty must be 'bic' or a positive float, got {penalty!r}")
        else:
            penalty = float(penalty)
            if not np.isfinite(penalty) or penalty <= 0:
                raise InputError(f"penalty must be 'bic' or a positive float, got {penalty!r}")
        if min_size is None:
            min_size = 3 if self.auto_degree else max(3, degree + 1)
        need = 2 if self.auto_degree else degree + 1
        min_size = check_int(min_size, f"min_size (>= degree + 1 = {need})", need)
        if x_scale is None:
            x_scale = "auto" if self.auto_degree else "linear"
        if x_scale not in ("linear", "log", "auto"):
            raise InputError(f"x_scale must be 'linear', 'log' or 'auto', got {x_scale!r}")
        if sigma is not None:
            sigma = float(sigma)
            if not np.isfinite(sigma) or sigma <= 0:
                raise InputError(f"sigma must be a positive float, got {sigma!r}")
        n_bootstrap = check_int(n_bootstrap, "n_bootstrap", 0, 10**6)
        seed = check_seed(seed)
        self.segment = segment
        self.degree = degree
        self.continuous = bool(continuous)
        self.penalty = penalty
        self.min_size = int(min_size)
        self.x_scale = x_scale
        self.sigma = sigma
        self.n_bootstrap = int(n_bootstrap)
        self.seed = int(seed)
        self._fitted = False

    # ------------------------------------------------------------------ fit
    def fit(self, gamma, y) -> "ChangePointDetector":
        """Segment the curve; ``gamma`` strictly increasing, ``y`` of the same length."""
        g, yy = _check_curve(gamma, y)
        scale = _choose_x_scale(g) if self.x_scale == "auto" else self.x_scale
        if scale == "log":
            if np.any(g <= 0):
                raise InputError("x_scale='log' needs gamma > 0 everywhere")
            x = np.log(g)
        else:
            x = g.copy()
        self.x_scale_ = scale
        n = g.size
        self.gamma_ = g
        self.y_ = yy
        self.n_ = n
        # affine maps: u in [-1, 1], standardised y (scale/shift invariance)
        self._x0 = 0.5 * (x[0] + x[-1])
        self._xs = 0.5 * (x[-1] - x[0]) if n > 1 else 1.0
        u = (x - self._x0) / self._xs
        self._u = u
        ymean = float(np.mean(yy))
        ystd = float(np.std(yy))
        self._ymean, self._ystd = ymean, ystd
        self._cps: list[ChangePoint] = []
        if ystd == 0.0 or n < 2 * self.min_size:
            self.breakpoints_ = []
            self.degrees_ = [min(self.degree, max(n - 2, 0))] if ystd != 0.0 else [0]
            self.sigma_ = self.sigma if self.sigma is not None else 0.0
            self.penalty_ = 0.0
            self.fitted_ = yy.copy() if ystd == 0.0 else self._fit_segments(u, yy, [0, n], self.degrees_)[0]
            self.cost_ = float(np.sum((yy - self.fitted_) ** 2))
            self._fitted = True
            return self
        z = (yy - ymean) / ystd
        logn = np.log(n)
        if self.auto_degree:
            # BIC of the largest segment model per change point (a split must pay for the
            # coefficients it could add), and log(n) sigma^2 per coefficient a segment uses
            mult, dmult = ((self.degree + 2) * logn, logn) if self.penalty == "bic" else (float(self.penalty), logn)
        else:
            mult, dmult = ((self.degree + 2) * logn, 0.0) if self.penalty == "bic" else (float(self.penalty), 0.0)
        if self.sigma is not None:
            sig = max(self.sigma / ystd, _SIGMA_FLOOR_REL)
            bounds = self._partition(u, z, sig * sig, mult, dmult)
            self.noise_sigma_ = self.smooth_sigma_ = float("nan")
        else:
            # noise floor: pseudo-residuals (sampling noise) or the misfit of smooth local
            # fits (a smooth curve's departure from the segment model is not a change),
            # re-estimated without the windows that straddle a detected change.  The first
            # pass uses the lower quartile of the pseudo-residuals and caps the smooth misfit
            # by what they support (on a coarse grid most windows and stencils can straddle a
            # change, and their median measures the changes); later passes use the median
            # away from the changes found
            order = min(self.degree, 3) + 1
            windows = _local_windows(n)
            misfit = _window_misfit(u, z, windows)
            ratio = _SMOOTH_CAP * _smooth_ratio(u, windows, order) if self.auto_degree else np.inf
            bounds = [0, n]
            for it in range(5):
                sig_noise = _pseudo_residual_sigma(u, z, order, bounds, lower=it == 0)
                cap = ratio * sig_noise
                sig_smooth = min(_smooth_sigma(misfit, windows, bounds), cap)
                sig = max(sig_noise, sig_smooth, _RESOLUTION if self.auto_degree else _SIGMA_FLOOR_REL)
                new_bounds = self._partition(u, z, sig * sig, mult, dmult)
                if new_bounds == bounds and it > 0:
                    break
                bounds = new_bounds
            self.noise_sigma_ = sig_noise * ystd
            self.smooth_sigma_ = sig_smooth * ystd
        s2 = sig * sig
        if self.auto_degree:
            bounds = _confirm_locally(u, z, bounds, s2, 2.0 * logn, max(5, self.degree))
            if self.sigma is None and self.penalty == "bic" and sig_noise >= 0.5 * sig:
                # measured sampling noise sets the floor: residuals are noise, and a gentle
                # kink that a high-degree piece bends through can be tested for
                bounds = _add_kinks(u, z, bounds, s2, logn, self.degree, self.min_size, _KINK_MARGIN * logn)
        degrees = self._segment_degrees(u, z, bounds, dmult * s2)
        fitted_z, coefs = self._fit_segments(u, z, bounds, degrees)
        resid = z - fitted_z
        dof = max(n - sum(len(c) for c in coefs), 1)
        s2_cls = max(float(resid @ resid) / dof, s2)  # includes any misfit of the segment model
        self._s2 = s2
        rng = np.random.default_rng(self.seed)
        cps = []
        for j in range(1, len(bounds) - 1):
            k = max(degrees[j - 1], degrees[j], 0 if self.degree == 0 else 1)
            cps.append(self._describe(u, z, bounds[j - 1], bounds[j], bounds[j + 1], s2_cls, resid, rng, k))
        self._cps = cps
        self.breakpoints_ = bounds[1:-1]
        self.degrees_ = degrees
        self.sigma_ = sig * ystd
        self.penalty_ = mult * s2 * ystd**2
        self.fitted_ = fitted_z * ystd + ymean
        self.cost_ = float(np.sum(resid**2)) * ystd**2
        self._fitted = True
        return self

    def _partition(self, u, z, s2, mult, dmult) -> list[int]:
        """Exact optimal partition [0, b1, ..., n] for noise variance s2 (standardised units)."""
        n = u.size
        last, _ = pelt_rss(u, z, self.degree + 1, self.min_size, mult * s2, dmult * s2)
        bounds = [n]
        t = n
        while t > 0:
            t = int(last[t])
            bounds.append(t)
        return bounds[::-1]

    def _segment_degrees(self, u, z, bounds, dpen) -> list[int]:
        """Polynomial degree of each segment: fixed, or argmin_d RSS_d + d * dpen (as in the search)."""
        if not self.auto_degree:
            return [self.degree] * (len(bounds) - 1)
        out = []
        for s, e in zip(bounds[:-1], bounds[1:]):
            vals = [_polyfit(u[s:e], z[s:e], d, u[s])[1] + d * dpen for d in range(min(self.degree, e - s - 1) + 1)]
            out.append(int(np.argmin(vals)))
        return out

    def predict(self) -> list[ChangePoint]:
        """Change points sorted by gamma ([] if none)."""
        if not self._fitted:
            raise RuntimeError("call fit(gamma, y) before predict()")
        return list(self._cps)

    def fit_predict(self, gamma, y) -> list[ChangePoint]:
        return self.fit(gamma, y).predict()

    # ------------------------------------------------------------------ helpers
    def _fit_segments(self, u, z, bounds, degrees):
        fitted = np.empty_like(z)
        coefs = []
        for (s, e), d in zip(zip(bounds[:-1], bounds[1:]), degrees):
            c = u[s]
            coef, _ = _polyfit(u[s:e], z[s:e], d, c)
            fitted[s:e] = _polyval(coef, u[s:e], c)
            coefs.append(coef)
        return fitted, coefs

    def _to_gamma(self, uval):
        xv = np.asarray(uval) * self._xs + self._x0
        return np.exp(xv) if self.x_scale_ == "log" else xv

    def _dgamma_du(self, uval):
        """d gamma / d u at u (to convert slopes to y per gamma)."""
        return self._xs * (self._to_gamma(uval) if self.x_scale_ == "log" else 1.0)

    def _best_knot(self, uw, zw, i_loc, scale, k):
        """Continuous free-knot fit: knot searched over the gaps around the boundary."""
        lo = uw[max(i_loc - 2, 0)]
        hi = uw[min(i_loc + 1, uw.size - 1)]
        grid = np.linspace(lo, hi, 49)
        vals = np.array([_continuous_rss(uw, zw, k, t, scale)[0] for t in grid])
        flat = grid[vals <= vals.min() * (1 + 1e-8) + 1e-14]
        if flat.size > 2:
            # the RSS does not depend on the knot within rounding (a high-degree piece follows
            # any knot in a wide grid gap): the middle of that stretch, not a rounding-chosen end
            t = float(np.median(flat))
            rss, coef = _continuous_rss(uw, zw, k, t, scale)
            return t, rss, coef
        best_val, best_t = float(vals.min()), float(grid[int(np.argmin(vals))])
        step = grid[1] - grid[0]
        res = minimize_scalar(
            lambda t: _continuous_rss(uw, zw, k, t, scale)[0],
            bounds=(max(lo, best_t - step), min(hi, best_t + step)),
            method="bounded",
            options={"xatol": 1e-12 * max(1.0, abs(best_t))},
        )
        if res.fun < best_val:
            best_val, best_t = float(res.fun), float(res.x)
        rss, coef = _continuous_rss(uw, zw, k, best_t, scale)
        return best_t, rss, coef

    def _describe(self, u, z, s, i, e, s2, resid, rng, k) -> ChangePoint:
        p = k + 1
        uw, zw = u[s:e], z[s:e]
        i_loc = i - s
        ub = 0.5 * (u[i - 1] + u[i])
        cl, rss_l = _polyfit(u[s:i], z[s:i], k, ub)
        cr, rss_r = _polyfit(u[i:e], z[i:e], k, ub)
        level = float(cr[0] - cl[0]) if k >= 0 else 0.0
        slope_u = float(cr[1] - cl[1]) if k >= 1 else 0.0
        rss_u = rss_l + rss_r
        scale = max(uw[-1] - uw[0], 1e-300)
        if k >= 1:
            t, rss_c, coef = self._best_knot(uw, zw, i_loc, scale, k)
            stat = (rss_c - rss_u) / s2
            # slope jump of (u - t)_+ Q(u) at t is Q(t) = coef[p] (in units of v = (u - t)/scale)
            kink_slope_u = float(coef[p]) / scale
        else:
            t, stat, kink_slope_u = ub, np.inf, 0.0
        kind = "kink" if (self.continuous or stat <= np.log(e - s)) else "jump"
        loc_u = t if kind == "kink" else ub
        gam = float(self._to_gamma(loc_u))
        dgdu = float(self._dgamma_du(loc_u))
        ystd = self._ystd
        level_y = level * ystd
        slope_y = (kink_slope_u if kind == "kink" else slope_u) * ystd / dgdu
        size = slope_y if kind == "kink" else level_y
        low, high = self._interval(u, z, s, i, e, kind, resid, rng, k)
        low = min(low, gam)
        high = max(high, gam)
        if kind == "jump":
            low = min(low, float(self.gamma_[i - 1]))
            high = max(high, float(self.gamma_[i]))
        return ChangePoint(
            gamma=gam,
            low=float(low),
            high=float(high),
            kind=kind,
            size=float(size),
            index=int(i),
            level_jump=float(level_y),
            slope_change=float(slope_y),
            statistic=float(stat),
        )

    def _interval(self, u, z, s, i, e, kind, resid, rng, k):
        if self.n_bootstrap == 0:
            g = self.gamma_
            return float(g[i - 1]), float(g[i])
        uw = u[s:e]
        fitted = np.empty(e - s)
        for a, b in ((s, i), (i, e)):
            c, _ = _polyfit(u[a:b], z[a:b], k, u[a])
            fitted[a - s : b - s] = _polyval(c, u[a:b], u[a])
        r = resid - resid.mean()
        if self.sigma is None and self.auto_degree:
            # residuals below the noise floor (smooth, noise-free curves) are rescaled to it,
            # so the interval states the resolution the detector worked at
            rms = float(np.sqrt(np.mean(r * r)))
            floor = np.sqrt(self._s2)
            r = r * (floor / rms) if 0.0 < rms < floor else (rng.standard_normal(r.size) * floor if rms == 0.0 else r)
        draws = rng.integers(0, r.size, size=(self.n_bootstrap, e - s))
        splits = bootstrap_splits(uw - uw[0], fitted, r, draws, k + 1, self.min_size)
        locs = np.empty(self.n_bootstrap)
        for b, j in enumerate(splits):
            j = int(j)
            ub = 0.5 * (uw[j - 1] + uw[j])
            if kind == "kink" and k >= 1:
                ys = fitted + r[draws[b]]
                cl, _ = _polyfit(uw[:j], ys[:j], k, ub)
                cr, _ = _polyfit(uw[j:], ys[j:], k, ub)
                roots = np.polynomial.polynomial.polyroots(cr - cl) if np.any(cr[1:] != cl[1:]) else np.array([])
                roots = roots[np.abs(np.imag(roots)) < 1e-12].real if roots.size else roots
                window = uw[min(j + 1, uw.size - 1)] - uw[max(j - 2, 0)]
                roots = roots[np.abs(roots) <= window] if roots.size else roots
                ub = ub + (roots[np.argmin(np.abs(roots))] if roots.size else 0.0)
            locs[b] = ub
        gl = self._to_gamma(locs)
        return float(np.quantile(gl, 0.025)), float(np.quantile(gl, 0.975))


def detect_change_points(gamma, y, **kwargs) -> list[ChangePoint]:
    """Convenience wrapper: ``ChangePointDetector(**kwargs).fit(gamma, y).predict()``."""
    return ChangePointDetector(**kwargs).fit(gamma, y).predict()
