"""Trained nets vs exact theory; exact curvature vs torch.func reference and the documented toy
closed forms; matrix-free curvature vs exact within its error bars."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import hessian, vmap

from l2phase import theory
from l2phase.empirical import (
    NetSpec,
    TrainConfig,
    curvature_exact,
    curvature_matrix_free,
    error,
    error_grad_hessian,
    hessian_extreme_eigenvalues,
    hutchinson_moments,
    synthetic_teacher,
    train_batched,
)

TOY_X = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)  # a = c = E[y^2] = 1
TOY_Y = TOY_X.clone()


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("optimizer", ["adam", "newton", "lbfgs"])
def test_trained_scalar_chain_matches_exact_minimum(depth, optimizer):
    # gammas on the learning side of gamma_c (and one above): start near the learning branch
    spec = NetSpec(1, 1, depth, 1)
    cp = theory.critical_point(depth)
    g = np.array([0.2, 0.5, 0.8]) * cp.gamma_c
    g = np.append(g, 1.5 * cp.spinodal)
    th0 = spec.init(g.size, scale=1.0, seed=5).abs() + 0.5  # positive chain: learning basin
    res = train_batched(spec, th0, TOY_X, TOY_Y, g, TrainConfig(optimizer=optimizer, lr=0.02))
    sol = theory.optimal_solution(depth, 1.0, 1.0, g)
    assert res.converged.all()
    # float64 + gradient-norm 1e-9 convergence: values agree to ~1e-12 (1e-9 allowed)
    assert np.allclose(res.loss, sol.loss, atol=1e-9)
    assert np.allclose(res.param_norm_sq, sol.param_norm_sq, atol=1e-7)


def test_two_mode_nets_match_theory_on_both_sides():
    d = synthetic_teacher(60, 3, (1.0, 0.4), noise=0.1, seed=1)
    X, Y = d.tensors()
    for depth, gs in ((1, [0.2, 0.7, 1.2]), (2, [0.05, 0.2, 0.5])):
        spec = NetSpec(3, 2, depth, 3)
        th0 = spec.init(len(gs), scale=1.5, seed=0)
        res = train_batched(spec, th0, X, Y, gs)
        ts = theory.transitions(*d.stats(), depth)
        ey2 = d.stats()[2]
        exp = ey2 + sum(theory.optimal_solution(depth, 1.0, t.c, gs, ey2=t.c**2).loss - t.c**2 for t in ts)
        # large init reaches the all-modes-learned branch, which is the global minimum here
        assert np.allclose(res.loss, exp, atol=1e-9)


def test_divergence_is_flagged_not_averaged():
    spec = NetSpec(1, 1, 1, 1)
    th0 = torch.tensor([[1.0, 0.7], [0.9, 1.2]], dtype=torch.float64)
    res = train_batched(spec, th0, TOY_X * 10, TOY_Y * 10, [0.1, 0.1],
                        TrainConfig(optimizer="gd", lr=5.0, max_steps=50, polish=None))
    assert res.diverged.all() and not res.converged.any()
    assert res.status() == ["diverged", "diverged"]


def test_exact_hessian_equals_torch_func_reference():
    spec = NetSpec(3, 2, 2, 4, activation="tanh", bias=True)
    d = synthetic_teacher(20, 3, (1.0, 0.5), seed=0)
    X, Y = d.tensors()
    theta = spec.init(3, seed=2)
    E, G, H = error_grad_hessian(spec, theta, X, Y)
    ref = vmap(hessian(lambda t: error(spec, t, X, Y)))(theta)
    assert torch.allclose(H, ref, rtol=1e-10, atol=1e-10)  # float64, two AD paths


def test_deep_linear_hessians_on_compressed_rows_equal_full_data_reference():
    # a deep linear net (mse, no bias) is differentiated on d = 3 compressed rows instead of
    # N = 60 samples; the torch.func reference uses all 60 rows (independent AD path)
    spec = NetSpec(3, 2, 2, 4)
    d = synthetic_teacher(60, 3, (1.0, 0.5), noise=0.3, seed=4)
    X, Y = d.tensors()
    theta = spec.init(3, seed=1)
    E, G, H = error_grad_hessian(spec, theta, X, Y)
    f = lambda t: error(spec, t, X, Y)  # noqa: E731
    assert torch.allclose(E, error(spec, theta, X, Y), rtol=1e-14, atol=0)
    assert torch.allclose(G, vmap(torch.func.grad(f))(theta), rtol=1e-11, atol=1e-12)
    assert torch.allclose(H, vmap(hessian(f))(theta), rtol=1e-11, atol=1e-12)
    # negative control: the compressed rows without their 1/N weighting give another Hessian
    Xs = torch.linalg.qr(X)[1]
    Ys = torch.linalg.qr(X)[0].T @ Y
    assert not torch.allclose(H, vmap(hessian(lambda t: error(spec, t, Xs, Ys)))(theta), rtol=1e-3)


def test_ricci_scalar_chain_closed_forms():
    # docs/theory.md: f = u w x, a = c = 1: R_L = 32 g (1 - g) below gamma_c = 1, 8 (g^2 - 1) above;
    # R_E = 8 g (2 - 3 g) / (1 + 8 g^2 (1 - g))^2 below, -8 above.
    spec = NetSpec(1, 1, 1, 1)
    g = np.array([0.2, 0.5, 0.9, 1.3, 2.0])
    th0 = torch.tensor([[1.0, 1.0]] * 5, dtype=torch.float64)
    res = train_batched(spec, th0, TOY_X, TOY_Y, g)
    c = curvature_exact(spec, res.theta, TOY_X, TOY_Y, g)
    RL = np.where(g < 1, 32 * g * (1 - g), 8 * (g**2 - 1))
    RE = np.where(g < 1, 8 * g * (2 - 3 * g) / (1 + 8 * g**2 * (1 - g)) ** 2, -8.0)
    assert np.allclose(c.R_L, RL, atol=1e-6)  # converged to |grad| <= 1e-9
    assert np.allclose(c.R_E, RE, atol=1e-6)
    below = g < 1  # minimum: no negative Hessian eigenvalue
    assert np.all(c.n_neg_eig[below] == 0)
    # the origin below gamma_c is a saddle: eigenvalues 2g +- 2
    c0 = curvature_exact(spec, torch.zeros(1, 2, dtype=torch.float64), TOY_X, TOY_Y, 0.5)
    assert c0.hess_min_eig[0] == pytest.approx(2 * 0.5 - 2) and c0.n_neg_eig[0] == 1


@pytest.mark.parametrize("method", ["hutchinson", "hutch++", "auto"])
def test_matrix_free_agrees_with_exact_within_error_bars(method):
    spec = NetSpec(6, 3, 2, 8)
    d = synthetic_teacher(50, 6, (1.0, 0.6, 0.3), seed=3)
    X, Y = d.tensors()
    theta = spec.init(4, scale=1.0, seed=7)  # generic (non-critical) points: G != 0
    g = np.array([0.05, 0.1, 0.2, 0.4])
    ex = curvature_exact(spec, theta, X, Y, g)
    mf = curvature_matrix_free(spec, theta, X, Y, g, n_probes=120, method=method, seed=[1, 2, 3, 4])
    for name in ("R_L", "R_E"):
        z = np.abs(getattr(mf, name) - getattr(ex, name)) / getattr(mf, name + "_se")
        # 8 estimates: |z| < 4.5 fails with probability < 1e-4 for Gaussian errors
        assert np.all(z < 4.5), (name, z)
    # the exact parts: tr H_L = tr H_E + 2 gamma P (bias-free), |G|^2 exact
    assert np.allclose(mf.grad_norm2_L, ex.grad_norm2_L, rtol=1e-10)


def test_hutchinson_standard_errors_are_calibrated():
    # over many seeds the z-scores of tr H have unit spread (the error bars mean something)
    spec = NetSpec(4, 2, 1, 5)
    d = synthetic_teacher(30, 4, (1.0, 0.5), seed=0)
    X, Y = d.tensors()
    theta = spec.init(1, seed=1).expand(60, -1).contiguous()
    ex = curvature_exact(spec, theta[:1], X, Y, 0.1)
    mf = curvature_matrix_free(spec, theta, X, Y, 0.1, n_probes=30, method="hutchinson", seed=list(range(60)))
    z = (mf.tr_H_L - ex.tr_H_L[0]) / mf.extra["tr_se_L"]
    assert abs(z.mean()) < 0.6 and 0.6 < z.std() < 1.5  # 60 samples: loose but falsifiable


@pytest.mark.parametrize("method", ["hutchinson", "hutch++", "auto"])
def test_shared_probe_moments_match_dense_traces(method):
    # two dense operators probed together (as curvature_matrix_free probes H_E and H_L):
    # each estimate within its error bars of the exact tr H and tr H^2; Hutchinson on the
    # list gives exactly what separate calls with the same seed give
    rng = np.random.default_rng(0)
    B, P = 3, 40
    Q = np.linalg.qr(rng.standard_normal((B, P, P)))[0]
    ev = np.concatenate([np.array([30.0, 12.0, 5.0]), rng.uniform(-1.0, 1.0, P - 3)])
    H1 = torch.as_tensor(Q @ (ev[:, None] * np.swapaxes(Q, 1, 2)))
    H2 = H1 + 0.7 * torch.eye(P, dtype=torch.float64)
    ops = [lambda V, H=H: V @ H for H in (H1, H2)]
    moms = hutchinson_moments(ops, B, P, 30, method=method, seed=[1, 2, 3])
    for H, m in zip((H1, H2), moms):
        tr = torch.diagonal(H, dim1=1, dim2=2).sum(-1).numpy()
        tr2 = (H * H).sum((1, 2)).numpy()
        assert np.all(np.abs(m["tr"] - tr) < 4.5 * m["tr_se"] + 1e-9), (m["tr"], tr)
        assert np.all(np.abs(m["tr2"] - tr2) < 4.5 * m["tr2_se"] + 1e-9), (m["tr2"], tr2)
    if method == "hutchinson":
        for op, m in zip(ops, moms):
            alone = hutchinson_moments(op, B, P, 30, method=method, seed=[1, 2, 3])
            assert np.array_equal(alone["tr"], m["tr"]) and np.array_equal(alone["tr2"], m["tr2"])
    with pytest.raises(TypeError, match="hv"):
        hutchinson_moments([], B, P, 30)


def _dense_ops(ev_top, P=60, B=3, seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((B, P, P)))[0]
    ev = np.concatenate([np.asarray(ev_top, dtype=float), rng.uniform(-1.0, 1.0, P - len(ev_top))])
    H = torch.as_tensor(Q @ (ev[:, None] * np.swapaxes(Q, 1, 2)))
    return H, (lambda V: V @ H)


def test_auto_estimator_takes_hutchpp_for_dominant_eigenvalues_and_hutchinson_for_flat_spectra():
    # flat: 300 eigenvalues uniform in [-1, 1] (10 sketch directions remove ~3% of ||H||_F^2)
    B = 3
    for P, top, expect in ((60, [80.0, 50.0, 30.0, 20.0], "hutch++"), (300, [], "hutchinson")):
        H, op = _dense_ops(top, P, B)
        tr = torch.diagonal(H, dim1=1, dim2=2).sum(-1).numpy()
        m = hutchinson_moments(op, B, P, 30, method="auto", seed=[4, 5, 6])
        assert list(m["estimator"]) == [expect] * B
        assert np.all(np.abs(m["tr"] - tr) < 4.5 * m["tr_se"] + 1e-9)
        # the choice is the better one: its standard error is not above the other's by much
        other = "hutchinson" if expect == "hutch++" else "hutch++"
        alt = hutchinson_moments(op, B, P, 30, method=other, seed=[4, 5, 6])
        assert np.median(m["tr_se"]) <= 1.3 * np.median(alt["tr_se"]), (m["tr_se"], alt["tr_se"])


def test_block_products_by_vmap_equal_the_double_backward_loop():
    spec = NetSpec(4, 2, 1, 6, activation="tanh")
    d = synthetic_teacher(30, 4, (1.0, 0.5), seed=1)
    X, Y = d.tensors()
    theta = spec.init(2, seed=3)
    a, b = (curvature_matrix_free(spec, theta, X, Y, 0.1, n_probes=12, seed=[1, 2], products=p)
            for p in ("loop", "vmap"))
    for k in ("R_L", "R_E", "R_L_se", "tr_H_L", "tr_H2_L"):
        assert np.allclose(getattr(a, k), getattr(b, k), rtol=1e-10, atol=1e-10), k
    with pytest.raises(ValueError, match="products"):
        curvature_matrix_free(spec, theta, X, Y, 0.1, n_probes=12, products="fast")


def test_lanczos_extreme_eigenvalues_match_dense():
    spec = NetSpec(5, 2, 2, 6)
    d = synthetic_teacher(40, 5, (1.0, 0.3), seed=2)
    X, Y = d.tensors()
    theta = spec.init(1, seed=0)
    top, lo = hessian_extreme_eigenvalues(spec, theta, X, Y, 0.05, k=3)
    ex = curvature_exact(spec, theta, X, Y, 0.05)
    E, G, H = error_grad_hessian(spec, theta, X, Y)
    ev = np.linalg.eigvalsh((H[0] + 0.1 * torch.eye(spec.n_params, dtype=torch.float64)).numpy())
    assert np.allclose(top, ev[::-1][:3], rtol=1e-7, atol=1e-8)
    assert lo == pytest.approx(ev[0], abs=1e-7) and lo == pytest.approx(ex.hess_min_eig[0], abs=1e-7)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    spec = NetSpec(3, 2, 2, 4)
    d = synthetic_teacher(40, 3, (1.0, 0.4), seed=0)
    g = np.array([0.05, 0.2, 0.5])
    th0 = spec.init(3, scale=1.5, seed=0)
    out = []
    for dev in ("cpu", "cuda"):
        X, Y = d.tensors(device=dev)
        res = train_batched(spec, th0.to(dev), X, Y, g)
        c = curvature_exact(spec, res.theta, X, Y, g)
        out.append((res.loss, c.R_L))
    assert np.allclose(out[0][0], out[1][0], atol=1e-9) and np.allclose(out[0][1], out[1][1], rtol=1e-6)
