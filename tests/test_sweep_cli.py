"""``l2phase sweep``: strict configuration parsing, the shipped examples, small runs end to end
(a classifier on digits, a linear VAE against its exact thresholds), resume safety."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from l2phase.cli import main
from l2phase.sweep_config import ConfigError, example_configs, load_config, parse_config

TINY_CLASSIFIER = """
experiment = "classifier"
name = "tiny-classifier"
[data]
n_train = 150
n_test = 100
n_components = 8
[model]
activation = "relu"
depth = 1
width = 6
[sweep]
min = 0.01
max = 3.0
points = 14
inits = [0.7]
[train]
max_steps = 600
gtol = 1e-5
[curvature]
method = "exact"
"""

TINY_VAE = """
experiment = "vae"
name = "tiny-vae"
[data]
source = "synthetic"
n_train = 60
spectrum = [2.0, 1.0, 0.5]
[model]
latent_dim = 2
eta_dec = 1.0
[sweep]
min = 0.3
max = 5.0
points = 14
inits = [1.0]
chunk_size = 4
[train]
max_steps = 300
gtol = 1e-10
[curvature]
method = "exact"
[analysis]
rtol = 0.03
"""


def _write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", example_configs())
def test_shipped_examples_parse(name):
    cfg = load_config(name)
    assert cfg.experiment in ("classifier", "vae") and cfg.description
    assert len(cfg.grid()) == cfg["sweep"]["points"]


def test_there_are_examples_for_every_experiment():
    names = example_configs()
    assert any(n.startswith("classifier_digits") for n in names) and any(n.startswith("classifier_mnist") for n in names)
    assert {"vae_linear_digits", "vae_linear_mnist", "vae_mlp_digits"} <= set(names)


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"colour": "red"}, "unknown key 'colour' at the top level"),
        ({"model": {"widht": 3}}, r"unknown key 'widht' in \[model\]"),
        ({"model": {"width": "wide"}}, r"\[model\] width must be an integer"),
        ({"model": {"width": 2.5}}, r"\[model\] width must be an integer"),
        ({"model": {"width": 0}}, r"\[model\] width must be an integer >= 1"),
        ({"model": {"bias": 1}}, r"\[model\] bias must be true or false"),
        ({"model": {"activation": "gelu"}}, r"\[model\] activation must be one of"),
        ({"train": {"lr": -0.1}}, r"\[train\] lr must be > 0"),
        ({"train": {"lr": True}}, r"\[train\] lr must be a finite number"),
        ({"sweep": {"min": 2.0, "max": 1.0}}, r"\[sweep\] min must be < max"),
        ({"sweep": {"inits": []}}, r"\[sweep\] inits must be a non-empty list"),
        ({"sweep": {"inits": [0.5, "x"]}}, r"\[sweep\] inits\[1\] must be a finite number"),
        ({"sweep": 3}, r"\[sweep\] must be a table"),
        ({"experiment": "gan"}, "experiment must be one of"),
        ({"seed": -1}, "seed must be an integer in \\[0, "),
        ({"scale": 0}, "scale must be > 0"),
        ({"data": {"n_train": 1500, "n_test": 400}}, "1797"),
    ],
)
def test_bad_configs_name_the_key(patch, message):
    doc = {"experiment": "classifier", "model": {"width": 4}}
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(doc.get(k), dict):
            doc[k] = {**doc[k], **v}
        else:
            doc[k] = v
    with pytest.raises(ConfigError, match=message):
        parse_config(doc)


def test_scale_multiplies_samples_width_and_points():
    cfg = parse_config({"experiment": "classifier", "scale": 2, "data": {"n_train": 300, "n_test": 200},
                        "model": {"width": 5}, "sweep": {"points": 10}})
    assert (cfg["data"]["n_train"], cfg["data"]["n_test"], cfg["model"]["width"], cfg["sweep"]["points"]) == (600, 400, 10, 20)
    assert cfg.raw["model"]["width"] == 5
    vae = parse_config({"experiment": "vae", "scale": 2, "model": {"hidden": 0}})
    assert vae["model"]["hidden"] == 0  # a linear VAE stays linear


def test_cli_rejects_bad_files_with_one_line(tmp_path, capsys):
    bad = _write(tmp_path, 'experiment = "vae"\n[model]\nlatent = 3\n')
    assert main(["sweep", "--config", str(bad), "--no-progress", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown key 'latent' in [model]" in err[0]
    broken = _write(tmp_path, "experiment = \n", "b.toml")
    assert main(["sweep", "--config", str(broken), "--no-progress"]) == 2
    assert "invalid TOML" in capsys.readouterr().err
    assert main(["sweep", "--config", str(tmp_path / "none.toml"), "--no-progress"]) == 2
    assert "no configuration file" in capsys.readouterr().err


def test_classifier_smoke_run_on_digits(tmp_path):
    cfg = _write(tmp_path, TINY_CLASSIFIER)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "l2phase", "sweep", "--config", str(cfg), "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for f in ("report.md", "results.json", "sweep.csv", "accuracy.png", "per_class.png", "curvature.png",
              "order_parameter.png"):
        assert (out / f).stat().st_size > 0, f
    res = json.loads((out / "results.json").read_text())
    an = res["analysis"]
    assert set(an["signals"]) >= {"train_accuracy", "test_accuracy", "R_E", "R_L", "param_norm_sq", "loss"}
    last = an["last_transition"]
    assert last is not None
    # accuracy falls to chance (majority-class frequency) above the largest transition
    above = [r for r in an["table"] if r["gamma"] > last["high"] and r["gamma"] >= an["collapsed_from"]]
    assert above
    chance = {r["signal"]: r["chance"] for r in an["chance"]}
    assert all(abs(r["train_accuracy"] - chance["train_accuracy"]) <= 0.02 for r in above)
    assert all(abs(r["test_accuracy"] - chance["test_accuracy"]) <= 0.02 for r in above)
    # ... and is far above chance at the smallest gamma
    assert an["table"][0]["train_accuracy"] > chance["train_accuracy"] + 0.5
    assert len(an["class_dropout"]) == 10 and an["linear_theory"]["predictions"]
    report = (out / "report.md").read_text()
    for heading in ("## Change points", "## Accuracy change points vs the nearest curvature change point",
                    "## Which classes drop out where", "## The deep-linear prediction", "## Checks"):
        assert heading in report


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    """One uninterrupted linear-VAE sweep (reference for the resume tests)."""
    d = tmp_path_factory.mktemp("vae")
    cfg = _write(d, TINY_VAE)
    out = d / "vae"
    rc = main(["sweep", "--config", str(cfg), "--out", str(out), "--no-progress"])
    return cfg, out, rc


def test_linear_vae_run_matches_theory_and_guards_resume(vae_run, tmp_path, capsys):
    cfg, out, rc = vae_run
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    modes = res["analysis"]["modes"]
    assert [m["predicted_beta_c"] for m in modes] == pytest.approx([2.0, 1.0], rel=1e-9)
    assert all(m["confirmed"] and m["detected"]["kind"] == "kink" for m in modes)
    for f in ("kl.png", "elbo.png", "curvature.png", "sweep.csv"):
        assert (out / f).stat().st_size > 0
    first = (out / "sweep.csv").read_text()
    # resume with every point present: nothing retrained, same table
    assert main(["sweep", "--config", str(cfg), "--out", str(out), "--no-progress", "--resume"]) == 0
    assert (out / "sweep.csv").read_text() == first
    # resume with another configuration is refused (points would be mixed), naming what differs
    other = _write(tmp_path, TINY_VAE.replace("eta_dec = 1.0", "eta_dec = 0.9"), "other.toml")
    assert main(["sweep", "--config", str(other), "--out", str(out), "--no-progress", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and "config.model.eta_dec (stored 1.0, now 0.9)" in err
    assert err.count("\n") == 1


def test_killed_sweep_resumes_to_identical_results(vae_run, tmp_path):
    from resume_helpers import assert_same_outputs, damage_points, resume, run_fresh, run_killed_at

    cfg = vae_run[0]
    ref = tmp_path / "ref"
    assert run_fresh(["sweep", "--config", str(cfg), "--out", str(ref), "--no-progress"]) == 0
    out = tmp_path / "killed"
    argv = ["sweep", "--config", str(cfg), "--out", str(out), "--no-progress"]
    # killed at the first point file (inside the first block of 4 betas), then its resume inside the third block
    left = run_killed_at(argv, out, [1, 9])
    assert 1 <= left[0] < 9 <= left[1] < 14 and not (out / "report.md").exists()
    assert len(damage_points(out)) == 2
    assert resume(argv) == 0
    assert_same_outputs(ref, out)


def test_path_like_names_exit_2_and_write_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("/etc", "../escape", "a/b", ".hidden"):
        cfg = _write(tmp_path, TINY_VAE.replace('name = "tiny-vae"', f"name = {json.dumps(name)}"))
        assert main(["sweep", "--config", str(cfg), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "name must be a plain name" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["c.toml"]


def test_a_users_directory_is_kept_and_a_busy_one_refused(tmp_path, capsys):
    from l2phase.empirical import RunStore

    cfg = _write(tmp_path, TINY_VAE)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    (mine / "points").mkdir()
    assert main(["sweep", "--config", str(cfg), "--out", str(mine), "--no-progress"]) == 2
    assert "use another --out" in capsys.readouterr().err
    assert sorted(p.name for p in mine.rglob("*")) == ["points", "thesis.tex"]
    busy = tmp_path / "busy"
    with RunStore.open(busy, fingerprint={"other": "run"}):  # a run holding the directory
        assert main(["sweep", "--config", str(cfg), "--out", str(busy), "--no-progress", "--resume"]) == 2
    assert "in use by another l2phase run" in capsys.readouterr().err


def test_linear_vae_sweep_exits_1_on_wrong_thresholds(tmp_path, monkeypatch, capsys):
    # the theory's collapse thresholds 10% off: the same sweep must fail (exit 1)
    import dataclasses

    from l2phase.empirical.experiments import vae

    real = vae.theory_collapse_thresholds
    monkeypatch.setattr(vae, "theory_collapse_thresholds",
                        lambda data, spec: [dataclasses.replace(t, beta_c=t.beta_c * 1.1) for t in real(data, spec)])
    cfg = _write(tmp_path, TINY_VAE)
    out = tmp_path / "vae"
    assert main(["sweep", "--config", str(cfg), "--out", str(out), "--no-progress"]) == 1
    res = json.loads((out / "results.json").read_text())
    assert res["passed"] is False and not any(m["confirmed"] for m in res["analysis"]["modes"])
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("experiment", ["classifier", "vae"])
def test_a_sweep_where_every_point_diverges_writes_its_report_and_says_why(tmp_path, capsys, experiment):
    # gradient descent with lr = 1e30 blows up at every point
    base = TINY_CLASSIFIER if experiment == "classifier" else TINY_VAE
    text = base.replace("points = 14", "points = 8").replace("n_train = 150", "n_train = 40").replace(
        "n_test = 100", "n_test = 30").replace("n_train = 60", "n_train = 30")
    text = text.replace("[train]\n", '[train]\noptimizer = "gd"\nlr = 1e30\n').replace("max_steps = 600", "max_steps = 30")
    text = text.replace("max_steps = 300", "max_steps = 30")
    out = tmp_path / "out"
    assert main(["sweep", "--config", str(_write(tmp_path, text)), "--out", str(out), "--no-progress"]) == 1
    cap = capsys.readouterr()
    assert "every point diverged (8 of 8)" in cap.out and "lower [train] lr (now 1e+30)" in cap.out
    assert "failed checks: no diverged" in cap.out and "(8 of 8 diverged)" in cap.out
    # nothing was detected, so a control would be "rejected" vacuously: they are not run, and say so
    assert "negative controls not run" in cap.out
    assert "Traceback" not in cap.err and "RuntimeWarning" not in cap.err
    res = json.loads((out / "results.json").read_text())
    assert res["passed"] is False and res["n_diverged"] == 8 and res["n_converged"] == 0
    assert res["no_usable_point"].startswith("every point diverged")
    report = (out / "report.md").read_text()
    assert "**No usable point**: every point diverged" in report and "## Checks" in report
    assert "negative controls not run (no usable point)" in report and res["controls"] == []
    if experiment == "classifier":  # nothing vanished: there is no measurement
        assert res["analysis"]["collapsed_from"] is None and "vanished from" not in report
    else:
        assert "Active latent dimensions: none (diverged)" in report
    for f in ("sweep.csv", "curvature.png"):
        assert (out / f).stat().st_size > 0


def test_classifier_plots_leave_diverged_runs_out():
    # a diverged run is not a measurement: its absurd values must not reach any curve of the plots
    from l2phase.empirical.experiments.sweep_report import _classifier_plots

    g = [0.01, 0.1, 1.0, 10.0]
    rows = [dict(gamma=x, train_accuracy=0.9, test_accuracy=0.8, train_acc_class_0=0.9, train_acc_class_1=0.8,
                 R_E=1.0, R_E_se=0.1, R_L=2.0, R_L_se=0.1, param_norm_sq=3.0, loss=0.5, diverged=False) for x in g]
    rows[2].update(train_accuracy=1e30, R_E=1e30, R_L=1e30, param_norm_sq=1e30, loss=1e30, train_acc_class_0=1e30,
                   diverged=True)
    signals = {k: {"change_points": []} for k in ("train_accuracy", "R_E", "R_L", "param_norm_sq", "loss")}
    res = dict(analysis=dict(table=rows, linear_theory=None, chance=[], signals=signals), data=dict(n_classes=2))
    figures = {}

    class Store:
        def write_figure(self, name, fig, **kw):
            figures[name] = fig

    _classifier_plots(res, {}, Store())
    assert set(figures) == {"accuracy.png", "per_class.png", "curvature.png", "order_parameter.png"}
    for name, fig in figures.items():
        for ax in fig.axes:
            for line in ax.lines:
                y = np.asarray(line.get_ydata(), dtype=float)
                assert not np.any(y > 1e20), name
            for coll in ax.collections:
                arr = coll.get_array()
                if arr is not None:
                    assert not np.any(np.ma.filled(np.ma.masked_invalid(arr), 0) > 1e20), name
        if name == "accuracy.png":  # the diverged gamma is marked
            assert any("diverged" in (t.get_text()) for t in fig.axes[0].get_legend().get_texts())
