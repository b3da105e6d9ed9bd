"""empirical.two_layer / init_diagram: the two-layer ReLU trainer, RD slopes and the measured cut.

Independent references: an autograd GD on the original (alpha, beta1, beta2) parametrisation,
single-row runs vs padded batches, the paper's Fig. 3 numbers, the theory's regime signs, and
synthetic data with known slopes and crossings.
"""

import math

import numpy as np
import pytest
import torch

from l2phase.empirical.experiments.init_diagram import InitDiagramConfig, boundary_crossing, fit_rd_slope, run_init_diagram
from l2phase.empirical.two_layer import (
    angle_amplitude,
    condensation_metrics,
    cosine_similarity_matrix,
    effective_orientations,
    train_normalised,
    train_plain,
    two_layer_dataset,
)
from l2phase.theory.init_scaling import InitScaling, boundary_distance, init_regime

Q4 = two_layer_dataset("quadratic4")


@pytest.mark.parametrize("g,gp,b1e", [(0.5, 0.0, 0.0), (1.0, 0.2, -0.5), (1.5, -0.2, 0.3)])
def test_normalised_trainer_equals_plain_trainer(g, gp, b1e):
    m = 150
    s = InitScaling.from_coordinates(g, gp, beta1_exp=b1e)
    al, b1, b2 = s.scales(m)
    from l2phase.empirical import torch_threads

    with torch_threads(1):  # small tensors: a second (spinning) thread only costs on a busy machine
        plain = train_plain(Q4, al, b1, b2, m, seed=3)
    k, kp = s.kappa(m)
    norm = train_normalised(Q4, [k], [kp], [m], [3], keep_neurons=m)[0]
    assert plain["converged"] and norm.converged
    # same draws, same GD up to rounding: float64 trajectories agree to ~1e-13 relative
    assert norm.rd_w == pytest.approx(plain["rd_w"], rel=1e-9)
    assert norm.rd_a == pytest.approx(plain["rd_a"], rel=1e-9)
    assert norm.steps == plain["steps"]
    # neuron by neuron: orientation and amplitude |a| ||w|| = beta1 beta2 |a_bar| ||w_bar|| of every final neuron
    orient, amp = angle_amplitude(plain["a"], plain["w"])
    np.testing.assert_allclose(norm.neurons["orientation_final"], orient, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(norm.neurons["amplitude_final"] * b1 * b2, amp, rtol=1e-9)


def test_padding_over_widths_is_inert_and_asi_starts_at_zero():
    k = [200 ** -1.25, 700 ** -1.25]
    batch = train_normalised(Q4, k, [1.0, 1.0], [200, 700], [0, 1])
    for i, (m, s) in enumerate([(200, 0), (700, 1)]):
        single = train_normalised(Q4, [k[i]], [1.0], [m], [s])[0]
        # a batch may recompute eta at other steps after another row's rejected step: same flow, tiny differences
        assert batch[i].rd_w == pytest.approx(single.rd_w, rel=1e-3)
        assert batch[i].converged and batch[i].final_loss < 5e-7
        assert batch[i].rd_w_max >= batch[i].rd_w * (1 - 1e-12)
    # ASI: f = 0 at t = 0, so the loss before any step is (1/2n) sum y^2 exactly
    r0 = train_normalised(Q4, [0.1], [1.0], [50], [0], max_steps=0)[0]
    assert r0.final_loss == pytest.approx(0.5 * np.mean(Q4.y ** 2), rel=1e-12)
    assert not r0.converged and r0.status == "max_steps"


def test_rd_matches_paper_fig3_at_m_1000():
    # Paper Fig. 3 (read off the figure, notes section 4.3): RD = 8.5e-3 (gamma 0.5), 0.26-0.27 (1.0),
    # 7.9 (1.75) at m = 1e3, one unseeded run each; seed-to-seed spread at m = 1e3 is ~10 %
    runs = train_normalised(Q4, [1000 ** -0.5, 1000 ** -1.0, 1000 ** -1.75], [1.0] * 3, [1000] * 3, [0] * 3)
    assert all(r.converged for r in runs)
    assert runs[0].rd_w == pytest.approx(8.5e-3, rel=0.2)
    assert runs[1].rd_w == pytest.approx(0.265, rel=0.2)
    assert runs[2].rd_w == pytest.approx(7.9, rel=0.2)


def test_measured_cut_has_the_theory_signs(tmp_path):
    cfg = InitDiagramConfig(gammas_energy=(0.5, 1.0, 1.5), gammas_dynamic=(0.0,), widths=(500, 1000, 2000, 4000),
                            seeds=(0, 1), refine=0, keep_neurons=300)
    res = run_init_diagram(cfg, tmp_path)
    s = {p["gamma_energy"]: p for p in res.points}
    # paper Fig. 3 / 3d: -0.506 at 0.5, 0.007 at 1.0, 0.27 at 1.5; seed spread over 4 widths ~0.05
    assert s[0.5]["slope"] == pytest.approx(-0.5, abs=0.1)
    assert abs(s[1.0]["slope"]) < 0.06
    assert s[1.5]["slope"] == pytest.approx(0.27, abs=0.08)
    for p in res.points:
        assert p["n_not_converged"] == 0
        if boundary_distance(p["gamma_energy"], p["gamma_dynamic"]) >= 0.1:
            assert (p["slope"] < 0) == (init_regime(p["gamma_energy"], p["gamma_dynamic"]) == "linear")
    b = res.boundary[0]
    assert b["found"] and abs(b["measured_gamma_energy"] - 1.0) < 0.1
    # condensation: gamma 1.5 concentrates on a few orientations, gamma 0.5 keeps the initial spread
    c = {(r["gamma_energy"], r["width"]): r for r in res.condensation}
    assert c[(1.5, 4000)]["neff_final"] < 5 < 60 < c[(0.5, 4000)]["neff_final"]
    assert c[(0.5, 4000)]["neff_final"] == pytest.approx(c[(0.5, 4000)]["neff_init"], rel=0.05)
    assert res.neurons  # scatter data of the first seed
    # resume reuses every stored (point, width): nothing is retrained
    res2 = run_init_diagram(cfg, tmp_path, resume=True, progress=lambda msg: pytest.fail(f"retrained: {msg}"))
    assert [p["slope"] for p in res2.points] == [p["slope"] for p in res.points]


def test_diagonal_boundary_row():
    # gamma_dynamic = 0.2: theory boundary at gamma_energy = 1.2; points 0.14 and 0.14 away on either side
    cfg = InitDiagramConfig(gammas_energy=(1.0, 1.4), gammas_dynamic=(0.2,), widths=(250, 500, 1000, 2000),
                            seeds=(0, 1), refine=0, keep_neurons=0)
    res = run_init_diagram(cfg)
    s = {p["gamma_energy"]: p["slope"] for p in res.points}
    assert s[1.0] < 0 < s[1.4]
    assert abs(res.boundary[0]["measured_gamma_energy"] - 1.2) < 0.1


def test_fit_rd_slope_recovers_a_known_power_law():
    rng = np.random.default_rng(0)
    m = np.array([1e3, 2e3, 5e3, 1e4])
    rd = 0.3 * m[None, :] ** 0.25 * np.exp(0.01 * rng.standard_normal((4, 4)))
    fit = fit_rd_slope(m, rd)
    assert fit["slope"] == pytest.approx(0.25, abs=0.02)  # 1 % noise over a decade
    assert 0 < fit["slope_err"] < 0.02
    rd[0, 1] = np.nan  # a non-converged run is left out
    assert fit_rd_slope(m, rd)["n_seeds"] == 4


def test_boundary_crossing_of_a_linear_profile():
    g = np.array([0.5, 0.9, 1.3, 1.7])
    bc = boundary_crossing(g, g - 1.2, [0.01] * 4)
    assert bc["crossing"] == pytest.approx(1.2, abs=1e-12)
    # delta method: crossing moves by sigma / slope per point, two points combined in quadrature ~ 0.01/sqrt(2)
    assert bc["error"] == pytest.approx(0.01 * math.hypot(0.25, 0.75), rel=1e-9)
    assert boundary_crossing(g, -np.ones(4)) is None


def test_condensation_metrics_known_answers():
    m = 500
    a = np.ones(m)
    same = np.tile([[0.6, 0.8]], (m, 1))
    mc = condensation_metrics(a, same)
    assert mc["neff"] == pytest.approx(1.0) and mc["top4"] == pytest.approx(1.0)
    assert mc["erank"] == pytest.approx(1.0, abs=1e-6)
    th = np.linspace(-math.pi, math.pi, 90 * 20, endpoint=False) + 1e-3
    uniform = np.stack([np.cos(th), np.sin(th)], 1)
    neff, top4 = effective_orientations(np.arctan2(uniform[:, 1], uniform[:, 0]), np.ones(th.size))
    assert neff == pytest.approx(90, rel=1e-9) and top4 == pytest.approx(4 / 90)
    assert condensation_metrics(np.ones(th.size), uniform)["erank"] == pytest.approx(2.0, rel=1e-6)
    D = cosine_similarity_matrix(np.vstack([same[:5], -same[:5]]))
    assert np.allclose(np.abs(D), 1.0)


def test_data_sets_and_validation():
    assert two_layer_dataset("quadratic4").X[:, 0].tolist() == pytest.approx([-0.5, -1 / 6, 1 / 6, 0.5])
    d = two_layer_dataset("digits", n_samples=30)
    assert d.X.shape == (30, 64) and d.y.max() <= 1 and d.X.min() >= 0
    assert two_layer_dataset("teacher2d").in_dim == 2
    with pytest.raises(ValueError, match="unknown data set"):
        two_layer_dataset("cifar")
    with pytest.raises(ValueError, match="path"):
        two_layer_dataset("mnist")
    with pytest.raises(ValueError):
        train_normalised(Q4, [0.1], [-1.0], [10], [0])
    with pytest.raises(ValueError):
        train_normalised(Q4, [0.1, 0.2], [1.0], [10], [0])
    with pytest.raises(ValueError):
        InitDiagramConfig(widths=(100,))


def test_high_dimensional_digits_run():
    d = two_layer_dataset("digits", n_samples=20)
    runs = train_normalised(d, [300 ** -1.5, 300 ** -0.5], [1.0, 1.0], [300, 300], [0, 0], asi=False, tol=1e-4)
    assert all(r.converged for r in runs)
    assert runs[0].rd_w > runs[1].rd_w  # condensed side moves the input weights more than the linear side
    assert 1 <= runs[0].metrics_final["erank"] <= 65


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_float32_matches_cpu_float64():
    k = [2000 ** -0.5, 2000 ** -1.5]
    cpu = train_normalised(Q4, k, [1.0, 1.0], [2000, 2000], [0, 0])
    gpu = train_normalised(Q4, k, [1.0, 1.0], [2000, 2000], [0, 0], device="cuda")
    assert not torch.backends.cuda.matmul.allow_tf32
    for c, g in zip(cpu, gpu):
        assert g.rd_w == pytest.approx(c.rd_w, rel=0.02)  # float32 vs float64, TF32 off


@pytest.mark.skipif(__import__("numba").config.DISABLE_JIT, reason="the compiled kernel is too slow uncompiled")
def test_compiled_kernel_equals_stacked_torch_trainer():
    # the CPU kernel (one net at a time, fused pass) and the stacked torch tensors (the GPU
    # path) follow the same per-row rules: same step counts, RD to rounding, with rejected
    # steps (large step_factor) and rows of different widths in one torch batch
    from l2phase.empirical import torch_threads

    k, kp, m, s = [0.05, 300 ** -1.25], [1.0, 2.0], [40, 300], [1, 2]
    for sf in (0.5, 3.0):
        a = train_normalised(Q4, k, kp, m, s, kernel="numba", step_factor=sf, max_steps=3000)
        with torch_threads(1):  # as above: small tensors
            b = train_normalised(Q4, k, kp, m, s, kernel="torch", step_factor=sf, max_steps=3000)
        for ra, rb in zip(a, b):
            assert ra.status == rb.status and ra.steps == rb.steps
            assert ra.rd_w == pytest.approx(rb.rd_w, rel=1e-9) and ra.rd_w_max == pytest.approx(rb.rd_w_max, rel=1e-9)
            assert ra.final_loss == pytest.approx(rb.final_loss, rel=1e-6, abs=1e-15)
    with pytest.raises(ValueError, match="kernel"):
        train_normalised(Q4, [0.1], [1.0], [10], [0], kernel="fast")


@pytest.mark.skipif(__import__("numba").config.DISABLE_JIT, reason="the compiled kernel is too slow uncompiled")
def test_compiled_kernel_general_input_dimension_with_rejected_steps():
    # 2-D inputs (D = 3: the kernel's general path, not its D = 2 registers) and a large step
    # factor, so that steps are rejected and undone (the kernel by replay from a checkpoint, the
    # stacked torch trainer from a copy made every step): same step counts, same RD and loss
    from l2phase.empirical import torch_threads

    d = two_layer_dataset("teacher2d")
    k, kp, m, s = [0.05, 300 ** -1.25], [1.0, 2.0], [40, 300], [1, 2]
    a = train_normalised(d, k, kp, m, s, kernel="numba", step_factor=3.0, max_steps=300)
    with torch_threads(1):  # small tensors: a second (spinning) thread only costs on a busy machine
        b = train_normalised(d, k, kp, m, s, kernel="torch", step_factor=3.0, max_steps=300)
    for ra, rb in zip(a, b):
        assert ra.status == rb.status and ra.steps == rb.steps
        assert ra.rd_w == pytest.approx(rb.rd_w, rel=1e-9) and ra.rd_w_max == pytest.approx(rb.rd_w_max, rel=1e-9)
        assert ra.final_loss == pytest.approx(rb.final_loss, rel=1e-9)
