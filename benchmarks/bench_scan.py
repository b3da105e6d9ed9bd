"""lp.scan of a user's nn.Module vs the built-in batched sweep (empirical.sweep_gamma) on the same gammas.

The model is NetSpec-expressible (4-6-2 MLP with biases, P = 44), so both sides do the same
work: one start per gamma, the same TrainConfig (Adam + Newton polish), exact curvature, no
change points, no files, every gamma in one work unit unless said otherwise.  Lines:

* ``sweep_gamma``: NetSpec, its own random starts (one per gamma), the reference time.
* ``scan Sequential, own starts``: ``nn.Sequential(Linear, act, Linear)`` with PyTorch's layer
  initialisation (the same start at every gamma, lp.scan's default).
* ``scan Sequential, sweep's starts``: the same module started from sweep_gamma's starts (``init``
  of shape (G, 1, P)), so both sides do the same amount of polish work; the trained losses then
  agree to float noise wherever the runs converged.
* ``scan hand-written Module, sweep's starts``: an ``nn.Module`` subclass with the same math
  written with ``matmul`` (not ``nn.Linear``), the same starts: the general path with nothing
  for lp.scan to recognise.
* ``sweep_gamma, chunk_size=32`` and ``scan Sequential, own starts, chunk_size=32``: both sides'
  default work units (two units of 32 for 64 gammas, each trained as its own batch); the scan's
  ratio is to the sweep in the same units.

Prints each time (best of R interleaved repeats) and its ratio to sweep_gamma (target <= 1.5),
and the largest loss difference to sweep_gamma over the converged gammas of the same-start lines.
The machine this runs on may be shared: compare ratios, not seconds.

Run: python benchmarks/bench_scan.py [--n-gamma 64] [--activation relu] [--repeats 3] [--threads 1]

On a shared machine, ``--threads 1`` keeps other jobs from stalling torch's thread pool
(a 2-thread run there can take 10x longer at random).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import l2phase as lp
from l2phase.empirical import (InitSpec, NetSpec, SweepConfig, TrainConfig, initial_parameters, point_seed,
                               sweep_gamma, synthetic_teacher)

ACTS = {"linear": torch.nn.Identity, "relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}


class HandMLP(torch.nn.Module):
    """in -> width -> out with biases and an activation, written by hand (flat order W1, b1, W2, b2)."""

    def __init__(self, d_in: int, width: int, d_out: int, activation: str):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(width, d_in) / d_in**0.5)
        self.b1 = torch.nn.Parameter(torch.zeros(width))
        self.w2 = torch.nn.Parameter(torch.randn(d_out, width) / width**0.5)
        self.b2 = torch.nn.Parameter(torch.zeros(d_out))
        self.act = {"linear": lambda h: h, "relu": torch.relu, "tanh": torch.tanh}[activation]

    def forward(self, x):
        return self.act(x @ self.w1.T + self.b1) @ self.w2.T + self.b2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-gamma", type=int, default=64)
    ap.add_argument("--activation", default="tanh", choices=tuple(ACTS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    d = synthetic_teacher(200, 4, (1.0, 0.4), noise=0.1, seed=0)
    spec = NetSpec(4, 2, 1, 6, activation=args.activation, bias=True)
    seq = lambda: torch.nn.Sequential(torch.nn.Linear(4, 6), ACTS[args.activation](), torch.nn.Linear(6, 2))
    hand = lambda: HandMLP(4, 6, 2, args.activation)
    g = np.geomspace(0.01, 1.0, args.n_gamma)
    cfg = TrainConfig(max_steps=500)
    init = InitSpec("random", 1.0)
    scfg = SweepConfig(inits=[init], train=cfg, curvature="exact", chunk_size=g.size)
    scfg32 = SweepConfig(inits=[init], train=cfg, curvature="exact", chunk_size=32)  # both sides' default
    # sweep_gamma's own starts, one per gamma: (G, 1, P)
    starts = torch.stack([initial_parameters(spec, init, None, point_seed(scfg.seed, v, 0)) for v in g])[:, None]
    kw = dict(train=cfg, curvature="exact", detect=False)
    sides = {
        "sweep_gamma (NetSpec)": lambda: sweep_gamma(spec, d, g, scfg),
        "scan Sequential, own starts": lambda: lp.scan(seq, d.X, d.Y, g, chunk_size=g.size, **kw),
        "scan Sequential, sweep's starts": lambda: lp.scan(seq, d.X, d.Y, g, init=starts, chunk_size=g.size, **kw),
        "scan hand-written Module, sweep's starts": lambda: lp.scan(hand, d.X, d.Y, g, init=starts,
                                                                    chunk_size=g.size, **kw),
        "sweep_gamma (NetSpec), chunk_size=32": lambda: sweep_gamma(spec, d, g, scfg32),
        "scan Sequential, own starts, chunk_size=32": lambda: lp.scan(seq, d.X, d.Y, g, **kw),
    }
    base = {k: "sweep_gamma (NetSpec), chunk_size=32" if k.startswith("scan") and k.endswith("=32")
            else "sweep_gamma (NetSpec)" for k in sides}
    sweep_gamma(spec, d, g[:2], scfg)  # warm-up
    lp.scan(seq, d.X, d.Y, g[:2], **kw)
    lp.scan(hand, d.X, d.Y, g[:2], **kw)
    best = {k: float("inf") for k in sides}
    out = {}
    for _ in range(args.repeats):  # interleaved, best of
        for k, f in sides.items():
            t = time.perf_counter()
            out[k] = f()
            best[k] = min(best[k], time.perf_counter() - t)
    ref = out["sweep_gamma (NetSpec)"]
    conv = np.array([bool(r["converged"]) for r in ref.records])
    print(f"{args.n_gamma} gammas, NetSpec(4, 2, 1, 6, {args.activation}, bias), P = {spec.n_params}, "
          f"torch threads {torch.get_num_threads()}, best of {args.repeats}")
    print(f"{'':45s} {'seconds':>8s} {'ratio':>6s}  {'steps':>6s}  max|dL| (converged in both)")
    for k, res in out.items():
        t0 = best[base[k]]
        steps = int(sum(r["n_steps"] for r in res.records))
        both = conv & np.array([bool(r["converged"]) for r in res.records])
        dl = np.max(np.abs(res.column("loss")[both] - ref.column("loss")[both]), initial=0.0)
        print(f"{k:45s} {best[k]:8.3f} {best[k] / t0:6.2f}  {steps:6d}  {dl:.1e} ({both.sum()} of {g.size})")
    print("ratio = seconds / sweep_gamma's in the same work units (one of every gamma, or the default 32),\n"
          "target <= 1.5; steps = Adam + Newton steps summed over gammas")


if __name__ == "__main__":
    main()
