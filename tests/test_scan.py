"""lp.scan: a user's nn.Module swept across gamma gives the exact transitions and the same
records as the built-in NetSpec model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import l2phase as lp
from l2phase import theory
from l2phase.empirical import NetSpec, TrainConfig, synthetic_teacher, train_batched
from l2phase.empirical.scan import ModuleSpec
from l2phase.theory.checks import InputError


@pytest.fixture(scope="module")
def data():
    return synthetic_teacher(40, 3, (1.0, 0.4), noise=0.0, seed=2)


def test_deep_linear_sequential_reproduces_exact_transitions(data, tmp_path):
    exact = [t.gamma_c for t in theory.transitions(*data.stats(), 1)]  # D = 1: soft threshold per mode
    net = lambda: torch.nn.Sequential(torch.nn.Linear(3, 3, bias=False), torch.nn.Linear(3, 2, bias=False))
    res = lp.scan(net, data.X, data.Y, np.geomspace(0.15, 2.0, 28), train=TrainConfig(max_steps=800),
                  out_dir=tmp_path)
    assert res.penalized == ["0.weight", "1.weight"]
    assert "no biases" in res.config["penalty_note"]
    cps = res.change_points["param_norm_sq"]
    assert [c.kind for c in cps] == ["kink"] * len(exact)  # second order (D = 1)
    for c, gc in zip(cps, sorted(exact)):
        # grid spacing ~10 %: the kink is located to a few % and its interval holds gamma_c
        assert abs(c.gamma - gc) < 0.03 * gc and c.low - 0.01 * gc <= gc <= c.high + 0.01 * gc
    # above the last transition the net is at the origin: ||theta||^2 = 0, L = E[y^2]
    top = res.records[-1]
    assert top["param_norm_sq"] < 1e-8 and top["loss"] == pytest.approx(data.stats()[2], rel=1e-6)
    assert (tmp_path / "scan.csv").read_text().splitlines()[0].startswith("gamma,loss,error")
    assert (tmp_path / "summary.json").exists() and (tmp_path / "runs.csv").exists()


def test_relu_mlp_matches_builtin_netspec(data):
    spec = NetSpec(3, 2, 1, 4, activation="relu", bias=True)
    theta0 = spec.init(2, seed=5)
    gammas = np.array([0.05, 0.2, 0.5])
    cfg = TrainConfig(max_steps=400)
    net = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    res = lp.scan(net, data.X, data.Y, gammas, n_starts=2, init=theta0, train=cfg, detect=False)
    # the built-in model, same starts at every gamma, same trainer
    X, Y = torch.as_tensor(data.X), torch.as_tensor(data.Y)
    ref = train_batched(spec, theta0.repeat(3, 1), X, Y, np.repeat(gammas, 2), cfg)
    for i, r in enumerate(res.records):
        b = 2 * i + r["best_start"]
        assert ref.loss[b] <= min(ref.loss[2 * i], ref.loss[2 * i + 1]) + 1e-12
        for k in ("loss", "error", "param_norm_sq"):
            assert r[k] == pytest.approx(float(getattr(ref, k)[b]), rel=1e-9, abs=1e-12)
    # the flat order of an nn.Sequential of nn.Linear is NetSpec's, and the penalty skips biases
    ms = ModuleSpec(net(), 3, 2)
    assert torch.equal(ms.weight_mask(), spec.weight_mask())


def test_cross_entropy_labels_and_errors(data):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    labels = (X[:, 0] > 0).astype(int)
    res = lp.scan(lambda: torch.nn.Linear(2, 2), X, labels, [0.01, 0.1], loss="cross_entropy",
                  train=TrainConfig(max_steps=200, polish=None), curvature=None, detect=False)
    assert res.records[0]["accuracy"] >= res.records[1]["accuracy"] - 1e-12 and res.records[0]["accuracy"] > 0.8
    with pytest.raises(InputError, match="penalize"):
        lp.scan(lambda: torch.nn.Linear(2, 1), X, X[:, :1], [0.1], penalize=["nope"])
    with pytest.raises(InputError, match="nn.Module"):
        lp.scan(lambda: 3, X, X[:, :1], [0.1])


def test_matrix_free_curvature_within_error_bars_and_seeded(data):
    net = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    cfg = TrainConfig(max_steps=200, polish=None)
    g = [0.05, 0.3]
    a = lp.scan(net, data.X, data.Y, g, n_starts=2, seed=3, train=cfg, curvature="exact", detect=False)
    again = lp.scan(net, data.X, data.Y, g, n_starts=2, seed=3, train=cfg, curvature="exact", detect=False)
    assert json.dumps(a.records) == json.dumps(again.records)  # seeded starts: bit-identical (NaN-safe)
    b = lp.scan(net, data.X, data.Y, g, n_starts=2, seed=3, train=cfg, curvature="matrix_free", n_probes=40,
                detect=False)
    for ra, rb in zip(a.records, b.records):
        assert ra["loss"] == rb["loss"] and ra["R_L_se"] == 0.0 and rb["R_L_se"] > 0
        for k in ("R_L", "R_E"):  # Hutch++ estimate vs the dense Hessian, within 4 standard errors
            assert abs(rb[k] - ra[k]) <= 4 * rb[f"{k}_se"] + 1e-9 * abs(ra[k])


class _HandMLP(torch.nn.Module):
    """3 -> 4 -> 2 tanh MLP written with matmul (nothing for a fast path to recognise)."""

    def __init__(self):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(4, 3))
        self.b1 = torch.nn.Parameter(torch.randn(4))
        self.w2 = torch.nn.Parameter(torch.randn(2, 4))

    def forward(self, x):
        return torch.tanh(x @ self.w1.T + self.b1) @ self.w2.T


def test_blocked_hessian_equals_double_backward_loop(data):
    """The vmapped blocks of Hessian rows (the default) give the loop's Hessians: module error,
    NetSpec error, and the exact 2M penalty of a ModuleSpec against its double backward."""
    from l2phase.empirical import hessian_curvature as hc

    X, Y = torch.as_tensor(data.X), torch.as_tensor(data.Y)
    torch.manual_seed(0)
    ms = ModuleSpec(_HandMLP().double(), 3, 2)
    spec = NetSpec(3, 2, 1, 4, activation="relu", bias=True)
    cases = [(lambda t: ms.error(t, X, Y), torch.randn(7, ms.n_params, dtype=torch.float64)),
             (lambda t: hc.error(spec, t, X, Y), spec.init(7, scale=1.0, seed=1))]
    for fn, theta in cases:
        F0, G0, H0 = hc._grad_hessian(fn, theta, rows="loop")
        for chunk in (1, 5, theta.shape[1]):
            F1, G1, H1 = hc._hessian_rows_vmap(fn, theta, chunk)
            assert torch.equal(F1, F0) and torch.allclose(G1, G0, rtol=0, atol=1e-13)
            assert torch.allclose(H1, H0, rtol=0, atol=1e-10 * float(H0.abs().max()))
        F2, G2, H2 = hc._grad_hessian(fn, theta)  # "auto"
        assert torch.allclose(H2, H0, rtol=0, atol=1e-10 * float(H0.abs().max()))
        assert torch.allclose(H2, H2.transpose(1, 2), rtol=0, atol=1e-12 * float(H0.abs().max()))
    theta = cases[0][1]
    P0, GP0, HP0 = hc._grad_hessian(lambda t: ms.penalty(t), theta, rows="loop")
    P1, GP1, HP1 = hc.penalty_grad_hessian(ms, theta, X)  # ModuleSpec.l2_penalty: exact 2 M
    assert torch.equal(P1, P0) and torch.equal(GP1, GP0) and torch.equal(HP1, HP0)
    assert torch.equal(torch.diagonal(HP1, dim1=1, dim2=2)[0], 2 * ms.weight_mask())


def test_blocked_hessian_falls_back_to_the_loop():
    """A function torch.func cannot transform (an old-style autograd.Function, as user code may
    hold) still gets its Hessian, by the double-backward loop."""
    from l2phase.empirical import hessian_curvature as hc

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x**2 * g

    def fn(t):
        return Cube.apply(t).sum(-1)

    theta = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with pytest.raises((RuntimeError, NotImplementedError, ValueError, TypeError)):
        hc._grad_hessian(fn, theta, rows="vmap")
    F, G, H = hc._grad_hessian(fn, theta)
    assert torch.allclose(H, torch.diag_embed(6 * theta), rtol=0, atol=1e-13)


def test_per_gamma_starts_match_train_batched(data):
    """init of shape (len(gammas), n_starts, P): each gamma starts from its own rows, the same
    records as train_batched from those starts, in any work-unit size."""
    spec = NetSpec(3, 2, 1, 4, activation="tanh", bias=True)
    gammas = np.array([0.02, 0.1, 0.4])
    starts = spec.init(6, scale=1.0, seed=4).reshape(3, 2, spec.n_params)
    cfg = TrainConfig(max_steps=40, polish=None)  # short: where a run ends depends on its start
    net = lambda: torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    X, Y = torch.as_tensor(data.X), torch.as_tensor(data.Y)
    ref = train_batched(spec, starts.reshape(6, -1), X, Y, np.repeat(gammas, 2), cfg)
    for chunk in (1, 2, 3):
        res = lp.scan(net, data.X, data.Y, gammas, n_starts=2, init=starts, train=cfg, chunk_size=chunk,
                      curvature=None, detect=False)
        assert [(r["gamma"], r["start"]) for r in res.all_runs] == [(g, s) for g in gammas for s in (0, 1)]
        for b, run in enumerate(res.all_runs):
            assert run["loss"] == pytest.approx(float(ref.loss[b]), rel=1e-9, abs=1e-12)
    with pytest.raises(InputError, match="init must be"):
        lp.scan(net, data.X, data.Y, gammas, n_starts=2, init=starts[:2], detect=False)
