r"""Variational autoencoders as model specs, swept over the KL weight beta.

Objective (the negative ELBO per sample, without the constant (d/2) log(2 pi eta_dec^2)):

.. math::

    L_\beta(\theta) = \frac{1}{2\eta_{dec}^2}\, E_x E_{q(z|x)} \|y - g(z)\|^2
                      + \beta\, E_x\, KL\big(q(z|x)\,\|\,N(0, I_k)\big),

E_x the mean over the training set; y = x for an autoencoder.  As a model spec
(:mod:`empirical.models`) its ``error`` is the reconstruction term (the first one), its
``penalty`` the KL term and its knob beta, so :func:`empirical.train_batched` and the
curvature code (R_L of the landscape of L_beta, R_E of the reconstruction landscape)
apply unchanged.

* **Linear VAE** (``hidden=0``; Wang & Ziyin 2022, learnable encoder variance):
  q(z|x) = N(V x, diag(e^s)), g(z) = U z.  The expectation is exact:
  E_q ||y - U z||^2 = ||y - U V x||^2 + sum_j e^{s_j} ||U_{:j}||^2 and
  KL = 1/2 sum_j (e^{s_j} + (V x)_j^2 - s_j - 1).  In whitened coordinates one mode of
  E[y x~^T] with singular value zeta reduces, after minimising over s and V, to
  -zeta^2 t/(1+t) + beta eta^2 log(1+t) with t = u^2/(beta eta^2), u the decoder column
  norm: the mode is learned iff beta < beta_i = zeta_i^2 / eta_dec^2
  (:func:`theory.vae_collapse_thresholds`), with u^2 = zeta_i^2 - beta eta_dec^2 and
  KL_i = 1/2 log(beta_i / beta) below it, 0 above: a kink in log beta, second order.
* **MLP VAE** (``hidden = h > 0``): encoder h1 = act(W1 x + b1), mean W_mu h1 + b_mu,
  log-variance W_v h1 + b_v (input-dependent, learnable); decoder
  g(z) = W4 act(W3 z + b3) + b4 with fixed eta_dec.  E_q is an average over ``n_noise``
  fixed reparametrisation draws per sample (seeded common random numbers), so L_beta is
  a deterministic function of theta and its curvature is defined.

:func:`sweep_beta` trains one VAE per (beta, initialisation) at once, keeps the lowest
loss per beta, and records the ELBO parts, the KL per latent dimension (sorted, largest
first), the number of active dimensions, the reconstruction error and the curvature,
writing every finished point atomically like :func:`empirical.sweep_gamma`.
:func:`collapse_analysis` finds the collapse thresholds (change points of each sorted
KL_i against log beta) and, for the linear VAE, matches them with the theory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch

from l2phase import theory
from l2phase.theory.checks import check_int, check_nonnegative, check_positive, check_seed, check_type

from ..transition_matching import PredictedTransition, detect_curve_change_points
from ..verdicts import SignalRule, judge
from ..data import Dataset
from ..executors import Executor
from ..store import RunStore
from ..sweep import (SweepResult, assemble_result, collect_points, fill_curvature, measure_curvature,
                    pending_points, plan_chunks, point_check, point_seed, select_best_runs, sweep_fingerprint)
from ..training import TrainConfig, train_batched
from l2phase.theory.checks import InputError, InputTypeError

__all__ = [
    "VAE_ACTIVATIONS",
    "VAESpec",
    "VAESweepConfig",
    "sweep_beta",
    "collapse_analysis",
    "collapse_checks",
    "theory_collapse_thresholds",
]

VAE_ACTIVATIONS = ("tanh", "relu", "softplus")


def _act(name: str, h: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return torch.relu(h)
    if name == "softplus":
        return torch.nn.functional.softplus(h)
    return torch.tanh(h)


@lru_cache(maxsize=16)
def _noise_cpu(seed: int, n_noise: int, k: int, n: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n_noise, k, n, generator=gen, dtype=torch.float64)


@dataclass(frozen=True)
class VAESpec:
    """Architecture of a (linear or MLP) VAE with a Gaussian decoder of fixed noise eta_dec.

    Parameters
    ----------
    in_dim : int
        Encoder input dimension d.
    latent_dim : int
        Latent dimension k (prior N(0, I_k)).
    hidden : int
        0: linear VAE (exact expectation); h > 0: one hidden layer of width h in the encoder
        and in the decoder.
    activation : {"tanh", "relu", "softplus"}
        Hidden nonlinearity of the MLP VAE.
    eta_dec : float
        Decoder standard deviation (fixed; the thresholds scale as 1 / eta_dec^2).
    out_dim : int, optional
        Reconstruction target dimension (default ``in_dim``: an autoencoder).
    n_noise : int
        Reparametrisation draws per sample (MLP VAE only).
    noise_seed : int
        Seed of those draws (fixed for the whole sweep: common random numbers).
    """

    in_dim: int
    latent_dim: int
    hidden: int = 0
    activation: str = "tanh"
    eta_dec: float = 1.0
    out_dim: int | None = None
    n_noise: int = 4
    noise_seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.in_dim, "in_dim", 1)
        check_int(self.latent_dim, "latent_dim", 1)
        check_int(self.hidden, "hidden (0 = linear VAE)", 0)
        if self.activation not in VAE_ACTIVATIONS:
            raise InputError(f"activation must be one of {VAE_ACTIVATIONS}, got {self.activation!r}")
        object.__setattr__(self, "eta_dec", check_positive(self.eta_dec, "eta_dec"))
        object.__setattr__(self, "out_dim", self.in_dim if self.out_dim is None else check_int(self.out_dim, "out_dim", 1))
        check_int(self.n_noise, "n_noise", 1)
        check_seed(self.noise_seed, "noise_seed")

    @property
    def linear(self) -> bool:
        return self.hidden == 0

    @property
    def blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of each parameter block, in the order of the flat vector."""
        d, k, h, o = self.in_dim, self.latent_dim, self.hidden, self.out_dim
        if self.linear:
            return [("V", (k, d)), ("U", (o, k)), ("s", (k,))]
        return [("W1", (h, d)), ("b1", (h,)), ("Wm", (k, h)), ("bm", (k,)), ("Wv", (k, h)), ("bv", (k,)),
                ("W3", (h, k)), ("b3", (h,)), ("W4", (o, h)), ("b4", (o,))]

    @property
    def n_params(self) -> int:
        return sum(math.prod(shape) for _, shape in self.blocks)

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of the blocks of ``theta`` (..., P), each ``(..., *shape)``."""
        if theta.shape[-1] != self.n_params:
            raise InputError(f"theta must have last dimension P={self.n_params}, got {tuple(theta.shape)}")
        out, pos, lead = {}, 0, theta.shape[:-1]
        for name, shape in self.blocks:
            size = math.prod(shape)
            out[name] = theta[..., pos:pos + size].reshape(*lead, *shape)
            pos += size
        return out

    def init(self, n: int, scale: float = 1.0, seed: int | None = 0, *, generator: torch.Generator | None = None,
             dtype=torch.float64, device=None) -> torch.Tensor:
        """``n`` random parameter vectors (n, P): matrices N(0, scale^2 / fan_in), biases and s zero."""
        check_int(n, "n", 1)
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
            raise InputError(f"scale must be a finite number >= 0, got {scale!r}")
        if generator is None:
            generator = torch.Generator().manual_seed(int(seed or 0))
        parts = []
        for _, shape in self.blocks:
            if len(shape) == 2:
                parts.append(torch.randn(n, shape[0] * shape[1], generator=generator, dtype=dtype) * (scale / math.sqrt(shape[1])))
            else:
                parts.append(torch.zeros(n, shape[0], dtype=dtype))
        return torch.cat(parts, -1).to(device)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ----------------------------------------------------------------- objective
    def encode(self, theta: torch.Tensor, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder mean and log-variance, each (..., k, N) (linear VAE: log-variance s broadcast)."""
        p = self.unflatten(theta)
        XT = X.transpose(-1, -2)
        if self.linear:
            mu = p["V"] @ XT
            return mu, p["s"].unsqueeze(-1).expand_as(mu)
        h1 = _act(self.activation, p["W1"] @ XT + p["b1"].unsqueeze(-1))
        return p["Wm"] @ h1 + p["bm"].unsqueeze(-1), p["Wv"] @ h1 + p["bv"].unsqueeze(-1)

    def reconstruction_mse(self, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """E_x E_q ||y - g(z)||^2 (exact for the linear VAE, over the fixed draws otherwise); (...,)."""
        p = self.unflatten(theta)
        YT = Y.transpose(-1, -2)
        mu, lv = self.encode(theta, X)
        if self.linear:
            r = YT - p["U"] @ mu
            return (r * r).sum(-2).mean(-1) + (torch.exp(p["s"]) * (p["U"] * p["U"]).sum(-2)).sum(-1)
        eps = _noise_cpu(self.noise_seed, self.n_noise, self.latent_dim, X.shape[0]).to(X.device, X.dtype)
        z = mu.unsqueeze(-3) + torch.exp(0.5 * lv).unsqueeze(-3) * eps  # (..., S, k, N)
        h2 = _act(self.activation, p["W3"].unsqueeze(-3) @ z + p["b3"].unsqueeze(-1).unsqueeze(-3))
        yhat = p["W4"].unsqueeze(-3) @ h2 + p["b4"].unsqueeze(-1).unsqueeze(-3)
        r = YT - yhat
        return (r * r).sum(-2).mean((-1, -2))

    def kl_per_dim(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """E_x KL(q(z_j|x) || N(0, 1)) for each latent dimension j; (..., k)."""
        mu, lv = self.encode(theta, X)
        return 0.5 * (torch.exp(lv) + mu * mu - lv - 1.0).mean(-1)

    def error(self, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Reconstruction term E_x E_q ||y - g(z)||^2 / (2 eta_dec^2)."""
        return self.reconstruction_mse(theta, X, Y) / (2.0 * self.eta_dec**2)

    def penalty(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """KL term E_x KL(q(z|x) || N(0, I)) (multiplied by beta in the loss)."""
        if X is None:
            raise InputError("the VAE's KL term needs the data X")
        return self.kl_per_dim(theta, X).sum(-1)

    def decoder_singular_values(self, theta: torch.Tensor) -> torch.Tensor:
        """Singular values of U (linear VAE), descending; (..., min(out_dim, k))."""
        if not self.linear:
            raise InputError("decoder_singular_values needs a linear VAE (hidden=0)")
        return torch.linalg.svdvals(self.unflatten(theta)["U"])


# ------------------------------------------------------------------------------ theory
def theory_collapse_thresholds(data: Dataset, spec: VAESpec) -> list[theory.CollapseThreshold]:
    """Collapse thresholds of the linear VAE for this training set, largest first.

    ``theory.vae_collapse_thresholds`` on A = E[x x^T], E[x y^T] of the samples, keeping the
    ``latent_dim`` largest (only those modes can be represented).
    """
    X, Y = data.X, data.Y
    n = X.shape[0]
    th = theory.vae_collapse_thresholds(X.T @ X / n, X.T @ Y / n, spec.eta_dec)
    return sorted(th, key=lambda t: -t.beta_c)[: spec.latent_dim]


# ------------------------------------------------------------------------------- sweep
@dataclass
class VAESweepConfig:
    """Settings of :func:`sweep_beta`.

    init_scales : scales of the random starts per beta (lowest final loss kept).
    curvature : "exact", "matrix_free", "auto" (exact when P <= exact_max_params) or None.
    active_threshold : a latent dimension is active when its KL exceeds this (nats).
    """

    init_scales: tuple[float, ...] = (0.5, 1.5)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optimizer="adam", lr=0.01, max_steps=4000, gtol=1e-8))
    curvature: str | None = "auto"
    n_probes: int = 60
    exact_max_params: int = 1500
    chunk_size: int = 32
    seed: int = 0
    active_threshold: float = 1e-2

    def __post_init__(self) -> None:
        if self.curvature not in (None, "exact", "matrix_free", "auto"):
            raise InputError(f"curvature must be 'exact', 'matrix_free', 'auto' or None, got {self.curvature!r}")
        if not self.init_scales or any(not (math.isfinite(s) and s >= 0) for s in self.init_scales):
            raise InputError(f"init_scales must be a non-empty list of finite values >= 0, got {self.init_scales!r}")
        check_int(self.chunk_size, "chunk_size", 1, 10**6)
        check_int(self.n_probes, "n_probes", 2, 10**6)
        check_int(self.exact_max_params, "exact_max_params", 1, 10**6)
        check_seed(self.seed)
        check_positive(self.active_threshold, "active_threshold")
        if not isinstance(self.train, TrainConfig):
            raise InputTypeError(f"train must be a TrainConfig, got {type(self.train).__name__}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


@dataclass(frozen=True)
class _VAEChunkTask:
    """One work unit of a beta sweep (picklable; see :func:`empirical.sweep.run_work_unit`)."""

    spec: VAESpec
    data: Dataset
    chunk: np.ndarray
    cfg: VAESweepConfig
    curv: str | None
    device: str | None
    n_threads: int

    def run(self) -> list[dict]:
        return _train_vae_chunk(self)


def _train_vae_chunk(task: _VAEChunkTask) -> list[dict]:
    spec, cfg, chunk = task.spec, task.cfg, task.chunk
    device = torch.device(task.device) if task.device else None
    X, Y = task.data.tensors(device=device)
    n_init = len(cfg.init_scales)
    th0 = torch.cat([
        spec.init(1, scale, generator=torch.Generator().manual_seed(point_seed(cfg.seed, b, j)))
        for b in chunk for j, scale in enumerate(cfg.init_scales)
    ]).to(device)
    res = train_batched(spec, th0, X, Y, np.repeat(chunk, n_init), cfg.train)
    L, best, rows, theta, all_bad, ok = select_best_runs(res, len(chunk), n_init)
    cres = measure_curvature(spec, theta, X, Y, chunk, ok, task.curv, cfg.n_probes, cfg.seed)
    with torch.no_grad():
        kl = spec.kl_per_dim(theta, X).cpu().numpy()
        mse = spec.reconstruction_mse(theta, X, Y).cpu().numpy()
        sv = spec.decoder_singular_values(theta).cpu().numpy() if spec.linear else None
    status = res.status()
    records = []
    for i, b in enumerate(chunk):
        r = rows[i]
        kl_sorted = np.sort(kl[i])[::-1]
        rec: dict[str, Any] = dict(
            beta=float(b), loss=float(res.loss[r]), nll=float(res.error[r]), kl=float(res.param_norm_sq[r]),
            recon_mse=float(mse[i]), n_active=int(np.sum(kl_sorted > cfg.active_threshold)),
            status="diverged" if all_bad[i] else status[r],
            converged=bool(res.converged[r]) and not all_bad[i], diverged=bool(all_bad[i]),
            grad_norm=float(res.grad_norm[r]), n_steps=int(res.n_steps[r]),
            best_init=f"scale-{cfg.init_scales[best[i]]:g}", init_losses=[float(x) for x in L[i]],
            curvature_method=task.curv or "none",
        )
        for j, v in enumerate(kl_sorted):
            rec[f"kl_{j + 1}"] = float(v)
        if sv is not None:
            for j, v in enumerate(sv[i]):
                rec[f"dec_sv_{j + 1}"] = float(v)
        fill_curvature(rec, cres, ok, i)
        rec["theta"] = theta[i].detach().cpu().numpy().astype(float).tolist()
        records.append(rec)
    return records


def sweep_beta(
    spec: VAESpec,
    data: Dataset,
    betas,
    config: VAESweepConfig | None = None,
    *,
    out_dir=None,
    tag: str = "vae",
    resume: bool = False,
    device=None,
    progress: Callable[[int], None] | None = None,
    previous: SweepResult | None = None,
    executor: Executor | None = None,
) -> SweepResult:
    r"""Global minimum of L_beta per beta by batched multi-start training, measured.

    Parameters
    ----------
    spec : VAESpec
    data : Dataset
        Encoder inputs ``X`` and reconstruction targets ``Y`` (``Y = X`` for an autoencoder).
    betas : 1-D array of KL weights > 0 (any order; duplicates merged).
    config : VAESweepConfig
    out_dir, tag, resume, device, progress, previous, executor
        As in :func:`empirical.sweep_gamma`: every finished point is saved in the run's
        point store (a path or a :class:`empirical.RunStore`), ``resume`` reuses them, work units run in this process or
        on Dask with the same numbers.

    Returns
    -------
    SweepResult with ``knob="beta"``; per beta: loss (negative ELBO minus its constant), nll,
    kl, recon_mse, kl_1..kl_k (KL per latent dimension, largest first), n_active,
    dec_sv_1.. (linear VAE), convergence diagnostics, R_L, R_E and the Hessian's extreme
    eigenvalues.
    """
    cfg = config or VAESweepConfig()
    b = np.asarray(np.atleast_1d(np.asarray(betas, dtype=float)))
    if b.ndim != 1 or b.size == 0 or not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise InputError(f"betas must be a non-empty 1-D array of finite values > 0, got {betas!r}")
    b_all = np.unique(b)
    if resume and out_dir is None:
        raise InputError("resume=True needs out_dir")
    if spec.in_dim != data.in_dim or spec.out_dim != data.out_dim:
        raise InputError(f"spec is {spec.in_dim}->{spec.out_dim} but data is {data.in_dim}->{data.out_dim}")
    curv = cfg.curvature
    if curv == "auto":
        curv = "exact" if spec.n_params <= cfg.exact_max_params else "matrix_free"
    fingerprint = lambda: sweep_fingerprint("sweep_beta", spec, data, cfg.to_dict(), tag=tag, device=device)  # noqa: E731
    with RunStore.using(out_dir, fingerprint=fingerprint, resume=resume, command="sweep_beta") as store:
        check = point_check(spec, "beta", ("beta", "loss", "kl", "n_active", "converged", "diverged"))
        done = pending_points(b_all, knob="beta", store=store, tag=tag, check=check, previous=previous)
        prev = () if previous is None else previous.values
        units = [_VAEChunkTask(spec, data, chunk, cfg, curv, None if device is None else str(device),
                               torch.get_num_threads())
                 for chunk in plan_chunks(b_all, done=done, chunk_size=cfg.chunk_size, exclude=prev)]
        collect_points(units, done, knob="beta", store=store, tag=tag, executor=executor, progress=progress)
    return assemble_result(done, b_all, spec, tag=tag, knob="beta")


# ---------------------------------------------------------------------------- analysis
def collapse_checks(result: SweepResult, analysis: dict[str, Any]) -> list[dict]:
    """The pass/fail checks of a beta sweep: no diverged point; for the linear VAE every mode
    collapses at its predicted beta_c as a kink; every latent dimension has collapsed at the
    largest beta.  Each check: dict(name, passed, detail)."""
    n_div = int(sum(bool(r["diverged"]) for r in result.records))
    checks = [dict(name="no diverged beta point", passed=n_div == 0, detail=f"{n_div} of {len(result.records)} diverged")]
    for mo in analysis["modes"]:
        if "predicted_beta_c" not in mo:
            continue
        det = mo["detected"]
        checks.append(dict(
            name=f"mode {mo['mode']} collapses at beta_c = zeta^2/eta_dec^2 = {mo['predicted_beta_c']:.6g} (kink)",
            passed=bool(mo["confirmed"]),
            detail=("not detected" if det is None else
                    f"detected {det['gamma']:.6g} [{det['low']:.6g}, {det['high']:.6g}], {det['kind']}")
            + f"; {mo['reason']}"))
    last = result.records[-1]
    checks.append(dict(name="every latent dimension has collapsed at the largest beta",
                       passed=bool(not last["diverged"] and int(last["n_active"]) == 0),
                       detail=(f"the largest beta = {last['beta']:g} diverged" if last["diverged"] else
                               f"{last['n_active']} active at beta = {last['beta']:g}")))
    return checks


def collapse_analysis(
    result: SweepResult,
    data: Dataset | None = None,
    *,
    rtol: float = 0.05,
    resolution: float = 1e-3,
    active_threshold: float = 1e-2,
    curvature_signals: Sequence[str] = ("R_L", "R_E"),
) -> dict[str, Any]:
    r"""Collapse thresholds from a beta sweep: detected, predicted (linear VAE) and matched.

    Each sorted KL_i(beta) is searched for change points on a log-beta axis (linear VAE:
    linear segments, as KL_i is piecewise linear in log beta there; otherwise cubic).  The
    collapse threshold of mode i is the kink within one grid step (log beta) of the first grid
    beta from which KL_i stays below ``active_threshold`` (nats), KL_i inactive after it.
    Independently of the detector, ``inactive_from`` is that first inactive grid beta (with the
    grid bracket below it): the direct measurement for noisy (nonlinear, not fully converged)
    sweeps.  For a linear VAE the thresholds predicted from the data,
    beta_i = zeta_i^2 / eta_dec^2, are judged with :func:`empirical.verdicts.judge` (location:
    beta_i within the change point's interval widened by ``rtol`` beta_i, the change point
    located to ``rtol``; kind kink), with negative controls (beta_i shifted by +-3 rtol
    beta_i, the order swapped) that must be rejected.  The
    change points of the curvature curves are reported beside them.

    Returns
    -------
    dict with ``modes`` (per mode: detected change point, predicted beta_c, match),
    ``curvature`` (per signal: change points), ``confirmed`` (linear VAE: every mode
    matched; MLP VAE: None), ``controls`` (linear VAE: each with ``rejected``) and
    ``n_active`` (beta, active dimensions; None where the point diverged) pairs.
    """
    check_type(result, SweepResult, "result")
    if data is not None:
        check_type(data, Dataset, "data")
    rtol = check_nonnegative(rtol, "rtol")
    resolution = check_positive(resolution, "resolution")
    active_threshold = check_positive(active_threshold, "active_threshold")
    spec = result.spec
    beta = result.values
    # a linear VAE's thresholds are judged: converged points only; an MLP VAE's are measured only,
    # and points stopped at max_steps are kept (their number is in the report)
    ok = result.ok() if spec.linear else result.not_diverged()
    predicted = theory_collapse_thresholds(data, spec) if (spec.linear and data is not None) else []
    # A linear VAE's KL_i = max(0, 1/2 log(beta_i / beta)) is exactly piecewise linear in log beta:
    # linear segments (3 points each) resolve a threshold with only 3 grid points beyond it, where
    # cubic segments (4 points) cannot split the curve at the kink.
    kl_segments = dict(segment="linear", min_size=3) if spec.linear else {}
    modes, controls = [], []
    for j in range(spec.latent_dim):
        col = f"kl_{j + 1}"
        y = result.column(col)
        bo, yo = beta[ok], y[ok]
        cps = detect_curve_change_points(bo, yo, resolution=resolution, x_scale="log", **kl_segments)
        active = np.flatnonzero(yo > active_threshold)
        first = int(active.max()) + 1 if active.size else 0
        inactive_from = float(bo[first]) if first < bo.size else None
        bracket = None if inactive_from is None or first == 0 else [float(bo[first - 1]), inactive_from]
        # the collapse: a kink within one grid step (log beta) of where KL_i becomes inactive,
        # after which KL_i stays inactive (not a wiggle inside the already-collapsed tail)
        collapse = None
        if inactive_from is not None and bo.size > 1:
            step = np.log(bo[first] / bo[first - 1]) if first > 0 else np.log(bo[1] / bo[0])
            near = [cp for cp in cps if cp.kind == "kink" and abs(np.log(cp.gamma / inactive_from)) <= step * (1 + 1e-9)
                    and np.all(yo[bo > cp.high] <= active_threshold)]
            if near:
                collapse = min(near, key=lambda cp: abs(np.log(cp.gamma / inactive_from)))
        entry: dict[str, Any] = dict(mode=j + 1, change_points=[c.to_dict() for c in cps],
                                     detected=None if collapse is None else collapse.to_dict(),
                                     inactive_from=inactive_from, inactive_bracket=bracket)
        if predicted and j < len(predicted):
            p = PredictedTransition(float(predicted[j].beta_c), 2, j + 1, float(predicted[j].beta_c), "linear-vae")
            # KL_i behaves like the order parameter (level 1): a second-order collapse is a kink
            rule = SignalRule(col, f"KL_{j + 1} collapse", 1)
            v = judge({col: [collapse] if collapse is not None else []}, [p], [rule], rtol=rtol)
            entry.update(predicted_beta_c=p.gamma_c, zeta=float(predicted[j].zeta),
                         match=v.signals[col].checks[0].to_dict(), confirmed=v.signals[col].status == "pass",
                         reason=v.signals[col].reason)
            controls += [dict(c.to_dict(), signal=col) for c in v.controls]
        modes.append(entry)
    curvature = {}
    for sig in curvature_signals:
        y = result.column(sig)
        fin = ok & np.isfinite(y)
        cps = detect_curve_change_points(beta[fin], y[fin], resolution=resolution, x_scale="log") if fin.sum() >= 8 else []
        curvature[sig] = [c.to_dict() for c in cps]
    confirmed = all(m.get("confirmed", False) for m in modes) if predicted else None
    return dict(modes=modes, curvature=curvature, confirmed=confirmed, controls=controls, rtol=rtol, resolution=resolution,
                n_active=[(float(b), None if r["diverged"] else int(r["n_active"]))
                          for b, r in zip(beta, result.records)])
