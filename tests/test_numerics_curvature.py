"""Ricci scalar of a landscape: batched == single == moments, known geometries, toy chains."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2phase.numerics import ricci_scalar, ricci_scalar_batched, ricci_scalar_from_moments


def _random_point(seed: int, P: int):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=P)
    h = rng.normal(size=(P, P))
    return g, h + h.T


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), P=st.integers(1, 6), N=st.integers(1, 5))
def test_batched_equals_single(seed, P, N):
    pts = [_random_point(seed + k, P) for k in range(N)]
    G = np.stack([p[0] for p in pts])
    H = np.stack([p[1] for p in pts])
    single = np.array([ricci_scalar(g, h) for g, h in pts])
    # same formula, different summation order: rounding only
    np.testing.assert_allclose(ricci_scalar_batched(G, H), single, rtol=1e-12, atol=1e-12)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**31 - 1), P=st.integers(1, 6))
def test_critical_point_is_sum_of_eigenvalue_pairs(seed, P):
    _, h = _random_point(seed, P)
    lam = np.linalg.eigvalsh(h)
    pairs = 2.0 * sum(lam[i] * lam[j] for i in range(P) for j in range(i + 1, P))
    scale = max(1.0, float(np.sum(lam**2)))
    # eigen-decomposition vs traces: rounding relative to the size of the eigenvalues
    assert abs(ricci_scalar(np.zeros(P), h) - pairs) <= 1e-12 * scale
    assert abs(ricci_scalar_batched(np.zeros((1, P)), h[None])[0] - pairs) <= 1e-12 * scale


@settings(max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), P=st.integers(1, 5))
def test_moments_match_dense(seed, P):
    g, h = _random_point(seed, P)
    r = ricci_scalar_from_moments(np.trace(h), np.trace(h @ h), g @ g, g @ h @ g, np.sum((h @ g) ** 2))
    assert isinstance(r, float)
    np.testing.assert_allclose(r, ricci_scalar(g, h), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("P", [2, 3, 4])
def test_unit_sphere_graph(P):
    # lower unit hemisphere F = -sqrt(1 - |x|^2): an n-sphere of radius 1, R = n (n - 1) exactly
    x = np.linspace(0.1, 0.3, P)
    s = np.sqrt(1.0 - x @ x)
    g = x / s
    h = np.eye(P) / s + np.outer(x, x) / s**3
    # analytic gradient/Hessian, so only rounding separates R from P (P - 1)
    assert ricci_scalar(g, h) == pytest.approx(P * (P - 1), rel=1e-12)


@pytest.mark.parametrize("gamma", [0.1, 0.35, 0.8])
def test_scalar_chain_d1_design_values(gamma):
    # f = u w x, a = c = 1: L = (uw)^2 - 2uw + 1 + gamma (u^2 + w^2); minimum u = w = sqrt(1 - gamma)
    u = w = np.sqrt(1.0 - gamma)
    hess_err = np.array([[2 * w * w, 4 * u * w - 2], [4 * u * w - 2, 2 * u * u]])
    hess_loss = hess_err + 2 * gamma * np.eye(2)
    grad_err = -2 * gamma * np.array([u, w])  # grad L_gamma = 0 there
    # docs/theory.md closed forms (independent of the code under test)
    assert ricci_scalar(np.zeros(2), hess_loss) == pytest.approx(32 * gamma * (1 - gamma), rel=1e-12)
    r_e = 8 * gamma * (2 - 3 * gamma) / (1 + 8 * gamma**2 * (1 - gamma)) ** 2
    assert ricci_scalar(grad_err, hess_err) == pytest.approx(r_e, rel=1e-12)


def test_moments_vectorised():
    r = ricci_scalar_from_moments(np.array([1.0, 2.0]), 1.0, 0.0, 0.0, 0.0)
    np.testing.assert_allclose(r, [0.0, 3.0])


@pytest.mark.parametrize(
    "g, h",
    [
        (np.array([np.nan, 0.0]), np.eye(2)),
        (np.zeros(2), np.eye(3)),
        (np.zeros((2, 2)), np.eye(2)),
        (np.zeros(0), np.zeros((0, 0))),
    ],
)
def test_bad_input(g, h):
    with pytest.raises(ValueError):
        ricci_scalar(g, h)


def test_bad_batched_input():
    with pytest.raises(ValueError, match="hessians"):
        ricci_scalar_batched(np.zeros((3, 2)), np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="grad_norm2"):
        ricci_scalar_from_moments(1.0, 1.0, -1.0, 0.0, 0.0)


# ---------------------------------------------------------------- curvature maps of scalar chains
import sympy as sp  # noqa: E402

from l2phase.numerics import chain_gradient_hessian, curvature_map  # noqa: E402
from l2phase.theory import ricci_scalar_formula, scalar_chain_curvature  # noqa: E402
from l2phase.theory.closed_form import critical_point  # noqa: E402
from l2phase.theory.reduced_problem import SYMBOLS, network_loss_expr  # noqa: E402


@pytest.mark.parametrize("landscape", ["loss", "error"])
@pytest.mark.parametrize("gamma", [0.2, 0.6])
def test_curvature_map_d1_design_closed_forms(landscape, gamma):
    b = np.sqrt(1.0 - gamma)
    toy = scalar_chain_curvature(1, landscape, "learning")
    ref = float(toy.R.subs(toy.variable, gamma))
    # analytic derivatives vs sympy's exact R: rounding only
    assert curvature_map(1, gamma, [[b], [b]], landscape)[0, 0] == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("landscape", ["loss", "error"])
def test_curvature_map_d2_at_gamma_c(landscape):
    cp = critical_point(2)
    bc = np.sqrt(cp.b_c_squared)
    toy = scalar_chain_curvature(2, landscape, "learning")
    ref = float(toy.R.subs(toy.variable, bc))
    assert curvature_map(2, cp.gamma_c, [[bc], [bc], [bc]], landscape)[0, 0, 0] == pytest.approx(ref, rel=1e-10)
    triv = scalar_chain_curvature(2, landscape, "trivial")
    ref0 = float(triv.R.subs(triv.variable, cp.gamma_c))
    assert curvature_map(2, cp.gamma_c, [[0.0]] * 3, landscape)[0, 0, 0] == pytest.approx(ref0, rel=1e-12, abs=1e-12)
    if landscape == "loss":  # docs/theory.md: 15.119 vs 3.780
        assert round(ref, 3) == 15.119 and round(ref0, 3) == 3.780


@pytest.mark.parametrize("depth", [1, 2])
def test_curvature_map_vs_sympy_formula_off_minimum(depth):
    expr, params = network_loss_expr(depth)
    s = SYMBOLS
    a, c, gam = 1.3, 0.7, 0.25
    F = expr.subs({s["a"]: a, s["c"]: c, s["Ey2"]: 1.0, s["gamma"]: gam})
    R = sp.lambdify(params, ricci_scalar_formula(F, params), "math")
    axes = [np.array([-0.8, 0.3, 1.1]) + 0.1 * k for k in range(depth + 1)]
    got = curvature_map(depth, gam, axes, "loss", a=a, c=c)
    mesh = np.meshgrid(*axes, indexing="ij")
    ref = np.vectorize(R)(*mesh)
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)  # same formula, two derivations


def test_chain_gradient_is_gradient():
    rng = np.random.default_rng(0)
    th = rng.normal(size=(4, 3))
    G, H = chain_gradient_hessian(th, 0.3, 1.3, 0.7)

    def L(t):
        p = np.prod(t)
        return 1.3 * p * p - 1.4 * p + 0.3 * t @ t

    h = 1e-6
    for k in range(4):
        fd = [(L(th[k] + h * e) - L(th[k] - h * e)) / (2 * h) for e in np.eye(3)]
        np.testing.assert_allclose(G[k], fd, atol=1e-8)  # central differences, O(h^2)
        np.testing.assert_allclose(H[k], H[k].T, atol=1e-14)


def test_curvature_map_bad_input():
    with pytest.raises(ValueError, match="grid_axes"):
        curvature_map(2, 0.3, [[0.1], [0.2]])
    with pytest.raises(ValueError, match="landscape"):
        curvature_map(1, 0.3, [[0.1], [0.2]], landscape="x")
    with pytest.raises(ValueError, match="gamma"):
        curvature_map(1, -0.3, [[0.1], [0.2]])
