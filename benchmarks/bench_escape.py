"""Langevin first passages of a full deep linear net: numba kernel vs batched torch, same dynamics.

Runs R replicas for a fixed number of steps (no escape: exit thresholds out of reach) with
numerics.deep_linear_first_passage and empirical.langevin_escape (torch, one thread) and
prints the time per replica-step of each and their ratio.  Usage: python benchmarks/bench_escape.py
"""

import time

import numpy as np
import torch

from l2phase.empirical.experiments.escape import escape_landscape
from l2phase.empirical.langevin import langevin_escape
from l2phase.numerics.deep_linear_escape import deep_linear_first_passage


def main(R: int = 200, steps: int = 5000) -> None:
    torch.set_num_threads(1)
    ls = escape_landscape(2, 1.0, 1.0, 0.3, width=2)
    th0 = np.zeros((R, ls.spec.n_params))
    T = np.full(R, 0.005)
    dims = [2, 2, 2, 2]
    deep_linear_first_passage(th0[:2], T[:2], dims, ls.A.numpy(), ls.beta.numpy(), 0.3, [1, 0], [1, 0],
                              exit_above=1e9, dt=0.1, max_steps=10)  # compile
    t = time.perf_counter()
    deep_linear_first_passage(th0, T, dims, ls.A.numpy(), ls.beta.numpy(), 0.3, [1, 0], [1, 0], exit_above=1e9,
                              dt=0.1, max_steps=steps)
    t_nb = time.perf_counter() - t
    t = time.perf_counter()
    langevin_escape(ls, torch.as_tensor(th0), T, lambda th: ls.mode_projection(th) > 1e9, dt=0.1, max_steps=steps)
    t_torch = time.perf_counter() - t
    n = R * steps
    print(f"numba  {t_nb / n * 1e9:8.1f} ns per replica-step")
    print(f"torch  {t_torch / n * 1e9:8.1f} ns per replica-step (batched, 1 thread)")
    print(f"ratio torch / numba = {t_torch / t_nb:.1f}")


if __name__ == "__main__":
    main()
