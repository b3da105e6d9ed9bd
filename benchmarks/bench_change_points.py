"""Benchmark: change points of a 10^4-point curve, numerics.ChangePointDetector vs ruptures.

Equivalent problems, same penalty, same minimum segment length, ruptures with jump=1
(its default jump=5 moves change points):
* piecewise-constant curve: ruptures Pelt(model="l2") vs ChangePointDetector("constant"),
* piecewise-linear curve (fewer points: ruptures' CostLinear solves a least-squares
  problem per candidate segment): ruptures Pelt(model="linear") vs ChangePointDetector("linear").
Both must return the same change points.  First-call (compile) time reported separately.

Run:  /work/venv/bin/python benchmarks/bench_change_points.py [--points 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import ruptures as rpt

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

t0 = time.perf_counter()
from l2phase.numerics import ChangePointDetector  # noqa: E402

t_import = time.perf_counter() - t0


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--linear-points", type=int, default=2_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    # piecewise constant, 10^4 points, 5 changes
    n, sigma = args.points, 0.5
    levels = np.repeat([0.0, 2.0, -1.0, 1.5, 0.0, 3.0], -(-n // 6))[:n]
    y = levels + sigma * rng.standard_normal(n)
    g = np.geomspace(1e-3, 10.0, n)  # non-uniform grid: irrelevant for constant segments
    mult = 3 * np.log(n)
    det = ChangePointDetector("constant", penalty=mult, sigma=sigma, min_size=5, n_bootstrap=0)
    t = time.perf_counter()
    det.fit(g[:50], y[:50])
    t_first = time.perf_counter() - t
    t_ours, ours = timed(lambda: det.fit(g, y).breakpoints_)
    t_rpt, theirs = timed(lambda: rpt.Pelt(model="l2", min_size=5, jump=1).fit(y).predict(pen=mult * sigma**2), 1)
    same = ours == theirs[:-1]
    print(f"import numerics {t_import:.2f} s; first fit (compile or cache load) {t_first:.2f} s")
    print(f"constant, n={n}: ours {t_ours:.4f} s, ruptures Pelt l2 {t_rpt:.3f} s, "
          f"{t_rpt / t_ours:.0f}x, same change points: {same} ({len(ours)})")
    t_boot, _ = timed(lambda: ChangePointDetector("constant", penalty=mult, sigma=sigma, min_size=5,
                                                  n_bootstrap=200).fit(g, y), 1)
    print(f"  with 200-replicate bootstrap intervals: {t_boot:.3f} s")

    # piecewise linear
    m, sigma = args.linear_points, 0.05
    x = np.linspace(0.0, 4.0, m)
    yl = np.piecewise(x, [x < 1, (x >= 1) & (x < 2.5), x >= 2.5],
                      [lambda t: t, lambda t: 2 - t, lambda t: 0.5 * t - 1.75]) + sigma * rng.standard_normal(m)
    mult = 4 * np.log(m)
    detl = ChangePointDetector("linear", penalty=mult, sigma=sigma, min_size=5, n_bootstrap=0)
    t_ours, ours = timed(lambda: detl.fit(x, yl).breakpoints_)
    sig = np.column_stack([yl, np.ones(m), x])
    t_rpt, theirs = timed(lambda: rpt.Pelt(model="linear", min_size=5, jump=1).fit(sig).predict(pen=mult * sigma**2), 1)
    print(f"linear, n={m}: ours {t_ours:.4f} s, ruptures Pelt linear {t_rpt:.2f} s, "
          f"{t_rpt / t_ours:.0f}x, same change points: {ours == theirs[:-1]} ({len(ours)})")

if __name__ == "__main__":
    main()
