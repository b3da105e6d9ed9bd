"""Sweep of 256 gamma values: in-process vs a Dask LocalCluster with 2 workers.

Run: python benchmarks/bench_cluster.py [--n-gamma 256] [--workers 2] [--chunk 32]

Prints the wall time of each, their ratio, and the per-task overhead of the cluster
(round trip of an empty task), so one can judge when the cluster pays off: when the
work per unit (chunk_size gammas x inits x training steps) is much larger than the
overhead and there are more workers (machines, GPUs) than this process has cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from l2phase.empirical import NetSpec, SweepConfig, make_executor, sweep_gamma, synthetic_teacher


def _noop(x):
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-gamma", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--width", type=int, default=8)
    args = ap.parse_args()

    data = synthetic_teacher(120, 4, (1.0, 0.4), noise=0.1, exact=True, seed=0)
    spec = NetSpec(4, 2, 2, args.width)
    gammas = np.linspace(0.02, 0.7, args.n_gamma)
    cfg = SweepConfig(chunk_size=args.chunk, curvature="exact")

    t0 = time.perf_counter()
    ref = sweep_gamma(spec, data, gammas, cfg)
    t_local = time.perf_counter() - t0

    ex = make_executor(f"local:{args.workers}")
    try:
        t0 = time.perf_counter()
        list(ex.map_unordered(_noop, range(200)))
        overhead = (time.perf_counter() - t0) / 200
        t0 = time.perf_counter()
        res = sweep_gamma(spec, data, gammas, cfg, executor=ex)
        t_cluster = time.perf_counter() - t0
    finally:
        ex.close()
    same = np.array_equal(ref.thetas, res.thetas)
    n_units = -(-args.n_gamma // args.chunk)
    print(f"sweep of {args.n_gamma} gammas, D=2 width {args.width}, {n_units} work units of {args.chunk}")
    print(f"in-process            : {t_local:8.2f} s")
    print(f"LocalCluster({args.workers} workers): {t_cluster:8.2f} s   (cluster start-up not included)")
    print(f"ratio in-process / cluster: {t_local / t_cluster:6.2f}x   identical results: {same}")
    print(f"per-task overhead (empty task round trip): {overhead * 1e3:.2f} ms")
    print(f"work per unit (in-process): {t_local / n_units * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
