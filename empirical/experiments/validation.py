r"""The validation experiment behind ``l2phase validate``: trained nets vs the exact theory.

For each depth D (default D = 1 and D = 2 deep linear nets on synthetic whitened data
with two output modes):

1. predictions: ``theory.transitions`` from the training set's (A, beta, E||y||^2);
2. a batched multi-start gamma sweep for the global minimum (:func:`sweep_gamma`),
   with exact-Hessian curvature R_L, R_E at every trained point;
3. adaptive refinement around the change points of R_L (:func:`refine_sweep`);
4. change points of R_L, R_E, L and ||theta||^2, matched to the predictions (location
   and kind; the verdict uses R_L, the curvature claim, and ||theta||^2, the order
   parameter; R_E and L are reported);
5. the matrix-free (Hutch++) curvature checked against the exact one at a few points;
6. for D >= 2, the hysteresis loop: warm-started sweeps up and down, the up branch's
   drops (spinodals) and the down branch staying at the origin, vs [gamma_c, gamma_s].

Everything is returned as plain data (``results`` dict) and per-gamma tables; the
report and plots are made from them (``l2phase/_cmd_validate.py``).  Conventions:
docs/conventions.md (L = E||f(x) - y||^2 + gamma sum_l ||W_l||_F^2, D hidden layers).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from l2phase import theory

from ..transition_matching import (
    detect_curve_change_points,
    match_transitions,
    predicted_transitions,
    refine_sweep,
)
from ..hessian_curvature import curvature_exact, curvature_matrix_free
from ..data import Dataset, synthetic_teacher
from .hysteresis import hysteresis_loop
from ..models import NetSpec
from ..sweep import SweepConfig, SweepResult, sweep_gamma
from ..training import TrainConfig

__all__ = ["ValidationConfig", "run_validation", "theory_curves", "SIGNALS"]

#: Curves searched for change points: (record column, label, used in the verdict).
SIGNALS = (
    ("R_L", "Ricci scalar of the loss landscape R_L", True),
    ("param_norm_sq", "order parameter ||theta||^2", True),
    ("R_E", "Ricci scalar of the error landscape R_E", False),
    ("loss", "minimal loss L*", False),
)


@dataclass
class ValidationConfig:
    """Settings of the validation run (defaults: the built-in ``l2phase validate``).

    Tolerances: ``match_rtol`` widens each detection interval by match_rtol * gamma_c
    when comparing with the exact gamma_c; ``refine_rtol`` is the relative width to
    which change points are located; ``resolution`` is the curve resolution of the
    change-point detector (fraction of each curve's range); ``mf_z_max`` the largest
    accepted |R_matrix_free - R_exact| / standard error.
    """

    depths: tuple[int, ...] = (1, 2)
    singular_values: tuple[float, ...] = (1.0, 0.4)
    in_dim: int = 4
    width: int = 4
    n_samples: int = 200
    noise: float = 0.1
    n_gamma: int = 64
    n_gamma_hysteresis: int = 48
    refine_rtol: float = 1e-3
    refine_rounds: int = 4
    refine_new: int = 8
    match_rtol: float = 1e-2
    resolution: float = 1e-3
    n_probes: int = 90
    mf_points: int = 4
    mf_z_max: float = 4.0
    seed: int = 0
    device: str | None = None
    quick: bool = False
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optimizer="adam", lr=0.02, max_steps=300))

    @classmethod
    def quick_config(cls, **kw) -> "ValidationConfig":
        """Smaller run (tests, ``--quick``): coarser grids, fewer refinement rounds."""
        base = dict(n_gamma=24, n_gamma_hysteresis=20, refine_rounds=3, refine_new=6, n_probes=60,
                    mf_points=3, n_samples=120, quick=True)
        base.update(kw)
        return cls(**base)

    def __post_init__(self) -> None:
        for dd in self.depths:
            theory.check_depth(dd, "depth", minimum=1)
        if len(self.depths) == 0:
            raise ValueError("depths is empty")
        if len(self.singular_values) < 1 or any((not math.isfinite(s)) or s <= 0 for s in self.singular_values):
            raise ValueError(f"singular_values must be positive, got {self.singular_values}")
        if self.n_gamma < 12 or self.n_gamma_hysteresis < 4:
            raise ValueError("n_gamma must be >= 12 and n_gamma_hysteresis >= 4")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def theory_curves(data: Dataset, depth: int, gamma) -> dict[str, np.ndarray] | None:
    """Exact L*(gamma) and ||theta*||^2(gamma) for whitened data (A = a I), else None.

    With A = a I the modes of beta decouple (docs/theory.md): L* = E||y||^2 +
    sum_k [L*_k - s_k^2/a], with L*_k the scalar global minimum for c = s_k.
    """
    A, beta, ey2 = data.stats()
    a = float(np.trace(A)) / A.shape[0]
    if np.abs(A - a * np.eye(A.shape[0])).max() > 1e-10 * a:
        return None
    s = np.linalg.svd(beta, compute_uv=False)
    g = np.asarray(gamma, dtype=float)
    L = np.full(g.shape, ey2)
    pn = np.zeros(g.shape)
    for sk in s:
        sol = theory.optimal_solution(depth, a, float(sk), g, ey2=float(sk * sk / a))
        L += sol.loss - sk * sk / a
        pn += sol.param_norm_sq
    return dict(gamma=g, loss=L, param_norm_sq=pn)


def _grid(preds, n):
    lo = 0.25 * min(p.gamma_c for p in preds)
    hi = 1.4 * max(max(p.spinodal, p.gamma_c) for p in preds)
    return np.linspace(lo, hi, n)


def _mf_check(spec, data, sweep: SweepResult, cfg: ValidationConfig, device) -> list[dict]:
    """Matrix-free vs exact curvature at a few trained points (one per regime)."""
    ok = np.flatnonzero(sweep.ok())
    if ok.size == 0:
        return []
    pick = np.unique(ok[np.linspace(0, ok.size - 1, cfg.mf_points).round().astype(int)])
    X, Y = data.tensors(device=device)
    th = torch.as_tensor(sweep.thetas[pick], dtype=torch.float64, device=device)
    g = sweep.gamma[pick]
    ex = curvature_exact(spec, th, X, Y, g)
    mf = curvature_matrix_free(spec, th, X, Y, g, cfg.n_probes, method="hutch++",
                               seed=[cfg.seed * 7919 + int(i) for i in pick])
    rows = []
    for j, i in enumerate(pick):
        for name in ("R_L", "R_E"):
            e, m, se = float(getattr(ex, name)[j]), float(getattr(mf, name)[j]), float(getattr(mf, name + "_se")[j])
            # when the Hutch++ sketch captures H's whole range the estimate is exact and its
            # standard error ~0: compare to float64 rounding of the moments instead
            scale = float(ex.tr_H_L[j]) ** 2 + float(ex.tr_H2_L[j]) + abs(e)
            se_eff = max(se, 1e-10 * scale)
            z = abs(m - e) / se_eff
            rows.append(dict(gamma=float(g[j]), landscape=name, exact=e, matrix_free=m, se=se, se_floor=se_eff, z=z,
                             ok=bool(z <= cfg.mf_z_max)))
    return rows


def _crossing(h, preds):
    """gamma where the up branch's loss crosses the down branch's (linear interpolation)."""
    g = h.gamma
    d = h.column("up", "loss") - h.column("down", "loss")
    idx = np.flatnonzero((d[:-1] < 0) & (d[1:] >= 0))
    if idx.size == 0:
        return None
    i = int(idx[-1])
    return float(g[i] - d[i] * (g[i + 1] - g[i]) / (d[i + 1] - d[i]))


def run_validation(
    config: ValidationConfig | None = None,
    out_dir=None,
    *,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    log: Callable[[str], None] | None = None,
    executor=None,
) -> tuple[dict, dict]:
    """Run the validation experiment (see module docstring).

    ``executor`` (:func:`empirical.make_executor`) runs the sweeps' work units in this
    process (default) or on a Dask cluster; the hysteresis loop is sequential
    (warm-started) and always runs here.

    Returns
    -------
    results : dict (JSON-ready): configuration, predictions, detections, matches,
        matrix-free check, hysteresis, per-check verdicts and ``confirmed``.
    tables : dict with per-depth SweepResult (``"sweep_D{D}"``), HysteresisResult
        (``"hysteresis_D{D}"``) and datasets, for the report and plots.
    """
    cfg = config or ValidationConfig()
    say = log or (lambda s: None)
    t0 = time.time()
    device = torch.device(cfg.device) if cfg.device else None
    data = synthetic_teacher(cfg.n_samples, cfg.in_dim, cfg.singular_values, noise=cfg.noise,
                             exact=True, seed=cfg.seed)
    A, beta, ey2 = data.stats()
    results: dict[str, Any] = dict(
        config=cfg.to_dict(),
        data=dict(meta=data.meta, A_eigenvalues=np.linalg.eigvalsh(A).tolist(),
                  beta_singular_values=np.linalg.svd(beta, compute_uv=False).tolist(), Ey2=ey2),
        depths={},
    )
    tables: dict[str, Any] = dict(data=data)
    sweep_cfg = SweepConfig(train=cfg.train, curvature="exact", seed=cfg.seed)
    detect_kw = dict(resolution=cfg.resolution, seed=cfg.seed)
    checks = []
    for D in cfg.depths:
        spec = NetSpec(cfg.in_dim, len(cfg.singular_values), D, cfg.width)
        preds = predicted_transitions(data, D)
        grid = _grid(preds, cfg.n_gamma)
        say(f"D={D}: sweep of {grid.size} gammas x {len(sweep_cfg.inits or []) or 'default'} inits")
        sw = sweep_gamma(spec, data, grid, sweep_cfg, out_dir=out_dir, tag=f"D{D}", resume=resume,
                         device=device, progress=progress, executor=executor)
        say(f"D={D}: refining change points of R_L to {cfg.refine_rtol:g}")
        sw, cps_RL, info = refine_sweep(spec, data, sw, sweep_cfg, signal="R_L", rtol=cfg.refine_rtol,
                                        n_new=cfg.refine_new, max_rounds=cfg.refine_rounds, detect_kwargs=detect_kw,
                                        out_dir=out_dir, tag=f"D{D}", device=device, progress=progress,
                                        executor=executor)
        ok = sw.ok()
        n_div = int((~ok).sum())
        n_nc = int(sum(1 for r in sw.records if r["status"] == "not_converged"))
        dres: dict[str, Any] = dict(
            spec=spec.to_dict(),
            predicted=[p.to_dict() for p in preds],
            n_points=len(sw.records), n_diverged=n_div, n_not_converged=n_nc,
            not_converged_gammas=[r["gamma"] for r in sw.records if r["status"] != "converged"],
            refinement=info, signals={},
        )
        for col, label, in_verdict in SIGNALS:
            cps = cps_RL if col == "R_L" else detect_curve_change_points(sw.gamma[ok], sw.column(col)[ok], **detect_kw)
            matches, extra = match_transitions(preds, cps, rtol=cfg.match_rtol)
            confirmed = all(m.confirmed for m in matches) and not extra
            dres["signals"][col] = dict(
                label=label, in_verdict=in_verdict,
                change_points=[c.to_dict() for c in cps],
                matches=[m.to_dict() for m in matches],
                unmatched=[c.to_dict() for c in extra],
                confirmed=bool(confirmed),
            )
            if in_verdict:
                checks.append(dict(name=f"D={D}: change points of {col} match theory (location and kind)",
                                   passed=bool(confirmed)))
        if n_div:
            checks.append(dict(name=f"D={D}: no diverged training runs", passed=False))
        # theory side of gamma_c: trained nets give the predicted L* and ||theta||^2
        tc = theory_curves(data, D, sw.gamma)
        if tc is not None:
            # points within match_rtol of a gamma_c are excluded (the global minimum
            # switches there; which side a point lands on is a grid question)
            near = np.zeros(sw.gamma.size, dtype=bool)
            for p in preds:
                near |= np.abs(sw.gamma - p.gamma_c) <= cfg.match_rtol * p.gamma_c
            far = ok & ~near
            eL = float(np.max(np.abs(sw.column("loss") - tc["loss"])[far])) if far.any() else float("nan")
            eN = float(np.max(np.abs(sw.column("param_norm_sq") - tc["param_norm_sq"])[far])) if far.any() else float("nan")
            dres["theory_agreement"] = dict(max_abs_loss_error=eL, max_abs_norm_error=eN, tolerance=1e-6)
            checks.append(dict(name=f"D={D}: trained L* and ||theta||^2 equal the exact curves (<= 1e-6)",
                               passed=bool(eL <= 1e-6 and eN <= 1e-6)))
        mf = _mf_check(spec, data, sw, cfg, device)
        dres["matrix_free_check"] = mf
        checks.append(dict(name=f"D={D}: matrix-free (Hutch++, {cfg.n_probes} HVPs) curvature within "
                                f"{cfg.mf_z_max:g} standard errors of the exact one",
                           passed=bool(mf) and all(r["ok"] for r in mf)))
        tables[f"sweep_D{D}"] = sw
        if D >= 2:
            hgrid = _grid(preds, cfg.n_gamma_hysteresis)
            say(f"D={D}: hysteresis loop on {hgrid.size} gammas")
            h = hysteresis_loop(spec, data, hgrid, seed=cfg.seed, out_dir=out_dir, tag=f"hysteresis-D{D}",
                                resume=resume, device=device, progress=progress)
            tables[f"hysteresis_D{D}"] = h
            rows = []
            for p in preds:
                br = h.drops[p.mode] if p.mode < len(h.drops) else None
                tol = cfg.match_rtol * p.spinodal
                ok_s = br is not None and br[0] - tol <= p.spinodal <= br[1] + tol
                det_c = next((m["detected"]["gamma"] for m in dres["signals"]["R_L"]["matches"]
                              if m["predicted"]["mode"] == p.mode and m["detected"]), None)
                rows.append(dict(mode=p.mode, gamma_c=p.gamma_c, spinodal=p.spinodal,
                                 measured_window=[det_c, None if br is None else 0.5 * (br[0] + br[1])],
                                 drop_bracket=br, spinodal_ok=bool(ok_s)))
                checks.append(dict(name=f"D={D}: up-sweep keeps mode {p.mode} learned up to the spinodal "
                                        f"gamma_s={p.spinodal:.6g} (within {cfg.match_rtol:g} rel.)", passed=bool(ok_s)))
            stays = all(r is None for r in h.rises)
            checks.append(dict(name=f"D={D}: down-sweep from the origin stays trivial (origin is a local minimum)",
                               passed=bool(stays)))
            cross = _crossing(h, preds)
            top = max(preds, key=lambda p: p.gamma_c)
            dres["hysteresis"] = dict(windows=rows, down_stays_trivial=bool(stays), branch_crossing=cross,
                                      top_mode_gamma_c=top.gamma_c, drops=h.drops, rises=h.rises)
        results["depths"][str(D)] = dres
    results["checks"] = checks
    results["confirmed"] = bool(all(c["passed"] for c in checks))
    results["elapsed_s"] = time.time() - t0
    results["versions"] = dict(torch=torch.__version__, numpy=np.__version__)
    return results, tables
