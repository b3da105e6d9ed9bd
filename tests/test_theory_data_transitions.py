"""Transitions for real data: singular A, the exact D = 1 homotopy, the global search for D >= 2.

References are independent of the code under test: a proximal-gradient solution of the
convex D = 1 problem, the closed forms (one output: ridge branch; A = aI: scalar per mode),
and brute-force training of the full deep linear network (scipy BFGS, analytic gradient).
"""

import numpy as np
import pytest
from scipy.optimize import minimize

from l2phase.numerics import proximal_rank_path
from l2phase.theory import (
    InputError,
    critical_point,
    data_transitions,
    global_transitions,
    nuclear_norm_path,
    restrict_to_range,
    ridge_branch_critical_point,
    transitions,
)


def _stats(seed, d, k, noise=0.3):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(d, d))
    A = M @ M.T / d + 0.2 * np.eye(d)
    B = rng.normal(size=(d, k)) * 0.7
    ey2 = float(np.trace(B.T @ np.linalg.solve(A, B))) + noise
    return A, B, ey2


# ------------------------------------------------------------------ singular A
def test_singular_A_equals_the_problem_on_its_range():
    A, B, ey2 = _stats(3, 3, 2)
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    E = Q[:, :3]  # embed the 3-d problem in 5 inputs: two directions never vary
    A5, B5 = E @ A @ E.T, E @ B
    for depth in (1, 2):
        ref = transitions(A, B, ey2, depth)
        rep = data_transitions(A5, B5, ey2, depth)
        assert rep.dropped_directions == 2 and rep.rank_A == 3
        assert [t.gamma_c for t in rep.transitions] == pytest.approx([t.gamma_c for t in ref], rel=1e-8)


def test_beta_outside_range_is_refused_and_rounding_is_not():
    A = np.diag([2.0, 1.0, 0.0])
    with pytest.raises(InputError, match="beta has a component"):
        restrict_to_range(A, [1.0, 0.5, 1e-3], 2.0)
    r = restrict_to_range(A, [1.0, 0.5, 1e-17], 2.0)  # rounding of a real X^T Y / N
    assert r.n_dropped == 1 and r.rank == 2
    with pytest.raises(InputError, match="semi-definite"):
        restrict_to_range(np.diag([1.0, -0.5]), [1.0, 0.0], 2.0)


# ------------------------------------------------------------------ D = 1 homotopy
@pytest.mark.parametrize("seed", [0, 1])
def test_depth_one_homotopy_against_proximal_gradient(seed):
    A, B, _ = _stats(seed, 4, 3)
    w, V = np.linalg.eigh(A)
    path = nuclear_norm_path(w, V.T @ B)
    assert [p.rank for p in path] == [1, 2, 3]
    assert sorted(p.gamma for p in path) == pytest.approx(proximal_rank_path(A, B, tol=1e-8), rel=1e-6)
    assert all(p.kkt_residual < 1e-10 and p.dual_margin < 1e-8 for p in path)


# ------------------------------------------------------------------ D >= 2, global numerical
@pytest.mark.parametrize("depth", [2, 3])
def test_global_search_one_output_equals_ridge_branch(depth):
    A, b, ey2 = _stats(4, 3, 1)
    w, V = np.linalg.eigh(A)
    (g,) = global_transitions(w, V.T @ b, depth, n_starts=3)
    gc, gs, _ = ridge_branch_critical_point(A, b[:, 0], ey2, depth)
    assert g.gamma_c == pytest.approx(gc, rel=1e-6)
    assert g.spinodal_up == pytest.approx(gs, rel=1e-6)
    assert g.certificate["kkt_residual"] < 1e-8


def test_global_search_isotropic_equals_scalar_per_mode():
    s = np.array([1.3, 0.7, 0.35])
    rng = np.random.default_rng(2)
    U, _ = np.linalg.qr(rng.normal(size=(4, 3)))
    V, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    a, depth = 1.7, 2
    got = global_transitions(np.full(4, a), (U * s) @ V.T, depth, n_starts=3)
    ref = sorted((critical_point(depth, a, c, c * c / a) for c in s), key=lambda c: c.gamma_c)
    assert [g.gamma_c for g in got] == pytest.approx([c.gamma_c for c in ref], rel=1e-6)
    assert [g.latent_heat for g in got] == pytest.approx([c.latent_heat for c in ref], rel=1e-6)
    assert [g.rank_below for g in got] == [3, 2, 1]


def _network_minimum(A, B, ey2, gamma, depth, starts, seed, width):
    """Brute force: the full deep linear network (depth + 1 layers of width ``width``), BFGS."""
    d, k = B.shape
    shapes = [(width, d)] + [(width, width)] * (depth - 1) + [(k, width)]
    sizes = [a * b for a, b in shapes]

    def unpack(p):
        out, i = [], 0
        for (a, b), n in zip(shapes, sizes):
            out.append(p[i:i + n].reshape(a, b))
            i += n
        return out

    def loss(p):
        Ws = unpack(p)
        pre = [np.eye(d)]
        for W in Ws:
            pre.append(W @ pre[-1])
        M = pre[-1]  # k x d
        G = 2 * (M @ A - B.T)
        val = np.sum(M * (M @ A)) - 2 * np.sum(M * B.T) + ey2 + gamma * (p @ p)
        grads, post = [], np.eye(k)
        for l in range(len(Ws) - 1, -1, -1):
            grads.append(post.T @ G @ pre[l].T + 2 * gamma * Ws[l])
            post = post @ Ws[l]
        return val, np.concatenate([g.ravel() for g in grads[::-1]])

    rng = np.random.default_rng(seed)
    best = None
    # random starts and the origin (a local minimum for D >= 2 that random starts rarely reach)
    for p0 in starts if starts is not None else [np.zeros(sum(sizes))] + [rng.normal(size=sum(sizes)) for _ in range(8)]:
        res = minimize(loss, p0, jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 20000})
        if best is None or res.fun < best.fun:
            best = res
    Ws = unpack(best.x)
    M = Ws[0]
    for W in Ws[1:]:
        M = W @ M
    sv = np.linalg.svd(M, compute_uv=False)
    return best.fun, int(np.sum(sv > 1e-4 * sv[0])) if sv[0] > 1e-6 else 0, best.x


@pytest.mark.parametrize("seed, d, k, depth", [(0, 3, 2, 2), (5, 4, 3, 2), (6, 3, 2, 3)])
def test_global_search_against_trained_full_networks(seed, d, k, depth):
    A, B, ey2 = _stats(seed, d, k)
    got = transitions(A, B, ey2, depth, n_starts=4)
    assert [t.method for t in got] == ["global-numerical"] * len(got) and len(got) >= 1
    for t in got:
        rb, ra = t.certificate["rank_below"], t.certificate["rank_above"]
        # the global minimum of the trained network has the predicted rank on either side
        lo, r_lo, p_lo = _network_minimum(A, B, ey2, 0.97 * t.gamma_c, depth, None, seed, k)
        hi, r_hi, p_hi = _network_minimum(A, B, ey2, 1.03 * t.gamma_c, depth, None, seed + 1, k)
        assert (r_lo, r_hi) == (rb, ra)
        # continued to gamma_c, both network minima have equal loss (that defines gamma_c)
        l_lo = _network_minimum(A, B, ey2, t.gamma_c, depth, [p_lo], 0, k)[0]
        l_hi = _network_minimum(A, B, ey2, t.gamma_c, depth, [p_hi], 0, k)[0]
        assert l_lo == pytest.approx(l_hi, rel=1e-7)
        # and a 1e-6 relative shift of gamma_c already breaks the tie by the latent heat
        assert t.latent_heat * t.gamma_c * 1e-6 > 10 * abs(l_lo - l_hi)
