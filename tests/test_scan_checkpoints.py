"""l2phase scan --checkpoints: state_dicts measured without retraining (ridge: closed forms)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from l2phase.cli import main
from l2phase.empirical import scan_checkpoints


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
