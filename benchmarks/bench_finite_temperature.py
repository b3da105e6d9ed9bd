"""Benchmark: finite-temperature free energy of the scalar chain against what a user would write.

Scalar chain (docs/conventions.md): P = D + 1 parameters, p = prod(theta),
L = a p^2 - 2 c p + E[y^2] + gamma |theta|^2, Z = int exp(-L/T) dtheta, F = -T log Z,
<|theta|^2> = dF/dgamma, chi = Var(|theta|^2)/T.  a = c = E[y^2] = 1.

Sections (one run prints them all):

A. Deterministic F, <|theta|^2>, chi at T = 0.05 on a few gammas:
   numerics.thermal_quadrature (D <= 2) and numerics.thermal_reduced (any D) against
   scipy.integrate.cubature (adaptive Genz-Malik/Gauss-Kronrod cubature, vector-valued
   integrand [1, |theta|^2, |theta|^4] exp(-(L - L*)/T) over the same box [-R, R]^P,
   R = sqrt((c^2/a + 40 T)/gamma)) and, for D = 1, scipy.integrate.nquad (three nested-quad
   integrals per gamma).  Agreement asserted: |dF| <= 1e-8, <|theta|^2> and chi to 1e-7 and
   1e-5 relative.  thermal_reduced's first call per depth tabulates the fibre measure
   j_P (cached): reported separately from its steady state.
B. Metropolis: numerics.thermal_sampler (numba) against the same algorithm in plain numpy,
   vectorised over the chains (same chains, starts, step tuning, batch means).  Both are
   compared with the exact thermal_reduced value: z = (estimate - exact)/stderr.
C. Arrhenius escape: numerics.escape_times (numba overdamped Langevin) against the same
   Euler-Maruyama scheme in numpy, vectorised over the runs.  Mean first-passage times are
   compared within their standard errors.

The first-call compile time of the numba kernels (sampler, Langevin) is measured in a fresh
interpreter with an empty numba cache, and again with the cache.  Timings of fast paths are
the minimum of ``--repeat`` calls (the machine may be shared).

Run:  .venv/bin/python benchmarks/bench_finite_temperature.py [--slow]
      (--slow adds D = 3 at one gamma to section A: cubature in 4 dimensions takes minutes)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from scipy.integrate import cubature, nquad

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from l2phase import numerics  # noqa: E402
from l2phase.numerics import finite_temperature as ft  # noqa: E402

A = C = EY2 = 1.0
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def best_of(fn, repeat):
    ts, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return min(ts), out


# ----------------------------------------------------------------------------- A: quadrature
def _moments_integrand(gam, T, lmin):
    def f(x):  # x: (..., P)
        p = np.prod(x, axis=-1)
        s = np.sum(x * x, axis=-1)
        w = np.exp(-(A * p * p - 2 * C * p + EY2 + gam * s - lmin) / T)
        return np.stack([w, s * w, s * s * w], axis=-1)

    return f


def _from_moments(Z, M1, M2, T, lmin):
    m1 = M1 / Z
    return lmin - T * np.log(Z), m1, (M2 / Z - m1 * m1) / T


def scipy_cubature(gammas, T, depth, rtol=1e-9):
    """F, <|theta|^2>, chi by scipy.integrate.cubature over [-R, R]^P (vector integrand)."""
    P = depth + 1
    out = []
    for gam in gammas:
        R = np.sqrt((C * C / A + 40.0 * T) / gam)
        lmin = float(numerics.free_energy(np.array([gam]), depth, A, C, EY2).loss[0])  # shift only
        res = cubature(_moments_integrand(gam, T, lmin), np.full(P, -R), np.full(P, R), rtol=rtol, atol=0,
                       max_subdivisions=1_000_000)
        assert res.status == "converged", res.status
        out.append(_from_moments(*res.estimate, T, lmin))
    return np.array(out).T


def scipy_nquad(gammas, T, depth, epsrel=1e-10):
    """The same with scipy.integrate.nquad (three scalar integrals per gamma)."""
    P = depth + 1
    out = []
    for gam in gammas:
        R = np.sqrt((C * C / A + 40.0 * T) / gam)
        lmin = float(numerics.free_energy(np.array([gam]), depth, A, C, EY2).loss[0])

        def f(*x, k):
            x = np.array(x)
            p = np.prod(x)
            s = x @ x
            return s**k * np.exp(-(A * p * p - 2 * C * p + EY2 + gam * s - lmin) / T)

        opts = {"epsabs": 0.0, "epsrel": epsrel, "limit": 200}
        mom = [nquad(lambda *x, k=k: f(*x, k=k), [[-R, R]] * P, opts=opts)[0] for k in (0, 1, 2)]
        out.append(_from_moments(*mom, T, lmin))
    return np.array(out).T


def check(name, got, ref):
    dF = np.max(np.abs(got.free_energy - ref[0]))
    dm = np.max(np.abs(got.mean_norm_sq / ref[1] - 1))
    dc = np.max(np.abs(got.susceptibility / ref[2] - 1))
    assert dF <= 1e-8 and dm <= 1e-7 and dc <= 1e-5, f"{name}: dF={dF:.1e} dm={dm:.1e} dchi={dc:.1e}"
    return f"|dF| {dF:.0e}, d<q> {dm:.0e}, dchi {dc:.0e}"


def section_a(depths, T, gammas, repeat):
    print(f"A. F, <|theta|^2>, chi at T = {T}, gamma = {gammas.tolist()} (D = 3: {gammas[1:2].tolist()}); "
          "times per call for all gammas, s")
    print(f"{'D':>2} {'method':<34} {'time s':>9} {'vs cubature':>12}  agreement with cubature")
    all_gammas = gammas
    for depth in depths:
        gammas = all_gammas if depth <= 2 else all_gammas[1:2]  # 4-d cubature: minutes per gamma
        t0 = time.perf_counter()
        ref = scipy_cubature(gammas, T, depth)
        t_cub = time.perf_counter() - t0
        print(f"{depth:>2} {'scipy.integrate.cubature':<34} {t_cub:9.3f} {1.0:12.1f}")
        if depth == 1:
            t0 = time.perf_counter()
            nq = scipy_nquad(gammas, T, depth)
            t_nq = time.perf_counter() - t0
            dev = max(np.max(np.abs(nq[0] - ref[0])), np.max(np.abs(nq[1] / ref[1] - 1)))
            print(f"{depth:>2} {'scipy.integrate.nquad':<34} {t_nq:9.3f} {t_cub / t_nq:12.1f}  "
                  f"(nquad vs cubature: {dev:.0e})")
        if depth + 1 <= 3:
            t, got = best_of(lambda: numerics.thermal_quadrature(gammas, T, depth), repeat)
            print(f"{depth:>2} {'numerics.thermal_quadrature':<34} {t:9.4f} {t_cub / t:12.0f}  "
                  f"{check('quadrature', got, ref)}")
        ft._mu_spline.cache_clear()
        t0 = time.perf_counter()
        got = numerics.thermal_reduced(gammas, T, depth)
        t_first = time.perf_counter() - t0
        t, got = best_of(lambda: numerics.thermal_reduced(gammas, T, depth), repeat)
        print(f"{depth:>2} {'numerics.thermal_reduced (1st call)':<34} {t_first:9.4f} {t_cub / t_first:12.1f}  "
              "(tabulates j_P for this depth, cached)")
        print(f"{depth:>2} {'numerics.thermal_reduced (steady)':<34} {t:9.4f} {t_cub / t:12.0f}  "
              f"{check('reduced', got, ref)}")


# ----------------------------------------------------------------------------- B: sampler
def numpy_metropolis(gammas, T, depth, n_chains=16, n_samples=20_000, n_burn=4_000, n_batches=20, seed=0):
    """thermal_sampler's algorithm in numpy, vectorised over chains: <|theta|^2>, its stderr, chi."""
    P = depth + 1
    batch_len = n_samples // n_batches
    rng = np.random.default_rng(seed)
    m1, m1e, chi = [], [], []
    for gam in gammas:
        b2 = float(numerics.free_energy(np.array([gam]), depth, A, C, EY2).param_norm_sq[0]) / P
        centre = np.where(np.arange(n_chains) % 2 == 0, np.sqrt(b2), 0.0)[:, None]
        th = centre + 0.1 * np.sqrt(T) * rng.standard_normal((n_chains, P))

        def loss(x):
            p = np.prod(x, axis=1)
            s = np.sum(x * x, axis=1)
            return A * p * p - 2 * C * p + EY2 + gam * s, s

        L, q = loss(th)
        step = np.full(n_chains, np.sqrt(T / (2.0 * gam + 2.0 * A)))
        acc = np.zeros(n_chains)
        sums = np.zeros((n_chains, n_batches, 2))
        for it in range(n_burn + n_batches * batch_len):
            pr = th + step[:, None] * rng.standard_normal((n_chains, P))
            Ln, qn = loss(pr)
            ok = (Ln <= L) | (rng.random(n_chains) < np.exp(-(Ln - L) / T))
            th = np.where(ok[:, None], pr, th)
            L = np.where(ok, Ln, L)
            q = np.where(ok, qn, q)
            if it < n_burn:
                acc += ok
                if (it + 1) % 200 == 0:
                    step *= np.exp(acc / 200.0 - 0.35)
                    acc[:] = 0.0
            else:
                b = (it - n_burn) // batch_len
                sums[:, b, 0] += q
                sums[:, b, 1] += q * q
        bm = (sums / batch_len).reshape(-1, 2)
        nb = bm.shape[0]
        m1.append(bm[:, 0].mean())
        m1e.append(bm[:, 0].std(ddof=1) / np.sqrt(nb))
        chi.append((bm[:, 1].mean() - bm[:, 0].mean() ** 2) / T)
    return np.array(m1), np.array(m1e), np.array(chi)


def section_b(depths, T, gammas):
    print(f"\nB. Metropolis <|theta|^2> at T = {T}, gamma = {gammas.tolist()}: 8 chains x (4000 burn-in + 40000) steps")
    print("   z = (estimate - exact thermal_reduced) / stderr; |z| < 5 expected")
    print(f"{'D':>2} {'method':<28} {'time s':>8} {'ratio':>7}  estimates (z)")
    for depth in depths:
        exact = numerics.thermal_reduced(gammas, T, depth).mean_norm_sq
        t0 = time.perf_counter()
        m1, m1e, _ = numpy_metropolis(gammas, T, depth)
        t_np = time.perf_counter() - t0
        z_np = (m1 - exact) / m1e
        t, s = best_of(lambda: numerics.thermal_sampler(gammas, T, depth), 2)
        z_nb = (s.mean_norm_sq - exact) / s.mean_norm_sq_err
        fmt = lambda est, z: ", ".join(f"{e:.4f} ({v:+.1f})" for e, v in zip(est, z))  # noqa: E731
        flag = lambda z: "" if np.all(np.abs(z) < 5) else "  <- |z| >= 5"  # noqa: E731
        print(f"{depth:>2} {'numpy Metropolis (chains)':<28} {t_np:8.2f} {1.0:7.1f}  {fmt(m1, z_np)}{flag(z_np)}")
        print(f"{depth:>2} {'numerics.thermal_sampler':<28} {t:8.3f} {t_np / t:7.1f}  {fmt(s.mean_norm_sq, z_nb)}"
              f"{flag(z_nb)}")
        print(f"{'':>2} {'exact (thermal_reduced)':<28} {'':>8} {'':>7}  " + ", ".join(f"{e:.4f}" for e in exact))


# ----------------------------------------------------------------------------- C: escape
def numpy_escape(depth, gamma, T, n_runs=32, dt=0.01, max_steps=2_000_000, seed=0):
    """escape_times' Euler-Maruyama scheme in numpy, vectorised over runs: first-passage times."""
    P = depth + 1
    fe = numerics.free_energy(np.array([gamma]), depth, A, C, EY2)
    mn = next(b for b in fe.branches if b.kind == "min")
    sd = next(b for b in fe.branches if b.kind == "saddle")
    b_min = np.sqrt(mn.param_norm_sq[0] / P)
    p_exit = 0.5 * (sd.param_norm_sq[0] / P) ** (P / 2.0)
    rng = np.random.default_rng(seed)
    th = np.full((n_runs, P), b_min)
    out = np.full(n_runs, np.inf)
    alive = np.arange(n_runs)
    noise = np.sqrt(2.0 * T * dt)
    for it in range(max_steps):
        x = th[alive]
        p = np.prod(x, axis=1)
        esc = np.abs(p) < p_exit
        if esc.any():
            out[alive[esc]] = it * dt
            keep = ~esc
            alive, x, p = alive[keep], x[keep], p[keep]
            if alive.size == 0:
                break
        # product of the other coordinates without division: left and right cumulative products
        left = np.ones_like(x)
        right = np.ones_like(x)
        left[:, 1:] = np.cumprod(x[:, :-1], axis=1)
        right[:, :-1] = np.cumprod(x[:, :0:-1], axis=1)[:, ::-1]
        grad = (2.0 * A * p - 2.0 * C)[:, None] * left * right + 2.0 * gamma * x
        th[alive] = x - grad * dt + noise * rng.standard_normal(x.shape)
    return out


def section_c(depth, gamma, temps, n_runs):
    numerics.escape_times(depth, gamma, [0.05, 0.06], n_runs=2, max_steps=1000)  # warm kernel
    t0 = time.perf_counter()
    res = numerics.escape_times(depth, gamma, temps, n_runs=n_runs)
    t_nb = time.perf_counter() - t0
    print(f"\nC. Escape from the metastable minimum, D = {depth}, gamma = {gamma} (barrier {res.barrier:.5f}), "
          f"{n_runs} runs per temperature, dt = 0.01; z = (numerics - numpy) / combined stderr")
    print(f"{'T':>7} {'barrier/T':>9} {'numpy s':>8}  mean time: numpy | numerics (z)")
    tot_np = 0.0
    for k, T in enumerate(temps):
        t0 = time.perf_counter()
        tn = numpy_escape(depth, gamma, T, n_runs=n_runs)
        t_np = time.perf_counter() - t0
        tot_np += t_np
        ok = np.isfinite(tn)
        m_np, e_np = tn[ok].mean(), tn[ok].std(ddof=1) / np.sqrt(ok.sum())
        m_nb, e_nb = res.mean_time[k], res.time_err[k]
        z = (m_nb - m_np) / np.hypot(e_np, e_nb)
        print(f"{T:7.4f} {res.barrier / T:9.2f} {t_np:8.2f}  {m_np:8.1f} +- {e_np:6.1f} | {m_nb:8.1f} +- {e_nb:6.1f} "
              f"({z:+.1f}){'' if abs(z) < 5 else '  <- |z| >= 5'}")
    print(f"all temperatures: numpy {tot_np:.2f} s, numerics.escape_times {t_nb:.3f} s: {tot_np / t_nb:.0f}x; "
          f"Arrhenius slope (numerics) {res.slope:.2f}")


# ----------------------------------------------------------------------------- compile time
_COMPILE_CODE = """
import time, numpy as np
t0 = time.perf_counter()
from l2phase import numerics
t1 = time.perf_counter()
numerics.thermal_sampler(np.array([0.3]), 0.2, 2, n_samples=200, n_burn=200, n_chains=2)
t2 = time.perf_counter()
numerics.escape_times(2, 0.43, [0.05, 0.06], n_runs=2, max_steps=1000)
t3 = time.perf_counter()
numerics.thermal_sampler(np.array([0.3]), 0.2, 2, n_samples=200, n_burn=200, n_chains=2)
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def compile_time():
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        runs = []
        for _ in range(2):
            txt = subprocess.check_output([sys.executable, "-c", _COMPILE_CODE], env=env, cwd=ROOT)
            runs.append([float(v) for v in txt.split()])
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--temperature", type=float, default=0.05, help="section A temperature")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--slow", action="store_true", help="add D = 3 at one gamma to section A (minutes of cubature)")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    t_start = time.perf_counter()
    if not args.no_compile:
        (i0, s0, e0, w0), (i1, s1, e1, w1) = compile_time()
        print(f"fresh interpreter, empty numba cache: import numerics {i0:.2f} s; first thermal_sampler call "
              f"(compile) {s0:.2f} s; first escape_times call (compile) {e0:.2f} s; second sampler call "
              f"{w0 * 1e3:.1f} ms")
        print(f"fresh interpreter, cache written:     import numerics {i1:.2f} s; first thermal_sampler call "
              f"{s1:.2f} s; first escape_times call {e1:.2f} s\n")
    numerics.thermal_sampler(np.array([0.3]), 0.2, 1, n_samples=200, n_burn=200)  # load kernels
    gammas = np.array([0.2, 0.4, 0.6, 0.8])
    section_a([1, 2, 3] if args.slow else [1, 2], args.temperature, gammas, args.repeat)
    section_b([1, 2, 3], 0.2, np.array([0.3]))
    section_c(2, 0.43, [0.008, 0.010, 0.012], 32)
    print(f"\ntotal wall time {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
