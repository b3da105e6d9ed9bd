"""The `l2phase theory` contract: JSON keys and values, --stats, noise, and exit status 2 on bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from l2phase.cli import main
from l2phase.theory import critical_point, transitions


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_console_script_prints_the_contract():
    # the installed entry point, as a user types it (Done-when of the package issue)
    proc = subprocess.run(
        [sys.executable, "-m", "l2phase", "theory", "--depth", "2", "--a", "1", "--c", "1", "--json"],
        capture_output=True, text=True, check=True,
    )
    out = json.loads(proc.stdout)
    assert f"{out['gamma_c']:.6f}" == "0.396850"
    assert out["order"] == 1
    assert f"{out['spinodal']:.6f}" == "0.472470"
    for key in ("depth", "gamma_c", "order", "spinodal", "b_c", "latent_heat", "origin"):
        assert key in out


@pytest.mark.parametrize("D, order, origin", [(1, 2, "saddle"), (3, 1, "local_min")])
def test_json_matches_library(capsys, D, order, origin):
    code, out, _ = _run(capsys, "theory", "--depth", str(D), "--a", "1.3", "--c", "0.7", "--json")
    assert code == 0
    obj = json.loads(out)
    cp = critical_point(D, 1.3, 0.7, 0.7**2 / 1.3)
    assert obj["gamma_c"] == pytest.approx(cp.gamma_c) and obj["order"] == order and obj["origin"] == origin


def test_depth_zero_reports_no_transition(capsys):
    code, out, _ = _run(capsys, "theory", "--depth", "0", "--a", "1", "--c", "1", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["order"] is None and obj["gamma_c"] is None


def test_table_output(capsys):
    code, out, _ = _run(capsys, "theory", "--depth", "2", "--a", "1", "--c", "1")
    assert code == 0 and "0.396850" in out and "first order" in out


def test_stats_file_and_noise(tmp_path, capsys):
    A = np.array([[1.5, 0.3], [0.3, 0.8]])
    beta = [[1.0, 0.2], [0.1, 0.5]]
    f = tmp_path / "stats.json"
    f.write_text(json.dumps({"A": A.tolist(), "beta": beta, "Ey2": 5.0}))
    code, out, _ = _run(capsys, "theory", "--depth", "1", "--stats", str(f), "--json")
    assert code == 0
    got = [t["gamma_c"] for t in json.loads(out)["transitions"]]
    assert got == pytest.approx([t.gamma_c for t in transitions(A, np.array(beta), 5.0, 1)])
    assert got == sorted(got)
    f.write_text(json.dumps({"A": A.tolist(), "beta": [1.0, 0.2], "Ey2": 5.0}))
    code, out, _ = _run(capsys, "theory", "--depth", "2", "--stats", str(f), "--noise", "0.5", "--width", "4", "--json")
    (t,) = json.loads(out)["transitions"]
    (ref,) = transitions(A, np.array([1.0, 0.2]), 5.0, 2, noise_sigma2=0.5, width=4)
    assert t["gamma_c"] == pytest.approx(ref.gamma_c) and t["order"] == 1


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--depth", "2", "--a", "-1", "--c", "1"], "--a"),
        (["--depth", "2", "--a", "1", "--c", "-1"], "--c"),
        (["--depth", "2.5", "--a", "1", "--c", "1"], "--depth"),
        (["--depth", "-1", "--a", "1", "--c", "1"], "--depth"),
        (["--depth", "x", "--a", "1", "--c", "1"], "--depth"),
        (["--depth", "2", "--a", "nan", "--c", "1"], "--a"),
        (["--depth", "2", "--a", "1", "--c", "1", "--noise", "0.3"], "--width"),
    ],
)
def test_bad_scalar_input_exits_2(capsys, argv, needle):
    code, out, err = _run(capsys, "theory", *argv)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "content, needle",
    [
        ('{"A": [[1, 2], [0, 1]], "beta": [1, 0], "Ey2": 3}', "symmetric"),
        ('{"A": [[1, 2], [2, 1]], "beta": [1, 0], "Ey2": 3}', "positive semi-definite"),
        ('{"A": [[1, 0], [0, 1]], "beta": [1, 0, 0], "Ey2": 3}', "shape mismatch"),
        ('{"A": [[1, 0], [0, 1]], "beta": [1, 0]}', "Ey2"),
        ("{not json", "not valid JSON"),
        ('{"A": [[1, 0], [0, 1]], "beta": [1, 0], "Ey2": 3, "extra": 1}', "unknown key"),
    ],
)
def test_bad_stats_file_exits_2(tmp_path, capsys, content, needle):
    f = tmp_path / "s.json"
    f.write_text(content)
    code, out, err = _run(capsys, "theory", "--depth", "2", "--stats", str(f))
    assert code == 2 and needle in err and err.count("\n") == 1


def test_missing_file_exits_2(capsys):
    code, _, err = _run(capsys, "theory", "--depth", "2", "--stats", "/nonexistent/stats.json")
    assert code == 2 and "not found" in err


def test_argparse_errors_are_one_line():
    proc = subprocess.run([sys.executable, "-m", "l2phase", "theory", "--depth"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
