"""VAEs as model specs: objective vs independent references, trained linear VAEs vs the exact
collapse theory, generic curvature vs dense torch.func Hessians, resumable beta sweeps."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.func import hessian

from l2phase import numerics
from l2phase.empirical import (
    VAESpec,
    VAESweepConfig,
    TrainConfig,
    collapse_analysis,
    curvature_exact,
    curvature_matrix_free,
    loss,
    sweep_beta,
    synthetic_autoencoder,
    theory_collapse_thresholds,
)

SPECTRUM = (3.0, 1.5, 0.6, 0.2)


@pytest.fixture(scope="module")
def data():
    return synthetic_autoencoder(80, SPECTRUM, seed=1)


@pytest.fixture(scope="module")
def linear_sweep(data):
    spec = VAESpec(4, 2, eta_dec=0.8)
    # a short Adam phase, then Newton to 1e-10 (critical slowing down near each threshold)
    cfg = VAESweepConfig(train=TrainConfig(optimizer="adam", lr=0.02, max_steps=400, gtol=1e-10, polish="newton"),
                         curvature=None)
    betas = np.geomspace(0.3, 12.0, 16)
    return spec, sweep_beta(spec, data, betas, cfg)


def test_spec_validation():
    with pytest.raises(TypeError, match="latent_dim"):
        VAESpec(4, 1.5)
    with pytest.raises(ValueError, match="latent_dim"):
        VAESpec(4, 0)
    with pytest.raises(ValueError, match="eta_dec"):
        VAESpec(4, 2, eta_dec=-1.0)
    with pytest.raises(ValueError, match="activation"):
        VAESpec(4, 2, hidden=3, activation="gelu")
    with pytest.raises(ValueError, match="hidden"):
        VAESpec(4, 2, hidden=-1)
    with pytest.raises(ValueError, match="betas"):
        sweep_beta(VAESpec(4, 2), synthetic_autoencoder(10, SPECTRUM), [0.5, -1.0])


def test_linear_expectation_equals_monte_carlo(data):
    # the exact E_q ||y - U z||^2 against an average over 200k reparametrised draws
    spec = VAESpec(4, 2, eta_dec=0.7)
    th = spec.init(1, 1.0, seed=3)
    th[0, -2:] = torch.tensor([-0.4, 0.3], dtype=torch.float64)  # log-variances
    X, Y = data.tensors()
    p = spec.unflatten(th[0])
    mu = X @ p["V"].T
    gen = torch.Generator().manual_seed(0)
    S = 200_000 // X.shape[0]
    eps = torch.randn(S, *mu.shape, generator=gen, dtype=torch.float64)
    z = mu + torch.exp(0.5 * p["s"]) * eps
    sq = ((Y - z @ p["U"].T) ** 2).sum(-1)
    mc, se = sq.mean().item(), sq.std().item() / np.sqrt(sq.numel())
    exact = spec.reconstruction_mse(th, X, Y).item()
    assert abs(mc - exact) < 4 * se


@pytest.mark.parametrize("hidden", [0, 5])
def test_kl_matches_torch_distributions(data, hidden):
    spec = VAESpec(4, 3, hidden=hidden)
    th = spec.init(1, 1.2, seed=4)
    th += 0.1 * torch.randn(th.shape, generator=torch.Generator().manual_seed(1), dtype=th.dtype)
    X, _ = data.tensors()
    mu, lv = spec.encode(th[0], X)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * lv))
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).mean(-1)
    assert torch.allclose(spec.kl_per_dim(th[0], X), ref, rtol=1e-12, atol=1e-14)


def test_trained_linear_vae_follows_the_exact_solution(data, linear_sweep):
    # below beta_i: KL_i = 1/2 log(beta_i/beta) and decoder sv_i^2 = zeta_i^2 - beta eta^2; 0 above
    spec, res = linear_sweep
    th = theory_collapse_thresholds(data, spec)
    assert [t.beta_c for t in th] == pytest.approx([s / 0.8**2 for s in SPECTRUM[:2]], rel=1e-10)
    for rec in res.records:
        assert rec["converged"], rec
        b = rec["beta"]
        for j, t in enumerate(th):
            assert rec[f"kl_{j + 1}"] == pytest.approx(max(0.0, 0.5 * np.log(t.beta_c / b)), abs=1e-7)
            assert rec[f"dec_sv_{j + 1}"] ** 2 == pytest.approx(max(0.0, t.zeta**2 - b * 0.8**2), abs=1e-7)
        # active = KL > 0.01 nats, so a mode within 2% below its threshold already counts as inactive
        near = min(abs(b - t.beta_c) / t.beta_c for t in th) < 0.03
        assert near or rec["n_active"] == sum(b < t.beta_c for t in th)


def test_detected_thresholds_match_theory(data, linear_sweep):
    spec, res = linear_sweep
    an = collapse_analysis(res, data, rtol=0.02)
    assert an["confirmed"] is True
    for mode in an["modes"]:
        assert mode["detected"]["kind"] == "kink"  # second order
        assert mode["match"]["relative_error"] < 0.02


def test_threshold_with_three_grid_points_beyond_it_is_resolved(data, linear_sweep):
    # drop the last beta: only 3 grid points remain above beta_1 = 3/0.64; 4-point cubic
    # segments could not split there (notebook 04's quick grid failed this way)
    spec, res = linear_sweep
    top = theory_collapse_thresholds(data, spec)[0].beta_c
    cut = type(res)(res.records[:-1], res.thetas[:-1], res.spec, res.tag, res.knob)
    assert int(np.sum(cut.values > top)) == 3
    an = collapse_analysis(cut, data, rtol=0.02)
    assert an["confirmed"] is True
    assert an["modes"][0]["detected"]["gamma"] == pytest.approx(top, rel=1e-3)


def test_collapse_verdict_rejects_its_negative_controls(data, linear_sweep):
    spec, res = linear_sweep
    an = collapse_analysis(res, data, rtol=0.02)
    # per mode: threshold shifted up and down by 3 x rtol, order swapped
    assert len(an["controls"]) == 3 * len(an["modes"])
    assert all(c["rejected"] for c in an["controls"])
    # too weak a control (a shift inside the tolerance) is not rejected
    from l2phase.empirical.verdicts import ORDER_PARAMETER, judge
    from l2phase.numerics import ChangePoint
    from l2phase.empirical.transition_matching import PredictedTransition

    det = an["modes"][0]["detected"]
    cp = ChangePoint(**det)
    p = PredictedTransition(an["modes"][0]["predicted_beta_c"], 2, 1, an["modes"][0]["predicted_beta_c"])
    weak = judge({ORDER_PARAMETER.name: [cp]}, [p], [ORDER_PARAMETER], rtol=0.02, factor=0.5)
    assert not all(c.rejected for c in weak.controls)


def test_collapse_analysis_fails_on_wrong_theory(data, linear_sweep):
    # the same sweep judged against a decoder noise 10% off must not be confirmed
    spec, res = linear_sweep
    wrong = type(res)(res.records, res.thetas, VAESpec(4, 2, eta_dec=0.88), res.tag, res.knob)
    assert collapse_analysis(wrong, data, rtol=0.02)["confirmed"] is False


@pytest.mark.parametrize("hidden", [0, 3])
def test_generic_curvature_equals_dense_hessian(data, hidden):
    spec = VAESpec(4, 2, hidden=hidden, n_noise=2)
    X, Y = data.tensors()
    th = spec.init(2, 0.9, seed=7)
    beta = np.array([0.7, 2.0])
    res = curvature_exact(spec, th, X, Y, beta)
    for i in range(2):
        f = lambda t: loss(spec, t, X, Y, float(beta[i]))  # noqa: E731
        H = hessian(f)(th[i])
        G = torch.func.grad(f)(th[i])
        assert res.R_L[i] == pytest.approx(numerics.ricci_scalar(G.numpy(), H.numpy()), rel=1e-9)
    mf = curvature_matrix_free(spec, th, X, Y, beta, n_probes=90, seed=[1, 2])
    z = np.abs(mf.R_L - res.R_L) / np.maximum(mf.R_L_se, 1e-12)
    assert np.all((z < 4) | (np.abs(mf.R_L - res.R_L) < 1e-8 * np.abs(res.R_L)))


def test_beta_sweep_resumes_identically(data, tmp_path):
    spec = VAESpec(4, 2, eta_dec=1.0)
    cfg = VAESweepConfig(train=TrainConfig(optimizer="adam", lr=0.02, max_steps=100, gtol=1e-10, polish="newton"),
                         curvature=None, chunk_size=3)
    betas = np.geomspace(0.5, 5.0, 6)
    full = sweep_beta(spec, data, betas, cfg, out_dir=tmp_path / "a")
    files = sorted((tmp_path / "a" / "points" / "vae").glob("*.json"))
    assert len(files) == len(betas)
    files[2].unlink()
    files[5].write_text("{ truncated")  # a file cut off by a kill is redone
    again = sweep_beta(spec, data, betas, cfg, out_dir=tmp_path / "a", resume=True)
    assert np.array_equal(full.thetas, again.thetas)
    assert [json.dumps(r, sort_keys=True) for r in full.records] == [json.dumps(r, sort_keys=True) for r in again.records]
