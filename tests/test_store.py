"""The point store: atomic files with umask permissions, the run marker (nothing deleted that
l2phase did not write), the lock, fingerprints checked on resume, damaged points detected,
file names that cannot collide."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from l2phase.empirical import LOCK_NAME, MARKER_NAME, RunStore, atomic_write, check_plain_name, point_file_stem
from l2phase.theory.checks import InputError

FP = {"command": "demo", "config": {"n": 3, "lr": 0.1}, "device": "cpu"}


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_every_kind_of_file_follows_the_umask(tmp_path, umask):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    old = os.umask(umask)
    try:
        with RunStore.open(tmp_path / "run", fingerprint=FP) as st:
            st.write_text("a.md", "x")
            st.write_json("b.json", {"x": float("nan")})
            st.write_csv("c.csv", [{"g": 1.0, "v": 2}])
            st.write_npz("d.npz", {"a": np.arange(3.0)})
            fig, _ = plt.subplots()
            st.write_figure("e.png", fig, dpi=20)
            plt.close(fig)
            st.save_point("grp", 0.5, {"gamma": 0.5}, arrays={"w": np.ones(2)})
    finally:
        os.umask(old)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file() and p.name != LOCK_NAME]
    assert len(files) == 8  # 5 outputs, a point (.json + .npz), the marker; no temporary file left
    for p in files:
        assert _mode(p) == 0o666 & ~umask, (p.name, oct(_mode(p)))
    assert json.loads((tmp_path / "run" / "b.json").read_text()) == {"x": None}  # strict JSON


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write(target, "old")

    def boom(f):
        f.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(target, boom)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_users_directory_is_refused_and_kept(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "points").mkdir()
    (tmp_path / "points" / "x.json").write_text("{}")
    with pytest.raises(InputError, match="use another --out"):
        RunStore.open(tmp_path, fingerprint=FP)
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "points" / "x.json").exists()
    assert not (tmp_path / MARKER_NAME).exists() and not (tmp_path / LOCK_NAME).exists()
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(InputError, match="not a directory"):
        RunStore.open(f, fingerprint=FP)


def test_a_fresh_run_deletes_only_the_files_the_last_run_listed(tmp_path):
    with RunStore.open(tmp_path, fingerprint=FP) as st:
        st.write_text("report.md", "1")
        st.save_point("g", 0.1, {"gamma": 0.1})
    (tmp_path / "mine.txt").write_text("user file put into the run directory")
    (tmp_path / "points" / "g" / "mine.json").write_text("{}")
    with RunStore.open(tmp_path, fingerprint=dict(FP, device="cuda")) as st:  # not a resume: a new run
        assert st.files == [] and st.load_point("g", 0.1) is None
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [MARKER_NAME, "mine.txt", "points/g/mine.json"]


def test_resume_with_another_fingerprint_names_the_fields(tmp_path):
    with RunStore.open(tmp_path, fingerprint=FP) as st:
        st.save_point("g", 0.1, {"gamma": 0.1})
    other = dict(FP, config={"n": 4, "lr": 0.1}, device="cuda")
    with pytest.raises(InputError) as err:
        RunStore.open(tmp_path, fingerprint=other, resume=True)
    msg = str(err.value)
    assert "config.n (stored 3, now 4)" in msg and 'device (stored "cpu", now "cuda")' in msg and "lr" not in msg
    with RunStore.open(tmp_path, fingerprint=FP, resume=True) as st:  # the same one resumes
        assert st.resumed and st.load_point("g", 0.1).record == {"gamma": 0.1}


def test_second_run_on_the_same_directory_refuses_and_a_dead_runs_lock_is_taken_over(tmp_path):
    st = RunStore.open(tmp_path, fingerprint=FP)
    with pytest.raises(InputError, match=f"in use by another l2phase run \\(pid {os.getpid()}\\)"):
        RunStore.open(tmp_path, fingerprint=FP, resume=True)
    st.close()
    assert not (tmp_path / LOCK_NAME).exists()
    # a run killed with -9 leaves its lock file behind (here: a pid that has exited), nobody holds the lock
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK_NAME).write_text(dead.stdout)
    with RunStore.open(tmp_path, fingerprint=FP, resume=True) as st:
        assert st.resumed and (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())


def _damage(path, how):
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif how == "not json":
        path.write_bytes(b"\x00\xff garbage")
    elif how == "tripled loss":  # valid JSON, wrong content
        env = json.loads(path.read_text())
        env["record"]["loss"] *= 3
        path.write_text(json.dumps(env))
    elif how == "other run":
        env = json.loads(path.read_text())
        env["run"] = "0" * 16
        path.write_text(json.dumps(env))
    elif how == "renamed":
        env = json.loads(path.read_text())
        env["key"] = [0.25]
        path.write_text(json.dumps(env))


@pytest.mark.parametrize("how", ["truncated", "not json", "tripled loss", "other run", "renamed", "bad npz",
                                 "npz of another point", "schema"])
def test_damaged_points_are_reported_and_treated_as_missing(tmp_path, how):
    with RunStore.open(tmp_path, fingerprint=FP) as st:
        st.save_point("g", 0.1, {"gamma": 0.1, "loss": 1.5, "theta": [1.0, 2.0]}, arrays={"w": np.arange(4.0)})
        st.save_point("g", 0.2, {"gamma": 0.2, "loss": 2.5, "theta": [1.0, 2.0]}, arrays={"w": np.arange(5.0)})
    d = tmp_path / "points" / "g"
    j, z = d / f"{point_file_stem(0.1)}.json", d / f"{point_file_stem(0.1)}.npz"
    if how == "bad npz":
        z.write_bytes(z.read_bytes()[:30])
    elif how == "npz of another point":
        z.write_bytes((d / f"{point_file_stem(0.2)}.npz").read_bytes())
    elif how != "schema":
        _damage(j, how)

    def check(rec, arrays):
        if how == "schema" and len(rec["theta"]) != 3:
            raise ValueError(f"theta has length {len(rec['theta'])}, expected 3")

    with RunStore.open(tmp_path, fingerprint=FP, resume=True) as st:
        assert st.load_point("g", 0.1, check) is None
        assert len(st.damaged) == 1 and "allow_pickle" not in st.damaged[0]
        good = st.load_point("g", 0.2)
        assert good.record["loss"] == 2.5 and np.array_equal(good.arrays["w"], np.arange(5.0))
        st.save_point("g", 0.1, {"gamma": 0.1, "loss": 1.5, "theta": [1.0, 2.0, 3.0]})  # recomputed, replaced
        assert st.load_point("g", 0.1, check).record["loss"] == 1.5


def test_point_names_are_exact_and_cannot_collide(tmp_path):
    keys = [0.1234567, 0.12345671, 0.1 + 0.2, 0.3, (1.0, -0.2, 1000), (1.0, -0.2, 2000), 0.0, -0.0]
    stems = [point_file_stem(k) for k in keys]
    assert len(set(stems[:-1])) == len(keys) - 1 and stems[-1] == stems[-2]  # -0.0 is the key 0.0
    with RunStore.open(tmp_path, fingerprint=FP) as st:
        for i, k in enumerate(keys[:-1]):
            st.save_point("g", k, {"i": i, "x": float("nan"), "y": float("-inf")})
        got = [st.load_point("g", k).record for k in keys[:-1]]
    assert [r["i"] for r in got] == list(range(len(keys) - 1))
    assert np.isnan(got[0]["x"]) and got[0]["y"] == -np.inf  # non-finite values read back exactly
    for bad in (float("nan"), (1.0, True), "a/b", ""):
        with pytest.raises((TypeError, ValueError)):
            point_file_stem(bad)


@pytest.mark.parametrize("name", ["/etc", "../up", "a/b", ".hidden", "", "a b", "x" * 101, "a\\b", 3])
def test_plain_names(name):
    with pytest.raises(InputError, match="plain name"):
        check_plain_name(name, "name")


def test_plain_names_accepted():
    for name in ("digits_relu", "vae-linear.v2", "D1", "_x"):
        assert check_plain_name(name) == name


def test_claimed_work_units_write_the_marker_once_and_list_every_file_first(tmp_path, monkeypatch):
    writes = []
    real = RunStore._write_marker

    def counting(self):
        writes.append(sorted(self._files))
        real(self)

    monkeypatch.setattr(RunStore, "_write_marker", counting)
    keys = [0.1, 0.2, 0.3, 0.4]
    with RunStore.open(tmp_path, fingerprint=FP) as st:
        n_open = len(writes)
        st.claim_points("g", keys[:3], arrays=True)
        assert len(writes) == n_open + 1
        names = [f"points/g/{point_file_stem(k)}.{s}" for k in keys[:3] for s in ("json", "npz")]
        # every file of the unit is listed in the marker before any of them exists
        assert set(names) <= set(json.loads((tmp_path / MARKER_NAME).read_text())["files"])
        assert not (tmp_path / "points").exists()
        for k in keys[:3]:
            st.save_point("g", k, {"gamma": k}, arrays={"w": np.ones(2) * k})
        assert len(writes) == n_open + 1  # no marker write per point
        st.save_point("g", keys[3], {"gamma": keys[3]})  # not claimed: save_point lists it itself
        assert len(writes) == n_open + 2
        assert f"points/g/{point_file_stem(0.4)}.json" in st.files
        st.claim_points("g", keys[:2])  # listed already: no write
        assert len(writes) == n_open + 2
        st.claim_points("g", [0.5])  # claimed, never written (a run killed before the point)
    with RunStore.open(tmp_path, fingerprint=FP, resume=True) as st:
        assert [st.load_point("g", k).record["gamma"] for k in keys] == keys and st.load_point("g", 0.5) is None
    (tmp_path / "points" / "g" / "mine.json").write_text("{}")
    with RunStore.open(tmp_path, fingerprint=dict(FP, device="cuda")) as st:  # a fresh run deletes the listed files
        assert st.files == []
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [MARKER_NAME, "points/g/mine.json"]
    with RunStore.open(tmp_path / "x", fingerprint=FP) as st, pytest.raises(InputError, match="point group"):
        st.claim_points("../g", [0.1])
