"""theory.init_scaling: coordinates, regimes and named initialisations of the two-layer ReLU diagram.

References are independent of the code: the paper's Table 1 / Fig. 1 (hard-coded below), a
brute-force distance to a densely sampled boundary, and a hand-written numpy GD step.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2phase.theory.init_scaling import (
    NAMED_INITS,
    InitCoordinates,
    InitScaling,
    boundary_distance,
    boundary_gamma_energy,
    heuristic_rd_slope,
    init_coordinates_finite_m,
    init_coordinates_fit,
    init_regime,
    named_init,
    normalised_scales,
    normalised_step,
)

# The paper's Table 1 (p.7) and Fig. 1 (p.3): (gamma, gamma', regime); PyTorch's default is the LeCun point.
PAPER_TABLE = {
    "lecun": (0.5, 0.5, "linear"),
    "he": (0.5, 0.5, "linear"),
    "xavier": (1.0, 0.0, "critical"),
    "ntk": (0.5, 0.0, "linear"),
    "mean_field": (1.0, 0.0, "critical"),
    "e_et_al": (1.0, 1.0, "linear"),  # beta = 1/m: the point (1, 1) on the line gamma' = gamma of Fig. 1
    "pytorch_default": (0.5, 0.5, "linear"),
}

coord = st.floats(-3, 3, allow_nan=False)


@pytest.mark.parametrize("name", sorted(PAPER_TABLE))
def test_named_inits_land_where_the_paper_places_them(name):
    g, gp, regime = PAPER_TABLE[name]
    ni = named_init(name)
    assert ni.coordinates.gamma_energy == pytest.approx(g, abs=1e-12)
    assert ni.coordinates.gamma_dynamic == pytest.approx(gp, abs=1e-12)
    assert ni.regime == regime
    # independent route: slopes of the EXACT finite-m scale formulas over widths 1e4..1e12 (d = 784);
    # sub-leading terms like (m + d) leave < 1e-3 of bias over this range
    ms = np.logspace(4, 12, 9)
    al, b1, b2 = zip(*(ni.scales(m, 784) for m in ms))
    c = init_coordinates_fit(ms, al, b1, b2)
    assert c.gamma_energy == pytest.approx(g, abs=2e-3)
    assert c.gamma_dynamic == pytest.approx(gp, abs=2e-3)


def test_named_init_aliases_and_errors():
    assert named_init("Mean-Field") is NAMED_INITS["mean_field"]
    assert named_init("pytorch").name == "pytorch_default"
    e = named_init("e_et_al", beta_exp=0.25)
    assert (e.coordinates.gamma_energy, e.coordinates.gamma_dynamic) == (0.25, 0.25)
    with pytest.raises(ValueError, match="unknown initialisation"):
        named_init("glorotish")
    with pytest.raises(ValueError, match="beta_exp"):
        named_init("he", beta_exp=1.0)
    with pytest.raises(TypeError):
        named_init(3)


def test_finite_m_estimate_has_the_stated_log_bias():
    # He at m = 1e4, d = 1: gamma_energy = 1/2 - log(2)/log(m) exactly (kappa = 2/sqrt(m))
    c = named_init("he").finite_m_coordinates(1e4, 1)
    assert c.gamma_energy == pytest.approx(0.5 - math.log(2) / math.log(1e4), rel=1e-12)
    assert c.gamma_dynamic == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("g,gp,regime", [
    (0.5, 0.0, "linear"), (0.9, -1.0, "linear"), (1.5, 0.0, "condensed"), (1.75, -0.4, "condensed"),
    (1.0, -0.3, "critical"), (1.2, 0.2, "critical"), (1.2, 0.3, "linear"), (1.2, 0.1, "condensed"),
    (1.0, 0.3, "linear"), (3.0, 1.9, "condensed"),
])
def test_regime_of_hand_placed_points(g, gp, regime):
    assert init_regime(g, gp) == regime
    assert InitCoordinates(g, gp).regime == regime


def test_boundary_gamma_energy():
    assert boundary_gamma_energy(-0.4) == 1.0
    assert boundary_gamma_energy(0.3) == pytest.approx(1.3)


@given(coord, coord)
def test_boundary_distance_matches_brute_force(g, gp):
    t = np.linspace(-8, 8, 160001)
    pts = np.concatenate([np.stack([np.ones_like(t[t <= 0]), t[t <= 0]], 1),
                          np.stack([1 + t[t >= 0], t[t >= 0]], 1)])
    brute = np.min(np.hypot(pts[:, 0] - g, pts[:, 1] - gp))
    assert boundary_distance(g, gp) == pytest.approx(brute, abs=2e-4)  # grid spacing 1e-4


@given(coord, coord, coord, st.floats(-2, 2, allow_nan=False))
def test_regime_invariant_under_rescalings_keeping_kappa(g, gp, b1, shift):
    s = InitScaling.from_coordinates(g, gp, beta1_exp=b1)
    r = s.rescaled(shift)
    assert r.gamma_energy == pytest.approx(g, abs=1e-9) and r.gamma_dynamic == pytest.approx(gp, abs=1e-9)
    assert init_regime(r.gamma_energy, r.gamma_dynamic, tol=1e-6) == init_regime(g, gp, tol=1e-6)
    m = 37.0
    k1, k2 = s.kappa(m), r.kappa(m)
    assert k1[0] == pytest.approx(k2[0], rel=1e-9) and k1[1] == pytest.approx(k2[1], rel=1e-9)


@given(st.floats(-1.5, 2.5), st.floats(-1.5, 1.5), st.floats(1 / 3, 3), st.floats(1 / 3, 3), st.floats(1 / 3, 3))
def test_far_points_classify_consistently_from_finite_m_values(g, gp, ca, c1, c2):
    if boundary_distance(g, gp) < 0.1:
        return
    s = InitScaling.from_coordinates(g, gp, beta1_exp=0.0)
    m = 1e30  # bias <= 3 log 3 / log m = 0.048 per coordinate, < 0.1 in the plane
    al, b1, b2 = s.scales(m)
    est = init_coordinates_finite_m(ca * al, c1 * b1, c2 * b2, m)
    assert est.regime == init_regime(g, gp)


def test_normalised_step_is_exact_for_a_numpy_gd_step():
    # hand-written GD on f = (1/alpha) sum a relu(w.x~), loss (1/2n) sum (f - y)^2, in both coordinates
    rng = np.random.default_rng(1)
    X = np.stack([np.linspace(-0.5, 0.5, 4), np.ones(4)], 1)
    y = X[:, 0] ** 2
    m, alpha, b1, b2, eta = 50, 7.0, 0.3, 2.5, 0.05
    za, zw = rng.standard_normal(m), rng.standard_normal((m, 2))

    def grads(a, w, scale):
        pre = w @ X.T
        e = scale * np.maximum(pre, 0).T @ a - y
        ga = scale * np.maximum(pre, 0) @ e / 4
        gw = scale * a[:, None] * ((pre > 0) * e[None, :]) @ X / 4
        return ga, gw

    a, w = b1 * za, b2 * zw
    ga, gw = grads(a, w, 1 / alpha)
    a1, w1 = a - eta * ga, w - eta * gw
    kappa, kp = normalised_scales(alpha, b1, b2)
    eb = normalised_step(eta, b1, b2)
    ga_, gw_ = grads(za, zw, kappa)
    abar, wbar = za - eb * ga_ / kp, zw - eb * kp * gw_
    np.testing.assert_allclose(b1 * abar, a1, rtol=1e-12)  # exact up to rounding
    np.testing.assert_allclose(b2 * wbar, w1, rtol=1e-12)


def test_heuristic_slope_vanishes_on_the_boundary_and_has_the_regime_sign():
    for g, gp in [(1.0, -0.3), (1.0, 0.0), (1.3, 0.3)]:
        assert heuristic_rd_slope(g, gp) == pytest.approx(0.0, abs=1e-12)
    assert heuristic_rd_slope(0.5, 0.0) == pytest.approx(-0.5)   # paper Fig. 3: -0.506
    assert heuristic_rd_slope(1.75, 0.0) == pytest.approx(0.375)  # paper Fig. 3: 0.372


def test_input_validation():
    with pytest.raises(ValueError):
        init_regime(float("nan"), 0.0)
    with pytest.raises(TypeError):
        init_regime("a", 0.0)
    with pytest.raises(ValueError):
        normalised_scales(-1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        init_coordinates_finite_m(1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError):
        init_coordinates_fit([10, 10], [1, 1], [1, 1], [1, 1])
    with pytest.raises(ValueError):
        InitScaling(float("inf"), 0, 0)


def test_theory_module_does_not_import_torch_or_numba():
    code = "import sys, theory.init_scaling; print('torch' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False"
