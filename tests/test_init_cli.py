"""``l2phase init-regime`` and ``l2phase init-diagram``: outputs, exit codes, resume."""

import json

import pytest

from l2phase.cli import main


def test_init_regime_named_and_exponents(capsys):
    assert main(["init-regime", "--init", "mean-field", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["gamma_energy"], row["gamma_dynamic"], row["regime"]) == (1.0, 0.0, "critical")  # paper Table 1
    # alpha ~ m^2, beta1 = beta2 = 1 -> (2, 0): condensed (paper Fig. 1)
    assert main(["init-regime", "--alpha-exp", "2", "--beta1-exp", "0", "--beta2-exp", "0", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["gamma_energy"], row["gamma_dynamic"], row["regime"]) == (2.0, 0.0, "condensed")
    assert main(["init-regime", "--init", "all"]) == 0
    out = capsys.readouterr().out
    assert "xavier" in out and "critical" in out and "ntk" in out
    # finite-width values: kappa = 0.01 at m = 100 -> gamma_energy = 1 exactly
    assert main(["init-regime", "--alpha", "100", "--beta1", "1", "--beta2", "1", "--width", "100", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["gamma_energy"] == pytest.approx(1.0) and "caveat" in row


@pytest.mark.parametrize("argv", [
    ["init-regime", "--init", "nope"],
    ["init-regime", "--alpha-exp", "1"],
    ["init-regime"],
    ["init-regime", "--gamma-energy", "x", "--gamma-dynamic", "0"],
    ["init-diagram", "--grid", "bad"],
    ["init-diagram", "--widths", "100"],
    ["init-diagram", "--seeds", "0"],
    ["init-diagram", "--data", "cifar"],
])
def test_bad_input_exits_2(argv, tmp_path, capsys):
    assert main(argv + (["--out", str(tmp_path / "o")] if argv[0] == "init-diagram" else [])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_init_diagram_writes_the_report_and_resumes(tmp_path, capsys):
    from l2phase.empirical.experiments.init_report import INIT_OUTPUT_FILES as OUTPUT_FILES

    out = tmp_path / "rep"
    argv = ["init-diagram", "--grid", "0.5,1.5 x 0", "--widths", "200,400", "--seeds", "2", "--out", str(out),
            "--no-progress", "--refine", "0"]
    assert main(argv) == 0  # both points 0.5 from the boundary: signs must match the theory
    for name in OUTPUT_FILES + ("condensation_scatter.png",):
        assert (out / name).stat().st_size > 0, name
    res = json.loads((out / "results.json").read_text())
    slopes = {p["gamma_energy"]: p["slope"] for p in res["points"]}
    assert slopes[0.5] < 0 < slopes[1.5]
    assert res["boundary"][0]["found"]
    assert "S_w" in (out / "report.md").read_text()
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "points" / "diagram").iterdir()}
    assert main(argv + ["--resume"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "points" / "diagram").iterdir()} == mtimes  # nothing retrained
    # killed with SIGKILL after the first (point, width) file, its resume killed after the third, then a
    # truncated and a doctored file: the resumed run equals the uninterrupted one (a lost point is
    # retrained in its original batch)
    from resume_helpers import assert_same_outputs, damage_points, resume, run_fresh, run_killed_at

    ref = tmp_path / "ref"
    assert run_fresh([str(ref) if a == str(out) else str(a) for a in argv]) == 0
    out2 = tmp_path / "killed"
    argv2 = [str(out2) if a == str(out) else str(a) for a in argv]
    left = run_killed_at(argv2, out2, [1, 3])
    assert 1 <= left[0] < 4 and 3 <= left[1] <= 4 and not (out2 / "report.md").exists()
    damage_points(out2)
    assert resume(argv2) == 0
    assert_same_outputs(ref, out2)


def test_init_diagram_report_when_no_run_converges(tmp_path, capsys):
    from l2phase.empirical.experiments.init_report import INIT_OUTPUT_FILES

    def argv(out, steps):
        return ["init-diagram", "--grid", "1 x 0", "--widths", "10,20", "--seeds", "1", "--max-steps", steps,
                "--tol", "1e-3", "--refine", "0", "--out", str(out), "--no-progress"]

    out = tmp_path / "none"
    assert main(argv(out, "5")) == 1  # nothing converged: not consistent, but every file is there
    for name in INIT_OUTPUT_FILES:
        assert (out / name).stat().st_size > 0, name
    report = (out / "report.md").read_text()
    assert report.count("no converged run") >= 4 and "NOT CONSISTENT" in report
    res = json.loads((out / "results.json").read_text())
    assert not res["consistent"] and res["checks"][0]["name"] == "at least one run reached the loss tolerance"
    # the negative control: with enough steps the same grid converges and that check is gone
    ok = tmp_path / "ok"
    main(argv(ok, "20000"))
    checks = json.loads((ok / "results.json").read_text())["checks"]
    assert all(c["name"] != "at least one run reached the loss tolerance" for c in checks)
    assert "no converged run" not in (ok / "report.md").read_text()
