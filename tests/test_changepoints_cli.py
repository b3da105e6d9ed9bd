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


def _exact_d1_table(path, g, kinks=(1.0, 0.4), x_per_gamma=1.0, loss=False):
    # exact D = 1 order parameter for whitened inputs and singular values s_k:
    # ||theta||^2 = 2 sum_k max(s_k - gamma, 0) (balanced two-layer factorisation), kinks at the s_k;
    # L* = E||y||^2 - sum_k max(s_k - gamma, 0)^2 (smooth at the kinks: second order)
    norm = 2 * sum(np.maximum(s - g, 0) for s in kinks)
    cols = [x_per_gamma * g, norm]
    if loss:
        cols.append(1.5 - sum(np.maximum(s - g, 0) ** 2 for s in kinks))
    _write_csv(path, ["gamma" if x_per_gamma == 1.0 else "wd", "norm"] + (["loss"] if loss else []), zip(*cols))
    return path


@pytest.fixture
def stats(tmp_path):
    path = tmp_path / "stats.json"
    path.write_text(json.dumps({"A": np.eye(3).tolist(), "beta": [[1.0, 0.0], [0.0, 0.4], [0.0, 0.0]], "ey2": 1.5}))
    return path


def test_theory_verdict_with_negative_controls(tmp_path, capsys, stats):
    g = np.geomspace(0.1, 3.0, 150)
    path = _exact_d1_table(tmp_path / "runs.csv", g, loss=True)
    assert main(["changepoints", str(path), "--x", "gamma", "--theory", str(stats), "--depth", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["theory"]
    assert res["verdict"] == "CONFIRMED" and res["confirmed"] and res["real_passed"]
    v = res["signals"]["norm"]
    assert v["status"] == "pass" and all(m["located"] and m["kind_ok"] for m in v["matches"])
    # L* has only a jump of its second derivative at a second-order transition: not testable, not failed
    assert res["signals"]["loss"]["status"] == "not testable"
    # validate's controls: each of the 2 predictions moved by +3 and -3 tolerances, and with the other order
    assert len(res["controls"]) == 6 and all(c["rejected"] for c in res["controls"])
    assert sorted(c["kind"] for c in res["controls"]) == ["order"] * 2 + ["shift"] * 4
    assert all("3 x tolerance" in c["description"] for c in res["controls"] if c["kind"] == "shift")
    # the wrong theory (D = 2: first order, elsewhere) is rejected; exit status 1
    assert main(["changepoints", str(path), "--x", "gamma", "--theory", str(stats), "--depth", "2"]) == 1
    out = capsys.readouterr().out
    assert "verdict: NOT CONFIRMED" in out and "norm                 fail" in out
    # the same curve logged against torch weight decay (x = 2 gamma)
    path = _exact_d1_table(tmp_path / "wd.csv", g, x_per_gamma=2.0)
    assert main(["changepoints", str(path), "--x", "wd", "--theory", str(stats), "--depth", "1",
                 "--x-per-gamma", "2"]) == 0
    assert "verdict: CONFIRMED" in capsys.readouterr().out
    assert main(["changepoints", str(path), "--x", "wd", "--theory", str(stats)]) == 2
    assert "--depth" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["shifted", "noisy", "swapped"])
def test_theory_verdict_rejects_data_that_do_not_match(tmp_path, capsys, stats, case):
    g = np.geomspace(0.1, 3.0, 150)
    if case == "shifted":    # the data kink 3% above the prediction gamma_c = 1
        path = _exact_d1_table(tmp_path / "runs.csv", g, kinks=(1.03, 0.4))
    elif case == "noisy":    # noise of 0.3% of the range: the intervals are wider than 1% of gamma
        g = np.geomspace(0.1, 3.0, 60)
        norm = 2 * (np.maximum(1.0 - g, 0) + np.maximum(0.4 - g, 0)) + np.random.default_rng(0).normal(0, 3e-3, g.size)
        path = tmp_path / "runs.csv"
        _write_csv(path, ["gamma", "norm"], zip(g, norm))
    else:                    # a level jump (first-order look) where a second-order kink is predicted
        norm = 2 * (np.maximum(1.0 - g, 0) + np.maximum(0.4 - g, 0)) + 0.5 * (g < 0.4)
        path = tmp_path / "runs.csv"
        _write_csv(path, ["gamma", "norm"], zip(g, norm))
    assert main(["changepoints", str(path), "--x", "gamma", "--theory", str(stats), "--depth", "1", "--json"]) == 1
    res = json.loads(capsys.readouterr().out)["theory"]
    assert res["verdict"] == "NOT CONFIRMED" and res["signals"]["norm"]["status"] == "fail"
    reason = res["signals"]["norm"]["reason"]
    assert {"shifted": "mode 0 at 1: no change point within tolerance", "noisy": "not located to tolerance",
            "swapped": "kind jump, expected kink"}[case] in reason


def test_table_verdicts_is_judge_with_validate_rules():
    from l2phase.empirical import PredictedTransition, judge, match_transitions, predicted_transitions, table_verdicts
    from l2phase.empirical.verdicts import LOSS, ORDER_PARAMETER, rule_for_column
    from l2phase.numerics import ChangePoint

    stats = (np.eye(2), np.array([1.0, 0.0]), 1.0)
    pred = predicted_transitions(stats, 2)  # one first-order transition at (1/2)^(4/3)
    gc = pred[0].gamma_c
    sharp = [ChangePoint(gc, gc * 0.998, gc * 1.002, "jump", 1.0, 10)]
    kink = [ChangePoint(gc, gc * 0.998, gc * 1.002, "kink", 1.0, 10)]
    v = table_verdicts({"norm": sharp, "loss": kink}, stats, 2)
    ref = judge({"norm": sharp, "loss": kink}, pred, [rule_for_column("norm"), LOSS], rtol=1e-2)
    assert v["verdict"] == "CONFIRMED" and v["signals"] == ref.to_dict()["signals"]
    assert v["controls"] == ref.to_dict()["controls"]
    # L* kinks at a first-order transition: a jump in the loss column fails it
    assert table_verdicts({"norm": sharp, "loss": sharp}, stats, 2)["signals"]["loss"]["status"] == "fail"
    # controls too weak to reject (shift by 1 tolerance): not confirmed although the real check passes
    weak = table_verdicts({"norm": sharp}, stats, 2, factor=1.0)
    assert weak["real_passed"] and weak["verdict"] == "NOT CONFIRMED"
    # match_transitions is the same judgement on one signal, without controls
    wide = [ChangePoint(gc, gc * 0.9, gc * 1.1, "jump", 1.0, 10)]
    for cps in (sharp, kink, wide):
        m, extra = match_transitions(pred, cps, rtol=1e-2)
        sv = judge({ORDER_PARAMETER.name: cps}, pred, [ORDER_PARAMETER], rtol=1e-2).signals[ORDER_PARAMETER.name]
        assert [x.to_dict() for x in m] == [c.to_dict() for c in sv.checks] and extra == sv.unmatched
        assert m[0].confirmed == (cps is sharp) and m[0].location_ok == (cps is not wide)
    assert isinstance(pred[0], PredictedTransition)


def test_a_scan_table_with_flags_and_empty_columns(tmp_path, capsys):
    # what `l2phase scan` writes: a True/False column and a column of NaN (accuracy of a regression);
    # without --y they are left out with a note, named with --y they are input errors
    g = np.geomspace(0.1, 3.0, 60)
    norm = 2 * sum(np.maximum(s - g, 0) for s in (1.0, 0.4))
    path = tmp_path / "scan.csv"
    _write_csv(path, ["gamma", "converged", "accuracy", "norm"],
               [[x, "True" if i % 7 else "False", "nan", n] for i, (x, n) in enumerate(zip(g, norm))])
    assert main(["changepoints", str(path), "--x", "gamma", "--json"]) == 0
    out, err = capsys.readouterr()
    got = json.loads(out)
    assert list(got) == ["norm"] and [c["kind"] for c in got["norm"]] == ["kink", "kink"]
    assert "converged" in err and "accuracy" in err and "left out" in err
    assert main(["changepoints", str(path), "--x", "gamma", "--y", "converged"]) == 2
    assert "'False' is not a number" in capsys.readouterr().err  # row 1: i = 0
    assert main(["changepoints", str(path), "--x", "gamma", "--y", "accuracy"]) == 2
    assert "usable rows" in capsys.readouterr().err
    # the reader on its own stays strict unless told which columns matter
    with pytest.raises(InputError, match="converged"):
        read_curve_table(path)
    skipped = []
    assert list(read_curve_table(path, required=["gamma"], skipped=skipped)) == ["gamma", "accuracy", "norm"]
    assert skipped == ["converged"]
    # the detector's own table function leaves out the all-NaN column only when asked to name what it skips
    table = read_curve_table(path, required=["gamma"])
    with pytest.raises(InputError, match="accuracy"):
        table_change_points(table, "gamma")
    sparse = []
    assert list(table_change_points(table, "gamma", skipped=sparse)) == ["norm"]
    assert sparse == ["accuracy (fewer than 8 numbers)"]


def test_theory_from_a_data_file(tmp_path, capsys):
    # --data computes the statistics as `theory --data` does: whitened inputs (E[x x^T] = I exactly)
    # and noise-free targets y = beta^T x give singular values 1.0 and 0.4 of E[x y^T]
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.standard_normal((60, 3)))
    X = np.sqrt(60) * q
    beta = np.array([[1.0, 0.0], [0.0, 0.4], [0.0, 0.0]])
    data = tmp_path / "data.npz"
    np.savez(data, X=X, Y=X @ beta)
    table = _exact_d1_table(tmp_path / "runs.csv", np.geomspace(0.1, 3.0, 150))
    args = ["changepoints", str(table), "--x", "gamma", "--data", str(data), "--targets", "raw"]
    assert main([*args, "--depth", "1", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["theory"]
    assert [p["gamma_c"] for p in res["predicted"]] == pytest.approx([0.4, 1.0], rel=1e-9)
    assert res["verdict"] == "CONFIRMED" and all(c["rejected"] for c in res["controls"])
    assert main([*args, "--depth", "2"]) == 1  # the wrong depth: first order, elsewhere
    assert "verdict: NOT CONFIRMED" in capsys.readouterr().out
    assert main([*args]) == 2 and "--data needs --depth" in capsys.readouterr().err
    assert main([*args, "--depth", "1", "--theory", str(data)]) == 2
    assert "not both" in capsys.readouterr().err
