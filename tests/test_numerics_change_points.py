"""Change points of curves y(gamma): known synthetic answers, invariance, agreement with ruptures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2phase.numerics import ChangePoint, ChangePointDetector, detect_change_points


def _ricci_d1(g):
    # docs/theory.md, scalar chain D = 1: kink at gamma_c = 1 (slope -32 -> 16)
    return np.where(g < 1.0, 32 * g * (1 - g), 8 * (g * g - 1))


def test_kink_noise_free_linear_segments():
    g = np.linspace(0.0, 2.0, 201)
    y = np.where(g < 1.0, 1.0 - g, 0.0)
    cps = ChangePointDetector().fit(g, y).predict()
    assert len(cps) == 1 and isinstance(cps[0], ChangePoint)
    cp = cps[0]
    assert cp.kind == "kink"
    # exact lines: the continuous free-knot fit recovers the knot to rounding
    assert cp.gamma == pytest.approx(1.0, abs=1e-9)
    assert cp.size == pytest.approx(1.0, rel=1e-8)
    assert cp.low <= cp.gamma <= cp.high
    assert g[cp.index - 1] <= 1.0 <= g[cp.index]


def test_ricci_kink_quadratic_segments():
    g = np.linspace(0.3, 1.7, 141)
    cps = detect_change_points(g, _ricci_d1(g), segment="quadratic")
    assert [cp.kind for cp in cps] == ["kink"]
    assert cps[0].gamma == pytest.approx(1.0, abs=1e-9)  # exact quadratics: rounding only
    assert cps[0].size == pytest.approx(48.0, rel=1e-8)  # 16 - (-32)


def test_ricci_kink_noisy_quadratic_segments():
    rng = np.random.default_rng(0)
    g = np.linspace(0.3, 1.7, 141)
    y = _ricci_d1(g) + 0.1 * rng.standard_normal(g.size)
    cps = detect_change_points(g, y, segment="quadratic", seed=1)
    assert [cp.kind for cp in cps] == ["kink"]
    # noise 0.1 against slopes of order 30 over a 0.01 grid: the kink is pinned to ~a grid step
    assert abs(cps[0].gamma - 1.0) < 0.02
    assert cps[0].low <= 1.0 <= cps[0].high or abs(cps[0].gamma - 1.0) < 0.005


@pytest.mark.parametrize("noise", [0.0, 0.02])
@pytest.mark.parametrize("x_scale", ["linear", "log"])
def test_jump_on_log_grid(noise, x_scale):
    rng = np.random.default_rng(3)
    g = np.geomspace(0.01, 1.0, 120)
    # segments that are lines in the chosen coordinate x = gamma or log(gamma)
    x = g if x_scale == "linear" else np.log(g)
    x0 = 0.3 if x_scale == "linear" else np.log(0.3)
    y = np.where(g < 0.3, 2.0 + x, 0.5 * x) + noise * rng.standard_normal(g.size)
    cps = ChangePointDetector("linear", x_scale=x_scale).fit(g, y).predict()
    assert [cp.kind for cp in cps] == ["jump"]
    cp = cps[0]
    assert g[cp.index - 1] < 0.3 <= g[cp.index]
    assert cp.low <= 0.3 <= cp.high
    # level jump at the gap midpoint; the true one at 0.3 is 0.5 x0 - 2 - x0, half a gap away
    assert cp.size == pytest.approx(-2.0 - 0.5 * x0, abs=0.05 + 5 * noise)


def test_jump_and_kink_together():
    g = np.linspace(0.0, 3.0, 301)
    y = np.where(g < 1.0, 1.0 - g, 0.0) + np.where(g >= 2.05, 1.0, 0.0)
    cps = ChangePointDetector("linear").fit(g, y).predict()
    assert [cp.kind for cp in cps] == ["kink", "jump"]
    assert cps[0].gamma == pytest.approx(1.0, abs=1e-9)
    assert cps[1].low <= 2.05 <= cps[1].high and cps[1].size == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("segment, curve", [("linear", lambda g: 2 * g - 1), ("quadratic", lambda g: g**2 - g)])
def test_no_change_point(segment, curve):
    rng = np.random.default_rng(5)
    g = np.geomspace(0.05, 2.0, 150)
    assert detect_change_points(g, curve(g), segment=segment) == []
    noisy = curve(g) + 0.05 * rng.standard_normal(g.size)
    assert detect_change_points(g, noisy, segment=segment) == []
    assert detect_change_points(g, np.ones_like(g)) == []


def test_continuous_option_reports_kinks():
    g = np.linspace(0.0, 2.0, 101)
    y = np.where(g < 1.0, 1.0 - g, 0.0)
    cps = detect_change_points(g, y, continuous=True)
    assert [cp.kind for cp in cps] == ["kink"]


@settings(max_examples=15)
@given(
    scale=st.floats(1e-3, 1e3),
    shift=st.floats(-1e3, 1e3),
    seed=st.integers(0, 1000),
)
def test_invariant_under_scale_and_shift(scale, shift, seed):
    rng = np.random.default_rng(seed)
    g = np.sort(rng.uniform(0.0, 2.0, 80))
    g = g[np.concatenate([[True], np.diff(g) > 1e-6])]
    y = np.where(g < 0.7, 1.0 - g, 0.3) + np.where(g > 1.4, 0.5, 0.0) + 0.02 * rng.standard_normal(g.size)
    base = detect_change_points(g, y, n_bootstrap=20)
    moved = detect_change_points(g, scale * y + shift, n_bootstrap=20)
    assert [(c.index, c.kind) for c in base] == [(c.index, c.kind) for c in moved]
    for a, b in zip(base, moved):
        # y is standardised inside fit: only rounding of the affine map differs
        assert b.gamma == pytest.approx(a.gamma, rel=1e-6, abs=1e-9)
        assert b.size == pytest.approx(scale * a.size, rel=1e-5, abs=1e-9 * scale)


def test_same_as_ruptures_constant_segments():
    rpt = pytest.importorskip("ruptures")
    rng = np.random.default_rng(11)
    n, sigma = 400, 0.5
    levels = np.repeat([0.0, 2.0, -1.0, 1.5], n // 4)
    y = levels + sigma * rng.standard_normal(n)
    g = np.linspace(0, 1, n)
    mult = 3 * np.log(n)
    ours = ChangePointDetector("constant", penalty=mult, sigma=sigma, min_size=5, n_bootstrap=0).fit(g, y)
    theirs = rpt.Pelt(model="l2", min_size=5, jump=1).fit(y).predict(pen=mult * sigma**2)
    assert ours.breakpoints_ == theirs[:-1]


def test_same_as_ruptures_linear_segments():
    rpt = pytest.importorskip("ruptures")
    rng = np.random.default_rng(12)
    n, sigma = 300, 0.05
    g = np.linspace(0.0, 3.0, n)
    y = np.piecewise(g, [g < 1, (g >= 1) & (g < 2), g >= 2], [lambda t: t, lambda t: 2 - t, lambda t: 0.5 * t - 1])
    y = y + sigma * rng.standard_normal(n)
    mult = 4 * np.log(n)
    ours = ChangePointDetector("linear", penalty=mult, sigma=sigma, min_size=5, n_bootstrap=0).fit(g, y)
    signal = np.column_stack([y, np.ones(n), g])  # ruptures CostLinear: y ~ covariates per segment
    theirs = rpt.Dynp(model="linear", min_size=5, jump=1).fit(signal).predict(n_bkps=len(ours.breakpoints_))
    assert ours.breakpoints_ == theirs[:-1]
    assert len(ours.breakpoints_) == 2


@pytest.mark.parametrize(
    "gamma, y, match",
    [
        ([0.0, 1.0, np.nan], [1.0, 2.0, 3.0], "gamma"),
        ([0.0, 1.0, 2.0], [1.0, np.nan, 3.0], "y"),
        ([0.0, 2.0, 1.0], [1.0, 2.0, 3.0], "increasing"),
        ([], [], "empty"),
        ([0.0, 1.0], [1.0, 2.0, 3.0], "shape"),
    ],
)
def test_bad_curves(gamma, y, match):
    with pytest.raises(ValueError, match=match):
        ChangePointDetector().fit(gamma, y)


def test_bad_options():
    with pytest.raises(ValueError, match="segment"):
        ChangePointDetector("spline")
    with pytest.raises(ValueError, match="penalty"):
        ChangePointDetector(penalty=-1.0)
    with pytest.raises(ValueError, match="min_size"):
        ChangePointDetector("quadratic", min_size=2)
    with pytest.raises(ValueError, match="log"):
        ChangePointDetector(x_scale="log").fit([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError):
        ChangePointDetector().predict()
