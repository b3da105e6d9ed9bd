"""lp.scan of a user's nn.Module vs the built-in batched sweep (empirical.sweep_gamma) on the same gammas.

The model is NetSpec-expressible (nn.Sequential of nn.Linear + activation), so both do the same
work: one random start per gamma, the same TrainConfig (Adam + Newton polish), exact curvature,
no change points, no files.  Prints both wall-clock times and the ratio scan / sweep_gamma
(target <= 1.5), and the largest difference of the trained losses (different starts, so only a
sanity check).  The machine this ran on may be shared: compare ratios, not seconds.

Run: python benchmarks/bench_scan.py [--n-gamma 32] [--activation relu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import l2phase as lp
from l2phase.empirical import InitSpec, NetSpec, SweepConfig, TrainConfig, sweep_gamma, synthetic_teacher


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-gamma", type=int, default=32)
    ap.add_argument("--activation", default="tanh", choices=("linear", "relu", "tanh"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    d = synthetic_teacher(200, 4, (1.0, 0.4), noise=0.1, seed=0)
    spec = NetSpec(4, 2, 1, 6, activation=args.activation, bias=True)
    act = {"linear": torch.nn.Identity, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[args.activation]
    make = lambda: torch.nn.Sequential(torch.nn.Linear(4, 6), act(), torch.nn.Linear(6, 2))
    g = np.geomspace(0.01, 1.0, args.n_gamma)
    cfg = TrainConfig(max_steps=500)
    # one work unit of every gamma on both sides (lp.scan's default, chunk_size=32, makes work units to store)
    scfg = SweepConfig(inits=[InitSpec("random", 1.0)], train=cfg, curvature="exact", chunk_size=g.size)
    sweep_gamma(spec, d, g[:2], scfg)  # warm-up
    lp.scan(make, d.X, d.Y, g[:2], train=cfg, curvature="exact", detect=False)
    ts, tb = [], []
    for _ in range(args.repeats):  # interleaved, best of
        t = time.perf_counter()
        ref = sweep_gamma(spec, d, g, scfg)
        tb.append(time.perf_counter() - t)
        t = time.perf_counter()
        res = lp.scan(make, d.X, d.Y, g, train=cfg, curvature="exact", detect=False, chunk_size=g.size)
        ts.append(time.perf_counter() - t)
    dl = np.max(np.abs(res.column("loss") - ref.column("loss")))
    print(f"{args.n_gamma} gammas, NetSpec(4, 2, 1, 6, {args.activation}, bias), P = {spec.n_params}")
    print(f"sweep_gamma (built-in) {min(tb):.3f} s   lp.scan (nn.Module) {min(ts):.3f} s   "
          f"ratio scan/sweep {min(ts) / min(tb):.2f}  (target <= 1.5)")
    print(f"max |loss difference| {dl:.2e} (different random starts; same minima expected for most gammas)")


if __name__ == "__main__":
    main()
