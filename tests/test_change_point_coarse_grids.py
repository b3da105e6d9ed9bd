"""Default change points on coarse noise-free grids (20-30 points) with two or three transitions.

On a coarse grid most sliding windows of the smooth-misfit floor straddle a transition, so
their median misfit measured the transitions themselves, not the smoothness of the pieces,
and a high-degree segment absorbed a kink (two kinks at 0.4 and 1.0 on 24 log-spaced points
gave one kink at 0.90).  The floor is now capped by what the pseudo-residuals support, and
both are re-estimated away from detected changes.  Smooth curves on such grids stay whole: the
local confirmation of a boundary compares it with one polynomial of the segments' highest degree.
"""

from __future__ import annotations

import numpy as np
import pytest

from l2phase.numerics import ChangePointDetector

BACKGROUNDS = {
    "flat": lambda g: 0.0 * g,
    "exp": lambda g: np.exp(-g),
    "cos": np.cos,
    "rational": lambda g: 1.0 / (1.0 + g),
}
# (position as a fraction of the axis the grid is uniform in, kind, size)
PATTERNS = {
    "two_kinks": [(0.3, "kink", -2.0), (0.7, "kink", 1.5)],
    "kink_jump": [(0.3, "kink", 2.0), (0.7, "jump", 0.5)],
    "two_jumps": [(0.35, "jump", -0.4), (0.7, "jump", 0.6)],
    "three_kinks": [(0.25, "kink", 2.0), (0.5, "kink", -3.0), (0.75, "kink", 2.0)],
    "kink_jump_kink": [(0.25, "kink", -2.0), (0.5, "jump", 0.5), (0.75, "kink", 2.0)],
}

KNOWN_MISSES = {
    # two kinks 6 points apart on a cosine: one kink found
    ("two_kinks", "log", "cos", 20),
    # all three found, the first at 0.5744 with interval [0.5740, 0.5749] (truth 0.575): the
    # noise-free interval is the 1e-3 resolution floor, narrower than the cosine's pull
    ("three_kinks", "uniform", "cos", 30),
}


def _curve(pattern, background, grid, n):
    if grid == "uniform":
        g = np.linspace(0.1, 2.0, n)
        at = lambda f: g[0] + f * (g[-1] - g[0])  # noqa: E731
    else:
        g = np.geomspace(0.1, 2.0, n)
        at = lambda f: g[0] * (g[-1] / g[0]) ** f  # noqa: E731
    y = BACKGROUNDS[background](g)
    truth = []
    for frac, kind, size in PATTERNS[pattern]:
        x = at(frac)
        truth.append((x, kind))
        y = y + (size * np.maximum(g - x, 0.0) if kind == "kink" else size * (g >= x))
    return g, y, truth


def _found(g, y, truth):
    cps = ChangePointDetector().fit(g, y).predict()
    got = [(round(c.gamma, 4), c.kind, round(c.low, 4), round(c.high, 4)) for c in cps]
    ok = len(cps) == len(truth) and all(c.kind == k and c.low <= x <= c.high for c, (x, k) in zip(cps, truth))
    return ok, got


def test_issue_example_two_kinks_on_24_log_points():
    g = np.geomspace(0.1, 2.0, 24)
    y = 2 * np.maximum(1 - g, 0) + 2 * np.maximum(0.4 - g, 0)
    ok, got = _found(g, y, [(0.4, "kink"), (1.0, "kink")])
    assert ok, got


@pytest.mark.parametrize("grid", ["uniform", "log"])
@pytest.mark.parametrize("pattern", ["two_kinks", "kink_jump", "two_jumps"])
def test_two_transitions_on_20_to_30_points(pattern, grid):
    bad = []
    for background in BACKGROUNDS:
        for n in (20, 22, 24, 26, 28, 30):
            g, y, truth = _curve(pattern, background, grid, n)
            ok, got = _found(g, y, truth)
            if not ok:
                bad.append((background, n, got))
    # measured: 143/144 over the three patterns and both grids; the miss is KNOWN_MISSES
    assert all((pattern, grid, b, n) in KNOWN_MISSES for b, n, _ in bad), bad


@pytest.mark.parametrize("grid", ["uniform", "log"])
@pytest.mark.parametrize("pattern", ["three_kinks", "kink_jump_kink"])
def test_three_transitions_on_28_and_30_points(pattern, grid):
    bad = []
    for background in BACKGROUNDS:
        for n in (28, 30):
            g, y, truth = _curve(pattern, background, grid, n)
            ok, got = _found(g, y, truth)
            if not ok:
                bad.append((background, n, got))
    assert all((pattern, grid, b, n) in KNOWN_MISSES for b, n, _ in bad), bad


SMOOTH = {
    "tanh": lambda g: np.tanh(g - 1.0),
    "rational": lambda g: 1.0 / (1.0 + g * g),
    "exp": lambda g: np.exp(-2.0 * g) + 0.3 * g,
    "power": lambda g: g**1.5,
    "cos": np.cos,
    "inverse": lambda g: 1.0 / (1.0 + g),
}


@pytest.mark.parametrize("grid", ["uniform", "log"])
def test_smooth_curves_on_coarse_grids_give_no_change_point(grid):
    # the local confirmation of a boundary fits a polynomial of the segments' highest degree:
    # with a quintic, tanh(g - 1) on 20-40 log-spaced points was split near 0.8 (12 of 14 grids)
    split = []
    for name, f in SMOOTH.items():
        for lo in (0.05, 0.1):
            for n in (20, 22, 24, 26, 28, 30, 40):
                g = np.linspace(lo, 2.0, n) if grid == "uniform" else np.geomspace(lo, 2.0, n)
                cps = ChangePointDetector().fit(g, f(g)).predict()
                if cps:
                    split.append((name, lo, n, [(round(c.gamma, 3), c.kind) for c in cps]))
    assert not split, split
