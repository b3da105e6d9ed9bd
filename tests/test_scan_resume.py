"""``l2phase scan`` writes every gamma as it goes: a killed scan resumed with ``--resume`` gives the
outputs of an uninterrupted one; a resume with another model file or option is refused naming
it; ``--scheduler`` gives the same numbers as in-process."""

from __future__ import annotations

import numpy as np
import pytest

MODEL = '''import torch


def net():
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
'''


def _argv(model, out, *extra):
    return ["scan", "--model", f"{model}:net", "--gammas", "1e-3:1:8", "--starts", "2", "--steps", "60",
            "--polish", "none",
            "--chunk-size", "2", "--out", str(out), "--no-progress", *extra]


def test_killed_scan_resumes_to_identical_outputs(tmp_path, capsys):
    from l2phase.cli import main
    from resume_helpers import assert_same_outputs, damage_points, resume, run_fresh, run_killed

    model = tmp_path / "model.py"
    model.write_text(MODEL)
    ref, out = tmp_path / "ref", tmp_path / "killed"
    assert run_fresh(_argv(model, ref)) == 0
    assert len(list((ref / "points" / "scan").glob("*.json"))) == 8
    left = run_killed(_argv(model, out), out, n_points=2)
    assert 2 <= left < 8 and not (out / "scan.csv").exists()
    assert len(damage_points(out)) == 2  # one truncated, one with a wrong loss: both recomputed
    assert resume(_argv(model, out)) == 0
    assert_same_outputs(ref, out, required="scan.csv")

    # the same directory with another model file or another option: refused, naming the field
    # (in this process: refused before anything is trained)
    model.write_text(MODEL + "# edited\n")
    assert main([*_argv(model, out), "--resume"]) == 2
    assert "config.model.factory.sha256" in capsys.readouterr().err
    model.write_text(MODEL)
    assert main([*_argv(model, out, "--steps", "61"), "--resume"]) == 2
    assert "config.options.train.max_steps (stored 60, now 61)" in capsys.readouterr().err


def test_scan_on_a_dask_cluster_gives_identical_records(tmp_path):
    pytest.importorskip("distributed")
    import torch

    from l2phase.empirical import TrainConfig, make_executor, scan, synthetic_teacher

    data = synthetic_teacher(40, 3, (1.0, 0.4), noise=0.1, seed=1)

    def net():  # defined here: reaches the workers by value
        return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))

    g = np.geomspace(0.01, 1.0, 4)
    kw = dict(n_starts=2, train=TrainConfig(max_steps=100, polish=None), chunk_size=2, detect=False)
    ref = scan(net, data.X, data.Y, g, **kw)
    with make_executor("local:1") as ex:
        res = scan(net, data.X, data.Y, g, executor=ex, out_dir=tmp_path, **kw)
    assert res.records == ref.records and res.all_runs == ref.all_runs
    assert len(list((tmp_path / "points" / "scan").glob("*.json"))) == 4
