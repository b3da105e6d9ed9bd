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
    report = (out / "report.md").read_text()
    assert "CONFIRMED" in report and "| 2 | 0 | 0.39685 | 1 | jump |" in report
    assert "CONFIRMED" in printed


def test_killed_validate_resumes_to_identical_results(quick_run, tmp_path):
    import os
    import stat

    from resume_helpers import assert_same_outputs, damage_points, run_killed

    ref = quick_run[0]
    out = tmp_path / "killed"
    argv = ["validate", "--quick", "--out", str(out), "--no-progress"]
    left = run_killed(argv, out, n_points=30)  # D = 1 sweep done, inside its refinement rounds
    assert left >= 30 and not (out / "report.md").exists()
    assert len(damage_points(out)) == 2
    assert main(argv + ["--resume"]) == 0
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
