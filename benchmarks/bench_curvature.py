"""Matrix-free Ricci curvature vs PyHessian, curvlinops and a plain torch.func block product.

Model: a D = 2 deep linear net (64 -> 256 -> 256 -> 8, P = 83,968) on 1024 synthetic
samples, float64, CPU, ``--probes`` (30) Rademacher probes.  Every ratio below comes from one
run: medians of ``--repeats`` interleaved timings after a warm-up of each method.

* PyHessian 0.1 (``pip install pyhessian``): ``hessian(model, MSELoss(), data).trace(maxIter)``,
  tr H of one landscape, one double-backward HVP per probe in a Python loop; its
  constructor (which builds the gradient graph) is timed too.  No L2 term: we add it
  analytically (tr H_L = k tr H_MSE + 2 gamma P, k outputs, since our E = k x MSELoss(mean)).
* curvlinops 3 (``pip install curvlinops-for-pytorch``): ``HessianLinearOperator @ V`` for the
  block of probes (P, 30), then tr H and tr H^2 from the products (one landscape).
* plain torch.func: ``vmap`` over the probe block of one ``vjp`` of ``grad(loss)`` on the full
  data (five lines), then tr H and tr H^2 (one landscape).
* l2phase ``curvature_matrix_free``: R_L and R_E of **both** landscapes, tr H, tr H^2,
  G^T H G, |HG|^2 and standard errors; ``method="auto"`` (the default), and the generic
  path a model without the deep-linear compression takes (the same net wrapped as an
  opaque model spec: full data, penalty by double backward).

Printed: the time ratios (higher = l2phase faster) at equal probes and at equal accuracy
(PyHessian's probes needed for l2phase's standard error of tr H_L, from its per-probe
variance), the agreement of the estimates (z-scores), then products per model size
(double-backward loop vs vmap reverse-over-reverse vs vmap forward-over-reverse) and
exact Hessians (``error_grad_hessian`` vs ``vmap(torch.func.hessian)``).

Run: python benchmarks/bench_curvature.py [--probes 30] [--repeats 5] [--threads 1]
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


class _Opaque:
    """The same net behind the generic model-spec protocol (no NetSpec shortcuts)."""

    def __init__(self, spec):
        self.spec, self.n_params, self.in_dim, self.out_dim = spec, spec.n_params, spec.in_dim, spec.out_dim

    def error(self, theta, X, Y):
        return error(self.spec, theta, X, Y)

    def penalty(self, theta, X):
        return (theta * theta).sum(-1)

    def init(self, n, scale=1.0, generator=None):
        return self.spec.init(n, scale, generator=generator)


def _interleaved(fns: dict, repeats: int) -> dict:
    for fn in fns.values():  # warm-up
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):  # interleaved, so a busy spell hits every method alike
        for k, fn in fns.items():
            times[k].append(_median_time(fn, 1)[0])
    return {k: float(np.median(v)) for k, v in times.items()}


def product_modes(repeats: int = 3, m: int = 32):
    """H V for a block of m probes: double-backward loop vs vmap(vjp) vs vmap(jvp), per size."""
    from l2phase.empirical.hessian_curvature import _GraphHVP  # benchmark of the private operator
    from torch.func import grad, jvp

    print(f"4. {m} products H v, float64: double-backward loop (l2phase's CPU default) vs vmap blocks")
    for spec, B, N in ((NetSpec(4, 2, 2, 4), 64, 200), (NetSpec(8, 3, 2, 16), 16, 400),
                       (NetSpec(64, 10, 1, 64, "relu"), 4, 1000), (NetSpec(64, 10, 2, 256, "tanh"), 1, 1024)):
        d = synthetic_teacher(N, spec.in_dim, tuple(np.linspace(1.0, 0.2, spec.out_dim)), seed=0)
        X, Y = d.tensors()
        theta = spec.init(B, scale=1.0, seed=0)
        V = torch.randn(B, m, spec.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

        def fn(t):
            return error(spec, t, X, Y)

        def f_sum(t):
            return fn(t).sum()

        def fwd_rev():
            gf = grad(f_sum)
            return vmap(lambda v: jvp(gf, (theta,), (v,))[1], in_dims=1, out_dims=1)(V)

        t = _interleaved({"loop": lambda: _GraphHVP(fn, theta, "loop")(V),
                          "vmap rev-rev": lambda: _GraphHVP(fn, theta, "vmap")(V),
                          "vmap fwd-rev": fwd_rev}, repeats)
        print(f"   P={spec.n_params:6d} B={B:2d} N={N:4d} {spec.activation:6s}: " +
              ", ".join(f"{k} {v * 1e3:7.1f} ms" for k, v in t.items()) +
              f"   loop vs best vmap {min(t['vmap rev-rev'], t['vmap fwd-rev']) / t['loop']:.2f}x")


def main(n_probes: int = 30, gamma: float = 0.05, repeats: int = 5):
    try:
        from pyhessian import hessian as PyHessian
        from curvlinops import HessianLinearOperator
    except ImportError:
        print("pyhessian or curvlinops not installed (pip install -e '.[bench]'): parts 1 and 2 skipped")
        product_modes(repeats)
        exact_hessians(repeats)
        return
    from torch.func import grad, vjp

    torch.manual_seed(0)
    spec = NetSpec(64, 8, 2, 256)
    d = synthetic_teacher(1024, 64, tuple(np.linspace(1.0, 0.2, 8)), seed=0)
    X, Y = d.tensors()
    theta = spec.init(1, scale=1.0, seed=0)
    P, k = spec.n_params, spec.out_dim
    mods = []
    for W, _ in spec.unflatten(theta[0]):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], bias=False).double()
        lin.weight.data.copy_(W)
        mods.append(lin)
    model = torch.nn.Sequential(*mods)
    Z = (torch.randint(0, 2, (n_probes, P), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
         * 2 - 1)

    def pyhessian_trace():
        return PyHessian(model, torch.nn.MSELoss(), data=(X, Y), cuda=False).trace(maxIter=n_probes, tol=0.0)

    def curvlinops_block():
        op = HessianLinearOperator(model, torch.nn.MSELoss(), list(model.parameters()), [(X, Y)],
                                   check_deterministic=False)
        HZ = op @ Z.T  # (P, m)
        return (Z.T * HZ).sum(0), (HZ * HZ).sum(0)

    def torch_func_block():
        _, vj = vjp(grad(lambda t: error(spec, t, X, Y)), theta[0])
        HZ = vmap(lambda v: vj(v)[0])(Z)
        return (Z * HZ).sum(1), (HZ * HZ).sum(1)

    def ours(method, s=spec):
        return lambda: curvature_matrix_free(s, theta, X, Y, gamma, n_probes=n_probes, method=method, seed=1)

    fns = {"pyhessian": pyhessian_trace, "curvlinops": curvlinops_block, "torch.func": torch_func_block,
           "auto": ours("auto"), "hutchinson": ours("hutchinson"), "hutch++": ours("hutch++"),
           "generic": ours("auto", _Opaque(spec))}
    t = _interleaved(fns, repeats)
    res = {name: fn() for name, fn in fns.items()}
    tr = np.asarray(res["pyhessian"]) * k
    tr_py = float(tr.mean()) + 2 * gamma * P
    se_py = float(tr.std(ddof=1) / np.sqrt(tr.size))
    print(f"model: D=2 linear 64-256-256-8, P={P}, N=1024, float64 CPU, {n_probes} probes, "
          f"median of {repeats} interleaved, torch threads {torch.get_num_threads()}")
    print(f"PyHessian trace (tr H of one landscape, + 2 gamma P analytically): {t['pyhessian']:.3f} s   "
          f"tr H_L = {tr_py:.1f} +- {se_py:.1f}")
    for name in ("curvlinops", "torch.func"):
        a, b = res[name]
        trn = a.detach().numpy() * (k if name == "curvlinops" else 1) + 2 * gamma * P  # MSELoss: 1/k
        print(f"{name:10s} block of {n_probes} products (tr H, tr H^2 of one landscape): {t[name]:.3f} s   "
              f"tr H_L = {trn.mean():.1f} +- {trn.std(ddof=1) / np.sqrt(n_probes):.1f}")
    for name in ("auto", "hutchinson", "hutch++", "generic"):
        r = res[name]
        print(f"l2phase {name:10s} (R_L and R_E, SEs; estimator {r.extra['estimator'][0]}): {t[name]:.3f} s   "
              f"tr H_L = {r.tr_H_L[0]:.1f} +- {r.extra['tr_se_L'][0]:.1f}   R_L = {r.R_L[0]:.5g} +- {r.R_L_se[0]:.2g}")
    for name in ("auto", "generic"):
        r = res[name]
        z = (r.tr_H_L[0] - tr_py) / np.hypot(se_py, r.extra["tr_se_L"][0])
        print(f"agreement of tr H_L ({name} vs PyHessian): z = {z:+.2f}")
    print(f"1. equal probes ({n_probes}), l2phase auto (both landscapes, SEs) is faster than:")
    for name, target in (("pyhessian", 2.0), ("curvlinops", 1.5), ("torch.func", None)):
        tgt = f"   (target >= {target}x: {'met' if t[name] / t['auto'] >= target else 'NOT met'})" if target else ""
        print(f"   {name:10s} {t[name] / t['auto']:6.2f}x   generic path {t[name] / t['generic']:6.2f}x{tgt}")
    se = float(res["auto"].extra["tr_se_L"][0])
    need = n_probes * (se_py / se) ** 2 if se > 0 else np.inf
    t_need = t["pyhessian"] / n_probes * need
    print(f"2. equal accuracy: PyHessian needs ~{need:.3g} probes (~{t_need:.3g} s) for the standard error "
          f"{se:.2f} of tr H_L that l2phase auto reaches with {n_probes}: ratio {t_need / t['auto']:.2f}x "
          f"(target >= 1x: {'met' if t_need >= t['auto'] else 'NOT met'})")
    product_modes(max(1, repeats // 2 + 1))
    exact_hessians(max(1, repeats // 2 + 1))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: spinning OpenMP threads distort timings on busy cores)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    main(n_probes=a.probes, repeats=a.repeats)
