"""Finite-temperature free energy: quadrature == reduced radial form == Metropolis, T -> 0, Arrhenius."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.special import k0e

from l2phase.numerics import escape_times, susceptibility_peak, thermal_quadrature, thermal_reduced, thermal_sampler
from l2phase.numerics.finite_temperature import _mu_spline
from l2phase.theory.closed_form import critical_point, optimal_solution

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"  # pure-Python kernels: smaller runs


def test_brute_force_grid_p2():
    # plain Riemann sum over a fine 2-D grid: independent of both quadratures
    a, c, ey2, gam, T = 1.3, 0.7, 1.0, 0.4, 0.1
    x = np.linspace(-4, 4, 1601)
    h = x[1] - x[0]
    U, W = np.meshgrid(x, x)
    L = a * (U * W) ** 2 - 2 * c * U * W + ey2 + gam * (U * U + W * W)
    F_ref = -T * np.log(np.sum(np.exp(-L / T)) * h * h)
    F_q = thermal_quadrature([gam], T, 1, a, c, ey2).free_energy[0]
    F_r = thermal_reduced([gam], T, 1, a, c, ey2).free_energy[0]
    # spectrally accurate Riemann sum of a smooth decaying integrand: ~1e-12
    assert F_q == pytest.approx(F_ref, abs=1e-9)
    assert F_r == pytest.approx(F_ref, abs=1e-9)


def test_d0_closed_form():
    a, c, ey2, T = 1.0, 0.8, 1.0, 0.2
    g = np.array([0.1, 0.5, 2.0])
    F = -T * (0.5 * np.log(np.pi * T / (a + g)) + (c * c / (a + g) - ey2) / T)
    m = (c / (a + g)) ** 2 + T / (2 * (a + g))
    for fn in (thermal_quadrature, thermal_reduced):
        tc = fn(g, T, 0, a, c, ey2)
        np.testing.assert_allclose(tc.free_energy, F, rtol=1e-10)  # Gaussian integral, exact to rounding
        np.testing.assert_allclose(tc.mean_norm_sq, m, rtol=1e-8)


def test_measure_p2_is_bessel():
    # j_2(kappa) = e^{2 kappa} K_0(2 kappa): the tabulated measure vs scipy's Bessel function
    ell = np.array([-40.0, -5.0, -1.0, 0.0, 3.0, 10.0])
    np.testing.assert_allclose(_mu_spline(2)(ell), np.log(k0e(2 * np.exp(ell))), atol=1e-9)


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("T", [0.3, 0.02])
def test_quadrature_equals_reduced_form(depth, T):
    g = np.array([0.15, 0.4, 0.8, 1.2])
    q = thermal_quadrature(g, T, depth, 1.3, 0.7, 1.0)
    r = thermal_reduced(g, T, depth, 1.3, 0.7, 1.0)
    # two independent deterministic integrations (Gauss-Legendre in theta vs trapezoid in log w with
    # a tabulated fibre measure): spline derivatives of the measure limit chi to ~1e-7
    np.testing.assert_allclose(r.free_energy, q.free_energy, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(r.mean_norm_sq, q.mean_norm_sq, rtol=1e-8)
    np.testing.assert_allclose(r.susceptibility, q.susceptibility, rtol=1e-6)


def test_identities_are_derivatives():
    # dF/dgamma = <|theta|^2> and -d2F/dgamma2 = Var/T, checked by central differences of F
    g = np.array([0.3, 0.5, 0.9])
    h = 1e-4
    T = 0.1
    f = lambda x: thermal_quadrature(x, T, 2).free_energy  # noqa: E731
    tc = thermal_quadrature(g, T, 2)
    # O(h^2 F''') truncation (F''' ~ 10 here) + O(eps/h^2) rounding for the second difference
    np.testing.assert_allclose((f(g + h) - f(g - h)) / (2 * h), tc.mean_norm_sq, rtol=1e-6)
    np.testing.assert_allclose(-(f(g + h) - 2 * f(g) + f(g - h)) / h**2, tc.susceptibility, rtol=1e-3)


def test_sampler_error_bar_covers_the_slowly_mixing_case():
    # D = 2, T = 0.2, gamma = 0.5 with the defaults: batch means alone gave 1.059 +- 0.005
    # against the exact 1.0358 (4.6 sigma); the chains mix over > 1e4 steps there
    g = np.array([0.5])
    s = thermal_sampler(g, 0.2, 2, seed=0)
    ref = thermal_quadrature(g, 0.2, 2)
    assert abs(s.mean_norm_sq[0] - ref.mean_norm_sq[0]) <= 3 * s.mean_norm_sq_err[0]
    assert s.mean_norm_sq_err[0] < 0.02 * ref.mean_norm_sq[0]


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_sampler_agrees_within_error_bars(depth):
    g = np.array([0.3, 0.6, 1.0])
    T = 0.1
    n = 6000 if NOJIT else 40_000
    s = thermal_sampler(g, T, depth, n_samples=n, n_chains=4 if NOJIT else 8, seed=depth)
    ref = thermal_reduced(g, T, depth) if depth == 3 else thermal_quadrature(g, T, depth)
    # 4 standard errors (the larger of batch means and between chains): fails by chance with
    # p ~ 1e-4 per point; deterministic seed
    assert np.all(np.abs(s.mean_norm_sq - ref.mean_norm_sq) <= 4 * s.mean_norm_sq_err)
    assert np.all(np.abs(s.susceptibility - ref.susceptibility) <= 4 * s.susceptibility_err)
    assert np.all(s.mean_norm_sq_err > 0) and np.all(s.mean_norm_sq_err < 0.05 * s.mean_norm_sq)
    # thermodynamic integration: the same trapezoid rule on the exact <|theta|^2> isolates the
    # statistical error, which must sit inside the propagated error bar
    dF = np.concatenate([[0.0], np.cumsum(0.5 * np.diff(g) * (ref.mean_norm_sq[1:] + ref.mean_norm_sq[:-1]))])
    assert np.all(np.abs(s.free_energy - dF) <= 4 * s.free_energy_err)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_zero_temperature_limit(depth):
    a, c, ey2 = 1.0, 1.0, 1.0
    g = np.array([0.1, 0.3, 0.6, 1.4])
    Lstar = optimal_solution(depth, a, c, g, ey2=ey2).loss
    prev = None
    for T in (1e-2, 1e-3, 1e-4):
        dev = np.abs(thermal_reduced(g, T, depth, a, c, ey2).free_energy - Lstar)
        # Laplace: F - L* = O(T log T) (P/2 Gaussian directions, sign-sector multiplicity)
        assert np.all(dev <= (depth + 1) * T * (abs(np.log(T)) + 3))
        if prev is not None:
            assert np.all(dev < prev)
        prev = dev


def test_susceptibility_peak_sharpens_first_order():
    gc = critical_point(2).gamma_c
    peaks = [susceptibility_peak(T, 2, method="quadrature" if T > 5e-3 else "reduced") for T in (0.1, 0.03, 0.003)]
    dist = [abs(p[0] - gc) for p in peaks]
    heights = [p[1] for p in peaks]
    assert dist[0] > dist[1] and dist[2] < dist[1] * 1.5 and dist[2] < 2e-3  # shift O(T) from entropy
    assert heights[0] < heights[1] < heights[2]  # first order: chi_max ~ (latent heat)^2 / (4 T)
    # height against the two-state estimate latent^2/(4T) (within a factor 2: rounding by fluctuations)
    lh = critical_point(2).latent_heat
    assert 0.5 < heights[2] / (lh**2 / (4 * 0.003)) < 2.0


def test_susceptibility_peak_moves_to_gamma_c_second_order():
    # D = 1: chi -> the jump 2/a of -d2L*/dgamma2 below gamma_c = c; its maximum moves up to gamma_c
    locs = [susceptibility_peak(T, 1)[0] for T in (0.03, 0.01, 0.003)]
    assert locs[0] < locs[1] < locs[2] < 1.0
    assert 1.0 - locs[2] < 0.15  # approach ~ T^(1/2) (quartic direction at gamma_c)


def test_arrhenius_escape():
    gam = 0.42  # between gamma_c = 0.3969 and the spinodal 0.4725 (D = 2, a = c = 1)
    B = escape_times(2, gam, [1.0, 1.0], n_runs=1, max_steps=1).barrier
    if NOJIT:
        x = np.array([1.5, 2.5, 3.5])
        res = escape_times(2, gam, B / x, n_runs=12, dt=0.02, seed=3)
        tol = 0.45  # 12 runs per point: ~30 % error on each mean time, short lever arm
    else:
        x = np.array([2.0, 3.0, 4.0, 5.0])
        res = escape_times(2, gam, B / x, n_runs=48, seed=3)
        tol = 0.25  # Kramers corrections O(T / barrier) + ~15 % statistical error per point
    assert np.all(res.n_escaped == res.n_runs)
    assert abs(res.slope - 1.0) < tol
    assert np.all(np.diff(res.mean_time) > 0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="gamma"):
        thermal_quadrature([0.0, 0.1], 0.1, 1)
    with pytest.raises(ValueError, match="temperature"):
        thermal_reduced([0.1], -1.0, 1)
    with pytest.raises(ValueError, match="depth"):
        thermal_quadrature([0.1], 0.1, 3)
    with pytest.raises(TypeError):
        thermal_sampler([0.1], 0.1, 1.5)
    with pytest.raises(ValueError, match="spinodal"):
        escape_times(2, 0.6, [0.1, 0.05])
