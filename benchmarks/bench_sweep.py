"""Batched gamma sweep (64 gammas trained at once) vs a plain loop of 64 independent trainings.

Same nets, same data, same optimiser settings (Adam + Newton polish, float64, gradient
norm <= 1e-9), same per-run initialisations.  Prints the wall-clock ratio and the largest
difference in the trained losses.  On a GPU (``--device cuda``) also reports how many
gamma values per second a width-1024, D = 2 net sweeps (Adam only, fixed step budget).

Run: /work/venv/bin/python benchmarks/bench_sweep.py [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from l2phase.empirical import NetSpec, TrainConfig, synthetic_teacher, train_batched


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--n-gamma", type=int, default=64)
    args = ap.parse_args()
    dev = torch.device(args.device)
    d = synthetic_teacher(200, 4, (1.0, 0.4), noise=0.1, seed=0)
    X, Y = d.tensors(device=dev)
    spec = NetSpec(4, 2, 2, 4)
    g = np.linspace(0.02, 0.6, args.n_gamma)
    th0 = spec.init(g.size, scale=1.5, seed=0).to(dev)
    cfg = TrainConfig(lr=0.02, max_steps=300)
    train_batched(spec, th0[:2], X, Y, g[:2], cfg)  # warm-up
    t = time.perf_counter()
    rb = train_batched(spec, th0, X, Y, g, cfg)
    tb = time.perf_counter() - t
    t = time.perf_counter()
    loop = [train_batched(spec, th0[i:i + 1], X, Y, g[i:i + 1], cfg) for i in range(g.size)]
    tl = time.perf_counter() - t
    ll = np.array([r.loss[0] for r in loop])
    print(f"batched sweep of {g.size} gammas (D=2, width 4, P={spec.n_params}): {tb:.2f} s")
    print(f"loop of {g.size} independent trainings:                    {tl:.2f} s")
    print(f"speed-up: {tl / tb:.1f}x; max |loss difference| = {np.max(np.abs(ll - rb.loss)):.2e}")
    if dev.type == "cuda":
        big = NetSpec(64, 8, 2, 1024)
        dd = synthetic_teacher(2048, 64, tuple(np.linspace(1.0, 0.2, 8)), seed=0)
        Xb, Yb = dd.tensors(device=dev, dtype=torch.float32)
        for B in (16, 64):
            th = big.init(B, scale=1.0, seed=0, dtype=torch.float32).to(dev)
            cfgb = TrainConfig(lr=1e-3, max_steps=200, polish=None, gtol=1e-30)
            gg = np.linspace(1e-3, 0.5, B)
            train_batched(big, th, Xb, Yb, gg, TrainConfig(lr=1e-3, max_steps=5, polish=None, gtol=1e-30))
            torch.cuda.synchronize()
            t = time.perf_counter()
            train_batched(big, th, Xb, Yb, gg, cfgb)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t
            print(f"GPU width-1024 D=2 (P={big.n_params}), {B} gammas x 200 Adam steps, float32: "
                  f"{dt:.2f} s -> {B / dt:.1f} gamma values/s ({B * 200 / dt:.0f} gamma-steps/s)")


if __name__ == "__main__":
    main()
