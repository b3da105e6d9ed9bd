"""``l2phase validate``: the quick run confirms every prediction and writes every promised file."""

from __future__ import annotations

import json

import pytest

from l2phase._cmd_validate import OUTPUT_FILES
from l2phase.cli import main


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One uninterrupted ``validate --quick`` (also the reference of the resume test)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("validate") / "rep"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        rc = main(["validate", "--quick", "--out", str(out), "--no-progress"])
    return out, rc, printed.getvalue()


def test_validate_quick_exits_0_and_writes_everything(quick_run):
    out, rc, printed = quick_run
    assert rc == 0, (out / "report.md").read_text()
    for name in OUTPUT_FILES + ("sweep_D1.csv", "sweep_D2.csv", "hysteresis_D2.csv", "hysteresis.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    res = json.loads((out / "results.json").read_text())
    assert res["confirmed"] is True
    # the verdict is made of checks that passed, and names the transitions it matched
    assert all(c["passed"] for c in res["checks"])
    for D, order in (("1", 2), ("2", 1)):
        ms = res["depths"][D]["signals"]["R_L"]["matches"]
        assert len(ms) == 2 and all(m["predicted"]["order"] == order for m in ms)
    # every real check passed and every negative control was rejected
    assert res["controls"] and all(c["rejected"] is True for c in res["controls"])
    assert {c["kind"] for c in res["controls"]} == {"shift", "order"}
    # a verdict per signal: D = 2 every signal judged; D = 1 L* (d2L* jumps) and R_E not testable
    st = {D: {k: s["status"] for k, s in res["depths"][D]["signals"].items()} for D in ("1", "2")}
    assert st["2"] == {"R_L": "pass", "param_norm_sq": "pass", "R_E": "pass", "loss": "pass"}
    assert st["1"] == {"R_L": "pass", "param_norm_sq": "pass", "R_E": "not testable", "loss": "not testable"}
    assert res["depths"]["2"]["hysteresis"]["verdict"]["status"] == "pass"
    assert all(res["depths"][D]["refinement"]["located_to_rtol"] for D in ("1", "2"))
    assert res["depths"]["2"]["ablation"]["transitions"] and res["depths"]["2"]["starts"]["count"]
    report = (out / "report.md").read_text()
    assert "CONFIRMED" in report and "| 2 | 0 | 0.39685 | 1 | jump |" in report
    for heading in ("## Verdict per signal", "## Negative controls", "## Which starts reached the kept minimum",
                    "## Ablation: random starts only"):
        assert heading in report
    assert "CONFIRMED" in printed


def test_killed_validate_resumes_to_identical_results(quick_run, tmp_path):
    import os
    import stat

    from resume_helpers import assert_same_outputs, damage_points, resume, run_killed_at

    ref = quick_run[0]
    out = tmp_path / "killed"
    argv = ["validate", "--quick", "--out", str(out), "--no-progress"]
    # killed at the first point file (inside the first D = 1 block), then its resume once the D = 1
    # sweep is done, inside the refinement rounds
    left = run_killed_at(argv, out, [1, 30])
    assert 1 <= left[0] < 30 <= left[1] and not (out / "report.md").exists()
    assert len(damage_points(out)) == 2
    assert resume(argv) == 0
    assert_same_outputs(ref, out)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((out / "report.md").stat().st_mode) == 0o666 & ~umask  # not 0600


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["validate", "--quick", "--depths", "0"], "--depths"),
        (["validate", "--quick", "--depths", "x"], "--depths"),
        (["validate", "--quick", "--device", "nonsense"], "device"),
    ],
)
def test_validate_invalid_configuration(argv, msg, tmp_path, capsys):
    rc = main(argv + ["--out", str(tmp_path / "o")])
    assert rc == 2
    assert msg in capsys.readouterr().err


def _no_ablation(monkeypatch):
    from l2phase.empirical.experiments import validation as val

    quick = val.ValidationConfig.quick_config.__func__
    monkeypatch.setattr(val.ValidationConfig, "quick_config",
                        classmethod(lambda cls, **kw: quick(cls, **dict(kw, ablation=False, refine_rounds=1))))
    return val


@pytest.mark.parametrize("wrong", ["shift", "order"])
def test_validate_exits_1_on_wrong_predictions(wrong, tmp_path, monkeypatch, capsys):
    # the same machinery, fed a theory whose gamma_c is 2% off (or whose order is swapped),
    # must say NOT CONFIRMED and exit 1
    import dataclasses

    val = _no_ablation(monkeypatch)
    real = val.predicted_transitions

    def wrong_theory(data, depth):
        ps = real(data, depth)
        if wrong == "shift":
            return [dataclasses.replace(p, gamma_c=p.gamma_c * 1.02) for p in ps]
        return [dataclasses.replace(p, order=3 - p.order) for p in ps]

    monkeypatch.setattr(val, "predicted_transitions", wrong_theory)
    out = tmp_path / "rep"
    rc = main(["validate", "--quick", "--depths", "1", "--out", str(out), "--no-progress"])
    assert rc == 1
    res = json.loads((out / "results.json").read_text())
    assert res["confirmed"] is False and res["real_checks_passed"] is False
    failed = {c["name"] for c in res["checks"] if not c["passed"]}
    assert any("Ricci scalar of the loss landscape" in n for n in failed), failed
    assert res["depths"]["1"]["signals"]["R_L"]["status"] == "fail"
    assert "NOT CONFIRMED" in capsys.readouterr().out
    assert "NOT CONFIRMED" in (out / "report.md").read_text()
