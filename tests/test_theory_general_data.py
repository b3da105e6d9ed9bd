"""theory.transitions for general (A, beta, E[y^2]) against independent computations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from l2phase import theory
from l2phase.theory import InvalidCovarianceError, critical_point, transitions


def _random_stats(seed, d=3, k=None, noise=0.5):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(d, d))
    A = M @ M.T / d + 0.3 * np.eye(d)
    beta = rng.normal(size=d) if k is None else rng.normal(size=(d, k))
    B = beta if beta.ndim == 2 else beta[:, None]
    ey2 = float(np.trace(B.T @ np.linalg.solve(A, B))) + noise
    return A, beta, ey2


def _scalar_gamma_c_over_directions(A, beta, D, starts=40, seed=0):
    """docs/theory.md: gamma_c = max over unit u of the scalar gamma_c(u^T A u, u^T beta)."""
    n = D + 1

    def gc(u):
        u = u / np.linalg.norm(u)
        c = u @ beta
        if c <= 0:
            return 0.0
        a = u @ A @ u
        return (c / D) * ((D - 1) * c / (D * a)) ** ((D - 1) / n)

    rng = np.random.default_rng(seed)
    best = 0.0
    for _ in range(starts):
        res = minimize(lambda u: -gc(u), rng.normal(size=len(beta)) + beta, method="Nelder-Mead",
                       options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000})
        best = max(best, -res.fun)
    return best


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000))
def test_depth_one_gamma_c_is_norm_of_beta_for_any_A(seed):
    A, beta, ey2 = _random_stats(seed)
    (t,) = transitions(A, beta, ey2, 1)
    assert t.gamma_c == pytest.approx(np.linalg.norm(beta), rel=1e-14)
    assert t.order == 2


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), D=st.integers(2, 4))
def test_ridge_branch_exceeds_scalar_bound_and_equals_direction_max(seed, D):
    A, beta, ey2 = _random_stats(seed)
    (t,) = transitions(A, beta, ey2, D)
    assert t.order == 1
    assert t.gamma_c >= t.lower_bound * (1 - 1e-10)
    assert t.gamma_c < t.spinodal
    # independent: maximisation over directions (Nelder-Mead from many starts; accuracy ~1e-7)
    assert t.gamma_c == pytest.approx(_scalar_gamma_c_over_directions(A, beta, D, starts=8, seed=seed), rel=1e-6)


@settings(max_examples=20)
@given(seed=st.integers(0, 10_000), D=st.integers(2, 6))
def test_ridge_branch_equals_scalar_formula_for_eigenvector_beta(seed, D):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    lam = rng.uniform(0.2, 3.0, size=3)
    A = (Q * lam) @ Q.T
    c = rng.uniform(0.2, 3.0)
    beta = c * Q[:, 1]
    ey2 = c * c / lam[1] + 0.1
    (t,) = transitions(A, beta, ey2, D)
    cp = critical_point(D, lam[1], c, ey2)
    assert t.gamma_c == pytest.approx(cp.gamma_c, rel=1e-9)
    assert t.spinodal == pytest.approx(cp.spinodal, rel=1e-9)
    assert t.lower_bound == pytest.approx(cp.gamma_c, rel=1e-9)


def test_whitened_cascade_public_numbers():
    # docs/theory.md: whitened, s = (1.0, 0.4), D = 2: gamma = 0.1170 and 0.3969
    B = np.diag([1.0, 0.4])
    ts = transitions(np.eye(2), B, 1.16 + 0.1, 2)
    assert [round(t.gamma_c, 4) for t in ts] == [0.1170, 0.3969]
    assert [t.mode for t in ts] == [1, 0]
    assert all(t.order == 1 for t in ts)
    # D = 1 soft-thresholds each mode at its singular value
    ts1 = transitions(np.eye(2), B, 1.26, 1)
    assert [t.gamma_c for t in ts1] == pytest.approx([0.4, 1.0], rel=1e-14)
    assert all(t.order == 2 for t in ts1)


def test_depth_one_several_outputs_any_A_against_full_network():
    """Rank drops of the convex D=1 problem vs a trained full two-layer linear net (scipy)."""
    A, B, ey2 = _random_stats(7, d=3, k=2)
    ts = transitions(A, B, ey2, 1)
    assert len(ts) == 2
    assert ts[-1].gamma_c == pytest.approx(np.linalg.svd(B, compute_uv=False)[0], rel=1e-12)
    d, k, h = 3, 2, 3

    def rank_at(gamma):
        def loss(p):
            W1 = p[: h * d].reshape(h, d)
            W2 = p[h * d :].reshape(k, h)
            W = (W2 @ W1).T  # d x k end-to-end
            return np.trace(W.T @ A @ W) - 2 * np.trace(W.T @ B) + ey2 + gamma * (p @ p)

        best = None
        rng = np.random.default_rng(0)
        for _ in range(4):
            res = minimize(loss, rng.normal(size=h * d + k * h), method="BFGS", options={"gtol": 1e-11})
            best = res if best is None or res.fun < best.fun else best
        W1 = best.x[: h * d].reshape(h, d)
        W2 = best.x[h * d :].reshape(k, h)
        sv = np.linalg.svd(W2 @ W1, compute_uv=False)
        return int(np.sum(sv > 1e-3))

    g0 = ts[0].gamma_c
    assert rank_at(0.9 * g0) == 2
    assert rank_at(1.1 * g0) == 1
    assert rank_at(0.97 * ts[1].gamma_c) == 1
    assert rank_at(1.03 * ts[1].gamma_c) == 0


def test_depth_one_convex_path_is_exact_for_isotropic_A():
    B = np.array([[1.2, 0.0], [0.0, 0.5], [0.3, 0.1]])
    s = np.linalg.svd(B, compute_uv=False)
    # slightly perturbed isotropic A forces the convex path; it must stay close to s_k
    A = 1.0 * np.eye(3) + 1e-7 * np.diag([1.0, 0.0, -1.0])
    ts = transitions(A, B, 3.0, 1)
    assert [t.method for t in ts] == ["convex-homotopy"] * 2
    assert [t.gamma_c for t in ts] == pytest.approx(sorted(s), rel=1e-5)


def test_noise_renormalises_A():
    A, beta, ey2 = _random_stats(3)
    f = theory.noise_factor(0.5, 4, 2)
    assert f == pytest.approx((1 + 0.5 / 4) ** 2)
    t_clean = transitions(A, beta, ey2, 2)[0]
    t_noisy = transitions(A, beta, ey2, 2, noise_sigma2=0.5, width=4)[0]
    t_scaled = transitions(f * A, beta, ey2 * f, 2)[0]
    assert t_noisy.gamma_c == pytest.approx(t_scaled.gamma_c, rel=1e-9)
    assert t_noisy.gamma_c < t_clean.gamma_c  # a larger effective A lowers gamma_c for D >= 2
    # D = 1: gamma_c = |beta| is unchanged by noise
    assert transitions(A, beta, ey2, 1, noise_sigma2=0.5, width=4)[0].gamma_c == pytest.approx(np.linalg.norm(beta))
    with pytest.raises(TypeError, match="width"):
        transitions(A, beta, ey2, 2, noise_sigma2=0.5)


def test_depth_zero_has_no_transition():
    A, beta, ey2 = _random_stats(0)
    assert transitions(A, beta, ey2, 0) == []


@pytest.mark.parametrize(
    "A, beta, ey2, exc, match",
    [
        (np.array([[1.0, 2.0], [0.0, 1.0]]), [1.0, 0.0], 2.0, InvalidCovarianceError, "symmetric"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), [1.0, 0.0], 2.0, InvalidCovarianceError, "positive semi-definite"),
        (np.eye(2), [1.0, 0.0, 0.0], 2.0, ValueError, "shape mismatch"),
        (np.eye(2), [1.0, 0.0], 0.5, ValueError, "Ey2"),
        (np.eye(2), [1.0, np.nan], 2.0, ValueError, "NaN"),
        (np.zeros((0, 0)), [], 1.0, InvalidCovarianceError, "non-empty"),
    ],
)
def test_bad_statistics(A, beta, ey2, exc, match):
    with pytest.raises(exc, match=match):
        transitions(A, beta, ey2, 2)


def test_ridge_branch_crossing_exactly_on_its_grid():
    # found by hypothesis: for one input and D = 2 the crossing lies at lam = a, the centre of the
    # log-grid, where the branch loss equals E[y^2] exactly; it used to go unbracketed
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1, 1))
    A, beta = X @ X.T + 0.2 * np.eye(1), rng.normal(size=1)
    ey2 = float(beta @ np.linalg.solve(A, beta)) + 0.3
    (t,) = transitions(A, beta, ey2, 2)
    assert t.gamma_c == pytest.approx(critical_point(2, float(A[0, 0]), abs(float(beta[0])), ey2).gamma_c, rel=1e-12)
