"""Zero-temperature free energy from numbers vs the closed forms of `theory` and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from l2phase.numerics import ReducedLossModel, free_energy, free_energy_general, locate_transitions
from l2phase.theory.closed_form import critical_point, optimal_solution

A_ = st.floats(0.3, 3.0)
C_ = st.floats(0.2, 2.0)


@settings(max_examples=12)
@given(a=A_, c=C_, depth=st.integers(1, 8))
def test_transition_matches_theory(a, c, depth):
    ey2 = c * c / a + 0.5
    cp = critical_point(depth, a=a, c=c, ey2=ey2)
    (t,) = locate_transitions(depth, a=a, c=c, ey2=ey2)
    # bisection to 1e-13 relative; branch roots polished to rounding: 1e-7 is the contract
    assert t.gamma_c == pytest.approx(cp.gamma_c, rel=1e-7)
    assert t.order == cp.order
    assert t.spinodal == pytest.approx(cp.spinodal, rel=1e-7)
    if depth == 1:
        assert abs(t.jump_d1) < 1e-7 * c / a
        assert t.jump_d2 == pytest.approx(2.0 / a, rel=1e-7)  # docs/theory.md: d2L* jumps -2/a -> 0
        assert t.lower_spinodal == pytest.approx(c, rel=1e-12)
    else:
        assert t.latent_heat == pytest.approx(cp.latent_heat, rel=1e-7)
        assert t.jump_d1 < 0  # L* is concave: its slope drops
        assert t.lower_spinodal == 0.0


@settings(max_examples=10)
@given(a=A_, c=C_, depth=st.integers(0, 6))
def test_loss_matches_theory_global_minimum(a, c, depth):
    g = np.linspace(0.0, 2.0 * c, 61)
    fe = free_energy(g, depth, a=a, c=c, ey2=c * c / a + 0.1)
    ref = optimal_solution(depth, a, c, g, ey2=c * c / a + 0.1)
    # two independent global minimisers (companion roots vs ridge-curve bracketing)
    np.testing.assert_allclose(fe.loss, ref.loss, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fe.param_norm_sq, ref.param_norm_sq, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("depth", [0, 1, 2, 4])
def test_derivatives_are_derivatives(depth):
    a, c = 1.3, 0.7
    g = np.linspace(0.02, 1.0, 50)
    h = 1e-5
    fe = free_energy(g, depth, a=a, c=c)
    up, dn = free_energy(g + h, depth, a=a, c=c), free_energy(g - h, depth, a=a, c=c)
    same = (up.branch == fe.branch) & (dn.branch == fe.branch)  # away from gamma_c
    fd1 = (up.loss - dn.loss) / (2 * h)
    fd2 = (up.param_norm_sq - dn.param_norm_sq) / (2 * h)
    # central differences: O(h^2) truncation + O(eps/h) rounding
    np.testing.assert_allclose(fe.param_norm_sq[same], fd1[same], atol=1e-7)
    np.testing.assert_allclose(fe.d2loss[same], fd2[same], rtol=1e-5, atol=1e-5)


def _chain_hessian(u, gamma, a, c):
    """Hessian of a (prod u)^2 - 2 c prod u + Ey2 + gamma sum u^2 (scalar chain), by hand."""
    n = u.size
    H = np.zeros((n, n))
    P = np.prod(u)
    for i in range(n):
        for j in range(n):
            if i == j:
                Pi = np.prod(np.delete(u, i))
                H[i, i] = 2 * a * Pi * Pi + 2 * gamma
            else:
                Pi, Pj = np.prod(np.delete(u, i)), np.prod(np.delete(u, j))
                Pij = np.prod(np.delete(u, [i, j]))
                H[i, j] = 2 * a * Pi * Pj + (2 * a * P - 2 * c) * Pij
    return H


@pytest.mark.parametrize("depth", [2, 3])
def test_branches_are_minima_and_saddles(depth):
    a, c = 1.0, 1.0
    cp = critical_point(depth, a=a, c=c)
    g = np.array([0.5 * cp.gamma_c, 0.5 * (cp.gamma_c + cp.spinodal), 1.05 * cp.spinodal])
    fe = free_energy(g, depth, a=a, c=c)
    kinds = {b.label: b.kind for b in fe.branches}
    for br in fe.branches:
        if br.label < 0:
            continue
        for k, gam in enumerate(g):
            if not np.isfinite(br.param_norm_sq[k]):
                continue
            u = np.full(depth + 1, np.sqrt(br.param_norm_sq[k] / (depth + 1)))
            lam_min = np.linalg.eigvalsh(_chain_hessian(u, gam, a, c))[0]
            assert (lam_min > 0) == (kinds[br.label] == "min")
    # metastable learning minimum between gamma_c and the spinodal, gone beyond it
    learn = next(b for b in fe.branches if b.kind == "min")
    assert np.isfinite(learn.loss[1]) and learn.loss[1] > 1.0 and fe.branch[1] == -1
    assert np.isnan(learn.loss[2])


def _brute_force(A, beta, ey2, depth, gamma, seed=0):
    n = depth + 1
    rng = np.random.default_rng(seed)

    def f(w):
        return w @ A @ w - 2 * w @ beta + ey2 + n * gamma * (w @ w + 1e-300) ** (1.0 / n)

    best = ey2
    for _ in range(30):
        r = minimize(f, rng.normal(size=beta.size) * rng.uniform(0.1, 2.0), method="Nelder-Mead",
                     options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000})
        best = min(best, r.fun)
    return best


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_general_data_vs_brute_force(depth):
    rng = np.random.default_rng(depth)
    X = rng.normal(size=(3, 3))
    A = X @ X.T / 3 + 0.3 * np.eye(3)
    beta = rng.normal(size=3)
    ey2 = float(beta @ np.linalg.solve(A, beta)) + 0.2
    (t,) = locate_transitions(depth, A=A, beta=beta, ey2=ey2)
    g = np.array([0.5, 0.9, 1.1]) * t.gamma_c
    fe = free_energy_general(g, depth, A, beta, ey2)
    ref = [_brute_force(A, beta, ey2, depth, gm) for gm in g]
    # Nelder-Mead multi-start reaches ~1e-9 on this 3-d problem
    np.testing.assert_allclose(fe.loss, ref, atol=1e-7)
    assert fe.branch[-1] == -1 and fe.branch[0] >= 0


@pytest.mark.parametrize("depth", [2, 3])
def test_general_gamma_c_is_max_over_directions(depth):
    # docs/theory.md: gamma_c = max over unit u of the scalar gamma_c(a = u^T A u, c = u^T beta)
    rng = np.random.default_rng(10 + depth)
    X = rng.normal(size=(3, 3))
    A = X @ X.T / 3 + 0.3 * np.eye(3)
    beta = rng.normal(size=3)
    ey2 = float(beta @ np.linalg.solve(A, beta)) + 0.2

    def neg(v):
        u = v / np.linalg.norm(v)
        c = u @ beta
        return 0.0 if c <= 0 else -critical_point(depth, a=u @ A @ u, c=c, ey2=1e9).gamma_c

    best = min(minimize(neg, x0, method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-15}).fun
               for x0 in [beta, np.linalg.solve(A, beta), *rng.normal(size=(4, 3))])
    (t,) = locate_transitions(depth, A=A, beta=beta, ey2=ey2)
    assert t.order == 1
    assert t.gamma_c == pytest.approx(-best, rel=1e-7)  # Nelder-Mead on a smooth maximum


def test_whitened_several_outputs_design_values():
    B = np.array([[1.0, 0.0], [0.0, 0.4], [0.0, 0.0]])  # singular values 1.0 and 0.4
    ts = locate_transitions(2, A=np.eye(3), beta=B, ey2=2.0)
    # the public validation numbers (docs/theory.md) (4 decimals)
    assert [round(t.gamma_c, 4) for t in ts] == [0.1170, 0.3969]
    assert [t.mode for t in ts] == [1, 0] and all(t.order == 1 for t in ts)


@pytest.mark.parametrize("bad", [[0.1, np.nan], [-0.1, 0.2], []])
def test_bad_gamma(bad):
    with pytest.raises(ValueError, match="gamma"):
        free_energy(np.array(bad), 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="increasing"):
        ReducedLossModel.scalar(2).transitions(np.array([0.5, 0.1, 0.3]))
    with pytest.raises(ValueError, match="a"):
        free_energy(np.array([0.1]), 2, a=-1.0)
    with pytest.raises(TypeError):
        free_energy(np.array([0.1]), 1.5)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_scalar_kernel_equals_ridge_kernel(depth):
    g = np.concatenate([[0.0], np.geomspace(1e-3, 1.0, 80)])
    fast = ReducedLossModel(depth, [1.3], [0.49], 1.0).sweep(g)
    slow = ReducedLossModel(depth, [1.3], [0.49], 1.0, fast_scalar=False).sweep(g)
    assert np.array_equal(fast.branch, slow.branch)
    for bf, bs in zip(fast.branches, slow.branches):
        # two root finders (Newton in b vs in log lam): rounding-level agreement
        np.testing.assert_allclose(bf.loss, bs.loss, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(bf.param_norm_sq, bs.param_norm_sq, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(bf.d2loss, bs.d2loss, rtol=1e-7, atol=1e-10)


# ---------------------------------------------------------------- numbers vs theory.transitions
from l2phase.theory import transitions as theory_transitions  # noqa: E402


def _spd(seed: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(d, d))
    return X @ X.T / d + 0.2 * np.eye(d), rng.normal(size=d)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 4), depth=st.integers(1, 4))
def test_locate_transitions_matches_theory_general_A(seed, d, depth):
    A, beta = _spd(seed, d)
    ey2 = float(beta @ np.linalg.solve(A, beta)) + 0.3
    (ref,) = theory_transitions(A, beta, ey2, depth)
    (t,) = locate_transitions(depth, A=A, beta=beta, ey2=ey2)
    # numerics: bisection to 1e-13; theory: brentq on the ridge branch to tol=1e-9 (D >= 2), exact for D = 1
    assert t.gamma_c == pytest.approx(ref.gamma_c, rel=1e-7)
    assert t.order == ref.order
    assert t.spinodal == pytest.approx(ref.spinodal, rel=1e-6)
    assert t.latent_heat == pytest.approx(ref.latent_heat, rel=1e-6, abs=1e-9)


@settings(max_examples=10)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 3), depth=st.integers(1, 4), a=st.floats(0.5, 2.0))
def test_locate_transitions_whitened_cascade(seed, k, depth, a):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(4, k))
    ey2 = float(np.sum(B * B)) / a + 0.5
    ref = theory_transitions(a * np.eye(4), B, ey2, depth)
    got = locate_transitions(depth, A=a * np.eye(4), beta=B, ey2=ey2)
    assert len(got) == len(ref) == k
    for t, r in zip(got, ref):
        # scalar modes: numeric bisection vs sympy closed form (rel 1e-13 bracket; 1e-7 contract)
        assert t.gamma_c == pytest.approx(r.gamma_c, rel=1e-7)
        assert t.mode == r.mode and t.order == r.order


@pytest.mark.parametrize("depth", [1, 2, 3, 8])
def test_lean_path_equals_full_sweep(depth):
    from l2phase.numerics import free_energy_lean

    g = np.concatenate([np.linspace(1e-4, 1.5, 3000), [0.7, 0.05]])  # sorted grid, then jumps back
    fe = free_energy(g, depth, a=1.3, c=0.7, ey2=0.6)
    loss, d1, d2 = free_energy_lean(g, depth, a=1.3, c=0.7, ey2=0.6)
    ref = optimal_solution(depth, 1.3, 0.7, g, ey2=0.6)
    # two Newton kernels (different starts/stopping) and numpy's companion-matrix roots: rounding level
    np.testing.assert_allclose(loss, fe.loss, rtol=0, atol=1e-12)
    np.testing.assert_allclose(loss, ref.loss, rtol=0, atol=1e-10)
    np.testing.assert_allclose(d1, fe.param_norm_sq, rtol=0, atol=1e-11)
    np.testing.assert_allclose(d2, fe.d2loss, rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------- lean kernel: any grid, both kernels
@settings(max_examples=25)
@given(
    a=st.floats(0.1, 5.0),
    c=st.floats(0.05, 3.0),
    extra=st.floats(0.0, 1.0),
    depth=st.integers(1, 12),
    kind=st.sampled_from(["sorted", "shuffled", "reversed", "repeated", "log"]),
    m=st.sampled_from([1, 3, 7, 8, 9, 127, 128, 129, 700]),
    seed=st.integers(0, 2**31 - 1),
)
def test_lean_any_grid_equals_full_sweep(a, c, extra, depth, kind, m, seed):
    from l2phase.numerics import free_energy_lean

    rng = np.random.default_rng(seed)
    ey2 = c * c / a + extra
    top = 2.0 * c * c / a  # past every spinodal
    g = np.sort(rng.uniform(0.0, top, m))
    if kind == "shuffled":
        rng.shuffle(g)
    elif kind == "reversed":
        g = g[::-1].copy()
    elif kind == "repeated":
        g = np.repeat(g[: max(1, m // 4)], 4)[:m].copy()
    elif kind == "log":
        g = np.concatenate([[0.0], np.geomspace(1e-9, top, m)])
    fe = free_energy(g, depth, a=a, c=c, ey2=ey2)
    loss, d1, d2 = free_energy_lean(g, depth, a=a, c=c, ey2=ey2)
    # the chunked Newton (Hermite starts, vectorised steps, safeguarded fallback) and the
    # warm-started ridge/scalar kernel agree to rounding, relative to the size of L
    np.testing.assert_allclose(loss, fe.loss, rtol=0, atol=1e-12 * max(1.0, ey2))
    np.testing.assert_allclose(d1, fe.param_norm_sq, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d2, fe.d2loss, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize("depth", [1, 2, 7])
def test_lean_parallel_kernel_bit_identical(depth):
    from l2phase.numerics import _lstar_kernels as K

    rng = np.random.default_rng(depth)
    # long enough for several blocks of 1024 points, sorted then shuffled
    g = np.concatenate([np.linspace(0.0, 1.5, 2500), rng.uniform(0.0, 1.5, 1500)])
    s = K.scalar_lstar_checked(1.3, 0.7, 0.6, depth + 1, g)
    p = K.scalar_lstar_checked_parallel(1.3, 0.7, 0.6, depth + 1, g)
    assert s[0] == p[0] == 0
    for x, y in zip(s[1:], p[1:]):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("bad", [[0.1, np.nan], [0.2, -1e-300], [np.inf], [[0.1]], []])
@pytest.mark.parametrize("depth", [0, 2])
def test_lean_bad_gamma(bad, depth):
    from l2phase.numerics import free_energy_lean

    with pytest.raises(ValueError, match="gamma"):
        free_energy_lean(np.array(bad, dtype=float), depth)


def test_lean_parallel_option_same_results(monkeypatch):
    from l2phase.numerics import _lstar_kernels as K
    from l2phase.numerics import free_energy_lean

    monkeypatch.setattr(K, "PARALLEL_MIN_POINTS", 1)  # use the parallel kernel on a short grid
    g = np.linspace(0.0, 1.2, 3000)
    for x, y in zip(free_energy_lean(g, 3, a=1.3, c=0.7), free_energy_lean(g, 3, a=1.3, c=0.7, parallel=True)):
        assert np.array_equal(x, y)
