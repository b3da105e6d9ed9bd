"""Default change points on noisy curves with a gentle kink (0.3-1 % noise): a kink whose slope
change is well above the noise is found once, with an interval containing it; smooth curves
with the same noise give no change point."""

from __future__ import annotations

import numpy as np
import pytest

from l2phase.numerics import ChangePointDetector

BASES = {
    "linear": lambda t: 1.0 - 0.8 * t,
    "quadratic": lambda t: (t - 0.3) ** 2,
    "exponential": lambda t: np.exp(2.5 * t),
    "log": lambda t: np.log(0.2 + t),
}


def _grid(kind, n):
    """gamma and t in [0, 1] (the axis the detector chooses: gamma or log gamma)."""
    if kind == "uniform":
        g = np.linspace(0.1, 2.0, n)
        return g, (g - g[0]) / (g[-1] - g[0])
    g = np.geomspace(1e-3, 1.0, n)
    return g, np.log(g / g[0]) / np.log(g[-1] / g[0])


def _curve(base, t, noise, rng, amplitude=None, x0=0.5):
    """Base + noise (s.d. ``noise`` x spread); with ``amplitude`` a kink at t = x0 whose slope
    change moves the fitted value by ``amplitude`` noise s.d. at the nearer end of the grid."""
    y = BASES[base](t)
    sig = noise * np.ptp(y)
    if amplitude is not None:
        y = y + rng.choice([-1, 1]) * amplitude * sig / min(x0, 1 - x0) * np.maximum(t - x0, 0.0)
    return y + sig * rng.standard_normal(t.size)


CASES = [(grid, n, noise, seed) for grid in ("uniform", "log") for n in (60, 150) for noise in (0.003, 0.01)
         for seed in range(3)]


def _found(base, amplitude):
    found = 0
    for grid, n, noise, seed in CASES:
        rng = np.random.default_rng(100 * seed + n)
        g, t = _grid(grid, n)
        x0 = rng.uniform(0.35, 0.65)
        truth = float(np.interp(x0, t, g) if grid == "uniform" else np.exp(np.interp(x0, t, np.log(g))))
        cps = ChangePointDetector().fit(g, _curve(base, t, noise, rng, amplitude=amplitude, x0=x0)).predict()
        found += len(cps) == 1 and cps[0].kind == "kink" and cps[0].low <= truth <= cps[0].high
    return found


# Measured with benchmarks/power_change_points.py (6 seeds, n = 60, 100, 150, noise 0.3, 0.5,
# 1 %, 108 curves per background) and on these 24 cases: a kink of 20 noise s.d. is found once,
# interval containing it, in 95 / 94 / 59 / 36 % (here 24 / 20 / 14 / 8 of 24) on linear /
# quadratic / exponential / log backgrounds; 10 s.d. in 64 / 41 % (here 8 / 8) on linear /
# quadratic.  Thresholds: about two binomial s.d. below.  The test that knows the kink's location
# and the background's degree finds 95-100 % at 20 s.d. (docs/changepoints.md, "How gentle a
# kink can be found").
MIN_FOUND = {("linear", 20.0): 20, ("quadratic", 20.0): 19, ("exponential", 20.0): 10, ("log", 20.0): 5}


@pytest.mark.parametrize("base", ["linear", "quadratic", "exponential", "log"])
def test_gentle_kink_found_once_with_interval(base):
    found = _found(base, 20.0)
    assert found >= MIN_FOUND[base, 20.0], f"{found}/{len(CASES)}"


def test_gentler_kink_on_linear_and_quadratic_backgrounds():
    found = _found("linear", 10.0) + _found("quadratic", 10.0)
    assert found >= 11, f"{found}/{2 * len(CASES)}"


def test_smooth_noisy_curves_give_no_change_point():
    quiet = total = 0
    for base in BASES:
        for grid, n, noise, seed in CASES[::2]:
            rng = np.random.default_rng(7 + 100 * seed + n)
            g, t = _grid(grid, n)
            quiet += not ChangePointDetector().fit(g, _curve(base, t, noise, rng)).predict()
            total += 1
    # measured: 98 % over the benchmark's 432 smooth curves (1.9 % false alarms), here 47-48 of 48
    assert quiet >= 0.95 * total, f"{quiet}/{total}"
