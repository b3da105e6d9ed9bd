r"""The measured initialisation phase diagram of two-layer ReLU nets (Luo et al., arXiv:2007.07497).

For every grid point (gamma_energy, gamma_dynamic) (the paper's (gamma, gamma'); not the L2
strength) and every width m, several seeds of the normalised model with kappa = m^-gamma_energy,
kappa' = m^-gamma_dynamic are trained to R_S < tol (:func:`empirical.two_layer.train_normalised`).
Then

* S_w = slope of log RD(theta_w(t*)) against log m (:func:`fit_rd_slope`; paper's sign:
  S_w < 0 linear, S_w > 0 condensed), one fit per seed, mean +- standard error over seeds;
* per gamma_dynamic row, the boundary = the zero crossing of S_w(gamma_energy) by linear
  interpolation, with a delta-method error from the slopes' error bars
  (:func:`boundary_crossing`), refined adaptively by adding gamma_energy points at the
  estimated crossing;
* condensation metrics (effective number of orientations, top-4 mass, effective rank) per
  point and width.

Results are tables (lists of dicts): ``runs`` (one per trained net), ``points`` (one per grid
point), ``boundary`` (one per gamma_dynamic row); plots and reports are functions of them.
Every (point, width) is written to ``out/points/`` as it finishes, which ``resume`` reuses.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from l2phase.theory.init_scaling import boundary_distance, boundary_gamma_energy, heuristic_rd_slope, init_regime

from ..executors import Executor, InProcessExecutor
from ..sweep import atomic_write_text, run_work_unit
from ..two_layer import TwoLayerData, train_normalised, two_layer_dataset

__all__ = [
    "InitDiagramConfig",
    "InitDiagramResult",
    "boundary_crossing",
    "fit_rd_slope",
    "run_init_diagram",
]


@dataclass
class InitDiagramConfig:
    """Configuration of a measured diagram (defaults: the CPU gamma_dynamic = 0 cut).

    Attributes
    ----------
    gammas_energy, gammas_dynamic : tuple of float
        The grid (Luo et al.'s gamma, gamma').
    widths, seeds : tuple of int
        Hidden widths m and seeds per point (draws shared across the grid).
    data : str
        A name of :func:`empirical.two_layer.two_layer_dataset`, or ``mnist:PATH``.
    asi : bool or None
        Antisymmetric initialisation; None = on for 1-D inputs, off otherwise.
    tol, max_steps, step_factor
        See :func:`empirical.two_layer.train_normalised`.
    refine : int
        Rounds of adaptive refinement (one gamma_energy point added per row per round at
        the estimated zero crossing, unless one lies within ``refine_min_gap``).
    max_batch_elements : int
        Cap on rows x neurons x (n + d + 1) per batched training.
    keep_neurons : int
        Neurons kept per run of the first seed for scatter plots (0: none).
    """

    gammas_energy: tuple = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
    gammas_dynamic: tuple = (0.0,)
    widths: tuple = (1000, 2000, 5000, 10000, 20000)
    seeds: tuple = (0, 1, 2)
    data: str = "quadratic4"
    n_samples: int | None = None
    asi: bool | None = None
    tol: float = 5e-7
    max_steps: int = 200_000
    step_factor: float = 0.5
    refine: int = 1
    refine_min_gap: float = 0.02
    device: str = "cpu"
    dtype: str | None = None
    max_batch_elements: int = 4_000_000  # ~32 MB float64 per (rows, neurons, n + d + 1) block: cache-friendly on CPU
    keep_neurons: int = 2000

    def __post_init__(self):
        self.gammas_energy = tuple(float(g) for g in self.gammas_energy)
        self.gammas_dynamic = tuple(float(g) for g in self.gammas_dynamic)
        self.widths = tuple(sorted({int(m) for m in self.widths}))
        self.seeds = tuple(int(s) for s in self.seeds)
        for name in ("gammas_energy", "gammas_dynamic", "widths", "seeds"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty")
        if not all(math.isfinite(g) for g in self.gammas_energy + self.gammas_dynamic):
            raise ValueError("gammas_energy and gammas_dynamic must be finite")
        if len(self.widths) < 2 or self.widths[0] < 2:
            raise ValueError(f"widths needs at least two distinct widths >= 2 for a slope, got {self.widths}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {self.seeds}")
        if int(self.refine) < 0:
            raise ValueError(f"refine must be >= 0, got {self.refine}")

    @classmethod
    def full_grid(cls, **kw) -> "InitDiagramConfig":
        """The issue's default diagram: gamma_energy 0.5..1.75 (step 0.25) x gamma_dynamic -0.4..0.4 (step 0.2)."""
        kw.setdefault("gammas_energy", (0.5, 0.75, 1.0, 1.25, 1.5, 1.75))
        kw.setdefault("gammas_dynamic", (-0.4, -0.2, 0.0, 0.2, 0.4))
        return cls(**kw)

    def load_data(self) -> TwoLayerData:
        name, _, path = self.data.partition(":")
        return two_layer_dataset(name, n_samples=self.n_samples, path=path or None)

    def fingerprint(self) -> str:
        """Hash of everything a stored point depends on (not the grid, widths or seeds list)."""
        keys = dict(data=self.data, n_samples=self.n_samples, asi=self.asi, tol=self.tol, max_steps=self.max_steps,
                    step_factor=self.step_factor, dtype=self.dtype, device_type=self.device.split(":")[0])
        return hashlib.sha1(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class InitDiagramResult:
    """Tables of a measured diagram: ``runs``, ``points``, ``boundary``; ``neurons`` for scatter plots."""

    config: dict
    runs: list
    points: list
    boundary: list
    condensation: list
    neurons: dict = field(default_factory=dict, repr=False)  # (g, gp, m) -> dict of arrays (first seed)
    seconds: float = 0.0

    def point(self, gamma_energy: float, gamma_dynamic: float) -> dict:
        for p in self.points:
            if abs(p["gamma_energy"] - gamma_energy) < 1e-9 and abs(p["gamma_dynamic"] - gamma_dynamic) < 1e-9:
                return p
        raise KeyError(f"no point ({gamma_energy}, {gamma_dynamic})")


# ------------------------------------------------------------------------ statistics
def fit_rd_slope(widths: Sequence[float], rd) -> dict:
    r"""Slope S_w of log RD against log m, fitted per seed.

    Parameters
    ----------
    widths : (W,) widths m.
    rd : (S, W) RD values per seed and width; NaN (e.g. a run that did not converge) is left out.

    Returns
    -------
    dict with ``slope`` (mean of the per-seed least-squares slopes), ``slope_err`` (their
    standard error; with one usable seed, the least-squares standard error of that fit),
    ``slopes`` (per seed), ``n_seeds`` used and ``pooled_slope`` (one fit through all points).
    Paper's sign convention: S_w = lim log RD / log m, negative = linear.
    """
    m = np.asarray(widths, dtype=float)
    rd = np.atleast_2d(np.asarray(rd, dtype=float))
    if rd.shape[1] != m.size:
        raise ValueError(f"rd must be (seeds, {m.size}), got {rd.shape}")
    lm = np.log(m)
    slopes, ses = [], []
    for row in rd:
        ok = np.isfinite(row) & (row > 0)
        if ok.sum() < 2:
            continue
        x, yv = lm[ok], np.log(row[ok])
        coef = np.polyfit(x, yv, 1)
        slopes.append(coef[0])
        if ok.sum() > 2:
            resid = yv - np.polyval(coef, x)
            ses.append(math.sqrt((resid @ resid) / (ok.sum() - 2) / ((x - x.mean()) @ (x - x.mean()))))
        else:
            ses.append(float("nan"))
    ok = np.isfinite(rd) & (rd > 0)
    pooled = float(np.polyfit(np.broadcast_to(lm, rd.shape)[ok], np.log(rd[ok]), 1)[0]) if len(set(np.broadcast_to(lm, rd.shape)[ok])) >= 2 else float("nan")
    if not slopes:
        return dict(slope=float("nan"), slope_err=float("nan"), slopes=[], n_seeds=0, pooled_slope=pooled)
    s = np.asarray(slopes)
    err = float(s.std(ddof=1) / math.sqrt(s.size)) if s.size > 1 else float(ses[0])
    return dict(slope=float(s.mean()), slope_err=err, slopes=s.tolist(), n_seeds=int(s.size), pooled_slope=pooled)


def boundary_crossing(gammas_energy: Sequence[float], slopes: Sequence[float], errors: Sequence[float] | None = None) -> dict | None:
    r"""Zero crossing of S_w along gamma_energy (the measured boundary of one gamma_dynamic row).

    The first sign change from negative to positive (in increasing gamma_energy) is located by
    linear interpolation between the bracketing points (g_a, S_a), (g_b, S_b):
    g* = g_a - S_a (g_b - g_a)/(S_b - S_a); its error propagates the slopes' errors,
    sigma^2 = (dg*/dS_a sigma_a)^2 + (dg*/dS_b sigma_b)^2.  A point with S_w exactly 0 is the crossing
    itself.  Returns None when S_w never changes sign; ``n_crossings`` counts all sign changes.
    """
    g = np.asarray(gammas_energy, dtype=float)
    s = np.asarray(slopes, dtype=float)
    e = np.zeros_like(s) if errors is None else np.nan_to_num(np.asarray(errors, dtype=float), nan=0.0)
    ok = np.isfinite(s)
    order = np.argsort(g[ok])
    g, s, e = g[ok][order], s[ok][order], e[ok][order]
    sign = np.sign(s)
    changes = [i for i in range(len(s) - 1) if sign[i] < 0 <= sign[i + 1] or sign[i] <= 0 < sign[i + 1]]
    n_changes = int(sum(1 for i in range(len(s) - 1) if sign[i] * sign[i + 1] < 0))
    if not changes:
        return None
    i = changes[0]
    ga, gb, sa, sb, ea, eb = g[i], g[i + 1], s[i], s[i + 1], e[i], e[i + 1]
    if sa == 0:
        return dict(crossing=float(ga), error=float(ea / max(abs(sb - sa) / (gb - ga), 1e-12)), bracket=(float(ga), float(gb)),
                    n_crossings=max(n_changes, 1))
    if sb == 0:
        return dict(crossing=float(gb), error=float(eb / max(abs(sb - sa) / (gb - ga), 1e-12)), bracket=(float(ga), float(gb)),
                    n_crossings=max(n_changes, 1))
    d = sb - sa
    gstar = ga - sa * (gb - ga) / d
    dga = -(gb - ga) * sb / d ** 2
    dgb = (gb - ga) * sa / d ** 2
    err = math.hypot(dga * ea, dgb * eb)
    return dict(crossing=float(gstar), error=float(err), bracket=(float(ga), float(gb)), n_crossings=max(n_changes, 1))


# -------------------------------------------------------------------------- storage
def _key(g: float, gp: float) -> tuple[float, float]:
    return (round(float(g), 6), round(float(gp), 6))


def _point_file(out: Path, g: float, gp: float, m: int) -> Path:
    return out / "points" / f"g{g:+.4f}_gp{gp:+.4f}_m{m}.json"


def _json_safe(o):
    if isinstance(o, dict):
        return {k: _json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_safe(v) for v in o]
    if isinstance(o, (np.floating, float)):
        o = float(o)
        return o if math.isfinite(o) else None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


# ----------------------------------------------------------------------------- run
def run_init_diagram(
    config: InitDiagramConfig | None = None,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: Callable[[str], None] | None = None,
    executor: Executor | None = None,
) -> InitDiagramResult:
    """Measure the diagram of ``config`` (default: the gamma_dynamic = 0 CPU cut).

    ``out``: directory for ``points/*.json`` (one per grid point and width, all seeds) and
    ``neurons/*.npz``; with ``resume`` the points already there (same data, tol, asi, step
    rule) are reused instead of retrained.  ``executor``: where the work units (one batch
    of nets of one width) run, in this process (default) or on Dask
    (:func:`empirical.make_executor`); every finished (point, width) is written once,
    atomically, by this process.  Returns the tables (:class:`InitDiagramResult`).
    """
    cfg = config or InitDiagramConfig()
    runner = executor if executor is not None else InProcessExecutor()
    t0 = time.perf_counter()
    data = cfg.load_data()
    asi = cfg.asi if cfg.asi is not None else data.in_dim == 1
    out = Path(out) if out is not None else None
    fp = cfg.fingerprint()
    store: dict = {}  # (gkey, m) -> list of run records
    neurons: dict = {}
    log = progress or (lambda s: None)

    def load(g, gp, m):
        if out is None or not resume:
            return None
        f = _point_file(out, g, gp, m)
        if not f.exists():
            return None
        try:
            obj = json.loads(f.read_text())
        except (OSError, ValueError):
            return None
        if obj.get("fingerprint") != fp:
            return None
        recs = [r for r in obj["runs"] if r["seed"] in cfg.seeds]
        if {r["seed"] for r in recs} != set(cfg.seeds):
            return None
        nz = out / "neurons" / f.with_suffix(".npz").name
        if nz.exists():
            with np.load(nz) as z:
                neurons[(*_key(g, gp), m)] = {k: z[k] for k in z.files}
        return recs

    def measure(points: list[tuple[float, float]]):
        import torch

        pending = []
        for (g, gp) in points:
            for m in cfg.widths:
                if (_key(g, gp), m) in store:
                    continue
                recs = load(g, gp, m)
                if recs is not None:
                    store[(_key(g, gp), m)] = recs
                else:
                    pending.append((g, gp, m))
        n_, D = data.n_samples, data.in_dim + 1
        units = []
        for m in cfg.widths:
            rows = [(g, gp, s) for (g, gp, mm) in pending if mm == m for s in cfg.seeds]
            if not rows:
                continue
            per_row = (2 * m if asi else m) * (n_ + D) * 4
            chunk = max(1, int(cfg.max_batch_elements // per_row))
            for i0 in range(0, len(rows), chunk):
                part = tuple(rows[i0:i0 + chunk])
                keep = tuple(cfg.keep_neurons if s == cfg.seeds[0] else 0 for (_, _, s) in part)
                units.append(_InitUnit(data, part, m, asi, cfg, keep, torch.get_num_threads()))
        if units:
            log(f"training {sum(len(u.part) for u in units)} nets in {len(units)} work unit(s) on {runner.description}")
        for _, done in runner.map_unordered(run_work_unit, units):
            m = done[0][0]
            part = [(g, gp, s) for (_, g, gp, s, _, _) in done]
            for (_, g, gp, s, rec, nrn) in done:
                rec = dict(rec, gamma_energy=g, gamma_dynamic=gp, asi=asi)
                store.setdefault((_key(g, gp), m), []).append(rec)
                if nrn is not None:
                    neurons[(*_key(g, gp), m)] = nrn
            log(f"m={m}: {len(part)} nets trained")
            # write every (point, width) whose seeds are complete
            for (g, gp) in sorted({(g, gp) for (g, gp, _) in part}):
                # sorted by seed: units may finish in any order (cluster), the files may not differ
                recs = sorted(store.get((_key(g, gp), m), []), key=lambda r: r["seed"])
                if out is not None and len(recs) == len(cfg.seeds):
                    f = _point_file(out, g, gp, m)
                    atomic_write_text(f, json.dumps(_json_safe(dict(fingerprint=fp, gamma_energy=g, gamma_dynamic=gp,
                                                                     width=m, runs=recs)), indent=1))
                    nr = neurons.get((*_key(g, gp), m))
                    if nr is not None:
                        (out / "neurons").mkdir(parents=True, exist_ok=True)
                        np.savez_compressed(out / "neurons" / f.with_suffix(".npz").name, **nr)

    grid = [(g, gp) for gp in cfg.gammas_dynamic for g in cfg.gammas_energy]
    measure(grid)
    rows = {gp: sorted(set(cfg.gammas_energy)) for gp in cfg.gammas_dynamic}
    for _ in range(int(cfg.refine)):
        new = []
        for gp, gs in rows.items():
            pts = [_summarise_point(g, gp, cfg, store) for g in gs]
            bc = boundary_crossing([p["gamma_energy"] for p in pts], [p["slope"] for p in pts], [p["slope_err"] for p in pts])
            if bc is None:
                continue
            gnew = round(bc["crossing"], 3)
            if min(abs(gnew - g) for g in gs) >= cfg.refine_min_gap:
                new.append((gnew, gp))
        if not new:
            break
        log(f"refining at {len(new)} point(s)")
        measure(new)
        for g, gp in new:
            rows[gp] = sorted(rows[gp] + [g])

    points = [_summarise_point(g, gp, cfg, store) for gp, gs in rows.items() for g in gs]
    boundary = []
    for gp, gs in rows.items():
        pts = [p for p in points if p["gamma_dynamic"] == gp]
        bc = boundary_crossing([p["gamma_energy"] for p in pts], [p["slope"] for p in pts], [p["slope_err"] for p in pts])
        theo = boundary_gamma_energy(gp)
        row = dict(gamma_dynamic=gp, theory_gamma_energy=theo, measured_gamma_energy=None, error=None,
                   difference=None, n_crossings=0, found=bc is not None)
        if bc is not None:
            row.update(measured_gamma_energy=bc["crossing"], error=bc["error"], difference=bc["crossing"] - theo,
                       n_crossings=bc["n_crossings"], bracket=list(bc["bracket"]))
        boundary.append(row)
    runs = [r for (_, _), recs in sorted(store.items()) for r in sorted(recs, key=lambda r: r["seed"])]
    cond = _condensation_table(points, cfg, store)
    cfgd = asdict(cfg)
    cfgd.update(asi_used=asi, in_dim=data.in_dim, n_samples_used=data.n_samples, fingerprint=fp)
    return InitDiagramResult(config=cfgd, runs=runs, points=points, boundary=boundary, condensation=cond,
                             neurons=neurons, seconds=time.perf_counter() - t0)


@dataclass(frozen=True)
class _InitUnit:
    """One work unit of the diagram: a batch of nets of one width (picklable; see
    :func:`empirical.sweep.run_work_unit`, which pins ``n_threads``)."""

    data: TwoLayerData
    part: tuple
    m: int
    asi: bool
    cfg: "InitDiagramConfig"
    keep: tuple
    n_threads: int

    def run(self) -> list[tuple]:
        runs = _train_rows(self.data, list(self.part), self.m, self.asi, self.cfg, list(self.keep))
        return [(self.m, g, gp, s, run.as_record(), run.neurons) for (g, gp, s), run in zip(self.part, runs)]


def _train_rows(data, part, m, asi, cfg, keep):
    import torch

    dtype = None if cfg.dtype is None else getattr(torch, cfg.dtype)
    return train_normalised(
        data, [m ** -g for (g, _, _) in part], [m ** -gp for (_, gp, _) in part], [m] * len(part),
        [s for (_, _, s) in part], asi=asi, tol=cfg.tol, max_steps=cfg.max_steps, step_factor=cfg.step_factor,
        keep_neurons=keep, device=cfg.device, dtype=dtype,
    )


def _summarise_point(g, gp, cfg, store) -> dict:
    widths = list(cfg.widths)
    rd = np.full((len(cfg.seeds), len(widths)), np.nan)
    rdmax = np.full_like(rd, np.nan)
    n_bad = 0
    steps = []
    for j, m in enumerate(widths):
        for r in store.get((_key(g, gp), m), []):
            i = cfg.seeds.index(r["seed"])
            steps.append(r["steps"])
            if r["converged"]:
                rd[i, j] = r["rd_w"]
                rdmax[i, j] = r["rd_w_max"]
            else:
                n_bad += 1
    fit = fit_rd_slope(widths, rd)
    fitmax = fit_rd_slope(widths, rdmax)
    theo = init_regime(g, gp)
    dist = boundary_distance(g, gp)
    meas = "linear" if fit["slope"] < 0 else "condensed" if fit["slope"] > 0 else "undetermined"
    return dict(
        gamma_energy=g, gamma_dynamic=gp, slope=fit["slope"], slope_err=fit["slope_err"],
        slope_per_seed=fit["slopes"], pooled_slope=fit["pooled_slope"], slope_rd_max=fitmax["slope"],
        rd_mean=np.nanmean(rd, axis=0).tolist() if np.isfinite(rd).any() else [None] * len(widths),
        widths=widths, n_not_converged=n_bad, max_steps_used=max(steps) if steps else 0,
        theory_regime=theo, distance_to_boundary=dist,
        heuristic_slope=heuristic_rd_slope(g, gp),
        measured_sign=meas,
        sign_agrees=(theo == "critical") or (theo == meas),
    )


def _condensation_table(points, cfg, store) -> list:
    rows = []
    for p in points:
        g, gp = p["gamma_energy"], p["gamma_dynamic"]
        for m in cfg.widths:
            recs = [r for r in store.get((_key(g, gp), m), []) if r["converged"]]
            if not recs:
                continue
            row = dict(gamma_energy=g, gamma_dynamic=gp, width=m)
            for k in ("neff", "top4", "erank"):
                for when in ("init", "final"):
                    vals = [r[f"{k}_{when}"] for r in recs if r.get(f"{k}_{when}") is not None]
                    row[f"{k}_{when}"] = float(np.mean(vals)) if vals else None
            rows.append(row)
    return rows
