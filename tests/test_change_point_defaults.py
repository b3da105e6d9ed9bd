"""ChangePointDetector with default settings on families of curves nobody tuned it for.

Each curve has known transitions (kinks and jumps, one or several, smooth non-polynomial
pieces between them); noise-free (the exact-training case: misfit of a smooth piece is
not a change) and noisy; uniform and log grids; with refinement points added near a
transition.  Default settings must report exactly one change point per transition, of
the right kind, with an interval that contains it, and none on smooth curves.
"""

from __future__ import annotations

import numpy as np
import pytest

from l2phase.numerics import ChangePointDetector


def _ricci_d1(g):  # scalar chain D = 1 (kink at 1, slopes -32 -> 16)
    return np.where(g < 1.0, 32 * g * (1 - g), 8 * (g * g - 1))


CURVES = {
    "ricci_kink": (_ricci_d1, [(1.0, "kink")]),
    "norm_kink": (lambda g: np.maximum(0.7 - g, 0.0) / 1.3, [(0.7, "kink")]),
    "exp_kink": (lambda g: np.where(g < 0.5, np.exp(-g), np.exp(-0.5) - 2 * (g - 0.5) + 0.3 * (g - 0.5) ** 2),
                 [(0.5, "kink")]),
    "rational_jump": (lambda g: np.where(g < 0.4, 1 / (1 + g), 0.1 * np.log1p(g)), [(0.4, "jump")]),
    "kink_and_jump": (lambda g: np.where(g < 0.6, np.cos(g), np.cos(0.6) - 3 * (g - 0.6))
                      + np.where(g >= 1.5, 2.0 + 0.5 * np.sin(g), 0.0), [(0.6, "kink"), (1.5, "jump")]),
    "two_kinks": (lambda g: np.exp(-g) + 2 * np.maximum(g - 0.4, 0.0) - 3 * np.maximum(g - 1.6, 0.0),
                  [(0.4, "kink"), (1.6, "kink")]),
    "smooth_tanh": (lambda g: np.tanh(g - 1.0), []),
    "smooth_rational": (lambda g: 1 / (1 + g * g), []),
    "smooth_exp": (lambda g: np.exp(-2 * g) + 0.3 * g, []),
}


def _grid(kind, n):
    return np.geomspace(0.1, 3.0, n) if kind == "log" else np.linspace(0.05, 3.0, n)


def _check(g, y, truth):
    det = ChangePointDetector().fit(g, y)
    cps = det.predict()
    got = [(round(c.gamma, 4), c.kind, round(c.low, 4), round(c.high, 4)) for c in cps]
    assert len(cps) == len(truth), (got, truth)
    for c, (x, kind) in zip(cps, truth):
        assert c.kind == kind, (got, truth)
        assert c.low <= x <= c.high, (got, truth)
    return det


@pytest.mark.parametrize("grid", ["log", "uniform"])
@pytest.mark.parametrize("name", sorted(CURVES))
def test_noise_free_curves(name, grid):
    f, truth = CURVES[name]
    g = _grid(grid, 120)
    _check(g, f(g), truth)


@pytest.mark.parametrize("name", ["norm_kink", "rational_jump", "kink_and_jump", "two_kinks", "smooth_exp"])
def test_noisy_curves(name):
    f, truth = CURVES[name]
    rng = np.random.default_rng(7)
    g = _grid("log", 150)
    y = f(g)
    _check(g, y + 0.002 * np.ptp(y) * rng.standard_normal(g.size), truth)


@pytest.mark.parametrize("name", ["ricci_kink", "rational_jump", "kink_and_jump"])
def test_refinement_points_added(name):
    # a sweep refined near its transitions: dense clusters of extra gammas
    f, truth = CURVES[name]
    g = _grid("log", 80)
    extra = np.concatenate([np.linspace(x * 0.97, x * 1.03, 9) for x, _ in truth])
    g = np.unique(np.concatenate([g, extra]))
    det = _check(g, f(g), truth)
    assert all(c.high - c.low < 0.1 * x for c, (x, _) in zip(det.predict(), truth))


def test_issue_example_one_kink_log_grid():
    # the over-splitting case: smooth noise-free curve, one kink, 120 log-spaced gammas
    g = np.geomspace(0.1, 3.0, 120)
    det = _check(g, _ricci_d1(g), [(1.0, "kink")])
    assert det.x_scale_ == "log"
    cp = det.predict()[0]
    assert cp.gamma == pytest.approx(1.0, abs=0.01)
    # the old fixed-degree default (linear segments, 1e-8 noise floor) splits this curve many times
    assert len(ChangePointDetector("linear").fit(g, _ricci_d1(g)).predict()) > 3
