"""Matrix-free Ricci estimate vs PyHessian's Hutchinson trace, same model, same probe count.

Model: a D = 2 deep linear net (64 -> 256 -> 256 -> 8, P = 83,968) on 1024 synthetic
samples, float64, CPU.  PyHessian (``pip install pyhessian``) estimates tr H of
criterion(model(x), y) with ``maxIter`` Rademacher probes, one double-backward HVP each, in
a Python loop; it has no L2 term, which we add analytically (tr H_L = k tr H_MSE + 2 gamma P,
k outputs, because our E = k x MSELoss(mean)).  Ours (``curvature_matrix_free``, Hutchinson,
same number of probes) vmaps forward-over-reverse HVPs over the probes and returns the
full Ricci scalar of both the loss and the error landscape (tr H, tr H^2, G^T H G, |HG|^2
and standard errors).  Prints both times, the ratio, and the two trace estimates.

Run: /work/venv/bin/python benchmarks/bench_curvature.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from empirical import NetSpec, curvature_matrix_free, synthetic_teacher


def main(n_probes: int = 30, gamma: float = 0.05):
    torch.manual_seed(0)
    spec = NetSpec(64, 8, 2, 256)
    d = synthetic_teacher(1024, 64, tuple(np.linspace(1.0, 0.2, 8)), seed=0)
    X, Y = d.tensors()
    theta = spec.init(1, scale=1.0, seed=0)
    # --- ours
    curvature_matrix_free(spec, theta, X, Y, gamma, n_probes=4, method="hutchinson")  # warm-up
    t = time.perf_counter()
    mf = curvature_matrix_free(spec, theta, X, Y, gamma, n_probes=n_probes, method="hutchinson", seed=1)
    t_ours = time.perf_counter() - t
    # --- PyHessian on the same weights
    try:
        from pyhessian import hessian as PyHessian
    except ImportError:
        print("pyhessian not installed: pip install pyhessian")
        return
    layers = spec.unflatten(theta[0])
    mods = []
    for W, _ in layers:
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False).double()
        lin.weight.data.copy_(W)
        mods.append(lin)
    model = torch.nn.Sequential(*mods)
    hc = PyHessian(model, torch.nn.MSELoss(), data=(X, Y), cuda=False)
    t = time.perf_counter()
    tr = hc.trace(maxIter=n_probes, tol=0.0)
    t_py = time.perf_counter() - t
    k = spec.out_dim
    tr_py = k * float(np.mean(tr)) + 2 * gamma * spec.n_params
    print(f"model: D=2 linear 64-256-256-8, P={spec.n_params}, N=1024, float64 CPU, {n_probes} probes")
    print(f"PyHessian trace (tr H only, + 2 gamma P analytically): {t_py:.2f} s   tr H_L = {tr_py:.2f}")
    print(f"l2phase curvature_matrix_free (R_L and R_E, with SEs): {t_ours:.2f} s   tr H_L = {mf.tr_H_L[0]:.2f}"
          f" +- {mf.extra['tr_se_L'][0]:.2f}   R_L = {mf.R_L[0]:.4g} +- {mf.R_L_se[0]:.2g}")
    print(f"ratio PyHessian / l2phase: {t_py / t_ours:.2f} (l2phase computes 2 landscapes x (tr H, tr H^2) + 2 exact HVPs)")


if __name__ == "__main__":
    main()
