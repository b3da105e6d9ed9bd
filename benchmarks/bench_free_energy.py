"""Benchmark: L*(gamma) of the scalar mode for D = 1..8 on 10^5 gamma points.

Compares, in one run,
* numerics.free_energy_lean (fused serial numba kernel: L*, dL*/dgamma, d2L*/dgamma2 only),
* numerics.free_energy (numba kernel, warm starts along the grid, every branch),
* the best vectorised numpy we could write: the faster of safeguarded Newton in
  tau = log lam and safeguarded Newton in b (integer powers, active-set updates),
* a per-gamma scipy.optimize loop (minimize_scalar 'bounded' on b, compared with b = 0),
  timed on a subset and scaled to the full grid (it would take minutes),
and checks that all three give the same L* to 1e-10.  The first-call compile time of
the numba kernels is measured in a fresh interpreter with an empty numba cache.

Run:  /work/venv/bin/python benchmarks/bench_free_energy.py [--points 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.optimize import minimize_scalar

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numerics  # noqa: E402
from numerics import _fe_kernels as K  # noqa: E402


def numpy_vectorised(gamma, depth, a=1.0, c=1.0, ey2=1.0, tol=1e-15):
    """Same ridge-curve algorithm, vectorised over gamma with numpy (no numba)."""
    n = depth + 1
    p = 2.0 * depth / n
    lg = np.log(gamma)

    def g_of(t):
        lam = np.exp(t)
        if p == 1.0:
            return np.log(c * lam / (a + lam))
        return t + p * np.log(c / (a + lam))

    def gp_of(t):
        lam = np.exp(t)
        return (a + (1 - p) * lam) / (a + lam)

    # the one extremum of g (p > 1) by vectorised-free bisection on g' (done once)
    if p > 1:
        lo_e, hi_e = np.log(a / (p - 1)) - 1, np.log(a / (p - 1)) + 1
        for _ in range(100):
            mid = 0.5 * (lo_e + hi_e)
            lo_e, hi_e = (mid, hi_e) if gp_of(mid) > 0 else (lo_e, mid)
        t_e = 0.5 * (lo_e + hi_e)
        g_max = g_of(t_e)
    else:
        t_e, g_max = np.inf, (np.log(c) if p == 1 else np.inf)
    exists = lg < g_max
    lgx = lg[exists]
    lo = lgx - p * np.log(c / a) - 1.0  # g(lo) <= lg - 1 since s(lam) <= c/a
    hi = np.full(lgx.shape, t_e if np.isfinite(t_e) else 0.0)
    if not np.isfinite(t_e):  # expand the upper bracket where needed
        while True:
            bad = g_of(hi) <= lgx
            if not bad.any():
                break
            hi = np.where(bad, hi + 2 * (np.abs(hi) + 1), hi)
    x = 0.5 * (lo + hi)
    for _ in range(200):
        f = g_of(x) - lgx
        lo = np.where(f < 0, x, lo)
        hi = np.where(f > 0, x, hi)
        xn = x - f / gp_of(x)
        xn = np.where((xn > lo) & (xn < hi), xn, 0.5 * (lo + hi))
        done = np.abs(xn - x) <= tol * np.maximum(1, np.abs(x))
        x = xn
        if done.all():
            break
    lam = np.exp(x)
    dl = c * c * ((n - 2) * lam - a) / (a + lam) ** 2
    out = np.zeros(gamma.shape)
    out[exists] = np.minimum(dl, 0.0) if n >= 2 else dl
    return ey2 + out


def numpy_newton_b(gamma, depth, a=1.0, c=1.0, ey2=1.0):
    """Second numpy baseline: vectorised Newton on q(b) = a b^(2n-2) - c b^(n-2) + gamma in b
    (integer powers, no exp/log), from b = (c/a)^(1/n) where q = gamma > 0, with a bisection
    safeguard; only the points still moving are updated.  Returns L*."""
    n = depth + 1
    bhi = (c / a) ** (1.0 / n)
    if n == 2:
        bm, gamma_s = 0.0, c
    else:
        bm = ((n - 2) * c / ((2 * n - 2) * a)) ** (1.0 / n)  # q'(b_m) = 0
        gamma_s = -(a * bm ** (2 * n - 2) - c * bm ** (n - 2))
    ex = gamma < gamma_s
    g = gamma[ex]
    x = np.full(g.shape, bhi)
    lo = np.full(g.shape, bm)
    hi = x.copy()
    act = np.arange(g.size)
    for _ in range(100):
        xa = x[act]
        bn2 = xa ** (n - 2)
        b2n2 = bn2 * bn2 * xa * xa
        q = a * b2n2 - c * bn2 + g[act]
        dq = ((2 * n - 2) * a * b2n2 - (n - 2) * c * bn2) / xa
        step = q / dq
        lo[act] = np.where(q < 0, xa, lo[act])
        hi[act] = np.where(q > 0, xa, hi[act])
        xn = xa - step
        bad = ~((xn > lo[act]) & (xn < hi[act])) & (np.abs(step) > 1e-11 * xa)
        xn = np.where(bad, 0.5 * (lo[act] + hi[act]), xn)
        x[act] = xn
        act = act[np.abs(step) > 1e-11 * xa]
        if act.size == 0:
            break
    bb = x * x
    dl = bb * (-c * x ** (n - 2) + (n - 1.0) * g)
    out = np.zeros(gamma.shape)
    out[ex] = np.minimum(dl, 0.0)
    return ey2 + out


def scipy_loop(gamma, depth, a=1.0, c=1.0, ey2=1.0):
    n = depth + 1
    bmax = 1.5 * (c / a) ** (1.0 / n)
    out = np.empty(gamma.shape)
    for k, gm in enumerate(gamma):
        f = lambda b: a * b ** (2 * n) - 2 * c * b**n + ey2 + n * gm * b * b  # noqa: E731
        r = minimize_scalar(f, bounds=(0.0, bmax), method="bounded", options={"xatol": 1e-12})
        out[k] = min(r.fun, ey2)
    return out


def compile_time() -> float:
    code = (
        "import time, numpy as np; t=time.perf_counter(); import numerics; "
        "numerics.free_energy(np.linspace(0.01, 1, 10), 2); print(time.perf_counter()-t)"
    )
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        cold = float(subprocess.check_output([sys.executable, "-c", code], env=env, cwd=os.path.dirname(__file__) + "/.."))
        warm = float(subprocess.check_output([sys.executable, "-c", code], env=env, cwd=os.path.dirname(__file__) + "/.."))
    return cold, warm


def best_of(fn, repeat=3):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return min(ts), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--scipy-points", type=int, default=2_000)
    args = ap.parse_args()
    cold, warm = compile_time()
    print(f"import + first call, empty numba cache (compile): {cold:.2f} s; with cache: {warm:.2f} s")
    gamma = np.linspace(1e-4, 1.5, args.points)
    numerics.free_energy(gamma[:10], 1)  # load kernels
    numerics.free_energy_lean(gamma[:10], 1)
    print("lean = numerics.free_energy_lean (L*, dL*, d2L*); full = numerics.free_energy (+ barrier branch, bookkeeping)")
    print("numpy = best of two vectorised numpy versions (Newton in tau = log lam; Newton in b)")
    print(f"{'D':>2} {'lean s':>9} {'full s':>9} {'numpy s':>9} {'scipy s (scaled)':>17} {'lean/np':>8} "
          f"{'full/np':>8} {'lean/sp':>8} {'max|dL|':>9}")
    tot_ln = tot_nb = tot_np = tot_sp = 0.0
    for depth in range(1, 9):
        t_ln, ln = best_of(lambda: numerics.free_energy_lean(gamma, depth), repeat=7)
        t_nb, fe = best_of(lambda: numerics.free_energy(gamma, depth))
        t_np1, l_np = best_of(lambda: numpy_vectorised(gamma, depth))
        t_np2, l_np2 = best_of(lambda: numpy_newton_b(gamma, depth))
        t_np = min(t_np1, t_np2)
        sub = gamma[:: max(1, args.points // args.scipy_points)]
        t0 = time.perf_counter()
        l_sp = scipy_loop(sub, depth)
        t_sp = (time.perf_counter() - t0) * gamma.size / sub.size
        fe_sub = numerics.free_energy(sub, depth)
        err = max(np.max(np.abs(fe.loss - l_np)), np.max(np.abs(fe.loss - l_np2)),
                  np.max(np.abs(fe_sub.loss - l_sp)), np.max(np.abs(ln[0] - fe.loss)),
                  np.max(np.abs(ln[1] - fe.param_norm_sq)))
        assert err < 1e-10, f"answers differ by {err}"
        tot_ln, tot_nb, tot_np, tot_sp = tot_ln + t_ln, tot_nb + t_nb, tot_np + t_np, tot_sp + t_sp
        print(f"{depth:>2} {t_ln:9.4f} {t_nb:9.4f} {t_np:9.4f} {t_sp:17.2f} {t_np / t_ln:8.1f} {t_np / t_nb:8.1f} "
              f"{t_sp / t_ln:8.0f} {err:9.1e}")
    print(f"all D: lean {tot_ln:.4f} s, full {tot_nb:.3f} s, numpy {tot_np:.3f} s (lean {tot_np / tot_ln:.1f}x, "
          f"full {tot_np / tot_nb:.1f}x), scipy loop {tot_sp:.1f} s (lean {tot_sp / tot_ln:.0f}x)")


if __name__ == "__main__":
    main()
