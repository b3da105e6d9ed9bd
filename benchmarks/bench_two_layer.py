"""Speed of the two-layer ReLU trainer (init phase diagram, Luo et al., arXiv:2007.07497).

Compares, per hidden width, net-steps per second of

* ``train_normalised``: B nets (6 gamma_energy x 3 seeds, a row of the diagram) batched in one
  tensor, analytic gradients, adaptive step (Gram eigenvalue every 10 steps);
* the alternative a user would write: a torch ``nn.Module`` (two ``nn.Linear``, autograd,
  ``torch.optim.SGD``) trained one net at a time, fixed step.

Then (``--cut``) the wall time of the CPU default cut (``l2phase init-diagram`` defaults:
gamma_dynamic = 0, 6 gamma_energy x widths 1e3..2e4 x 3 seeds, adaptive refinement) and
(``--full``) of the full default grid (6 x 5 points).

    /work/venv/bin/python benchmarks/bench_two_layer.py [--device cuda] [--cut] [--full]
"""

from __future__ import annotations

import argparse
import time

import torch

from l2phase.empirical.experiments.init_diagram import InitDiagramConfig, run_init_diagram
from l2phase.empirical.two_layer import train_normalised, two_layer_dataset

GAMMAS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def bench_batched(data, m, steps, device):
    k = [m ** -g for g in GAMMAS for _ in range(3)]
    seeds = [s for _ in GAMMAS for s in range(3)]
    train_normalised(data, k[:2], [1.0] * 2, [m] * 2, seeds[:2], max_steps=5, tol=1e-30, device=device)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    train_normalised(data, k, [1.0] * len(k), [m] * len(k), seeds, max_steps=steps, tol=1e-30, device=device)
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
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--cut", action="store_true", help="time the CPU default cut")
    ap.add_argument("--full", action="store_true", help="time the full default grid")
    args = ap.parse_args()
    data = two_layer_dataset("quadratic4")
    widths = [int(float(w)) for w in args.widths.split(",")] if args.widths else (
        [1000, 10000, 100000] if args.device == "cpu" else [1000, 10000, 100000, 1000000])
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, {args.steps} steps")
    print(f"{'width':>8s} {'batched net-steps/s':>20s} {'nn.Module loop net-steps/s':>28s} {'ratio':>7s}")
    for m in widths:
        b = bench_batched(data, m, args.steps, args.device)
        p = bench_plain(data, m, args.steps, args.device)
        print(f"{m:8d} {b:20.0f} {p:28.0f} {b / p:7.1f}x")
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
