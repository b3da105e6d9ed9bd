"""Kill a command with SIGKILL while it writes points, damage what it left, and compare a resumed
run's outputs with an uninterrupted one (used by the CLI tests of validate, sweep, init-diagram)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TIMING_KEYS = ("elapsed_s", "seconds")


def _env() -> dict:
    """The run's fingerprint holds torch's intra-op thread count (it sets the bits): the killed
    run and its --resume run as fresh processes with this process's count, the one the
    in-process reference runs used, whatever a test earlier in the suite did."""
    import torch

    return dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))


def run_fresh(argv: list[str], timeout: float = 600) -> int:
    """``l2phase ARGV`` in a fresh process with the environment of :func:`run_killed`; its exit status.

    The uninterrupted reference, the killed run and the resume all run this way, so they share
    torch's thread count (part of the fingerprint, and it sets the bits) whatever this process did.
    """
    proc = subprocess.run([sys.executable, "-m", "l2phase", *argv], capture_output=True, text=True,
                          env=_env(), timeout=timeout)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode


def resume(argv: list[str], timeout: float = 600) -> int:
    """``l2phase ARGV --resume`` in a fresh process (see :func:`run_fresh`)."""
    return run_fresh([*argv, "--resume"], timeout)


def run_killed(argv: list[str], out: Path, n_points: int, timeout: float = 300) -> int:
    """Start ``l2phase ARGV``, SIGKILL it once ``n_points`` point files exist under ``out/points``;
    return the number of point files it left."""
    proc = subprocess.Popen([sys.executable, "-m", "l2phase", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=_env())
    t0 = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - t0 < timeout:
            if len(list((out / "points").rglob("*.json"))) >= n_points:
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == -signal.SIGKILL, f"the run ended before it was killed (exit {rc}): {proc.stderr.read()[-2000:]}"
    return len(list((out / "points").rglob("*.json")))


def run_killed_at(argv: list[str], out: Path, moments: list[int], timeout: float = 300) -> list[int]:
    """Kill ``l2phase ARGV`` at several moments: the first run when ``moments[0]`` point files
    exist, then a ``--resume`` run of it when ``moments[1]`` exist, and so on (a kill during a
    resume is a kill too).  Return the number of point files left after each kill."""
    return [run_killed(argv if i == 0 else [*argv, "--resume"], out, n, timeout) for i, n in enumerate(moments)]


def damage_points(out: Path) -> list[str]:
    """Truncate the newest point file and triple the loss in the oldest (valid JSON, wrong
    content); return the names damaged."""
    files = sorted((out / "points").rglob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    if not files:
        return []
    files[-1].write_bytes(files[-1].read_bytes()[: max(1, files[-1].stat().st_size // 2)])
    names = [files[-1].name]
    if len(files) > 1:
        env = json.loads(files[0].read_text())
        rec = env["record"]
        key = "loss" if "loss" in rec else "runs"
        if key == "loss":
            rec["loss"] *= 3
        else:
            rec["runs"][0]["rd_w"] *= 3
        files[0].write_text(json.dumps(env))
        names.append(files[0].name)
    return names


def _drop_timing(obj):
    if isinstance(obj, dict):
        return {k: _drop_timing(v) for k, v in obj.items() if k not in TIMING_KEYS}
    if isinstance(obj, list):
        return [_drop_timing(v) for v in obj]
    return obj


def _csv_rows(path: Path):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in csv.DictReader(io.StringIO(path.read_text()))]


def assert_same_outputs(a: Path, b: Path, required: str = "report.md") -> None:
    """Every JSON, CSV and report file of run ``a`` equals run ``b``'s, bar wall times
    (``required``: a file both must have)."""
    def listing(d):
        return sorted(p.name for p in d.iterdir() if p.suffix in (".json", ".csv", ".md") and not p.name.startswith("."))

    names = listing(a)
    assert names == listing(b) and required in names
    for name in names:
        pa, pb = a / name, b / name
        if name.endswith(".json"):
            assert _drop_timing(json.loads(pa.read_text())) == _drop_timing(json.loads(pb.read_text())), name
        elif name.endswith(".csv"):
            assert _csv_rows(pa) == _csv_rows(pb), name
        else:
            def body(p):
                return [x for x in p.read_text().splitlines() if "Elapsed" not in x and "wall time" not in x]
            assert body(pa) == body(pb), name
