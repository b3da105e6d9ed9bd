"""l2phase scan --checkpoints: state_dicts measured without retraining (ridge: closed forms)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import l2phase as lp
from l2phase.cli import main
from l2phase.empirical import scan_checkpoints
from l2phase.theory.checks import InputError


def test_ridge_checkpoints_closed_form(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    Y = X @ np.array([[1.0], [-0.5], [0.2]]) + 0.1 * rng.standard_normal((50, 1))
    A, beta = X.T @ X / 50, X.T @ Y[:, 0] / 50
    ck = tmp_path / "ck"
    ck.mkdir()
    gammas = [float(g) for g in np.geomspace(0.01, 1.0, 9)]
    for g in gammas:  # the exact ridge minimiser of E + g ||w||^2 (no 1/2: docs/conventions.md)
        w = np.linalg.solve(A + g * np.eye(3), beta)
        torch.save({"weight": torch.tensor(w[None, :])}, ck / f"gamma_{g!r}.pt")
    net = lambda: torch.nn.Linear(3, 1, bias=False)
    res = scan_checkpoints(net, ck, X, Y, out_dir=tmp_path / "out")
    for r, g in zip(res.records, gammas):
        w = np.linalg.solve(A + g * np.eye(3), beta)
        E = np.mean((X @ w - Y[:, 0]) ** 2)
        assert r["gamma"] == pytest.approx(g, rel=1e-12)
        assert r["loss"] == pytest.approx(E + g * w @ w, rel=1e-9)
        H = 2 * A + 2 * g * np.eye(3)  # loss Hessian; gradient 0 at the minimiser
        assert r["R_L"] == pytest.approx(np.trace(H) ** 2 - np.sum(H * H), rel=1e-6)
    # manifest instead of names; the CLI reads the same directory
    (ck / "manifest.json").write_text(json.dumps({f"gamma_{g!r}.pt": float(g) for g in gammas}))
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    (tmp_path / "m.py").write_text("import torch\ndef make():\n    return torch.nn.Linear(3, 1, bias=False)\n")
    assert main(["scan", "--model", f"{tmp_path / 'm.py'}:make", "--data", str(tmp_path / "d.npz"),
                 "--checkpoints", str(ck), "--out", str(tmp_path / "o2")]) == 0
    assert (tmp_path / "o2" / "scan.csv").exists()
    assert main(["scan", "--model", f"{tmp_path / 'm.py'}:make", "--data", "nope.npz"]) == 2


def test_cli_scan_trains_user_file(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2))
    np.savez(tmp_path / "d.npz", X=X, Y=X @ np.array([[0.5], [-1.0]]))
    (tmp_path / "m.py").write_text("import torch\ndef make():\n    return torch.nn.Linear(2, 1)\n")
    model = f"{tmp_path / 'm.py'}:make"
    assert main(["scan", "--model", model, "--data", str(tmp_path / "d.npz"), "--gammas", "0.01:1:8",
                 "--steps", "50", "--starts", "2", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "no biases" in err and "weight" in err  # the output says what L2 was put on
    lines = (tmp_path / "o" / "scan.csv").read_text().splitlines()
    assert len(lines) == 9 and len((tmp_path / "o" / "runs.csv").read_text().splitlines()) == 17
    for bad in ("1:0.1:8", "0.1:1", "a:b:c"):
        assert main(["scan", "--model", model, "--data", str(tmp_path / "d.npz"), "--gammas", bad]) == 2
    assert "--gammas" in capsys.readouterr().err
    assert main(["scan", "--model", str(tmp_path / "m.py"), "--data", str(tmp_path / "d.npz")]) == 2


def test_weight_decay_in_checkpoint_names_is_not_taken_for_gamma(tmp_path):
    # torch's weight decay lam is not gamma (gamma = k lam / 2 with MSELoss over k outputs):
    # a name that says wd / lambda is refused, pointing to the manifest; gamma and bare numbers are read
    X, Y = np.eye(3), np.ones((3, 1))
    net = lambda: torch.nn.Linear(3, 1, bias=False)
    for name in ("wd_0.01.pt", "run1_lambda=0.01.pt", "weight_decay0.01.pth", "LAM-1e-3.pt"):
        ck = tmp_path / name.replace(".", "_")
        ck.mkdir()
        torch.save({"weight": torch.zeros(1, 3)}, ck / name)
        with pytest.raises(InputError, match="weight decay, not gamma.*manifest"):
            scan_checkpoints(net, ck, X, Y, curvature=None)
    ck = tmp_path / "ok"
    ck.mkdir()
    for name in ("gamma_0.01.pt", "run7_gamma=0.1.pt", "1.pt"):
        torch.save({"weight": torch.zeros(1, 3)}, ck / name)
    res = scan_checkpoints(net, ck, X, Y, curvature=None)
    assert [r["gamma"] for r in res.records] == [0.01, 0.1, 1.0]
    assert res.config["penalty_note"] == "L2 on every weight (parameters with >= 2 dims), no biases: weight"


def test_a_model_that_does_not_fit_the_data_is_refused_up_front(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((20, 5)), rng.standard_normal((20, 2))
    with pytest.raises(InputError, match=r"cannot be applied to the inputs X of shape \(20, 5\)"):
        lp.scan(lambda: torch.nn.Linear(4, 2), X, Y, [0.1, 1.0], detect=False)
    with pytest.raises(InputError, match=r"outputs of shape \(2, 3\).*\(2, 2\): 2 target columns"):
        lp.scan(lambda: torch.nn.Linear(5, 3), X, Y, [0.1, 1.0], detect=False)
    ck = tmp_path / "ck"
    ck.mkdir()
    torch.save({"weight": torch.zeros(3, 5), "bias": torch.zeros(3)}, ck / "gamma_0.1.pt")
    with pytest.raises(InputError, match="outputs of shape"):
        scan_checkpoints(lambda: torch.nn.Linear(5, 3), ck, X, Y)
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    (tmp_path / "m.py").write_text("import torch\ndef make():\n    return torch.nn.Linear(64, 2)\n")
    assert main(["scan", "--model", f"{tmp_path / 'm.py'}:make", "--data", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "5 columns per sample" in err and "internal error" not in err
