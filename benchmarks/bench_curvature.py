"""Matrix-free Ricci estimate vs PyHessian's Hutchinson trace, same model, same probe count.

Model: a D = 2 deep linear net (64 -> 256 -> 256 -> 8, P = 83,968) on 1024 synthetic
samples, float64, CPU.  PyHessian (``pip install pyhessian``) estimates tr H of
criterion(model(x), y) with ``maxIter`` Rademacher probes, one double-backward HVP each, in
a Python loop; it has no L2 term, which we add analytically (tr H_L = k tr H_MSE + 2 gamma P,
k outputs, because our E = k x MSELoss(mean)).  Its time includes its constructor, which
builds the gradient graph (ours builds it inside the timed call too).

Ours (``curvature_matrix_free``) returns the full Ricci scalar of both the loss and the error
landscape: tr H, tr H^2, G^T H G, |HG|^2 and standard errors.  Both landscapes share the
probes, so it costs n_probes + 2 HVPs of H_E (one double backward per probe).

Printed, in one run (medians of ``--repeats`` interleaved timings, after a warm-up of each):
1. equal probe counts: PyHessian trace vs ours with Hutchinson (the issue's comparison);
2. equal accuracy: ours with Hutch++ (the default) vs the time PyHessian's Hutchinson needs
   for the same standard error of tr H_L, extrapolated from its per-probe variance and
   per-probe time (Hutchinson's error falls as 1/sqrt(probes)).

3. exact Hessians (``curvature_exact``'s ``error_grad_hessian``: one double backward per row
   for all runs) vs ``vmap(torch.func.hessian)``, the batched alternative, on sweep-sized nets.

Run: python benchmarks/bench_curvature.py [--probes 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from torch.func import hessian, vmap

from l2phase.empirical import NetSpec, curvature_matrix_free, error, error_grad_hessian, synthetic_teacher


def _median_time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def exact_hessians(repeats: int = 3):
    """B Hessians at once: error_grad_hessian vs vmap(torch.func.hessian), float64 CPU."""
    print("3. exact Hessians of B runs, float64: error_grad_hessian vs vmap(torch.func.hessian)")
    for spec, B, N in ((NetSpec(4, 2, 1, 4), 64, 200), (NetSpec(4, 2, 2, 4), 64, 200), (NetSpec(8, 3, 2, 16), 16, 400)):
        d = synthetic_teacher(N, spec.in_dim, tuple(np.linspace(1.0, 0.2, spec.out_dim)), seed=0)
        X, Y = d.tensors()
        theta = spec.init(B, scale=1.0, seed=0)

        def ours():
            return error_grad_hessian(spec, theta, X, Y)[2]

        def ref():
            return vmap(hessian(lambda th: error(spec, th, X, Y)))(theta)

        ours(), ref()  # warm-up
        t_o, H = _median_time(ours, repeats)
        t_r, H_ref = _median_time(ref, repeats)
        diff = float((H - H_ref).abs().max())
        print(f"   P={spec.n_params:4d} B={B} N={N}: ours {t_o * 1e3:7.1f} ms, vmap(hessian) {t_r * 1e3:7.1f} ms,"
              f" ratio {t_r / t_o:.1f}x, max |dH| {diff:.1e}")


def main(n_probes: int = 30, gamma: float = 0.05, repeats: int = 3):
    try:
        from pyhessian import hessian as PyHessian
    except ImportError:
        print("pyhessian not installed (pip install pyhessian): parts 1 and 2 skipped")
        exact_hessians(repeats)
        return
    torch.manual_seed(0)
    spec = NetSpec(64, 8, 2, 256)
    d = synthetic_teacher(1024, 64, tuple(np.linspace(1.0, 0.2, 8)), seed=0)
    X, Y = d.tensors()
    theta = spec.init(1, scale=1.0, seed=0)
    layers = spec.unflatten(theta[0])
    mods = []
    for W, _ in layers:
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False).double()
        lin.weight.data.copy_(W)
        mods.append(lin)
    model = torch.nn.Sequential(*mods)
    k = spec.out_dim

    def pyhessian_trace():
        return PyHessian(model, torch.nn.MSELoss(), data=(X, Y), cuda=False).trace(maxIter=n_probes, tol=0.0)

    def ours(method):
        return lambda: curvature_matrix_free(spec, theta, X, Y, gamma, n_probes=n_probes, method=method, seed=1)

    fns = (pyhessian_trace, ours("hutchinson"), ours("hutch++"))
    for fn in fns:  # warm-up
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):  # interleaved, so a busy spell hits all three alike
        for fn, ts in zip(fns, times):
            ts.append(_median_time(fn, 1)[0])
    t_py, t_hu, t_pp = (float(np.median(ts)) for ts in times)
    tr, hu, pp = (fn() for fn in fns)
    tr = np.asarray(tr) * k
    tr_py = float(tr.mean()) + 2 * gamma * spec.n_params
    se_py = float(tr.std(ddof=1) / np.sqrt(tr.size))
    print(f"model: D=2 linear 64-256-256-8, P={spec.n_params}, N=1024, float64 CPU, {n_probes} probes, "
          f"median of {repeats}")
    print(f"PyHessian trace (tr H of one landscape, + 2 gamma P analytically): {t_py:.3f} s   "
          f"tr H_L = {tr_py:.1f} +- {se_py:.1f}")
    for name, t, r in (("hutchinson", t_hu, hu), ("hutch++", t_pp, pp)):
        print(f"l2phase curvature_matrix_free {name:10s} (R_L and R_E, with SEs): {t:.3f} s   "
              f"tr H_L = {r.tr_H_L[0]:.1f} +- {r.extra['tr_se_L'][0]:.1f}   R_L = {r.R_L[0]:.5g} +- {r.R_L_se[0]:.2g}")
    z = (pp.tr_H_L[0] - tr_py) / np.hypot(se_py, pp.extra["tr_se_L"][0])
    print(f"agreement of the tr H_L estimates (hutch++ vs PyHessian): z = {z:+.2f}")
    print(f"1. equal probes: ratio PyHessian / l2phase(hutchinson) = {t_py / t_hu:.2f}  "
          f"(l2phase: 2 landscapes x (tr H, tr H^2) + 2 exact HVPs)")
    se_pp = float(pp.extra["tr_se_L"][0])
    per_probe = t_py / n_probes
    need = n_probes * (se_py / se_pp) ** 2 if se_pp > 0 else np.inf
    t_need = per_probe * need
    print(f"2. equal accuracy: PyHessian needs ~{need:.3g} probes (~{t_need:.3g} s) for the standard error "
          f"{se_pp:.2f} that hutch++ reaches with {n_probes}: ratio {t_need / t_pp:.3g}")
    exact_hessians(repeats)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    main(n_probes=a.probes, repeats=a.repeats)
