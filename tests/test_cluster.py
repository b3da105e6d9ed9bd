"""Sweeps on a Dask LocalCluster: same numbers as in-process, nothing lost when a worker dies,
clear errors for an unreachable scheduler or a missing dask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from l2phase.empirical import NetSpec, SweepConfig, make_executor, sweep_gamma, synthetic_teacher  # noqa: E402
from l2phase.empirical.executors import DaskExecutor  # noqa: E402

# the fault-injecting wrapper below must reach the workers by value (tests/ is not importable there)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

GAMMAS = np.linspace(0.05, 0.6, 6)
WIDTH = 8  # wide enough that the thread count changes the trajectory unless it is pinned (checked)


def _problem():
    data = synthetic_teacher(40, 3, (1.0, 0.4), noise=0.1, exact=True, seed=3)
    return NetSpec(3, 2, 2, WIDTH), data, SweepConfig(chunk_size=2, curvature="exact", seed=5)


@pytest.fixture(scope="module")
def reference():
    spec, data, cfg = _problem()
    return sweep_gamma(spec, data, GAMMAS, cfg)


@pytest.fixture(scope="module")
def executor():
    ex = make_executor("local:2")
    yield ex
    ex.close()


def _same(r1, r2):
    assert np.array_equal(r1.gamma, r2.gamma)
    assert np.array_equal(r1.thetas, r2.thetas)  # bit for bit
    for a, b in zip(r1.records, r2.records):
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_cluster_gives_identical_results(reference, executor, tmp_path):
    spec, data, cfg = _problem()
    res = sweep_gamma(spec, data, GAMMAS, cfg, executor=executor, out_dir=tmp_path, tag="c")
    _same(reference, res)
    assert len(list((tmp_path / "points" / "c").glob("*.json"))) == len(GAMMAS)


def _die_once(fn, marker_dir, unit):
    """Kill this worker process the first time any unit reaches it; run normally afterwards."""
    marker = Path(marker_dir) / "killed"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)  # the worker dies mid-task, without cleanup
    return fn(unit)


class _KillingExecutor(DaskExecutor):
    def __init__(self, inner: DaskExecutor, marker_dir):
        super().__init__(inner.client, retries=inner.retries)
        self.marker_dir = str(marker_dir)

    def map_unordered(self, fn, units):
        import functools

        return super().map_unordered(functools.partial(_die_once, fn, self.marker_dir), units)

    def close(self):  # the fixture owns the cluster
        pass


def test_killed_worker_loses_nothing(reference, executor, tmp_path):
    spec, data, cfg = _problem()
    killing = _KillingExecutor(executor, tmp_path)
    res = sweep_gamma(spec, data, GAMMAS, cfg, executor=killing, out_dir=tmp_path / "out", tag="k")
    assert (tmp_path / "killed").exists(), "the fault was not injected"
    _same(reference, res)
    files = sorted((tmp_path / "out" / "points" / "k").glob("*.json"))
    assert len(files) == len(GAMMAS)
    # every point on disk is complete and equals the uninterrupted run
    on_disk = {json.loads(f.read_text())["record"]["gamma"] for f in files}
    assert on_disk == set(GAMMAS.tolist())


def test_unreachable_scheduler_exits_2_without_hanging(tmp_path):
    # port 9 (discard) on loopback: nothing listens there; the connect timeout bounds the wait
    proc = subprocess.run(
        [sys.executable, "-m", "l2phase", "validate", "--quick", "--no-progress",
         "--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:9"],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 2
    assert "could not reach the Dask scheduler" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", ["local:0", "local:x", "nonsense"])
def test_bad_scheduler_values(value):
    with pytest.raises(ValueError, match="scheduler"):
        make_executor(value)


def test_missing_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ValueError, match=r"\[cluster\]"):
        make_executor("local:2")
    assert make_executor(None).description == "in-process"


def test_sweep_command_on_a_local_cluster_gives_the_same_report(tmp_path):
    # `l2phase sweep --scheduler local:2` vs in-process: same table, same results (bar timings), same report
    from l2phase.cli import main
    from test_sweep_cli import TINY_VAE

    cfg = tmp_path / "vae.toml"
    cfg.write_text(TINY_VAE)
    a, b = tmp_path / "here", tmp_path / "cluster"
    assert main(["sweep", "--config", str(cfg), "--out", str(a), "--no-progress"]) == 0
    assert main(["sweep", "--config", str(cfg), "--out", str(b), "--no-progress", "--scheduler", "local:2"]) == 0
    assert (a / "sweep.csv").read_text() == (b / "sweep.csv").read_text()
    ra, rb = (json.loads((d / "results.json").read_text()) for d in (a, b))
    ra.pop("elapsed_s"), rb.pop("elapsed_s")
    assert ra == rb

    def body(d):
        return [line for line in (d / "report.md").read_text().splitlines() if not line.startswith("Elapsed")]

    assert body(a) == body(b)
    assert sorted(p.name for p in (a / "points" / "vae").iterdir()) == sorted(p.name for p in (b / "points" / "vae").iterdir())


def test_init_diagram_on_the_cluster_gives_identical_results(executor, tmp_path):
    # the two-layer ReLU diagram's work units (one batch of nets per width) on Dask: same numbers
    from l2phase.empirical import InitDiagramConfig, run_init_diagram

    cfg = InitDiagramConfig(gammas_energy=(0.5, 1.5), gammas_dynamic=(0.0,), widths=(200, 400), seeds=(0, 1), refine=0)
    here = run_init_diagram(cfg, tmp_path / "a")
    there = run_init_diagram(cfg, tmp_path / "b", executor=executor)

    def numbers(runs):  # every field but the wall time of a run
        return json.dumps([{k: v for k, v in r.items() if k != "seconds"} for r in runs], sort_keys=True)

    assert numbers(here.runs) == numbers(there.runs)
    assert json.dumps(here.points, sort_keys=True) == json.dumps(there.points, sort_keys=True)
    files = sorted(p.name for p in (tmp_path / "a" / "points" / "diagram").glob("*.json"))
    assert files == sorted(p.name for p in (tmp_path / "b" / "points" / "diagram").glob("*.json")) and len(files) == 4
    for name in files:
        a, b = (json.loads((tmp_path / d / "points" / "diagram" / name).read_text())["record"] for d in ("a", "b"))
        assert numbers(a.pop("runs")) == numbers(b.pop("runs")) and a == b
