"""How gentle a kink can ChangePointDetector find on a noisy curve, against what is possible.

Families of curves (as in tests/test_change_point_gentle_kinks.py): a smooth background on
t in [0, 1] (the axis the detector works in: gamma on a uniform grid, log gamma on a log
grid), Gaussian noise of s.d. sigma = noise x spread(background) (noise 0.3, 0.5, 1 %),
n = 60, 100, 150 points, and a kink at a random t0 in [0.35, 0.65] whose slope change moves
the curve by ``amplitude`` noise s.d. at the nearer end of the grid.

For each amplitude and background it prints

* detector: % of curves where the default ChangePointDetector reports exactly one change
  point, a kink, with an interval containing t0;
* oracle: the power of the best test that knows t0, sigma and the background's polynomial
  degree d (the smallest degree that fits the noise-free background to within one noise
  s.d. in total, RSS <= sigma^2): the likelihood-ratio test of "degree-d polynomial + hinge
  (t - t0)_+" against "degree-d polynomial", T = (h.y)^2 / (|h|^2 sigma^2) with h the hinge
  projected off the polynomials, a noncentral chi^2_1; its power is computed exactly from the
  noise-free curve, at the false-alarm rate the detector has on the same families;
* scan: the same test not knowing t0 (the maximum of T over the grid gaps), threshold set by
  simulation at the same false-alarm rate: what location uncertainty costs;
* scan7: the scan with a degree-7 background, the largest the detector allows: a valid test
  for any background in the detector's model class (what not knowing the background costs);
* false alarms: % of the same curves without a kink where the detector reports anything.

Run:  .venv/bin/python benchmarks/power_change_points.py [--seeds 6] [--held-out] [--jobs 2]
      [--kink-margin M]
(--held-out: other backgrounds, sqrt, 1/(1+t), tanh(3t), and other seeds; --kink-margin
overrides the detector's private ``_KINK_MARGIN`` (default 1) to trace power against false
alarms).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy.stats import chi2, norm

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from l2phase.numerics import ChangePointDetector  # noqa: E402
from l2phase.numerics import change_points as _cp  # noqa: E402

BASES = {
    "linear": lambda t: 1.0 - 0.8 * t,
    "quadratic": lambda t: (t - 0.3) ** 2,
    "exponential": lambda t: np.exp(2.5 * t),
    "log": lambda t: np.log(0.2 + t),
}
HELD_OUT = {
    "sqrt": lambda t: np.sqrt(0.05 + t),
    "1/(1+t)": lambda t: 1.0 / (1.0 + t),
    "tanh(3t)": lambda t: np.tanh(3.0 * t),
}
AMPLITUDES = (5.0, 10.0, 20.0)
GRIDS = ("uniform", "log")
SIZES = (60, 100, 150)
NOISES = (0.003, 0.005, 0.01)


def grid(kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """gamma and t in [0, 1] (the axis the detector chooses: gamma or log gamma)."""
    if kind == "uniform":
        g = np.linspace(0.1, 2.0, n)
        return g, (g - g[0]) / (g[-1] - g[0])
    g = np.geomspace(1e-3, 1.0, n)
    return g, np.log(g / g[0]) / np.log(g[-1] / g[0])


def cases(bases: dict, seeds) -> list[tuple]:
    return [(b, gk, n, noise, seed) for b in bases for gk in GRIDS for n in SIZES for noise in NOISES for seed in seeds]


def curve(f, t, noise, rng, amplitude, x0):
    """(noise-free curve, noisy curve, sigma): as ``_curve`` in the gentle-kink tests."""
    y = f(t)
    sig = noise * np.ptp(y)
    if amplitude:
        y = y + rng.choice([-1, 1]) * amplitude * sig / min(x0, 1 - x0) * np.maximum(t - x0, 0.0)
    return y, y + sig * rng.standard_normal(t.size), sig


def _basis(t: np.ndarray, d: int) -> np.ndarray:
    return np.linalg.qr(np.vander(2 * t - 1, d + 1, increasing=True))[0]


def oracle_degree(f, t, sig) -> int:
    """Smallest polynomial degree fitting the noise-free background to RSS <= sigma^2."""
    y = f(t)
    for d in range(12):
        Q = _basis(t, d)
        r = y - Q @ (Q.T @ y)
        if r @ r <= sig * sig:
            return d
    return 11


def _hinges(t: np.ndarray, Q: np.ndarray, min_side: int = 3) -> np.ndarray:
    """Unit-norm hinges at the gap midpoints (min_side points each side), projected off Q."""
    knots = 0.5 * (t[min_side - 1 : t.size - min_side] + t[min_side : t.size - min_side + 1])
    H = np.maximum(t[:, None] - knots[None, :], 0.0)
    H -= Q @ (Q.T @ H)
    return H / np.linalg.norm(H, axis=0)


_SCAN_CACHE: dict = {}


def scan_threshold(gk: str, n: int, d: int, alpha: float, draws: int = 4000) -> float:
    key = (gk, n, d, alpha)
    if key not in _SCAN_CACHE:
        _, t = grid(gk, n)
        H = _hinges(t, _basis(t, d))
        e = np.random.default_rng(12345).standard_normal((draws, n))
        _SCAN_CACHE[key] = float(np.quantile(np.max((e @ H) ** 2, axis=1), 1 - alpha))
    return _SCAN_CACHE[key]


def run_case(args) -> dict:
    """One curve of each amplitude (and one without a kink): detector outcome, oracle inputs."""
    base, gk, n, noise, seed, margin = args
    if margin is not None:
        _cp._KINK_MARGIN = margin
    f = (BASES | HELD_OUT)[base]
    g, t = grid(gk, n)
    out = {"key": (base, gk, n, noise, seed)}
    rng = np.random.default_rng([seed, n, int(1e4 * noise), GRIDS.index(gk), sorted(BASES | HELD_OUT).index(base)])
    _, ynoisy, sig = curve(f, t, noise, rng, 0.0, 0.5)
    out["false_alarm"] = len(ChangePointDetector().fit(g, ynoisy).predict()) > 0
    d = oracle_degree(f, t, sig)
    Q = _basis(t, d)
    out["d"] = d
    for amp in AMPLITUDES:
        x0 = rng.uniform(0.35, 0.65)
        truth = float(np.interp(x0, t, g) if gk == "uniform" else np.exp(np.interp(x0, t, np.log(g))))
        yclean, ynoisy, sig = curve(f, t, noise, rng, amp, x0)
        cps = ChangePointDetector().fit(g, ynoisy).predict()
        out[("det", amp)] = len(cps) == 1 and cps[0].kind == "kink" and cps[0].low <= truth <= cps[0].high
        h = np.maximum(t - x0, 0.0)
        h = h - Q @ (Q.T @ h)
        out[("mu", amp)] = float(h @ yclean) / (np.linalg.norm(h) * sig)  # mean of the oracle's z
        H = _hinges(t, Q)
        out[("scanT", amp)] = float(np.max((H.T @ ynoisy / sig) ** 2))
        H7 = _hinges(t, _basis(t, 7))
        out[("scan7T", amp)] = float(np.max((H7.T @ ynoisy / sig) ** 2))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--held-out", action="store_true", help="backgrounds sqrt, 1/(1+t), tanh(3t), other seeds")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--kink-margin", type=float, default=None,
                    help="override the detector's extra price of a kink (default 1, in log(n) sigma^2): "
                         "trades power against false alarms")
    args = ap.parse_args()
    bases = HELD_OUT if args.held_out else BASES
    seeds = range(1000, 1000 + args.seeds) if args.held_out else range(args.seeds)
    todo = [c + (args.kink_margin,) for c in cases(bases, seeds)]
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as ex:
            res = list(ex.map(run_case, todo, chunksize=4))
    else:
        res = [run_case(c) for c in todo]
    wall = time.perf_counter() - t0
    alpha = max(np.mean([r["false_alarm"] for r in res]), 1e-3)
    c = chi2.ppf(1 - alpha, 1)
    print(f"{len(res)} curves per amplitude ({', '.join(bases)}; {len(GRIDS)} grids, n = {SIZES}, "
          f"noise {NOISES}, {args.seeds} seeds{', held out' if args.held_out else ''}"
          f"{'' if args.kink_margin is None else f', kink margin {args.kink_margin:g}'}); {wall:.0f} s")
    print(f"detector false-alarm rate on the same curves without a kink: {100 * alpha:.1f} % "
          f"(oracle and scan tests run at this rate)")
    print(f"{'background':12s} {'amp':>4s} {'detector':>9s} {'oracle':>7s} {'scan':>6s} {'scan7':>6s} "
          f"{'det/oracle':>10s} {'false alarms':>12s} {'oracle d':>8s}")
    rows = list(bases) + ["all"]
    for b in rows:
        sel = [r for r in res if b == "all" or r["key"][0] == b]
        fa = 100 * np.mean([r["false_alarm"] for r in sel])
        ds = sorted({r["d"] for r in sel})
        for amp in AMPLITUDES:
            det = 100 * np.mean([r[("det", amp)] for r in sel])
            mu = np.array([r[("mu", amp)] for r in sel])
            orc = 100 * np.mean(norm.cdf(-np.sqrt(c) - mu) + norm.sf(np.sqrt(c) - mu))
            scan = 100 * np.mean([r[("scanT", amp)] > scan_threshold(r["key"][1], r["key"][2], r["d"], alpha)
                                  for r in sel])
            scan7 = 100 * np.mean([r[("scan7T", amp)] > scan_threshold(r["key"][1], r["key"][2], 7, alpha)
                                   for r in sel])
            print(f"{b:12s} {amp:4.0f} {det:8.1f}% {orc:6.1f}% {scan:5.1f}% {scan7:5.1f}% {det / max(orc, 1e-9):10.2f} "
                  f"{fa:11.1f}% {','.join(map(str, ds)) if b != 'all' else '':>8s}")


if __name__ == "__main__":
    main()
