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

Reliability: each finished point is written as one JSON file (temp file + os.replace)
under ``out_dir/points/<tag>/``; ``resume=True`` loads them and trains only the missing
gammas.  Every run has its own seed (derived from the sweep seed, the init index and
the bits of gamma) and a run's trajectory does not depend on the other runs in its
batch, so a resumed sweep equals an uninterrupted one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from l2phase.theory.checks import check_gamma

from .hessian_curvature import curvature_exact, curvature_matrix_free
from .data import Dataset
from .executors import Executor, InProcessExecutor
from .models import NetSpec, end_to_end_matrix, forward
from .training import TrainConfig, train_batched

__all__ = [
    "InitSpec",
    "default_inits",
    "initial_parameters",
    "SweepConfig",
    "SweepResult",
    "sweep_gamma",
    "RECORD_FIELDS",
    "atomic_write_text",
    "write_csv",
    "point_seed",
    "run_work_unit",
    "pending_points",
    "collect_points",
    "assemble_result",
]

#: Scalar columns of a sweep record (CSV order).  ``sv_1..sv_k`` follow for linear nets.
RECORD_FIELDS = (
    "gamma", "loss", "error", "param_norm_sq", "accuracy", "status", "converged", "diverged",
    "grad_norm", "n_steps", "best_init", "R_L", "R_L_se", "R_E", "R_E_se",
    "hess_min_eig", "hess_max_eig", "n_neg_eig", "tr_H_L", "curvature_method",
)


# ------------------------------------------------------------------------------ files
def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temp file in the same directory + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv(records: Sequence[dict], path, fields: Sequence[str] | None = None) -> None:
    """One row per record (scalar columns only), written atomically."""
    if fields is None:
        fields = []
        for r in records:
            for k, v in r.items():
                if k not in fields and not isinstance(v, (list, dict)):
                    fields.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    w.writeheader()
    for r in records:
        w.writerow({k: r.get(k, "") for k in fields})
    atomic_write_text(path, buf.getvalue())


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
            raise ValueError(f"InitSpec.kind must be 'random' or 'spectral', got {self.kind!r}")
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise ValueError(f"InitSpec.scale must be finite and >= 0, got {self.scale!r}")
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
        raise ValueError("spectral initialisation needs a deep linear net without bias")
    if beta is None:
        raise ValueError("spectral initialisation needs beta = E[x y^T]")
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
            raise ValueError(f"curvature must be 'exact', 'matrix_free', 'auto' or None, got {self.curvature!r}")
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {self.chunk_size!r}")

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
        """Mask of points that neither diverged nor have a non-finite value."""
        return np.array([not r["diverged"] for r in self.records], dtype=bool)


def _point_path(out_dir: Path, tag: str, gamma: float) -> Path:
    return out_dir / "points" / tag / f"g_{float(gamma).hex().replace('+', '')}.json"


def _load_points(out_dir: Path, tag: str, knob: str = "gamma") -> dict[float, dict]:
    d = out_dir / "points" / tag
    pts = {}
    if d.is_dir():
        for p in sorted(d.glob("g_*.json")):
            try:
                rec = json.loads(p.read_text(encoding="utf-8"))
                value = float(rec[knob])
            except (json.JSONDecodeError, OSError, KeyError, TypeError, ValueError):
                continue  # unreadable file: the point is simply redone
            pts[value] = _decode(rec)
    return pts


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _from_json(x):
    if x is None:
        return float("nan")
    if x == "inf":
        return float("inf")
    if x == "-inf":
        return float("-inf")
    return x


def _encode(rec: dict) -> str:
    clean = {k: ([_json_safe(v) for v in val] if isinstance(val, list) else _json_safe(val)) for k, val in rec.items()}
    return json.dumps(clean, allow_nan=False)


def _decode(rec: dict) -> dict:
    return {k: ([_from_json(v) for v in val] if isinstance(val, list) else _from_json(val)) for k, val in rec.items()}


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
    threads_before = torch.get_num_threads()
    if task.n_threads != threads_before:
        torch.set_num_threads(task.n_threads)
    try:
        return task.run()
    finally:
        if torch.get_num_threads() != threads_before:
            torch.set_num_threads(threads_before)


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


def pending_points(values, *, knob: str, out_dir, tag: str, resume: bool,
                   previous: SweepResult | None = None) -> tuple[dict[float, dict], list[float]]:
    """(points already done, values still to run) of a resumable sweep.

    Done points come from ``out_dir/points/<tag>/`` (with ``resume``) and from a
    ``previous`` result of the same configuration (thetas included, so they are not redone).
    """
    done: dict[float, dict] = _load_points(Path(out_dir), tag, knob) if (resume and out_dir is not None) else {}
    if previous is not None:
        for rec, th in zip(previous.records, previous.thetas):
            done.setdefault(float(rec[knob]), dict(rec, theta=[float(x) for x in th]))
    return done, [float(v) for v in values if float(v) not in done]


def collect_points(units, done: dict[float, dict], *, knob: str, out_dir, tag: str,
                   executor: Executor | None = None, progress: Callable[[int], None] | None = None) -> None:
    """Run the work units (:func:`run_work_unit`) and write every finished point once, atomically.

    Units may finish in any order (cluster); each point is encoded, written by this
    process (temp file + rename) and added to ``done``, so a retried or duplicated unit
    cannot lose or corrupt a point.
    """
    runner = executor if executor is not None else InProcessExecutor()
    out = Path(out_dir) if out_dir is not None else None
    for _, recs_chunk in runner.map_unordered(run_work_unit, units):
        for rec in recs_chunk:
            text = _encode(rec)
            done[float(rec[knob])] = _decode(json.loads(text))
            if out is not None:
                atomic_write_text(_point_path(out, tag, float(rec[knob])), text)
        if progress is not None:
            progress(len(recs_chunk))


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
    out_dir : path, optional
        Where finished points go (``points/<tag>/g_<gamma hex>.json``); required for
        ``resume``.
    resume : bool
        Reuse the points already in ``out_dir`` and train only the missing gammas.
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
    cfg = config or SweepConfig()
    g_all = np.unique(np.asarray(check_gamma(np.atleast_1d(np.asarray(gammas, dtype=float)), "gammas"), dtype=float))
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir")
    if spec.in_dim != data.in_dim or spec.out_dim != data.out_dim:
        raise ValueError(f"spec is {spec.in_dim}->{spec.out_dim} but data is {data.in_dim}->{data.out_dim}")
    done, todo = pending_points(g_all, knob="gamma", out_dir=out_dir, tag=tag, resume=resume, previous=previous)
    inits = cfg.inits if cfg.inits is not None else default_inits(spec)
    if not inits:
        raise ValueError("config.inits is empty")
    curv = cfg.curvature
    if curv == "auto":
        curv = "exact" if spec.n_params <= cfg.exact_max_params else "matrix_free"
    units = [
        _ChunkTask(spec, data, np.asarray(todo[i:i + cfg.chunk_size]), cfg, tuple(inits), curv,
                   None if device is None else str(device), torch.get_num_threads())
        for i in range(0, len(todo), cfg.chunk_size)
    ]
    collect_points(units, done, knob="gamma", out_dir=out_dir, tag=tag, executor=executor, progress=progress)
    return assemble_result(done, g_all, spec, tag=tag, knob="gamma")
