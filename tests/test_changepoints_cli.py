"""``l2phase changepoints FILE``: change points of columns logged elsewhere (CSV, JSON)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from l2phase.cli import main
from l2phase.numerics import read_curve_table, table_change_points
from l2phase.theory.checks import InputError


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def runs(tmp_path):
    # a sweep logged in random order: kink of ||theta||^2 at 0.7, jump of the loss at 0.4
    g = np.geomspace(0.1, 3.0, 60)
    order = np.random.default_rng(0).permutation(g.size)
    rows = [[g[i], max(0.7 - g[i], 0.0), 1 / (1 + g[i]) if g[i] < 0.4 else 0.1 * np.log1p(g[i])] for i in order]
    path = tmp_path / "runs.csv"
    _write_csv(path, ["gamma", "norm", "loss"], rows)
    return path


def test_json_output_finds_kink_and_jump(runs, capsys):
    assert main(["changepoints", str(runs), "--x", "gamma", "--json"]) == 0
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert "sorted" in cap.err
    assert list(out) == ["norm", "loss"]
    (k,), (j,) = out["norm"], out["loss"]
    assert set(k) == {"x", "low", "high", "kind", "size"}
    assert k["kind"] == "kink" and k["low"] <= 0.7 <= k["high"]
    assert j["kind"] == "jump" and j["low"] <= 0.4 <= j["high"]
    # the slope change of max(0.7 - g, 0) is +1, the level jump 0.1 log(1.4) - 1/1.4 at 0.4
    assert k["size"] == pytest.approx(1.0, rel=0.05)
    assert j["size"] == pytest.approx(0.1 * np.log1p(0.4) - 1 / 1.4, abs=0.05)


def test_json_table_y_subset_and_plot(tmp_path, capsys):
    g = np.linspace(0.05, 3.0, 80)
    path = tmp_path / "runs.json"
    path.write_text(json.dumps({"wd": g.tolist(), "a": np.tanh(g).tolist(), "b": np.abs(g - 1.2).tolist()}))
    png = tmp_path / "cp.png"
    assert main(["changepoints", str(path), "--x", "wd", "--y", "b", "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["b"] and [c["kind"] for c in out["b"]] == ["kink"]
    assert png.stat().st_size > 1000
    assert table_change_points(read_curve_table(path), "wd", ["a"])["a"] == []  # smooth: no change


@pytest.mark.parametrize(
    "header, rows, args, match",
    [
        (["gamma", "y"], [[i, i] for i in range(20)], ["--x", "g"], "no column 'g'"),
        (["gamma", "y"], [[i, i] for i in range(20)], ["--x", "gamma", "--y", "z"], "no column"),
        (["gamma", "y"], [[i, "abc" if i == 3 else i] for i in range(20)], ["--x", "gamma"], "row 4"),
        (["gamma", "y"], [[i, i] for i in range(5)], ["--x", "gamma"], "at least"),
        (["gamma", "y"], [[i // 2, i] for i in range(20)], ["--x", "gamma"], "duplicate"),
        (["gamma", "y"], [[i + 1, i] for i in range(20)], ["--x", "gamma", "--log-x", "--y", "gamma"], "x column"),
    ],
)
def test_bad_tables_exit_2(tmp_path, capsys, header, rows, args, match):
    path = tmp_path / "t.csv"
    _write_csv(path, header, rows)
    assert main(["changepoints", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert match in err and str(path) in err and "Traceback" not in err


def test_reader_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_curve_table(tmp_path / "missing.csv")
    bad = tmp_path / "b.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match="row objects"):
        read_curve_table(bad)
    with pytest.raises(InputError, match="not sorted"):
        table_change_points({"x": np.arange(12.0)[::-1], "y": np.arange(12.0)}, "x", sort=False)


def test_theory_verdict_with_negative_controls(tmp_path, capsys):
    # exact D = 1 curve for whitened inputs and singular values (1.0, 0.4):
    # ||theta||^2 = 2 sum_k max(s_k - gamma, 0) (balanced two-layer factorisation), kinks at 0.4 and 1.0
    g = np.geomspace(0.1, 3.0, 150)
    norm = 2 * (np.maximum(1.0 - g, 0) + np.maximum(0.4 - g, 0))
    path = tmp_path / "runs.csv"
    _write_csv(path, ["gamma", "norm"], zip(g, norm))
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"A": np.eye(3).tolist(), "beta": [[1.0, 0.0], [0.0, 0.4], [0.0, 0.0]], "ey2": 1.5}))
    assert main(["changepoints", str(path), "--x", "gamma", "--theory", str(stats), "--depth", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["theory"]
    v = res["columns"]["norm"]
    assert v["verdict"] == "CONFIRMED" and v["passed"]
    assert len(v["controls"]) == 6 and not any(c["passed"] for c in v["controls"])
    # the wrong theory (D = 2: first order, elsewhere) is rejected; exit status 1
    assert main(["changepoints", str(path), "--x", "gamma", "--theory", str(stats), "--depth", "2"]) == 1
    assert "NOT CONFIRMED" in capsys.readouterr().out
    # the same curve logged against torch weight decay (x = 2 gamma)
    _write_csv(path, ["wd", "norm"], zip(2 * g, norm))
    assert main(["changepoints", str(path), "--x", "wd", "--theory", str(stats), "--depth", "1",
                 "--x-per-gamma", "2"]) == 0
    capsys.readouterr()
    assert main(["changepoints", str(path), "--x", "wd", "--theory", str(stats)]) == 2
    assert "--depth" in capsys.readouterr().err


def test_wide_interval_is_inconclusive():
    from l2phase.empirical import PredictedTransition, verdict_with_controls
    from l2phase.numerics import ChangePoint

    pred = [PredictedTransition(1.0, 2, 0, 1.0)]
    sharp = [ChangePoint(1.0, 0.995, 1.005, "kink", 1.0, 10)]
    wide = [ChangePoint(1.0, 0.5, 1.5, "kink", 1.0, 10)]
    assert verdict_with_controls(pred, sharp)["verdict"] == "CONFIRMED"
    v = verdict_with_controls(pred, wide)  # the shifted predictions pass too: cannot tell
    assert v["passed"] and v["verdict"] == "INCONCLUSIVE"
    assert verdict_with_controls(pred, [ChangePoint(1.0, 0.995, 1.005, "jump", 1.0, 10)])["verdict"] == "NOT CONFIRMED"
