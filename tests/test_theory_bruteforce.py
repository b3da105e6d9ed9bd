"""Independent brute force: minimise the FULL deep linear network (several widths, random restarts)
on both sides of the predicted gamma_c and compare with theory.optimal_solution / L(0)."""

import numpy as np
import pytest
from scipy.optimize import minimize

from l2phase.theory import critical_point, optimal_solution


def _full_net_min(depth, width, A, beta, ey2, gamma, restarts, seed, scale=1.0):
    d = len(beta)
    shapes = [(width, d)] + [(width, width)] * (depth - 1) + [(1, width)]
    sizes = [r * c for r, c in shapes]

    def unpack(p):
        mats, i = [], 0
        for (r, c), s in zip(shapes, sizes):
            mats.append(p[i : i + s].reshape(r, c))
            i += s
        return mats

    def loss_grad(p):
        mats = unpack(p)
        # forward products P_l = W_l ... W_1
        prods = [mats[0]]
        for W in mats[1:]:
            prods.append(W @ prods[-1])
        w = prods[-1][0]  # end-to-end vector
        r = A @ w - beta
        val = w @ A @ w - 2 * w @ beta + ey2 + gamma * (p @ p)
        gw = 2 * r  # dE/dw
        grads = []
        for l, W in enumerate(mats):
            left = np.eye(1)
            for V in mats[l + 1 :][::-1]:
                left = left @ V if left.shape[1] == V.shape[0] else left
            # d w^T / d W_l = (W_n..W_{l+1})^T gw^T (W_{l-1}..W_1)^T
            upper = np.eye(W.shape[0])
            for V in mats[l + 1 :]:
                upper = V @ upper
            lower = prods[l - 1] if l > 0 else np.eye(d)
            grads.append(upper.T @ gw[None, :] @ lower.T + 2 * gamma * W)
        return val, np.concatenate([g.ravel() for g in grads])

    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(restarts):
        p0 = scale * rng.normal(size=sum(sizes)) / np.sqrt(width)
        res = minimize(loss_grad, p0, jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "maxiter": 20000})
        best = min(best, res.fun)
    return min(best, ey2)  # theta = 0 is always a candidate (a stationary point)


@pytest.mark.parametrize("depth, width", [(1, 1), (1, 3), (2, 2), (2, 3), (3, 2)])
def test_full_network_global_minimum_matches_theory(depth, width):
    rng = np.random.default_rng(depth * 10 + width)
    A = np.diag([1.3, 0.6])
    beta = np.array([0.7, 0.0])  # eigenvector of A: a = 1.3, c = 0.7
    ey2 = 0.7**2 / 1.3 + 0.2
    cp = critical_point(depth, 1.3, 0.7, ey2)
    for factor in (0.7, 0.97, 1.03, 1.4):
        gamma = factor * cp.gamma_c
        brute = _full_net_min(depth, width, A, beta, ey2, gamma, restarts=6, seed=int(rng.integers(1e6)), scale=1.5)
        exact = optimal_solution(depth, 1.3, 0.7, gamma, ey2).loss[0]
        assert brute == pytest.approx(exact, abs=1e-7), (factor, brute, exact)
        if factor < 1:
            assert exact < ey2 - 1e-6  # learning below gamma_c
        else:
            assert exact == ey2  # trivial above gamma_c
