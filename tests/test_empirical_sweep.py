"""Sweeps: resume after a simulated kill; curvature change points vs the exact gamma_c;
hysteresis vs [gamma_c, gamma_s]."""

from __future__ import annotations

import json

import numpy as np
import pytest

from l2phase.empirical import (
    NetSpec,
    SweepConfig,
    TrainConfig,
    detect_curve_change_points,
    hysteresis_loop,
    match_transitions,
    predicted_transitions,
    refine_sweep,
    sweep_gamma,
    synthetic_teacher,
)

FAST = TrainConfig(lr=0.02, max_steps=300)


@pytest.fixture(scope="module")
def data():
    return synthetic_teacher(60, 3, (1.0, 0.4), noise=0.1, seed=2)


class _Kill(Exception):
    pass


def test_resume_after_kill_equals_uninterrupted(tmp_path, data):
    spec = NetSpec(3, 2, 2, 3)
    g = np.linspace(0.03, 0.6, 10)
    cfg = SweepConfig(train=FAST, chunk_size=3, seed=4)
    full = sweep_gamma(spec, data, g, cfg, out_dir=tmp_path / "a", tag="s")
    calls = []

    def kill_after_two_chunks(n):
        calls.append(n)
        if len(calls) == 2:
            raise _Kill

    with pytest.raises(_Kill):
        sweep_gamma(spec, data, g, cfg, out_dir=tmp_path / "b", tag="s", progress=kill_after_two_chunks)
    files = sorted((tmp_path / "b" / "points" / "s").glob("*.json"))
    assert len(files) == 6  # two chunks of 3 written, nothing half-written
    assert not list((tmp_path / "b" / "points" / "s").glob(".*"))  # no temp files left behind
    for f in files:
        json.loads(f.read_text())
    seen = []
    resumed = sweep_gamma(spec, data, g, cfg, out_dir=tmp_path / "b", tag="s", resume=True, progress=seen.append)
    assert sum(seen) == 4  # only the 4 missing points were trained
    # identical records (NaN-aware comparison through their JSON text)
    assert json.dumps(resumed.records) == json.dumps(full.records)
    assert np.array_equal(resumed.thetas, full.thetas)


@pytest.mark.parametrize("depth", [1, 2])
def test_curvature_change_point_matches_gamma_c_and_order(data, depth):
    spec = NetSpec(3, 2, depth, 3)
    preds = predicted_transitions(data, depth)
    hi = 1.4 * max(p.spinodal for p in preds)
    cfg = SweepConfig(train=FAST)
    sw = sweep_gamma(spec, data, np.linspace(0.2 * preds[0].gamma_c, hi, 20), cfg)
    sw, cps, info = refine_sweep(spec, data, sw, cfg, signal="R_L", rtol=1e-3, n_new=6, max_rounds=3)
    matches, extra = match_transitions(preds, cps, rtol=1e-2)
    assert not extra, extra
    for m in matches:
        # location: theory's gamma_c inside the detection interval (+1% of gamma_c)
        assert m.location_ok, m.to_dict()
        # kind: first order (D=2) <-> jump, second order (D=1) <-> kink
        assert m.detected.kind == ("kink" if depth == 1 else "jump")
        assert m.relative_error < 2e-3


def test_hysteresis_window(data):
    spec = NetSpec(3, 2, 2, 3)
    preds = predicted_transitions(data, 2)
    g = np.linspace(0.03, 0.6, 16)
    h = hysteresis_loop(spec, data, g, bisect_rtol=1e-4)
    for p in preds:
        lo, hi = h.drops[p.mode]
        # the up branch holds the metastable learning state until the spinodal
        # (bracket bisected to 1e-4 relative; 2e-4 allows for the slow convergence at the fold)
        assert lo <= p.spinodal * (1 + 2e-4) and hi >= p.spinodal * (1 - 2e-4)
        assert p.spinodal > p.gamma_c
    assert all(r is None for r in h.rises)  # the origin is a local minimum for every gamma > 0
    # above the larger spinodal both branches sit at the origin
    assert np.allclose(h.column("up", "param_norm_sq")[g > 0.5], 0.0, atol=1e-12)


def test_hysteresis_absent_for_second_order(data):
    spec = NetSpec(3, 2, 1, 3)
    g = np.linspace(0.1, 1.3, 10)
    h = hysteresis_loop(spec, data, g)
    # D = 1: the origin is a saddle below gamma_c, both branches follow the global minimum
    # (compared where both runs converged; escaping the saddle can exhaust the step budget)
    both = np.array([u["status"] == d["status"] == "converged" for u, d in zip(h.up, h.down)])
    assert both.sum() >= 7
    assert np.allclose(h.column("up", "loss")[both], h.column("down", "loss")[both], atol=1e-9)


def test_detector_on_known_curves():
    g = np.linspace(0.0, 2.0, 41)
    kink = np.where(g < 1.0, 32 * g * (1 - g), 8 * (g**2 - 1))  # documented toy R_L, D = 1
    cps = detect_curve_change_points(g, kink)
    assert len(cps) == 1 and cps[0].kind == "kink" and abs(cps[0].gamma - 1.0) < 1e-3
    jump = np.where(g < 0.7, 1.0 + g, 0.2 * g)
    cps = detect_curve_change_points(g, jump)
    assert len(cps) == 1 and cps[0].kind == "jump" and cps[0].low <= 0.7 <= cps[0].high


def test_invalid_sweep_inputs(data):
    spec = NetSpec(3, 2, 1, 3)
    with pytest.raises(ValueError):
        sweep_gamma(spec, data, [0.1, -0.2])
    with pytest.raises(ValueError):
        sweep_gamma(spec, data, [0.1, float("nan")])
    with pytest.raises(ValueError, match="resume"):
        sweep_gamma(spec, data, [0.1], resume=True)
    with pytest.raises(ValueError, match="spec"):
        sweep_gamma(NetSpec(4, 2, 1, 3), data, [0.1])
    with pytest.raises(ValueError):
        SweepConfig(curvature="approx")
