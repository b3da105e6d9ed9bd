"""Speed of the transitions for real data (``l2phase theory --data``).

1. digits (x = pixels / 16 not centred, one-hot targets with the mean removed, no bias:
   61 effective input dimensions x 10 outputs), D = 1: the exact rank homotopy
   (:func:`l2phase.theory.nuclear_norm_path`) against the alternative it replaced
   (accelerated proximal gradient with singular-value thresholding, bisection on the rank
   of its solution, relative accuracy 1e-9), with the largest difference of the two.
2. digits, D = 2: all transitions of the 10 outputs by the certified global numerical
   search (:func:`l2phase.theory.global_transitions`, 8 starts per rank).
3. MNIST (784 x 10), D = 1, when ``L2PHASE_MNIST`` names local files.

Wall and CPU (process) time are both printed: on a shared machine the wall time includes
waiting for a core.

    /work/venv/bin/python benchmarks/bench_data_theory.py [--skip-reference] [--no-depth2]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from l2phase.empirical import Preprocessing, data_stats, load_raw
from l2phase.numerics import proximal_rank_path
from l2phase.theory import data_transitions, restrict_to_range


def timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def mnist_sized(n: int = 6000, seed: int = 0):
    """Statistics shaped like MNIST's: 784 inputs in [0, 1], 67 of them always zero, 10 classes
    with class-dependent mean images (seeded), one-hot targets with the mean removed."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    means = rng.uniform(0, 1, (10, 784)) ** 3
    X = np.clip(means[labels] + 0.3 * rng.normal(size=(n, 784)), 0, 1)
    X[:, rng.choice(784, 67, replace=False)] = 0.0
    return data_stats(*Preprocessing().apply(X, labels, n_classes=10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-reference", action="store_true", help="do not time the proximal-gradient alternative")
    ap.add_argument("--no-depth2", action="store_true")
    args = ap.parse_args()
    X, labels, _ = load_raw("digits")
    A, B, ey2 = data_stats(*Preprocessing().apply(X, labels))
    rr = restrict_to_range(A, B, ey2)
    print(f"digits: A {A.shape} rank {rr.rank} ({rr.n_dropped} dropped), B {B.shape}")
    rep, wall, cpu = timed(lambda: data_transitions(A, B, ey2, 1))
    g1 = [t.gamma_c for t in rep.transitions]
    print(f"D=1 homotopy: {len(g1)} transitions, wall {wall:.2f} s, cpu {cpu:.2f} s, "
          f"max KKT residual {max(t.certificate['kkt_residual'] for t in rep.transitions):.1e}")
    if not args.skip_reference:
        ref, wall_r, cpu_r = timed(lambda: proximal_rank_path(rr.A, rr.B))
        diff = max(abs(a - b) / b for a, b in zip(g1, ref)) if len(ref) == len(g1) else float("nan")
        print(f"D=1 proximal gradient + bisection: {len(ref)} transitions, wall {wall_r:.1f} s, cpu {cpu_r:.1f} s; "
              f"ratio (cpu) {cpu_r / cpu:.0f}x; max relative difference {diff:.1e}")
    if not args.no_depth2:
        rep2, wall2, cpu2 = timed(lambda: data_transitions(A, B, ey2, 2))
        worst = max(t.certificate["kkt_residual"] for t in rep2.transitions)
        gap = min(t.certificate["gap_next_branch"] for t in rep2.transitions)
        print(f"D=2 global-numerical: {len(rep2.transitions)} transitions, wall {wall2:.1f} s, cpu {cpu2:.1f} s; "
              f"max KKT residual {worst:.1e}, smallest gap to the next branch {gap:.2e}")
    if os.environ.get("L2PHASE_MNIST"):
        Xm, lm, _ = load_raw("mnist")
        (Am, Bm, em), wall_s, _ = timed(lambda: data_stats(*Preprocessing().apply(Xm, lm)))
        repm, wall_m, cpu_m = timed(lambda: data_transitions(Am, Bm, em, 1))
        print(f"MNIST D=1: A rank {repm.rank_A} of {Am.shape[0]}, {len(repm.transitions)} transitions, "
              f"statistics {wall_s:.1f} s, transitions wall {wall_m:.1f} s cpu {cpu_m:.1f} s")
    else:
        print("MNIST: skipped (set L2PHASE_MNIST to local files); an MNIST-sized stand-in instead:")
        Am, Bm, em = mnist_sized()
        repm, wall_m, cpu_m = timed(lambda: data_transitions(Am, Bm, em, 1))
        print(f"784 x 10 stand-in D=1: A rank {repm.rank_A} of 784, {len(repm.transitions)} transitions, "
              f"wall {wall_m:.1f} s, cpu {cpu_m:.1f} s, max KKT residual "
              f"{max(t.certificate['kkt_residual'] for t in repm.transitions):.1e}")


if __name__ == "__main__":
    main()
