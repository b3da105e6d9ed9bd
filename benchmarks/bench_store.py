"""Point store: saving a sweep's points with one marker write per point vs one per work unit.

``RunStore.save_point`` records a point's file names in the run marker before it writes the
point (so a kill at any moment leaves a directory whose files are all listed); the marker is
rewritten atomically (temporary file, fsync, rename, directory fsync).  Claiming a work
unit's names at once (:meth:`RunStore.claim_points`) replaces the per-point marker write by
one per unit.  Prints the time per point both ways and their ratio, for sweeps of
``--points`` points in units of ``--unit`` (the default chunk of a gamma sweep is 8).

Run: python benchmarks/bench_store.py [--points 200] [--unit 8]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from l2phase.empirical import RunStore


def _record(g: float) -> dict:
    return dict(gamma=g, loss=1.0 / (1 + g), param_norm_sq=g * g, status="converged", converged=True,
                diverged=False, theta=np.linspace(0, 1, 48).tolist())


def run(points: int, unit: int, claim: bool) -> float:
    """Seconds per saved point."""
    gs = [float(g) for g in np.linspace(0.01, 1.0, points)]
    with tempfile.TemporaryDirectory() as d, RunStore.open(d, fingerprint={"bench": points}) as st:
        t = time.perf_counter()
        for i in range(0, points, unit):
            block = gs[i:i + unit]
            if claim:
                st.claim_points("sweep", block)
            for g in block:
                st.save_point("sweep", g, _record(g))
        return (time.perf_counter() - t) / points


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--unit", type=int, default=8)
    args = ap.parse_args()
    run(16, 8, True)  # warm-up
    per_point = run(args.points, args.unit, False)
    per_unit = run(args.points, args.unit, True)
    print(f"{args.points} points, units of {args.unit}")
    print(f"marker written per point: {1e3 * per_point:7.2f} ms / point")
    print(f"marker written per unit:  {1e3 * per_unit:7.2f} ms / point")
    print(f"ratio: {per_point / per_unit:.2f}x")


if __name__ == "__main__":
    main()
