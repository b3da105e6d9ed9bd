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
Every (point, width) is saved in the run's point store as it finishes, which ``resume`` reuses.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from l2phase.theory.checks import InputTypeError, check_int, check_positive, check_real, check_seed
from l2phase.theory.init_scaling import boundary_distance, boundary_gamma_energy, heuristic_rd_slope, init_regime

from ..executors import Executor, InProcessExecutor
from ..store import RunStore, json_ready, run_fingerprint
from ..sweep import run_work_unit
from ..two_layer import TwoLayerData, train_normalised, two_layer_dataset
from l2phase.theory.checks import InputError

__all__ = [
    "InitDiagramConfig",
    "InitDiagramResult",
    "boundary_crossing",
    "consistency_checks",
    "fit_rd_slope",
    "SIGN_CHECK_DISTANCE",
    "run_init_diagram",
]


#: Largest hidden width of the diagram (10**6 is the GPU default's largest).
MAX_WIDTH = 10**8
#: Largest step cap (a full-batch GD step of the smallest net takes ~0.1 ms).
MAX_STEPS = 10**9
#: |log10| of the scales kappa = m^-gamma_energy, kappa' = m^-gamma_dynamic the training handles.
MAX_LOG10_KAPPA = 15
#: The sign of S_w is checked only at points at least this far from the theoretical boundary.
SIGN_CHECK_DISTANCE = 0.1


def consistency_checks(points: Sequence[dict], min_distance: float = SIGN_CHECK_DISTANCE) -> list[dict]:
    """The checks behind ``l2phase init-diagram``'s verdict, each able to fail.

    * at every point at least ``min_distance`` from the boundary: S_w finite with the
      theory's sign (< 0 linear, > 0 condensed);
    * at least one such point exists (otherwise the sign was never tested: failed, not
      vacuously passed);
    * every run reached the loss tolerance.

    ``points``: the per-point summaries of :func:`run_init_diagram` (keys gamma_energy,
    gamma_dynamic, slope, measured_sign, theory_regime, distance_to_boundary, n_not_converged).
    """
    checks = []
    for p in points:
        if p["distance_to_boundary"] >= min_distance:
            slope = p["slope"]
            ok = slope is not None and math.isfinite(slope) and p["measured_sign"] == p["theory_regime"]
            checks.append(dict(name=f"sign of S_w at ({p['gamma_energy']:g}, {p['gamma_dynamic']:g})", passed=bool(ok),
                               detail=f"S_w = {'-' if slope is None or not math.isfinite(slope) else format(slope, '+.3f')}, "
                                      f"theory {p['theory_regime']}"))
    if not checks:
        checks.append(dict(name=f"at least one point {min_distance:g} or more from the boundary", passed=False,
                           detail="no point where the sign of S_w can be tested"))
    n_bad = sum(int(p["n_not_converged"]) for p in points)
    checks.append(dict(name="every run reached the loss tolerance", passed=n_bad == 0,
                       detail=f"{n_bad} run(s) did not converge"))
    return checks


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
        for name in ("gammas_energy", "gammas_dynamic", "widths", "seeds"):
            v = getattr(self, name)
            if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
                raise InputTypeError(f"{name} must be a sequence, got {v!r}")
        self.gammas_energy = tuple(check_real(g, "gammas_energy[i]") for g in self.gammas_energy)
        self.gammas_dynamic = tuple(check_real(g, "gammas_dynamic[i]") for g in self.gammas_dynamic)
        self.widths = tuple(sorted({check_int(m, "widths[i]", 2, MAX_WIDTH) for m in self.widths}))
        self.seeds = tuple(check_seed(s, "seeds[i]") for s in self.seeds)
        for name in ("gammas_energy", "gammas_dynamic", "widths", "seeds"):
            if not getattr(self, name):
                raise InputError(f"{name} is empty")
        if len(self.widths) < 2:
            raise InputError(f"widths needs at least two distinct widths >= 2 for a slope, got {self.widths}")
        if len(set(self.seeds)) != len(self.seeds):
            raise InputError(f"seeds must be distinct, got {self.seeds}")
        # kappa = m^-gamma_energy, kappa' = m^-gamma_dynamic must stay in the range the training handles
        log_m = math.log10(self.widths[-1])
        for name in ("gammas_energy", "gammas_dynamic"):
            for g in getattr(self, name):
                if abs(g) * log_m > MAX_LOG10_KAPPA:
                    raise InputError(f"{name} = {g:g} with width {self.widths[-1]} gives a scale m^{-g:g} = "
                                     f"1e{-g * log_m:+.3g}, outside [1e-{MAX_LOG10_KAPPA}, 1e+{MAX_LOG10_KAPPA}] "
                                     f"(|{name.replace('gammas', 'gamma')}| <= {MAX_LOG10_KAPPA / log_m:.3g} at this width)")
        if not isinstance(self.data, str):
            raise InputTypeError(f"data must be a string (a data set name or mnist:PATH), got {self.data!r}")
        if self.n_samples is not None:
            check_int(self.n_samples, "n_samples", 1)
        if self.asi not in (None, True, False):
            raise InputTypeError(f"asi must be True, False or None, got {self.asi!r}")
        check_positive(self.tol, "tol")
        check_int(self.max_steps, "max_steps", 1, MAX_STEPS)
        check_positive(self.step_factor, "step_factor")
        check_int(self.refine, "refine", 0, 20)
        check_positive(self.refine_min_gap, "refine_min_gap")
        if not isinstance(self.device, str):
            raise InputTypeError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}")
        if self.dtype not in (None, "float32", "float64"):
            raise InputError(f"dtype must be 'float32', 'float64' or None, got {self.dtype!r}")
        check_int(self.max_batch_elements, "max_batch_elements", 1)
        check_int(self.keep_neurons, "keep_neurons", 0)

    def memory_estimate(self, n_samples: int, in_dim: int) -> float:
        """Bytes a work unit needs at its peak, roughly: ~8 arrays of rows x neurons x (n + d + 1)
        (weights, their previous values and gradients, pre-activations, activations), at least one
        row of the widest net, in 8-byte floats, plus the per-row n x n kernel matrices."""
        per_row = (2 * self.widths[-1]) * (n_samples + in_dim + 1)
        rows = max(1, self.max_batch_elements // per_row)
        return 8.0 * (8 * max(self.max_batch_elements, per_row) + 4 * rows * n_samples * n_samples)

    @classmethod
    def full_grid(cls, **kw) -> "InitDiagramConfig":
        """The issue's default diagram: gamma_energy 0.5..1.75 (step 0.25) x gamma_dynamic -0.4..0.4 (step 0.2)."""
        kw.setdefault("gammas_energy", (0.5, 0.75, 1.0, 1.25, 1.5, 1.75))
        kw.setdefault("gammas_dynamic", (-0.4, -0.2, 0.0, 0.2, 0.4))
        return cls(**kw)

    def load_data(self) -> TwoLayerData:
        name, _, path = self.data.partition(":")
        return two_layer_dataset(name, n_samples=self.n_samples, path=path or None)

    def fingerprint(self) -> dict:
        """The run fingerprint (:func:`empirical.run_fingerprint`): everything a stored point
        depends on, not the grid, the widths, the seeds or the refinement (a resume may extend
        those; each point file holds all seeds of one (point, width))."""
        keys = dict(data=self.data, n_samples=self.n_samples, asi=self.asi, tol=self.tol, max_steps=self.max_steps,
                    step_factor=self.step_factor, max_batch_elements=self.max_batch_elements,
                    keep_neurons=self.keep_neurons)
        return run_fingerprint("init-diagram", keys, device=self.device, dtype=self.dtype or "default")


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
        raise InputError(f"rd must be (seeds, {m.size}), got {rd.shape}")
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


#: Point group of the diagram in the run's store: one point per (gamma_energy, gamma_dynamic, width).
POINT_GROUP = "diagram"
_RUN_FIELDS = ("seed", "converged", "rd_w", "rd_w_max", "steps")


def _point_check(seeds: Sequence[int]):
    """Schema of a stored (point, width): one run per seed, finite positive RD where converged."""
    def check(rec: dict, arrays: dict) -> None:
        runs = rec["runs"]
        if not set(seeds) <= {r["seed"] for r in runs}:
            raise ValueError(f"runs for seeds {sorted(r['seed'] for r in runs)}, expected {sorted(seeds)}")
        for r in runs:
            missing = [f for f in _RUN_FIELDS if f not in r]
            if missing:
                raise ValueError(f"a run lacks {missing}")
            if r["converged"] and not (isinstance(r["rd_w"], float) and math.isfinite(r["rd_w"]) and r["rd_w"] > 0):
                raise ValueError(f"converged run with RD {r['rd_w']!r}")
        for k, a in arrays.items():
            if a.ndim != 1 or not np.all(np.isfinite(a)):
                raise ValueError(f"neuron array {k} must be 1-D and finite")
    return check


# ----------------------------------------------------------------------------- run
def run_init_diagram(
    config: InitDiagramConfig | None = None,
    out=None,
    *,
    resume: bool = False,
    progress: Callable[[str], None] | None = None,
    executor: Executor | None = None,
) -> InitDiagramResult:
    """Measure the diagram of ``config`` (default: the gamma_dynamic = 0 CPU cut).

    ``out``: a run directory (path, opened as :meth:`empirical.RunStore.open`) or a
    :class:`empirical.RunStore`; one point file per (grid point, width) holding all seeds
    (with the first seed's neurons as arrays).  With ``resume`` (path) the valid points
    already there (same fingerprint: data, tol, asi, step rule, device, dtype) are reused;
    a damaged one is retrained in the batch it was trained in before, so the result is
    bit-identical to an uninterrupted run.  ``executor``: where the work units (one batch
    of nets of one width) run, in this process (default) or on Dask
    (:func:`empirical.make_executor`); every finished (point, width) is saved once, by this
    process.  Returns the tables (:class:`InitDiagramResult`).
    """
    cfg = config or InitDiagramConfig()
    if resume and out is None:
        raise ValueError("resume=True needs out")
    with RunStore.using(out, fingerprint=cfg.fingerprint, resume=resume, command="run_init_diagram") as rs:
        return _run_diagram(cfg, rs, executor, progress)


def _run_diagram(cfg: InitDiagramConfig, rs: RunStore | None, executor, progress) -> InitDiagramResult:
    runner = executor if executor is not None else InProcessExecutor()
    t0 = time.perf_counter()
    data = cfg.load_data()
    asi = cfg.asi if cfg.asi is not None else data.in_dim == 1
    store: dict = {}  # (gkey, m) -> list of run records
    neurons: dict = {}
    log = progress or (lambda s: None)
    check = _point_check(cfg.seeds)

    def load(g, gp, m):
        pt = rs.load_point(POINT_GROUP, (g, gp, m), check) if rs is not None else None
        if pt is None:
            return None
        if pt.arrays:
            neurons[(*_key(g, gp), m)] = pt.arrays
        return sorted((r for r in pt.record["runs"] if r["seed"] in cfg.seeds), key=lambda r: r["seed"])

    def measure(points: list[tuple[float, float]]):
        import torch

        requested, pending = [], set()
        for (g, gp) in points:
            for m in cfg.widths:
                if (_key(g, gp), m) in store:
                    continue
                requested.append((g, gp, m))
                recs = load(g, gp, m)
                if recs is not None:
                    store[(_key(g, gp), m)] = recs
                else:
                    pending.add((_key(g, gp), m))
        if rs is not None:  # every pending point's files listed in the marker at once
            rs.claim_points(POINT_GROUP, [(g, gp, m) for (g, gp, m) in requested if (_key(g, gp), m) in pending],
                            arrays=cfg.keep_neurons > 0)
        n_, D = data.n_samples, data.in_dim + 1
        units = []
        for m in cfg.widths:
            # the batches are cut from every requested row, not only the pending ones: a
            # retrained (point, width) sits in the batch of the uninterrupted run (same bits)
            rows = [(g, gp, s) for (g, gp, mm) in requested if mm == m for s in cfg.seeds]
            if not any((_key(g, gp), m) in pending for (g, gp, _) in rows):
                continue
            per_row = (2 * m if asi else m) * (n_ + D) * 4
            chunk = max(1, int(cfg.max_batch_elements // per_row))
            for i0 in range(0, len(rows), chunk):
                part = tuple(rows[i0:i0 + chunk])
                if not any((_key(g, gp), m) in pending for (g, gp, _) in part):
                    continue
                keep = tuple(cfg.keep_neurons if s == cfg.seeds[0] else 0 for (_, _, s) in part)
                units.append(_InitUnit(data, part, m, asi, cfg, keep, torch.get_num_threads()))
        if units:
            log(f"training {sum(len(u.part) for u in units)} nets in {len(units)} work unit(s) on {runner.description}")
        fresh: dict = {}
        for _, done in runner.map_unordered(run_work_unit, units):
            m = done[0][0]
            part = [(g, gp, s) for (_, g, gp, s, _, _) in done]
            for (_, g, gp, s, rec, nrn) in done:
                if (_key(g, gp), m) not in pending:
                    continue  # stored already (a sibling of a lost point)
                rec = dict(rec, gamma_energy=g, gamma_dynamic=gp, asi=asi)
                fresh.setdefault((_key(g, gp), m), []).append(rec)
                if nrn is not None:
                    neurons[(*_key(g, gp), m)] = nrn
            log(f"m={m}: {len(part)} nets trained")
            # save every (point, width) whose seeds are complete
            for (g, gp) in sorted({(g, gp) for (g, gp, _) in part}):
                k = (_key(g, gp), m)
                # sorted by seed: units may finish in any order (cluster), the files may not differ
                recs = sorted(fresh.get(k, []), key=lambda r: r["seed"])
                if k not in pending or len(recs) != len(cfg.seeds):
                    continue
                point = dict(gamma_energy=g, gamma_dynamic=gp, width=m, runs=recs)
                nr = neurons.get((*_key(g, gp), m))
                if rs is not None:
                    point = rs.save_point(POINT_GROUP, (g, gp, m), point, arrays=nr)
                else:
                    point = json.loads(json.dumps(json_ready(point, keep_nonfinite=True), allow_nan=True))
                store[k] = point["runs"]
                pending.discard(k)

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
    cfgd.update(asi_used=asi, in_dim=data.in_dim, n_samples_used=data.n_samples,
                fingerprint=None if rs is None else rs.fingerprint_id)
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
        widths=widths, n_not_converged=n_bad, n_converged=int(np.isfinite(rd).sum()), max_steps_used=max(steps) if steps else 0,
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
