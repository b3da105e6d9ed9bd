r"""Sweep any torch model across the L2 strength gamma: :func:`scan`.

A user's ``nn.Module`` becomes a model spec over flat parameter vectors
(:class:`ModuleSpec`: ``torch.func.functional_call``, vmapped over runs where the model
allows, one run at a time otherwise), so it trains with the same batched trainer
(:func:`empirical.train_batched`) and is measured with the same curvature code
(:func:`empirical.curvature_exact` / :func:`empirical.curvature_matrix_free`) as the
built-in :class:`NetSpec` models; the records are those of ``validate``.

Convention (docs/conventions.md): L_gamma(theta) = E(theta) + gamma * ||theta_pen||^2, no
1/2; E the mean over samples of ||f(x) - y||^2 (``loss="mse"``), of the softmax
cross-entropy (``"cross_entropy"``, Y one-hot or integer labels), or of a user callable
``loss(output, Y) -> scalar``.  theta_pen: by default every weight (parameters with
two or more dimensions), no biases; ``penalize`` (names or a predicate) chooses another
set, and the result lists the names.  torch's ``weight_decay=lam`` on those parameters
with this loss E is gamma = lam / 2; with ``torch.nn.MSELoss()``, which also averages
over the k outputs, gamma = k lam / 2.

Example
-------
>>> import numpy as np, torch
>>> from l2phase.empirical import scan, synthetic_teacher
>>> data = synthetic_teacher(60, 3, (1.0,), noise=0.0, seed=0)
>>> net = lambda: torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False), torch.nn.Linear(2, 1, bias=False))
>>> res = scan(net, data.X, data.Y, np.geomspace(0.3, 3.0, 24))      # doctest: +SKIP
>>> [(round(c.gamma, 2), c.kind) for c in res.change_points["param_norm_sq"]]   # doctest: +SKIP
[(1.0, 'kink')]
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.func import functional_call, vmap

from l2phase.theory.checks import InputError, check_gamma

from .hessian_curvature import curvature_exact, curvature_matrix_free
from .store import RunStore, json_ready, run_fingerprint
from .training import TrainConfig, train_batched

__all__ = ["ModuleSpec", "ScanResult", "scan", "scan_checkpoints", "load_model_factory", "SCAN_FIELDS",
           "write_scan_outputs", "scan_fingerprint"]

#: Columns of a scan's table (one row per gamma, best start).
SCAN_FIELDS = ("gamma", "loss", "error", "param_norm_sq", "accuracy", "R_L", "R_E", "R_L_se", "R_E_se",
               "grad_norm", "converged", "n_steps", "best_start")


class ModuleSpec:
    """An ``nn.Module`` as a model spec over flat parameter vectors theta (..., P).

    The flat order is ``module.named_parameters()`` order, each tensor row-major (for an
    ``nn.Sequential`` of ``nn.Linear`` layers this is :class:`NetSpec`'s order: W_1, b_1,
    W_2, ...).  ``error(theta, X, Y)`` and ``penalty(theta)`` are what
    :func:`train_batched` and the curvature functions call.  The penalty is
    theta^T M theta (``l2_penalty = True``, M = ``weight_mask()``), so its gradient and
    Hessian are taken exactly (2 M theta, 2 M) rather than by double backward.
    """

    #: the penalty is sum(weight_mask() * theta**2) (hessian_curvature takes 2 M theta, 2 M)
    l2_penalty = True

    def __init__(self, module: torch.nn.Module, in_dim: int, out_dim: int, *,
                 loss: str | Callable = "mse", penalize=None) -> None:
        if not isinstance(module, torch.nn.Module):
            raise InputError(f"model must be a torch.nn.Module (or a factory returning one), got {type(module).__name__}")
        if not (loss in ("mse", "cross_entropy") or callable(loss)):
            raise InputError(f"loss must be 'mse', 'cross_entropy' or a callable(output, Y), got {loss!r}")
        self.module = module
        self.loss = loss
        self.objective = loss if isinstance(loss, str) else "callable"
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)
        named = [(n, p) for n, p in module.named_parameters()]
        if not named:
            raise InputError("model has no parameters")
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.n_params = int(sum(self.numels))
        if penalize is None:
            chosen = [n for n, p in named if p.ndim >= 2]
        elif callable(penalize):
            chosen = [n for n, p in named if penalize(n, p)]
        else:
            chosen = list(penalize)
            bad = [n for n in chosen if n not in self.names]
            if bad:
                raise InputError(f"penalize: no parameter(s) {bad} (parameters: {self.names})")
        self.penalized = chosen
        mask = torch.cat([torch.full((k,), float(n in chosen), dtype=torch.float64)
                          for n, k in zip(self.names, self.numels)])
        self._mask = mask
        self.batched = True  # vmap over runs; set False (run by run) if the model does not allow it

    def weight_mask(self, dtype=torch.float64, device=None) -> torch.Tensor:
        return self._mask.to(dtype=dtype, device=device)

    def flatten_module(self, module: torch.nn.Module | None = None) -> torch.Tensor:
        m = self.module if module is None else module
        return torch.cat([p.detach().reshape(-1).to(torch.float64) for _, p in m.named_parameters()])

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for n, s, k in zip(self.names, self.shapes, self.numels):
            out[n] = theta[i:i + k].reshape(s)
            i += k
        return out

    def forward(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """f(x) of run theta (P,) on X (N, d) -> (N, k)."""
        return functional_call(self.module, self.unflatten(theta), (X,))

    def _error1(self, theta, X, Y):
        out = self.forward(theta, X)
        if self.loss == "mse":
            r = out - Y
            return (r * r).sum(-1).mean()
        if self.loss == "cross_entropy":
            return (torch.logsumexp(out, -1) - (Y * out).sum(-1)).mean()
        return self.loss(out, Y)

    def error(self, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """E(theta) for theta (P,) or (B, P)."""
        if theta.ndim == 1:
            return self._error1(theta, X, Y)
        if self.batched:
            try:
                return vmap(self._error1, in_dims=(0, None, None))(theta, X, Y)
            except (RuntimeError, NotImplementedError, ValueError):
                self.batched = False  # e.g. data-dependent control flow or in-place buffers: go run by run
        return torch.stack([self._error1(t, X, Y) for t in theta])

    def penalty(self, theta: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        """||theta_pen||^2 (the penalised parameters only)."""
        m = self._mask.to(dtype=theta.dtype, device=theta.device)
        return (theta * theta * m).sum(-1)


@dataclass
class ScanResult:
    """One row per gamma (the start with the lowest loss), change points of every column."""

    records: list[dict]
    change_points: dict[str, list]
    penalized: list[str]
    all_runs: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    @property
    def gamma(self) -> np.ndarray:
        return np.array([r["gamma"] for r in self.records])

    def column(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.records], dtype=float)

    def summary(self) -> dict[str, Any]:
        return dict(config=self.config, penalized=self.penalized,
                    change_points={k: [c.to_dict() for c in v] for k, v in self.change_points.items()})


def _fresh_module(model, start_seed: int) -> torch.nn.Module:
    """A new module: the factory called (or the instance copied and re-initialised) under a seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(start_seed)
        if isinstance(model, torch.nn.Module):
            m = copy.deepcopy(model)
            for sub in m.modules():
                if hasattr(sub, "reset_parameters"):
                    sub.reset_parameters()
            return m
        m = model()
    if not isinstance(m, torch.nn.Module):
        raise InputError(f"the model factory must return a torch.nn.Module, got {type(m).__name__}")
    return m


def _penalty_note(spec: ModuleSpec, penalize) -> str:
    """What the L2 term covers, as the scan reports it (the default leaves biases out)."""
    which = "every weight (parameters with >= 2 dims), no biases" if penalize is None else "the chosen parameters"
    return f"L2 on {which}: {', '.join(spec.penalized)}"


def _check_model_fits(spec: ModuleSpec, Xt: torch.Tensor, Yt: torch.Tensor) -> None:
    """One forward on two samples, so that a model that does not take X's columns or does not
    give Y's is refused up front, naming both shapes, rather than failing inside training."""
    n, d, k = Xt.shape[0], Xt.shape[1], Yt.shape[1]
    try:
        with torch.no_grad():
            out = spec.module(Xt[:2])
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"model: cannot be applied to the inputs X of shape ({n}, {d}), {d} columns per sample "
                         f"({first})") from None
    if spec.objective in ("mse", "cross_entropy") and (
            not isinstance(out, torch.Tensor) or tuple(out.shape) != (min(n, 2), k)):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        what = "classes" if spec.objective == "cross_entropy" else "target columns"
        raise InputError(f"model: gives outputs of shape {got} for {min(n, 2)} samples; the data need "
                         f"({min(n, 2)}, {k}): {k} {what}")


def _targets(Y, loss, n: int) -> torch.Tensor:
    Yt = torch.as_tensor(np.asarray(Y)) if not isinstance(Y, torch.Tensor) else Y
    if Yt.ndim == 1:
        if loss == "cross_entropy":
            if Yt.dtype.is_floating_point and not torch.all(Yt == Yt.round()):
                raise InputError("Y: integer class labels or one-hot rows needed for loss='cross_entropy'")
            Yt = torch.nn.functional.one_hot(Yt.long(), int(Yt.max()) + 1)
        else:
            Yt = Yt[:, None]
    if Yt.ndim != 2 or Yt.shape[0] != n:
        raise InputError(f"Y must have {n} rows (one per sample of X), got shape {tuple(Yt.shape)}")
    return Yt.to(torch.float64)


@dataclass(frozen=True)
class _ScanUnit:
    """One work unit of a scan: a block of gammas, each trained from every start (picklable:
    a Dask worker gets it by value, the user's model class included).  ``theta_starts`` is
    (S, P), the same starts at every gamma, or (G, S, P), the starts of each of the G gammas."""

    spec: ModuleSpec
    X: torch.Tensor
    Y: torch.Tensor
    chunk: np.ndarray
    theta_starts: torch.Tensor
    train: TrainConfig
    curvature: str | None
    n_probes: int
    seed: int
    n_threads: int

    def run(self) -> list[dict]:
        return _run_scan_unit(self)


def _run_scan_unit(u: _ScanUnit) -> list[dict]:
    """Train the unit's gammas x starts batched, keep the best start per gamma, measure it.

    Returns one point per gamma: the :data:`SCAN_FIELDS` of the best start, ``runs`` (every
    start), ``curvature_method`` and ``batched`` (whether the model ran vmapped).
    """
    G, S = len(u.chunk), u.theta_starts.shape[-2]
    gam = np.repeat(np.asarray(u.chunk, dtype=float), S)
    th0 = u.theta_starts.reshape(G * S, -1) if u.theta_starts.ndim == 3 else u.theta_starts.repeat(G, 1)
    res = train_batched(u.spec, th0, u.X, u.Y, gam, u.train)
    runs = [dict(start=b % S, loss=float(res.loss[b]), error=float(res.error[b]),
                 param_norm_sq=float(res.param_norm_sq[b]), grad_norm=float(res.grad_norm[b]),
                 converged=bool(res.converged[b]), diverged=bool(res.diverged[b]), n_steps=int(res.n_steps[b]))
            for b in range(G * S)]
    best = []
    for i in range(G):
        rows = [i * S + s for s in range(S) if not res.diverged[i * S + s]]
        best.append(min(rows, key=lambda b: res.loss[b]) if rows else i * S)
    records = [dict(gamma=float(u.chunk[i]), **{k: v for k, v in runs[b].items() if k not in ("start", "diverged")},
                    best_start=b % S) for i, b in enumerate(best)]
    method = _measure(u.spec, res.theta[best], u.X, u.Y, u.chunk, records, u.curvature, u.n_probes, u.seed)
    for i, r in enumerate(records):
        for k in ("R_L", "R_E", "R_L_se", "R_E_se"):
            r.setdefault(k, float("nan"))
        r.update(runs=runs[i * S:(i + 1) * S], curvature_method=method or "none", batched=bool(u.spec.batched))
    return records


def _source_digest(obj) -> dict | None:
    """Name and SHA-256 of the source file that defines ``obj`` (None when it has none)."""
    import hashlib
    import inspect

    try:
        f = inspect.getsourcefile(obj)
    except TypeError:
        return None
    if not f or not Path(f).is_file():
        return None
    return dict(name=getattr(obj, "__qualname__", type(obj).__qualname__),
                sha256=hashlib.sha256(Path(f).read_bytes()).hexdigest())


def _tensor_digest(*tensors: torch.Tensor) -> str:
    import hashlib

    h = hashlib.sha256()
    for t in tensors:
        a = np.ascontiguousarray(t.detach().cpu().numpy())
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def scan_fingerprint(model, module: torch.nn.Module, spec: ModuleSpec, Xt: torch.Tensor, Yt: torch.Tensor,
                     gammas: np.ndarray, theta_starts: torch.Tensor, options: dict) -> dict:
    """Fingerprint of a scan (:func:`run_fingerprint`): the model (factory name and a SHA-256 of
    the file defining it, the module's class, source file and printed architecture, the
    penalised parameters, a SHA-256 of the starting parameters), a SHA-256 of the data, the
    gammas and the options (loss, starts, seed, training, curvature, work-unit size), with
    device (CPU), dtype (float64), version and torch's thread count."""
    loss = options.get("loss")
    ident = dict(factory=None if isinstance(model, torch.nn.Module) else _source_digest(model),
                 module=_source_digest(type(module)), architecture=str(module), penalized=list(spec.penalized),
                 starts=_tensor_digest(theta_starts))
    opts = dict(options, loss=loss if isinstance(loss, str) else _source_digest(loss) or repr(loss))
    conf = dict(model=ident, data=_tensor_digest(Xt, Yt), gammas=[float(x) for x in gammas], options=opts)
    return run_fingerprint("scan", conf, device="cpu", dtype="float64")


def _scan_point_check(n_starts: int):
    def check(rec: dict, arrays: dict) -> None:
        missing = [f for f in SCAN_FIELDS if f not in rec]
        if missing or not isinstance(rec["gamma"], float):
            raise ValueError(f"missing fields {missing}" if missing else "gamma is not a number")
        if not isinstance(rec.get("runs"), list) or len(rec["runs"]) != n_starts:
            raise ValueError(f"runs must list {n_starts} starts")
    return check


def scan(
    model,
    X,
    Y,
    gammas,
    *,
    loss: str | Callable = "mse",
    penalize=None,
    n_starts: int = 1,
    seed: int = 0,
    train: TrainConfig | None = None,
    init: torch.Tensor | None = None,
    curvature: str | None = "auto",
    n_probes: int = 60,
    detect: bool = True,
    out_dir=None,
    resume: bool = False,
    chunk_size: int = 32,
    executor=None,
    progress: Callable[[int], None] | None = None,
) -> ScanResult:
    r"""Train ``model`` at every gamma (``n_starts`` seeded starts each), measure, find change points.

    Parameters
    ----------
    model : nn.Module or callable returning a fresh nn.Module
        Start s is the factory called under ``torch.manual_seed(seed + s)`` (an instance
        is deep-copied and its layers' ``reset_parameters`` called under that seed); the
        same starts are used at every gamma.
    X, Y : arrays (N, d), (N, k) (Y may be (N,): a column, or labels for cross-entropy)
    gammas : 1-D increasing positive grid (L2 strength, docs/conventions.md)
    loss : "mse", "cross_entropy" or callable(output, Y) -> scalar
    penalize : None (every weight, no biases), a list of parameter names, or a
        predicate (name, param) -> bool
    train : TrainConfig for :func:`train_batched` (default: its defaults)
    init : optional (n_starts, P) starting parameters (flat, ``named_parameters`` order), the
        same at every gamma, or (len(gammas), n_starts, P): the starts of each gamma
    curvature : "exact", "matrix_free", "auto" (exact for P <= 1500) or None
    detect : find change points of every column (default detector)
    out_dir : path or :class:`~l2phase.empirical.RunStore`, optional
        Every finished gamma is written there as it comes (``points/scan/<gamma hex>.json``,
        atomically), then ``scan.csv``, ``runs.csv``, ``summary.json`` (see
        :func:`write_scan_outputs`).  Required for ``resume``.
    resume : bool
        Reuse the points already in ``out_dir`` (same fingerprint: model source, data,
        gammas, options, device, dtype, version; otherwise refused, naming the fields that
        differ) and train only the work units that lost a point: the result is the same,
        bit for bit, as an uninterrupted scan.
    chunk_size : gammas per work unit (each trained batched with every start).  The units
        depend only on the grid, so a resumed point is trained in the batch it was first
        trained in.
    executor : where the work units run (:func:`empirical.make_executor`: in this process,
        ``local:N`` or a Dask scheduler); the same numbers either way.
    progress : callable(n_new_points), e.g. a tqdm ``update`` (called once with the number
        of points reused on resume).

    Returns
    -------
    ScanResult: records (gamma, loss, error, param_norm_sq, accuracy, R_L, R_E with
    standard errors, grad_norm, converged, n_steps, best_start), change points per
    column, and the names of the penalised parameters.
    """
    from .sweep import collect_points, pending_points, plan_chunks

    g = np.asarray(check_gamma(gammas, "gammas", sorted_grid=True), dtype=float).reshape(-1)
    if isinstance(n_starts, bool) or not isinstance(n_starts, int) or n_starts < 1:
        raise InputError(f"n_starts must be a positive integer, got {n_starts!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if curvature not in ("exact", "matrix_free", "auto", None):
        raise InputError(f"curvature must be 'exact', 'matrix_free', 'auto' or None, got {curvature!r}")
    if resume and out_dir is None:
        raise InputError("resume=True needs out_dir")
    Xt = (X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))).to(torch.float64)
    if Xt.ndim != 2:
        raise InputError(f"X must be (N, d), got shape {tuple(Xt.shape)}")
    Yt = _targets(Y, loss, Xt.shape[0])
    modules = [_fresh_module(model, int(seed) + s) for s in range(n_starts)]
    for m in modules:
        m.to(torch.float64)
    spec = ModuleSpec(modules[0], Xt.shape[1], Yt.shape[1], loss=loss, penalize=penalize)
    _check_model_fits(spec, Xt, Yt)
    if init is not None:
        theta_starts = torch.as_tensor(init, dtype=torch.float64)
        shapes = ((n_starts, spec.n_params), (g.size, n_starts, spec.n_params))
        if theta_starts.ndim == 3 and tuple(theta_starts.shape) != shapes[1] or theta_starts.numel() not in (
                math.prod(shapes[0]), math.prod(shapes[1])):
            raise InputError(f"init must be (n_starts, P) = {shapes[0]} or (len(gammas), n_starts, P) = {shapes[1]}, "
                             f"got shape {tuple(theta_starts.shape)}")
        if theta_starts.ndim != 3:
            theta_starts = theta_starts.reshape(shapes[0])
    else:
        theta_starts = torch.stack([spec.flatten_module(m) for m in modules])
    S = n_starts
    cfg = train or TrainConfig()
    method = ("exact" if spec.n_params <= 1500 else "matrix_free") if curvature == "auto" else curvature
    options = dict(loss=loss, n_starts=S, seed=int(seed), train=cfg.to_dict(), curvature=method,
                   n_probes=int(n_probes), chunk_size=chunk_size)
    fingerprint = lambda: scan_fingerprint(model, modules[0], spec, Xt, Yt, g, theta_starts, options)  # noqa: E731
    with RunStore.using(out_dir, fingerprint=fingerprint, resume=resume, command="scan") as store:
        done = pending_points(g, knob="gamma", store=store, tag="scan", check=_scan_point_check(S))
        if progress is not None and done:
            progress(len(done))
        units = [_ScanUnit(spec, Xt, Yt, chunk, _unit_starts(theta_starts, g, chunk), cfg, method, int(n_probes),
                           int(seed), torch.get_num_threads())
                 for chunk in plan_chunks(g, done=done, chunk_size=chunk_size)]
        collect_points(units, done, knob="gamma", store=store, tag="scan", executor=executor, progress=progress)
        points = [done[float(v)] for v in g]
        records = [{k: p[k] for k in p if k not in ("runs", "curvature_method", "batched")} for p in points]
        runs = [dict(gamma=p["gamma"], **r) for p in points for r in p["runs"]]
        cps = analyse_records(records) if detect else {}
        config = dict(model=type(modules[0]).__name__, n_params=spec.n_params, loss=spec.objective,
                      n_starts=S, seed=int(seed), train=cfg.to_dict(), curvature=method, chunk_size=chunk_size,
                      batched=all(p["batched"] for p in points), penalized=spec.penalized,
                      penalty_note=_penalty_note(spec, penalize))
        result = ScanResult(records, cps, spec.penalized, runs, config)
        if store is not None:
            write_scan_outputs(result, store)
    return result


def _unit_starts(theta_starts: torch.Tensor, g: np.ndarray, chunk: np.ndarray) -> torch.Tensor:
    """The starts a work unit needs: all of (S, P), or the rows of (G, S, P) of its gammas."""
    if theta_starts.ndim != 3:
        return theta_starts
    return theta_starts[torch.as_tensor(np.searchsorted(g, np.asarray(chunk, dtype=float)))].clone()


def _measure(spec, theta, Xt, Yt, g, records, curvature, n_probes, seed) -> str | None:
    """Add accuracy (cross-entropy models) and R_L, R_E with standard errors to ``records``; return the method."""
    classify = spec.objective == "cross_entropy" and Yt.shape[1] > 1
    with torch.no_grad():
        for i, r in enumerate(records):
            out = spec.forward(theta[i], Xt)
            r["accuracy"] = float((out.argmax(-1) == Yt.argmax(-1)).double().mean()) if classify else float("nan")
    method = ("exact" if spec.n_params <= 1500 else "matrix_free") if curvature == "auto" else curvature
    if method is None:
        return None
    if method == "exact":
        cres = curvature_exact(spec, theta, Xt, Yt, g)
    elif method == "matrix_free":
        cres = curvature_matrix_free(spec, theta, Xt, Yt, g, n_probes, seed=seed)
    else:
        raise InputError(f"curvature must be 'exact', 'matrix_free', 'auto' or None, got {curvature!r}")
    for i, r in enumerate(records):
        r.update({k: float(getattr(cres, k)[i]) for k in ("R_L", "R_E", "R_L_se", "R_E_se")})
    return method


def analyse_records(records: Sequence[dict], columns: Sequence[str] = ("loss", "error", "param_norm_sq",
                                                                      "accuracy", "R_L", "R_E")) -> dict:
    """Change points (default detector) of each finite, non-constant column against gamma."""
    from l2phase.numerics import ChangePointDetector

    g = np.array([r["gamma"] for r in records], dtype=float)
    out = {}
    for c in columns:
        y = np.array([r.get(c, np.nan) for r in records], dtype=float)
        ok = np.isfinite(y) & np.isfinite(g)
        if ok.sum() < 8 or np.ptp(y[ok]) == 0:
            continue
        out[c] = ChangePointDetector().fit(g[ok], y[ok]).predict()
    return out


def write_scan_outputs(result: ScanResult, out_dir) -> Path:
    """``scan.csv`` (one row per gamma), ``runs.csv`` (every start), ``summary.json``.

    The one place a scan writes files, through the run store (:class:`~l2phase.empirical.RunStore`:
    atomic files, a marker, a lock; a non-empty directory that is not an l2phase run is refused).
    ``out_dir`` is a path or an open store (:func:`scan` passes its own, which already holds
    every point; :func:`scan_checkpoints` opens one when complete).
    """
    summary = json_ready(result.summary())
    with RunStore.using(out_dir, fingerprint=lambda: run_fingerprint("scan", summary), command="scan") as store:
        store.write_csv("scan.csv", result.records, SCAN_FIELDS)
        store.write_csv("runs.csv", result.all_runs)
        store.write_json("summary.json", summary)
        return store.path


def load_model_factory(target: str):
    """``path/to/file.py:factory`` -> the callable (the import-string convention of uvicorn).

    This executes the user's own Python file, which is what the caller asked for: only
    pass files you trust.  The factory is called with no arguments and returns a fresh
    ``nn.Module``.
    """
    import importlib.util

    if ":" not in target:
        raise InputError(f"--model must be FILE.py:FACTORY, got {target!r}")
    path, name = target.rsplit(":", 1)
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--model: no such file {p}")
    spec = importlib.util.spec_from_file_location(f"l2phase_user_model_{p.stem}", p)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fac = getattr(mod, name, None)
    if not callable(fac):
        raise InputError(f"--model: {p} defines no callable {name!r}")
    return fac


def _gamma_of_checkpoint(path: Path, manifest: dict | None) -> float:
    import re

    if manifest is not None:
        if path.name not in manifest:
            raise InputError(f"{path}: not in the manifest")
        return float(manifest[path.name])
    m = re.search(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?=\.(?:pt|pth)$)", path.name)
    if not m:
        raise InputError(f"{path}: no gamma in the file name (e.g. gamma_0.01.pt) and no manifest.json")
    # a weight decay in the name is not gamma (torch's lam with MSELoss over k outputs: gamma = k lam / 2)
    if re.search(r"(?:wd|weight_?decay|lambda|lam)[_=-]?$", path.name[:m.start(1)], re.IGNORECASE):
        raise InputError(f"{path}: the file name gives a weight decay, not gamma; write DIR/manifest.json "
                         '{"file.pt": gamma, ...} with gamma = k lam / 2 (torch weight_decay lam, MSELoss over '
                         "k outputs; l2phase.theory.gamma_from_weight_decay)")
    return float(m.group(1))


def scan_checkpoints(model, directory, X, Y, *, loss: str | Callable = "mse", penalize=None,
                     curvature: str | None = "auto", n_probes: int = 60, seed: int = 0, out_dir=None) -> ScanResult:
    """Records, curvature and change points of state_dicts a user already has (no training).

    ``directory`` holds one ``*.pt``/``*.pth`` state_dict per gamma, loaded with
    ``torch.load(weights_only=True)``; gamma comes from ``manifest.json`` (``{file:
    gamma}``) when present, else from the file name (``gamma_0.01.pt``, ``0.01.pt``).
    ``model`` (a module or a factory) gives the architecture.
    """
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"--checkpoints: no such directory {d}")
    man_path = d / "manifest.json"
    manifest = json.loads(man_path.read_text()) if man_path.exists() else None
    files = sorted(p for p in d.iterdir() if p.suffix in (".pt", ".pth"))
    if not files:
        raise InputError(f"{d}: no *.pt / *.pth state_dicts")
    pairs = sorted(((_gamma_of_checkpoint(p, manifest), p) for p in files), key=lambda t: t[0])
    g = np.array([t[0] for t in pairs])
    if np.any(np.diff(g) <= 0):
        raise InputError(f"{d}: two checkpoints have the same gamma")
    module = _fresh_module(model, seed).to(torch.float64)
    Xt = (X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))).to(torch.float64)
    Yt = _targets(Y, loss, Xt.shape[0])
    spec = ModuleSpec(module, Xt.shape[1], Yt.shape[1], loss=loss, penalize=penalize)
    _check_model_fits(spec, Xt, Yt)
    thetas = []
    for _, p in pairs:
        sd = torch.load(p, map_location="cpu", weights_only=True)
        try:
            module.load_state_dict(sd)
        except RuntimeError as exc:
            raise InputError(f"{p}: does not fit the model ({str(exc).splitlines()[0]})") from None
        thetas.append(spec.flatten_module(module))
    theta = torch.stack(thetas)
    gt = torch.as_tensor(g)
    with torch.no_grad():
        E = spec.error(theta, Xt, Yt)
        Pn = spec.penalty(theta)
    records = [dict(gamma=float(g[i]), loss=float(E[i] + gt[i] * Pn[i]), error=float(E[i]),
                    param_norm_sq=float(Pn[i]), file=pairs[i][1].name) for i in range(g.size)]
    method = _measure(spec, theta, Xt, Yt, g, records, curvature, n_probes, seed)
    cps = analyse_records(records)
    config = dict(checkpoints=str(d), n_params=spec.n_params, loss=spec.objective, curvature=method,
                  penalized=spec.penalized, penalty_note=_penalty_note(spec, penalize))
    result = ScanResult(records, cps, spec.penalized, [], config)
    if out_dir is not None:
        write_scan_outputs(result, out_dir)
    return result
