"""Speed of the two-layer ReLU trainer (init phase diagram, Luo et al., arXiv:2007.07497).

Compares, per hidden width, net-steps per second of

* ``train_normalised``: B nets (6 gamma_energy x 3 seeds, a row of the diagram; fewer at
  10^6), analytic gradients, adaptive step (Gram eigenvalue every 10 steps, rejected steps
  undone), with its CPU default ``kernel="numba"`` (one fused, vectorised pass over the
  neurons per step, a checkpoint every 8 steps, rows one after another) and with
  ``kernel="torch"`` (all rows stacked in one tensor; the GPU path);
* the alternative a user would write: a torch ``nn.Module`` (two ``nn.Linear``, autograd,
  ``torch.optim.SGD``) trained one net at a time, fixed step.

Then (``--cut``) the wall time of the CPU default cut (``l2phase init-diagram`` defaults:
gamma_dynamic = 0, 6 gamma_energy x widths 1e3..2e4 x 3 seeds, adaptive refinement) and
(``--full``) of the full default grid (6 x 5 points).

Both trainers do the same number of neuron updates per net-step only without ASI; with ASI
(the default, f = 0 at t = 0) ``train_normalised`` updates 2m neurons per step against the
loop's m.  Timings: medians of ``--repeats`` interleaved runs after a warm-up.

    python benchmarks/bench_two_layer.py [--device cuda] [--widths 1e3,1e4,1e5,1e6] [--cut] [--full]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from l2phase.empirical.experiments.init_diagram import InitDiagramConfig, run_init_diagram
from l2phase.empirical.two_layer import train_normalised, two_layer_dataset

GAMMAS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def bench_batched(data, m, steps, device, kernel, n_nets=None):
    n_nets = n_nets or (18 if m < 10**6 else 3)
    k = [m ** -g for g in GAMMAS for _ in range(3)][:n_nets]
    seeds = [s for _ in GAMMAS for s in range(3)][:n_nets]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    train_normalised(data, k, [1.0] * len(k), [m] * len(k), seeds, max_steps=steps, tol=1e-30, device=device,
                     kernel=kernel)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return len(k) * steps / (time.perf_counter() - t)


class _Net(torch.nn.Module):
    def __init__(self, m, alpha):
        super().__init__()
        self.l1 = torch.nn.Linear(1, m)
        self.l2 = torch.nn.Linear(m, 1, bias=False)
        self.alpha = alpha

    def forward(self, x):
        return self.l2(torch.relu(self.l1(x))) / self.alpha


def bench_plain(data, m, steps, device, n_nets=3):
    dt = torch.float64 if device == "cpu" else torch.float32
    X = torch.as_tensor(data.X, dtype=dt, device=device)
    y = torch.as_tensor(data.y, dtype=dt, device=device)[:, None]
    t = time.perf_counter()
    for g in GAMMAS[:n_nets]:
        net = _Net(m, m ** g).to(device=device, dtype=dt)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        for _ in range(steps):
            opt.zero_grad()
            loss = 0.5 * ((net(X) - y) ** 2).mean()
            loss.backward()
            opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return n_nets * steps / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--widths", default=None)
    ap.add_argument("--steps", type=int, default=200, help="steps per net (fewer at large widths: <= 1e8 / m)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kernels", default=None, help="comma-separated train_normalised kernels (default numba,torch on CPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--cut", action="store_true", help="time the CPU default cut")
    ap.add_argument("--full", action="store_true", help="time the full default grid")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = two_layer_dataset("quadratic4")
    widths = [int(float(w)) for w in args.widths.split(",")] if args.widths else (
        [1000, 10000, 100000, 1000000])
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, median of {args.repeats} interleaved")
    kernels = tuple(args.kernels.split(",")) if args.kernels else (
        ("numba", "torch") if args.device == "cpu" else ("torch",))
    print(f"{'width':>8s} {'steps':>6s} " + " ".join(f"{'kernel ' + k + ' net-steps/s':>26s}" for k in kernels)
          + f" {'nn.Module loop':>15s} " + " ".join(f"{k + ' / loop':>13s}" for k in kernels))
    for m in widths:
        steps = max(5, min(args.steps, int(1e8 / m)))
        for kn in kernels:  # warm-up (compilation, allocator)
            bench_batched(data, min(m, 1000), 3, args.device, kn, n_nets=2)
        res = {k: [] for k in kernels + ("loop",)}
        for _ in range(args.repeats):
            for kn in kernels:
                res[kn].append(bench_batched(data, m, steps, args.device, kn))
            res["loop"].append(bench_plain(data, m, steps, args.device))
        med = {k: float(np.median(v)) for k, v in res.items()}
        print(f"{m:8d} {steps:6d} " + " ".join(f"{med[k]:26.0f}" for k in kernels) + f" {med['loop']:15.0f} "
              + " ".join(f"{med[k] / med['loop']:12.2f}x" for k in kernels), flush=True)
    for flag, cfg in (("cut", InitDiagramConfig(device=args.device)),
                      ("full", InitDiagramConfig.full_grid(device=args.device))):
        if getattr(args, flag):
            t = time.perf_counter()
            res = run_init_diagram(cfg)
            steps = max(p["max_steps_used"] for p in res.points)
            print(f"{flag}: {len(res.points)} points x {len(cfg.widths)} widths x {len(cfg.seeds)} seeds: "
                  f"{time.perf_counter() - t:.1f} s wall (max steps of a run {steps})")
            for p in res.points:
                print(f"  ({p['gamma_energy']:g}, {p['gamma_dynamic']:g}) S_w = {p['slope']:+.4f} +- {p['slope_err']:.4f}"
                      f"  [{p['theory_regime']}]")


if __name__ == "__main__":
    main()
