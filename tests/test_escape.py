"""Escape statistics, minimum-energy paths and noisy dynamics of full deep linear nets.

Held against independent references: synthetic exponential data with censoring (known
tau), autograd (analytic gradient), the exact reduced barrier (string method in the full
network), the torch integrator against the numba one (same dynamics, independent code),
and the Kramers-Langer rate against measured escape times.
"""

import json
import os

import numpy as np
import pytest
import torch

from l2phase.empirical.experiments.escape import (
    EscapeConfig,
    escape_landscape,
    kramers_langer,
    minimum_energy_path_check,
)
from l2phase.empirical.langevin import langevin_escape
from l2phase.numerics.deep_linear_escape import deep_linear_first_passage
from l2phase.numerics.escape_statistics import arrhenius_fit, censored_exponential_mle, kaplan_meier
from l2phase.theory import InputError
from l2phase.theory.barriers import scalar_barrier

# pure-Python kernels (NUMBA_DISABLE_JIT=1) are ~1000x slower: the statistical runs are skipped
# there; test_numba_kernel_equals_torch_gradient_flow checks the kernel exactly in both modes
NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
needs_jit = pytest.mark.skipif(NOJIT, reason="millions of kernel steps: too slow without numba JIT")


# ------------------------------------------------------------------ estimator on synthetic data
def _censored_sample(rng, tau, n, budget):
    t = rng.exponential(tau, n)
    cens = t > budget
    return np.minimum(t, budget), cens


def test_censored_mle_recovers_tau_and_naive_means_do_not():
    rng = np.random.default_rng(1)
    tau, budget = 3.0, 4.0  # about 26% censored
    t, cens = _censored_sample(rng, tau, 4000, budget)
    est = censored_exponential_mle(t, cens)
    assert est.n_censored == cens.sum() > 500
    z = np.log(est.tau / tau) / est.log_tau_se
    assert abs(z) < 3
    # the two naive estimates are far off (this is why censoring must be modelled)
    assert t[~cens].mean() < tau * np.exp(-6 * est.log_tau_se)
    assert t.mean() < tau * np.exp(-6 * est.log_tau_se)


def test_censored_mle_error_bar_is_calibrated():
    rng = np.random.default_rng(2)
    zs = []
    for _ in range(300):
        t, cens = _censored_sample(rng, 2.0, 60, 3.0)
        est = censored_exponential_mle(t, cens)
        zs.append(np.log(est.tau / 2.0) / est.log_tau_se)
    zs = np.array(zs)
    assert abs(zs.mean()) < 0.25 and 0.8 < zs.std() < 1.25


def test_kaplan_meier_follows_the_exponential_survival():
    rng = np.random.default_rng(3)
    t, cens = _censored_sample(rng, 1.5, 3000, 2.0)
    tt, S = kaplan_meier(t, cens)
    assert np.all(np.diff(S) <= 0) and tt.max() <= 2.0
    # Greenwood se <= sqrt(S(1-S)/(n S)) ~ 0.012 here; 0.04 is > 3 se
    assert np.max(np.abs(S - np.exp(-tt / 1.5))) < 0.04
    assert censored_exponential_mle([1.0, 1.0], [True, True]).tau == np.inf
    with pytest.raises(InputError):
        censored_exponential_mle([1.0, -1.0])


@pytest.mark.parametrize("kappa", [0.0, 1.0])
def test_arrhenius_fit_recovers_planted_barrier(kappa):
    rng = np.random.default_rng(4)
    barrier, T = 0.2, np.linspace(0.02, 0.05, 6)
    se = np.full(T.size, 0.1)
    tau = 3.0 * T**kappa * np.exp(barrier / T) * np.exp(se * rng.standard_normal(T.size))
    fit = arrhenius_fit(T, tau, se, kappa=kappa)
    assert abs(fit.z_score(barrier)) < 3
    assert fit.barrier_se < 0.05 * barrier
    assert abs(fit.z_score(barrier * 1.3)) > 3  # a wrong barrier is rejected
    if kappa:
        # ignoring the prefactor's power of T biases the barrier by about kappa * mean(T)
        naive = arrhenius_fit(T, tau, se, kappa=0.0)
        assert abs(naive.z_score(barrier)) > 3
    with pytest.raises(InputError):
        arrhenius_fit(T[:2], tau[:2], se[:2])


# ------------------------------------------------------------------ landscape and string method
def test_linear_landscape_gradient_and_balanced_states():
    ls = escape_landscape(2, 1.0, 1.0, 0.3, width=3, in_dim=3, out_dim=2, second_mode=0.5, seed=0)
    th = torch.randn(4, ls.spec.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    th.requires_grad_(True)
    (g_auto,) = torch.autograd.grad(ls.loss(th).sum(), th)
    L, g = ls.loss_and_grad(th.detach())
    assert torch.allclose(g, g_auto, atol=1e-12) and torch.allclose(L, ls.loss(th.detach()))
    sb = scalar_barrier(0.3, 2, ey2=0.0)
    tm = float(sb.t_learned[0])
    plain, rotated = ls.balanced_state([tm]), ls.balanced_state([tm], rotate_seed=5)
    assert not torch.allclose(plain, rotated)
    assert float(ls.mode_projection(rotated)) == pytest.approx(tm, rel=1e-12)
    # loss of the learned state = E||y||^2 + reduced-loss gain of mode 1 (exact theory)
    assert float(ls.loss(rotated)) == pytest.approx(ls.ey2 + float(sb.loss_learned[0]), rel=1e-12)
    assert float(ls.loss_and_grad(rotated)[1].norm()) < 1e-12


def test_string_method_finds_the_exact_barrier_in_a_wide_net():
    m = minimum_energy_path_check(2, 1.0, 1.0, 0.3, width=2, in_dim=2, out_dim=2, n_images=9, n_steps=3000, seed=3)
    assert m["converged"] and m["saddle_grad_norm"] < 1e-8
    assert m["rel_diff_from_trivial"] < 1e-6 and m["rel_diff_from_learned"] < 1e-6
    assert m["saddle_negative_eigenvalues"] == 1
    assert m["saddle_zero_eigenvalues"] == m["zero_modes_expected"] == 2


# ------------------------------------------------------------------ dynamics
def _chain_setup(start, x):
    gamma = 0.3
    ls = escape_landscape(2, 1.0, 1.0, gamma, width=1)
    sb = scalar_barrier(gamma, 2, ey2=0.0)
    ts, tm = float(sb.t_saddle[0]), float(sb.t_learned[0])
    T = float(sb.barrier(start)[0]) / x
    return ls, sb, ts, tm, T


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    yield
    torch.set_num_threads(n)


def test_numba_kernel_equals_torch_gradient_flow(one_thread):
    # at T -> 0 both integrators are gradient descent: from just past the saddle the step at
    # which the learning threshold is crossed must be the same (same scheme, independent code)
    ls = escape_landscape(2, 1.0, 1.0, 0.3, width=2, in_dim=3, out_dim=2, second_mode=0.4, seed=1)
    sb = scalar_barrier(0.3, 2, ey2=0.0)
    ts, tm = float(sb.t_saddle[0]), float(sb.t_learned[0])
    th0 = ls.balanced_state([1.05 * ts], rotate_seed=2)[None].repeat(2, 1)
    th0[1] += 1e-3 * torch.randn(ls.spec.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    thr = 0.9 * tm
    fp = langevin_escape(ls, th0, np.full(2, 1e-300), lambda th: ls.mode_projection(th) > thr, dt=0.05,
                         max_steps=4000, check_every=1)
    U, _, V = ls.modes()
    t_nb, c_nb = deep_linear_first_passage(th0.numpy(), np.full(2, 1e-300), [3, 2, 2, 2], ls.A.numpy(),
                                           ls.beta.numpy(), 0.3, U[:, 0].numpy(), V[:, 0].numpy(), exit_above=thr,
                                           dt=0.05, max_steps=4000)
    assert not c_nb.any() and not fp.censored.any()
    assert np.allclose(t_nb, fp.times)


@needs_jit
def test_numba_and_torch_langevin_agree(one_thread):
    ls, sb, ts, tm, T = _chain_setup("trivial", 1.5)
    R, dt, thr = 80, 0.1, 0.5 * (ts + tm)
    th0 = torch.zeros(R, ls.spec.n_params, dtype=torch.float64)
    fp = langevin_escape(ls, th0, np.full(R, T), lambda th: ls.mode_projection(th) > thr, dt=dt, max_steps=1500,
                         check_every=1, seed=1)
    t_nb, c_nb = deep_linear_first_passage(th0.numpy(), np.full(R, T), [2, 1, 1, 2], ls.A.numpy(), ls.beta.numpy(),
                                           0.3, [1.0, 0.0], [1.0, 0.0], exit_above=thr, dt=dt, max_steps=1500, seed=1)
    a, b = censored_exponential_mle(fp.times, fp.censored), censored_exponential_mle(t_nb, c_nb)
    assert a.n_events > 60 and b.n_events > 60
    assert abs(np.log(a.tau / b.tau)) < 3 * np.hypot(a.log_tau_se, b.log_tau_se)


@needs_jit
@pytest.mark.parametrize("start,x,dt,bounds", [("trivial", 4.0, 0.1, (0.8, 1.5)), ("learned", 4.0, 0.04, (0.5, 1.3))])
def test_kramers_langer_predicts_langevin_escape_time(start, x, dt, bounds):
    ls, sb, ts, tm, T = _chain_setup(start, x)
    th_0, th_m, th_s = torch.zeros(ls.spec.n_params, dtype=torch.float64), ls.balanced_state([tm]), ls.balanced_state([ts])
    th_start, b_start = (th_0, 0.0) if start == "trivial" else (th_m, tm ** (1 / 3))
    kl = kramers_langer(ls, th_start, th_s, b_start, ts ** (1 / 3))
    assert kl.kappa == 0 and kl.zero_modes_saddle == 0
    assert kl.barrier == pytest.approx(float(sb.barrier(start)[0]), rel=1e-10)
    R = 100
    exit_kw = dict(exit_above=0.5 * (ts + tm)) if start == "trivial" else dict(exit_below=0.5 * ts)
    t, c = deep_linear_first_passage(np.tile(th_start.numpy(), (R, 1)), np.full(R, T), [2, 1, 1, 2], ls.A.numpy(),
                                     ls.beta.numpy(), 0.3, [1.0, 0.0], [1.0, 0.0], dt=dt, max_steps=40_000, seed=2,
                                     **exit_kw)
    est = censored_exponential_mle(t, c)
    # Kramers-Langer is asymptotic in T / barrier (here 1/4): the anharmonic learned well (softer
    # towards the saddle) escapes faster; the 2^D sign copies of the saddle enter the trivial rate
    ratio = est.tau / float(kl.mean_time(T))
    assert bounds[0] < ratio < bounds[1], ratio


def test_escape_config_validates():
    with pytest.raises(InputError):
        EscapeConfig(depth=1)
    with pytest.raises(InputError):
        EscapeConfig(start="middle")
    with pytest.raises(InputError):
        EscapeConfig(inverse_temperatures=(1.0, 2.0))


@needs_jit
def test_cli_escape_quick_json(tmp_path, monkeypatch, capsys):
    from l2phase import cli
    from l2phase.empirical.experiments import escape

    tiny = EscapeConfig(inverse_temperatures=(2.0, 3.0, 4.0), replicas=24, max_steps=8000)
    monkeypatch.setattr(escape.EscapeConfig, "quick", classmethod(lambda cls, **kw: tiny.__class__(
        **{**tiny.__dict__, **{k: v for k, v in kw.items() if k != "replicas"}})))
    monkeypatch.setattr(escape, "minimum_energy_path_check",
                        lambda *a, **kw: minimum_energy_path_check(*a, **{**kw, "n_images": 7, "n_steps": 1500,
                                                                           "width": 2, "in_dim": 2}))
    rc = cli.main(["escape", "--quick", "--json", "--out", str(tmp_path), "--gamma", "0.3"])
    res = json.loads(capsys.readouterr().out)
    for key in ("barrier_exact", "barrier_fit", "barrier_fit_se", "decades", "rel_error"):
        assert key in res and np.isfinite(res[key])
    assert res["barrier_exact"] == pytest.approx(float(scalar_barrier(0.3, 2).barrier_from_trivial[0]))
    assert rc == (0 if res["agree"] else 1)
    for f in ("report.md", "results.json", "arrhenius.png", "survival.png"):
        assert (tmp_path / f).is_file()
    assert cli.main(["escape", "--depth", "1", "--out", str(tmp_path)]) == 2


# ------------------------------------------------------------------ SGD noise, orbits, grokking task
def test_sgd_noise_temperature_matches_sampled_minibatch_gradients():
    from l2phase.empirical.data import synthetic_teacher
    from l2phase.empirical.langevin import sgd_noise_temperature
    from l2phase.empirical.linear_landscape import LinearLandscape

    ds = synthetic_teacher(n_samples=16, in_dim=2, singular_values=(1.0, 0.0), rotate=False, exact=True, seed=0)
    X, Y = torch.as_tensor(ds.X), torch.as_tensor(ds.Y)
    ls = escape_landscape(2, 1.0, 1.0, 0.43, width=1)
    th = ls.balanced_state([0.5])
    e = torch.ones(ls.spec.n_params, dtype=torch.float64)
    lr, B = 0.1, 4
    T_eff = sgd_noise_temperature(ls.spec, X, Y, 0.43, th, e, lr=lr, batch_size=B)
    # Monte Carlo over minibatches drawn with replacement (independent of the covariance formula)
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 16, (20000, B), generator=g)
    Xb, Yb = X[idx], Y[idx]
    lsb = LinearLandscape(ls.spec, Xb.transpose(1, 2) @ Xb / B, Xb.transpose(1, 2) @ Yb / B, 0.0, 0.43)
    proj = lsb.loss_and_grad(th.expand(20000, -1))[1] @ (e / e.norm())
    assert T_eff == pytest.approx(lr * float(proj.var()) / 2, rel=0.05)
    # at the origin every per-sample gradient vanishes: SGD cannot leave the trivial state
    assert sgd_noise_temperature(ls.spec, X, Y, 0.43, torch.zeros_like(th), e, lr=lr, batch_size=B) == 0.0


def test_orbit_volume_of_rank_one_states_scales_as_b_to_the_zero_modes():
    ls = escape_landscape(2, 1.0, 1.0, 0.3, width=2)
    v1, v2 = (ls.orbit_log_volume(ls.balanced_state([b**3]), 4) for b in (0.5, 0.9))
    assert v2 - v1 == pytest.approx(ls.rotation_zero_modes() * np.log(0.9 / 0.5), rel=1e-10)


def test_grokking_task_needs_the_weak_mode_for_the_test_set():
    from l2phase.empirical.experiments.grokking import _accuracy, grokking_task
    from l2phase.empirical.linear_landscape import LinearLandscape
    from l2phase.empirical.models import NetSpec

    Xtr, Ytr, Xte, Yte = grokking_task(rho=0.1)
    A, beta = Xtr.T @ Xtr / len(Xtr), Xtr.T @ Ytr / len(Xtr)
    assert np.allclose(A, np.diag(np.diag(A))) and np.allclose(beta, np.diag(np.diag(beta)))
    assert A[1, 1] < 0.2 * A[0, 0]  # the sub-sampled mode is weak
    ls = LinearLandscape(NetSpec(2, 2, 2, 2), torch.as_tensor(A), torch.as_tensor(beta), 1.0, 0.05)
    one, both = ls.balanced_state([1.0, 0.0])[None], ls.balanced_state([1.0, 1.0])[None]
    tr, te = (torch.as_tensor(v) for v in (Xtr, Ytr)), (torch.as_tensor(v) for v in (Xte, Yte))
    tr, te = list(tr), list(te)
    assert float(_accuracy(ls, one, *tr)) > 0.85 and float(_accuracy(ls, one, *te)) < 0.5
    assert float(_accuracy(ls, both, *tr)) == 1.0 and float(_accuracy(ls, both, *te)) == 1.0


def test_cli_escape_stats_file_checks_the_reduction(tmp_path):
    from l2phase import cli

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"A": [[1.0, 0.5], [0.5, 1.0]], "beta": [[1.0], [0.0]], "ey2": 1.0}))
    assert cli.main(["escape", "--stats", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert cli.main(["escape", "--stats", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "o")]) == 2


# ------------------------------------------------------------------ design, verdict, resume, --data
def test_escape_design_spends_the_budget_slope_optimally():
    from scipy.optimize import minimize_scalar

    from l2phase.empirical.experiments.escape import escape_design

    cfg = EscapeConfig(steps=2_000_000, budget_factor=2.0, min_replicas=2)
    tau, dt = np.array([50.0, 800.0]), 0.1
    (R1, m1), (R2, m2) = escape_design(cfg, tau, dt)
    frac = 1 - np.exp(-2.0)
    # expected steps: each replica runs min(t, budget), mean tau (1 - e^-budget/tau)
    cost = sum(R * t * (1 - np.exp(-m * dt / t)) / dt for R, m, t in ((R1, m1, tau[0]), (R2, m2, tau[1])))
    assert cost == pytest.approx(cfg.steps, rel=0.01)
    # brute force: the escapes e1 that minimise var(slope) ~ 1/e1 + 1/e2 at e1 tau1 + e2 tau2 = C
    C = cfg.steps * dt
    best = minimize_scalar(lambda e1: 1 / e1 + tau[1] / (C - e1 * tau[0]), bounds=(1, C / tau[0] - 1),
                           method="bounded").x
    assert R1 * frac == pytest.approx(best, rel=0.01)
    assert m1 * dt == pytest.approx(2.0 * tau[0], rel=1e-3)
    # fixed replicas: the old equal design
    assert escape_design(EscapeConfig(replicas=7, max_steps=99), tau, dt) == [(7, 99), (7, 99)]


def _drifting_arrhenius_sample(rng, barrier, x, n, tau0=3.0, drift=1.0):
    """Censored exponential samples with tau = tau0 e^(barrier/T) (1 + drift T/barrier): a prefactor
    that drifts with T as a real escape's does; returns T, tau estimates, their se."""
    T = barrier / x
    taus, ses = [], []
    for xi in x:
        true_tau = tau0 * np.exp(xi) * (1 + drift / xi)
        t, cens = _censored_sample(rng, true_tau, n, 2 * true_tau)
        est = censored_exponential_mle(t, cens)
        taus.append(est.tau)
        ses.append(est.log_tau_se)
    return T, np.array(taus), np.array(ses)


def test_fixed_prefactor_fit_removes_the_finite_temperature_drift_that_biases_the_plain_line():
    rng = np.random.default_rng(11)
    barrier, x = 0.05, np.array([4.0, 5.25, 6.5, 7.75, 9.0])
    T, taus, ses = _drifting_arrhenius_sample(rng, barrier, x, 40_000)
    plain = arrhenius_fit(T, taus, ses)
    fixed = arrhenius_fit(T, taus, ses, log_tau0=np.log(3.0))
    # the straight line absorbs the drift into its slope: ~ drift / (x_lo x_hi) ~ 2.8% low
    assert plain.z_score(barrier) < -4 and plain.barrier < 0.985 * barrier
    assert abs(fixed.z_score(barrier)) < 3 and fixed.barrier_se < 0.5 * plain.barrier_se
    assert fixed.finite_t == pytest.approx(1.0 / barrier, rel=0.3)  # log(1 + T/barrier) ~ T/barrier
    assert fixed.log_tau0_se == 0.0 and plain.finite_t == 0.0


def test_arrhenius_verdict_accepts_the_planted_barrier_and_rejects_one_off_by_ten_percent():
    from l2phase.empirical.experiments.escape import arrhenius_verdict

    rng = np.random.default_rng(7)
    barrier, x = 0.05, np.array([4.0, 5.25, 6.5, 7.75, 9.0])
    T, taus, ses = _drifting_arrhenius_sample(rng, barrier, x, 3000)
    fit = arrhenius_fit(T, taus, ses, log_tau0=np.log(3.0))
    checks, controls = arrhenius_verdict(fit, barrier)
    assert all(c["passed"] for c in checks), checks
    for wrong in (1.1 * barrier, 0.9 * barrier):
        checks, _ = arrhenius_verdict(fit, wrong)
        assert not all(c["passed"] for c in checks)
        assert not checks[0]["passed"]  # the 5% check itself fails
    # a wrong prefactor (the stationary law's normalisation off by e) biases the fit: rejected too
    checks, _ = arrhenius_verdict(arrhenius_fit(T, taus, ses, log_tau0=np.log(3.0) + 1.0), barrier)
    assert not all(c["passed"] for c in checks)
    # too narrow a temperature range: the decades check fails even with the right barrier
    checks, _ = arrhenius_verdict(arrhenius_fit(T[:3], taus[:3], ses[:3], log_tau0=np.log(3.0)), barrier)
    assert not checks[1]["passed"]


@needs_jit
def test_cli_escape_data_killed_and_resumed_gives_the_same_results(tmp_path):
    from resume_helpers import assert_same_outputs, resume, run_fresh, run_killed

    argv = ["escape", "--data", "digits", "--components", "4", "--whiten", "--steps", "2000000", "--json",
            "--no-progress"]
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    rc = run_fresh([*argv, "--out", str(ref)])
    res = json.loads((ref / "results.json").read_text())
    # the top mode of the whitened digits statistics, computed here independently
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data / 16.0
    Xc = X - X.mean(0)
    _, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    Z = Xc @ Vt[:4].T / (s[:4] / np.sqrt(len(X)))  # unit variance per component
    Y = np.eye(10)[d.target]
    Y = Y - Y.mean(0)
    beta = Z.T @ Y / len(X)
    assert res["stats"]["c"] == pytest.approx(np.linalg.svd(beta, compute_uv=False)[0], rel=1e-6)
    assert res["stats"]["a"] == pytest.approx(1.0, rel=1e-9)  # whitened: A = I
    assert res["barrier_exact"] == pytest.approx(
        float(scalar_barrier(res["gamma"], 2, a=1.0, c=res["stats"]["c"], ey2=0.0).barrier_from_trivial[0]))
    left = run_killed([*argv, "--out", str(killed)], killed, 3)
    assert 3 <= left < 1 + 5  # the string method and 2..4 of the 5 temperatures: killed part way
    assert resume([*argv, "--out", str(killed)]) == rc
    assert_same_outputs(ref, killed)


def test_cli_escape_data_refuses_when_the_reduction_does_not_apply(tmp_path, capsys):
    from l2phase import cli

    # raw digits: A is not diagonal in the top direction of E[x y^T]
    assert cli.main(["escape", "--data", "digits", "--out", str(tmp_path / "o")]) == 2
    assert "not an eigenvector of A" in capsys.readouterr().err
    assert cli.main(["escape", "--data", "digits", "--whiten", "--out", str(tmp_path / "o")]) == 2
    assert cli.main(["escape", "--data", "digits", "--stats", "x.json", "--out", str(tmp_path / "o")]) == 2
