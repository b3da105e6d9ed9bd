r"""Batched gamma sweeps: train one network per (gamma, initialisation) at once, keep the
global minimum per gamma, measure it, and write every finished point atomically.

For each gamma the sweep trains from several initialisations (:class:`InitSpec`: small
and large random, and "spectral" starts seeded with the top-r modes of E[x y^T]) and
keeps the run with the lowest finite loss L_gamma = E + gamma sum_l ||W_l||_F^2
(docs/conventions.md).  Several starts are needed because for D >= 2 the transition is first order:
a small initialisation stays at the origin (a strict local minimum for every gamma > 0)
even where learning is the global minimum, and with several outputs every subset of
modes is a separate local minimum.

Per gamma it records (:data:`RECORD_FIELDS`): loss, error term, ||theta_w||^2, accuracy
(classification data), the learned singular values of the end-to-end map (deep linear
nets), convergence diagnostics, the Ricci scalars R_L, R_E with standard errors, and the
Hessian's extreme eigenvalues.

Reliability: each finished point is saved through the run's point store
(:class:`empirical.RunStore`: atomic files under ``out_dir/points/<tag>/``, fingerprinted,
checked when read back); ``resume=True`` reuses the valid ones.  Every run has its own
seed (derived from the sweep seed, the init index and the bits of gamma), and the work
units (blocks of ``chunk_size`` gammas) depend only on the requested grid
(:func:`plan_chunks`): a resume reruns every block that lost a point, in the same
composition, so a resumed sweep equals an uninterrupted one bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

from l2phase.theory.checks import InputError, InputTypeError, check_gamma, check_int, check_seed, check_type

from .hessian_curvature import curvature_exact, curvature_matrix_free
from .data import Dataset
from .executors import Executor, InProcessExecutor
from .models import NetSpec, end_to_end_matrix, forward
from .store import RunStore, json_ready, run_fingerprint
from .torch_state import torch_threads
from .training import TrainConfig, train_batched

__all__ = [
    "InitSpec",
    "default_inits",
    "initial_parameters",
    "SweepConfig",
    "SweepResult",
    "sweep_gamma",
    "RECORD_FIELDS",
    "point_seed",
    "run_work_unit",
    "pending_points",
    "plan_chunks",
    "point_check",
    "sweep_fingerprint",
    "collect_points",
    "assemble_result",
]

#: Scalar columns of a sweep record (CSV order).  ``sv_1..sv_k`` follow for linear nets.
RECORD_FIELDS = (
    "gamma", "loss", "error", "param_norm_sq", "accuracy", "status", "converged", "diverged",
    "grad_norm", "n_steps", "best_init", "R_L", "R_L_se", "R_E", "R_E_se",
    "hess_min_eig", "hess_max_eig", "n_neg_eig", "tr_H_L", "curvature_method",
)


# ------------------------------------------------------------------------------ inits
@dataclass(frozen=True)
class InitSpec:
    """One initialisation of a multi-start sweep.

    kind : "random" (W_l ~ N(0, scale^2/fan_in)) or "spectral" (balanced deep linear
        factorisation of the top-``rank`` modes of beta = E[x y^T], each layer carrying
        s_i^(1/n), plus ``scale`` x 1e-3 random noise; linear nets only).
    """

    kind: str
    scale: float
    rank: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("random", "spectral"):
            raise InputError(f"InitSpec.kind must be 'random' or 'spectral', got {self.kind!r}")
        if isinstance(self.scale, bool) or not isinstance(self.scale, (int, float)) or \
                not (math.isfinite(self.scale) and self.scale >= 0):
            raise InputError(f"InitSpec.scale must be finite and >= 0, got {self.scale!r}")
        check_int(self.rank, "InitSpec.rank", 0)
        if not self.name:
            object.__setattr__(self, "name", f"{self.kind}-{self.rank if self.kind == 'spectral' else self.scale:g}")


def default_inits(spec: NetSpec, n_modes: int | None = None) -> list[InitSpec]:
    """Small (1e-3) and large (1.5) random starts, plus spectral rank-1..n_modes starts
    for deep linear nets without bias (n_modes defaults to min(k, width))."""
    inits = [InitSpec("random", 1e-3, name="small"), InitSpec("random", 1.5, name="large")]
    if spec.activation == "linear" and not spec.bias:
        r_max = min(spec.out_dim, spec.in_dim, spec.width if spec.depth > 0 else spec.out_dim)
        n = r_max if n_modes is None else min(int(n_modes), r_max)
        inits += [InitSpec("spectral", 1.0, rank=r, name=f"spectral-{r}") for r in range(1, n + 1)]
    return inits


def point_seed(seed: int, gamma: float, init_index: int) -> int:
    """Per-run seed from the sweep seed, the exact bits of gamma and the init index."""
    h = hashlib.sha256(f"{int(seed)}|{float(gamma).hex()}|{int(init_index)}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def initial_parameters(spec: NetSpec, init: InitSpec, beta: np.ndarray | None, seed: int,
                       dtype=torch.float64) -> torch.Tensor:
    """One starting vector (P,) for ``init`` (CPU generator seeded with ``seed``)."""
    gen = torch.Generator().manual_seed(int(seed))
    if init.kind == "random":
        return spec.init(1, scale=init.scale, generator=gen, dtype=dtype)[0]
    if spec.activation != "linear" or spec.bias:
        raise InputError("spectral initialisation needs a deep linear net without bias")
    if beta is None:
        raise InputError("spectral initialisation needs beta = E[x y^T]")
    U, S, Vt = np.linalg.svd(np.asarray(beta, dtype=float), full_matrices=False)  # beta (d, k)
    n = spec.n_layers
    r = min(init.rank, S.size, spec.width if spec.depth > 0 else S.size)
    root = S[:r] ** (1.0 / n)
    layers = []
    noise = spec.init(1, scale=1e-3 * max(init.scale, 1e-300), generator=gen, dtype=dtype)[0]
    for l, (o, i) in enumerate(spec.layer_shapes):
        W = np.zeros((o, i))
        if n == 1:
            W[:, :] = (Vt[:r].T * S[:r]) @ U[:, :r].T
        elif l == 0:
            W[:r, :] = root[:, None] * U[:, :r].T
        elif l == n - 1:
            W[:, :r] = Vt[:r].T * root[None, :]
        else:
            W[:r, :r] = np.diag(root)
        layers.append((torch.as_tensor(W * init.scale, dtype=dtype), None))
    return spec.flatten(layers) + noise


# ------------------------------------------------------------------------------ sweep
@dataclass
class SweepConfig:
    """Settings of :func:`sweep_gamma`.

    curvature : "exact" (full Hessians), "matrix_free" (Hutch++), "auto" (exact when
        P <= exact_max_params) or None (skip).
    chunk_size : gammas trained per batch (each with every init); a point is written as
        soon as its chunk finishes.
    """

    inits: list[InitSpec] | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    curvature: str | None = "auto"
    n_probes: int = 60
    exact_max_params: int = 1500
    chunk_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if self.curvature not in (None, "exact", "matrix_free", "auto"):
            raise InputError(f"curvature must be 'exact', 'matrix_free', 'auto' or None, got {self.curvature!r}")
        check_int(self.chunk_size, "chunk_size", 1, 10**6)
        check_int(self.n_probes, "n_probes", 2, 10**6)
        check_int(self.exact_max_params, "exact_max_params", 1, 10**6)
        check_seed(self.seed)
        if not isinstance(self.train, TrainConfig):
            raise InputTypeError(f"train must be a TrainConfig, got {type(self.train).__name__}")
        if self.inits is not None:
            if isinstance(self.inits, (str, bytes)) or not hasattr(self.inits, "__iter__"):
                raise InputTypeError(f"inits must be a list of InitSpec or None, got {self.inits!r}")
            self.inits = list(self.inits)
            if not self.inits:
                raise InputError("inits is empty (give None for the defaults)")
            for i, init in enumerate(self.inits):
                if not isinstance(init, InitSpec):
                    raise InputTypeError(f"inits[{i}] must be an InitSpec, got {init!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


@dataclass
class SweepResult:
    """Records sorted by the knob (one dict per value) and the chosen parameters (n, P).

    ``knob`` names the swept quantity, the record key holding its value: "gamma" (L2
    strength) here, "beta" (KL weight) for :func:`empirical.sweep_beta`.
    """

    records: list[dict]
    thetas: np.ndarray
    spec: Any
    tag: str = "sweep"
    knob: str = "gamma"

    @property
    def values(self) -> np.ndarray:
        """The swept values (gamma, or beta for a VAE sweep), ascending."""
        return np.array([r[self.knob] for r in self.records], dtype=float)

    @property
    def gamma(self) -> np.ndarray:
        if self.knob != "gamma":
            raise AttributeError(f"this sweep is over {self.knob!r}, not gamma: use .values")
        return self.values

    def column(self, name: str) -> np.ndarray:
        return np.array([r.get(name, np.nan) for r in self.records], dtype=float)

    def ok(self) -> np.ndarray:
        """Mask of the usable points: the kept run converged (reached the gradient tolerance),
        did not diverge, and has a finite loss.  Fits and change points use only these;
        the others are reported (``status``: "not_converged" or "diverged")."""
        return np.array([bool(r.get("converged", False)) and not r["diverged"] and math.isfinite(float(r["loss"]))
                         for r in self.records], dtype=bool)

    def not_diverged(self) -> np.ndarray:
        """Mask of the points that did not diverge and have a finite loss, converged or not
        (for sweeps stopped at ``max_steps`` by design, whose unconverged points still carry
        a measurement; their number is reported beside the results)."""
        return np.array([not r["diverged"] and math.isfinite(float(r["loss"])) for r in self.records], dtype=bool)


@dataclass(frozen=True)
class _ChunkTask:
    """One work unit of a sweep: a block of gammas, each trained from every init (picklable)."""

    spec: NetSpec
    data: Dataset
    chunk: np.ndarray
    cfg: SweepConfig
    inits: tuple
    curv: str | None
    device: str | None
    n_threads: int

    def run(self) -> list[dict]:
        return _train_chunk_inner(self)


def run_work_unit(task) -> list[dict]:
    """Run one work unit of a sweep (``task.run()``) with the task's intra-op thread count.

    Runs wherever the executor puts it (this process or a cluster worker): it depends
    only on the task, so the same task gives the same numbers anywhere (CPU, float64).
    The intra-op thread count is part of the task because it changes the order of
    floating-point reductions, and with it which of the (symmetry-equivalent) minimisers
    a run ends on; a Dask worker starts with one thread.
    """
    with torch_threads(task.n_threads):
        return task.run()


def select_best_runs(res, n_values: int, n_init: int):
    """The lowest-loss start of each swept value from a batched training of n_values x n_init runs.

    Returns (losses (n_values, n_init), best start index, its row in the batch, its theta,
    mask of values whose every start diverged, indices of the values with a finite best).
    """
    L = res.loss.reshape(n_values, n_init)
    bad = res.diverged.reshape(n_values, n_init) | ~np.isfinite(L)
    best = np.argmin(np.where(bad, np.inf, L), axis=1)
    rows = np.arange(n_values) * n_init + best
    theta = res.theta[torch.as_tensor(rows, device=res.theta.device)]
    all_bad = np.all(bad, axis=1)
    return L, best, rows, theta, all_bad, np.flatnonzero(~all_bad)


def measure_curvature(spec, theta, X, Y, values, measured, method: str | None, n_probes: int, seed: int):
    """Curvature at the kept runs ``theta[measured]`` (knob ``values[measured]``): exact Hessians or
    Hutch++ with per-point probe seeds (independent of the batch); None when nothing is measured."""
    if method is None or not measured.size:
        return None
    sel = torch.as_tensor(measured, device=theta.device)
    if method == "exact":
        return curvature_exact(spec, theta[sel], X, Y, values[measured])
    seeds = [point_seed(seed, v, 10_000) for v in values[measured]]
    return curvature_matrix_free(spec, theta[sel], X, Y, values[measured], n_probes, seed=seeds)


#: Curvature columns of a sweep record (NaN where not measured).
CURVATURE_FIELDS = ("R_L", "R_L_se", "R_E", "R_E_se", "hess_min_eig", "hess_max_eig", "n_neg_eig")


def fill_curvature(rec: dict, cres, measured: np.ndarray, i: int, keys=CURVATURE_FIELDS) -> None:
    """Put the curvature of point ``i`` into ``rec``: row ``searchsorted(measured, i)`` of the
    CurvatureResult ``cres`` (which covers only the ``measured`` points), NaN otherwise."""
    for key in keys:
        rec[key] = float("nan")
    if cres is not None and i in measured:
        row = cres.row(int(np.searchsorted(measured, i)))
        rec.update({k: row[k] for k in keys})


def sweep_fingerprint(command: str, spec, data: Dataset, config: dict, *, tag: str, device=None) -> dict:
    """Fingerprint of a library sweep written to a path (:func:`empirical.run_fingerprint` of the
    spec, a SHA-256 of the data, the configuration (a dict) and the tag; not the swept values)."""
    h = hashlib.sha256()
    for a in (data.X, data.Y) + (() if data.labels is None else (data.labels,)):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    conf = dict(spec=spec.to_dict(), data=h.hexdigest(), sweep=config, tag=tag)
    return run_fingerprint(command, conf, device=device, dtype="float64")


def point_check(spec, knob: str, fields: Sequence[str]) -> Callable[[dict, dict], None]:
    """Schema of a stored sweep point (for :meth:`RunStore.load_point`): the knob, every field of
    ``fields``, ``theta`` of length P; finite loss and theta unless diverged."""
    def check(rec: dict, arrays: dict) -> None:
        missing = [f for f in fields if f not in rec]
        if missing or not isinstance(rec[knob], float):
            raise ValueError(f"missing fields {missing}" if missing else f"{knob} is not a number")
        th = rec["theta"]
        if not isinstance(th, list) or len(th) != spec.n_params or not all(isinstance(x, float) for x in th):
            raise ValueError(f"theta must be {spec.n_params} floats")
        if not rec["diverged"]:
            vals = [rec["loss"]] + th
            if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in vals):
                raise ValueError("non-finite loss or theta in a point that did not diverge")
    return check


def pending_points(values, *, knob: str, store: RunStore | None, tag: str, check=None,
                   previous: SweepResult | None = None) -> dict[float, dict]:
    """The points of ``values`` already done: from a ``previous`` result of the same
    configuration (thetas included) and from the ``store`` (damaged files are left out,
    so they are recomputed)."""
    done: dict[float, dict] = {}
    if previous is not None:
        for rec, th in zip(previous.records, previous.thetas):
            done.setdefault(float(rec[knob]), dict(rec, theta=[float(x) for x in th]))
    if store is not None:
        for v in values:
            v = float(v)
            if v not in done:
                pt = store.load_point(tag, v, check)
                if pt is not None and pt.record.get(knob) == v:
                    done[v] = pt.record
    return done


def plan_chunks(values, *, done: dict, chunk_size: int, exclude=()) -> list[np.ndarray]:
    """Work units of a resumable sweep: the sorted ``values`` (less ``exclude``, the points of
    a previous result) cut into blocks of ``chunk_size``, keeping every block that holds a
    point not yet ``done``.

    The blocks depend only on the request, never on what a killed run left behind, so a
    point recomputed on resume is trained in the very batch it was trained in by the
    uninterrupted run: the same bits (batched kernels may round differently for another
    batch composition).
    """
    skip = {float(v) for v in exclude}
    base = [float(v) for v in np.sort(np.asarray(values, dtype=float)) if float(v) not in skip]
    blocks = [base[i:i + chunk_size] for i in range(0, len(base), chunk_size)]
    return [np.asarray(b) for b in blocks if any(v not in done for v in b)]


def collect_points(units, done: dict[float, dict], *, knob: str, store: RunStore | None, tag: str,
                   executor: Executor | None = None, progress: Callable[[int], None] | None = None) -> None:
    """Run the work units (:func:`run_work_unit`) and keep every new point once.

    Units may finish in any order (cluster); each new point is saved by this process
    (:meth:`RunStore.save_point`, atomic) and added to ``done`` as it reads back, so a
    retried or duplicated unit cannot lose or corrupt a point, and a fresh run holds the
    same values as a resumed one.  Points of a unit that are already ``done`` (a unit rerun
    for a lost sibling) are left as they are.
    """
    runner = executor if executor is not None else InProcessExecutor()
    for _, recs_chunk in runner.map_unordered(run_work_unit, units):
        n_new = 0
        if store is not None:  # the unit's point files listed in one marker write
            store.claim_points(tag, [float(rec[knob]) for rec in recs_chunk if float(rec[knob]) not in done])
        for rec in recs_chunk:
            v = float(rec[knob])
            if v in done:
                continue
            done[v] = store.save_point(tag, v, rec) if store is not None else \
                json.loads(json.dumps(json_ready(rec, keep_nonfinite=True), allow_nan=True))
            n_new += 1
        if progress is not None and n_new:
            progress(n_new)


def assemble_result(done: dict[float, dict], values, spec, *, tag: str, knob: str) -> SweepResult:
    """SweepResult of the points ``done`` at ``values`` (sorted), thetas split off the records."""
    recs = [done[float(v)] for v in values]
    thetas = np.array([r["theta"] for r in recs], dtype=float).reshape(len(recs), spec.n_params)
    recs = [{k: v for k, v in r.items() if k != "theta"} for r in recs]
    return SweepResult(records=recs, thetas=thetas, spec=spec, tag=tag, knob=knob)


def _train_chunk_inner(task: _ChunkTask) -> list[dict]:
    spec, data, chunk, cfg, inits, curv = task.spec, task.data, task.chunk, task.cfg, list(task.inits), task.curv
    device = torch.device(task.device) if task.device else None
    dtype = torch.float64
    X, Y = data.tensors(device=device, dtype=dtype)
    _, beta, _ = data.stats()
    n_init = len(inits)
    records: list[dict] = []
    th0 = torch.stack([
        initial_parameters(spec, init, beta, point_seed(cfg.seed, g, j), dtype)
        for g in chunk for j, init in enumerate(inits)
    ]).to(device)
    gam = np.repeat(chunk, n_init)
    res = train_batched(spec, th0, X, Y, gam, cfg.train)
    L, best, rows, theta, all_div, ok_rows = select_best_runs(res, len(chunk), n_init)
    cres = measure_curvature(spec, theta, X, Y, chunk, ok_rows, curv, cfg.n_probes, cfg.seed)
    with torch.no_grad():
        fx = forward(spec, theta, X)
        sv = (torch.linalg.svdvals(end_to_end_matrix(spec, theta)).cpu().numpy()
              if spec.activation == "linear" and not spec.bias else None)
    for i, g in enumerate(chunk):
        r = rows[i]
        rec: dict[str, Any] = dict(
            gamma=float(g), loss=float(res.loss[r]), error=float(res.error[r]),
            param_norm_sq=float(res.param_norm_sq[r]), accuracy=float("nan"),
            status="diverged" if all_div[i] else res.status()[r],
            converged=bool(res.converged[r]) and not all_div[i], diverged=bool(all_div[i]),
            grad_norm=float(res.grad_norm[r]), n_steps=int(res.n_steps[r]),
            best_init=inits[best[i]].name,
            init_losses=[float(x) for x in L[i]],
            init_status=[res.status()[i * n_init + j] for j in range(n_init)],
            curvature_method=curv or "none",
        )
        if data.labels is not None and not all_div[i]:
            pred = fx[i].argmax(-1).cpu().numpy()
            rec["accuracy"] = float(np.mean(pred == data.labels))
        if sv is not None:
            for j, s in enumerate(sv[i]):
                rec[f"sv_{j + 1}"] = float(s)
        fill_curvature(rec, cres, ok_rows, i, CURVATURE_FIELDS + ("tr_H_L",))
        rec["theta"] = theta[i].detach().cpu().numpy().astype(float).tolist()
        records.append(rec)
    return records


def sweep_gamma(
    spec: NetSpec,
    data: Dataset,
    gammas,
    config: SweepConfig | None = None,
    *,
    out_dir=None,
    tag: str = "sweep",
    resume: bool = False,
    device=None,
    progress: Callable[[int], None] | None = None,
    previous: SweepResult | None = None,
    executor: Executor | None = None,
) -> SweepResult:
    r"""Global minimum of L_gamma per gamma by batched multi-start training, measured.

    Parameters
    ----------
    spec : NetSpec
    data : Dataset
        Full-batch training set (A, beta, E||y||^2 of it are what the theory uses).
    gammas : 1-D array of L2 strengths (any order; duplicates are merged).
    config : SweepConfig
    out_dir : path or RunStore, optional
        Where finished points go (``points/<tag>/<gamma hex>.json``): a path is opened as
        a run directory of its own (:meth:`RunStore.open`; one directory holds one run), a
        :class:`RunStore` (a command's run) is used as it is and consulted for finished
        points.  Required for ``resume``.
    resume : bool
        With a path: reuse the points already there (same fingerprint: spec, data,
        config, device, tag) and train only the blocks of gammas that lost a point.
    device : torch device (float64 on CPU; float64 on CUDA too unless the caller
        converts).
    progress : callable(n_new_points), optional (e.g. a tqdm ``update``).
    previous : SweepResult, optional
        Points already measured with the same spec, data and config (reused, not redone).
    executor : Executor, optional
        Where the work units (blocks of ``config.chunk_size`` gammas) run: in this process
        (default) or on a Dask cluster (:func:`empirical.make_executor`).  Results are the
        same numbers either way.

    Returns
    -------
    SweepResult with one record per gamma (see :data:`RECORD_FIELDS`) sorted by gamma.
    """
    check_type(spec, NetSpec, "spec")
    check_type(data, Dataset, "data")
    cfg = SweepConfig() if config is None else check_type(config, SweepConfig, "config")
    g_all = np.unique(np.asarray(check_gamma(np.atleast_1d(np.asarray(gammas, dtype=float)), "gammas"), dtype=float))
    if resume and out_dir is None:
        raise InputError("resume=True needs out_dir")
    if spec.in_dim != data.in_dim or spec.out_dim != data.out_dim:
        raise InputError(f"spec is {spec.in_dim}->{spec.out_dim} but data is {data.in_dim}->{data.out_dim}")
    inits = cfg.inits if cfg.inits is not None else default_inits(spec)
    if not inits:
        raise InputError("config.inits is empty")
    curv = cfg.curvature
    if curv == "auto":
        curv = "exact" if spec.n_params <= cfg.exact_max_params else "matrix_free"
    fingerprint = lambda: sweep_fingerprint("sweep_gamma", spec, data, cfg.to_dict(), tag=tag, device=device)  # noqa: E731
    with RunStore.using(out_dir, fingerprint=fingerprint, resume=resume, command="sweep_gamma") as store:
        check = point_check(spec, "gamma", RECORD_FIELDS)
        done = pending_points(g_all, knob="gamma", store=store, tag=tag, check=check, previous=previous)
        prev = () if previous is None else previous.values
        units = [
            _ChunkTask(spec, data, chunk, cfg, tuple(inits), curv, None if device is None else str(device),
                       torch.get_num_threads())
            for chunk in plan_chunks(g_all, done=done, chunk_size=cfg.chunk_size, exclude=prev)
        ]
        collect_points(units, done, knob="gamma", store=store, tag=tag, executor=executor, progress=progress)
    return assemble_result(done, g_all, spec, tag=tag, knob="gamma")
