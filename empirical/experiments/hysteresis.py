r"""Hysteresis: warm-started gamma sweeps up (from a learning state) and down (from the origin).

For a first-order transition (D >= 2, docs/theory.md) the learning minimum survives,
metastable, above gamma_c up to the spinodal gamma_s, and the origin is a strict local
minimum for every gamma > 0.  A sweep *up* that starts from a large initialisation and
warm-starts each gamma from the previous solution therefore keeps learning mode k until
its spinodal gamma_s(k) and then falls to zero; a sweep *down* from the origin stays at
zero all the way.  The two branches differ on the metastable window; for D = 1 (second
order) they coincide.

:func:`hysteresis_loop` runs both branches (each warm-started from its previous point), writes each
finished point through the run's point store (``points/<tag>-up``, ``points/<tag>-down``),
resumes from the last finished point, and locates each drop of the up branch by bisection
(warm-started from the last learning state) to ``bisect_rtol``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from l2phase.theory.checks import InputError, check_gamma

from ..data import Dataset
from ..models import NetSpec, end_to_end_matrix
from ..store import RunStore, json_ready
from ..sweep import InitSpec, initial_parameters, point_check, point_seed, sweep_fingerprint
from ..training import TrainConfig, train_batched

__all__ = ["HysteresisResult", "hysteresis_loop", "branch_drops"]


@dataclass
class HysteresisResult:
    """Both branches on the same gamma grid (ascending) plus the located drops.

    ``up``/``down``: lists of per-gamma records (gamma, loss, error, param_norm_sq,
    status, sv_1..sv_k).  ``drops``: for each singular value index j (0-based), the
    bracket (gamma_on, gamma_off) of the up branch's switch-off, refined by bisection
    (None if that mode never switches off in the range).  ``rises``: same for the down
    branch switching on (None: stays trivial).
    """

    gamma: np.ndarray
    up: list[dict]
    down: list[dict]
    drops: list[tuple[float, float] | None]
    rises: list[tuple[float, float] | None]
    threshold: float
    meta: dict = field(default_factory=dict)

    def column(self, branch: str, name: str) -> np.ndarray:
        recs = self.up if branch == "up" else self.down
        return np.array([r.get(name, np.nan) for r in recs], dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return dict(gamma=self.gamma.tolist(), up=self.up, down=self.down, drops=self.drops, rises=self.rises,
                    threshold=self.threshold, meta=self.meta)


def _measure(spec, res, i, gamma, theta) -> dict:
    rec = dict(gamma=float(gamma), loss=float(res.loss[i]), error=float(res.error[i]),
               param_norm_sq=float(res.param_norm_sq[i]), status=res.status()[i],
               grad_norm=float(res.grad_norm[i]), n_steps=int(res.n_steps[i]))
    if spec.activation == "linear" and not spec.bias:
        sv = torch.linalg.svdvals(end_to_end_matrix(spec, theta)).cpu().numpy()
        for j, s in enumerate(sv):
            rec[f"sv_{j + 1}"] = float(s)
    return rec


def _on(rec: dict, j: int, thr: float) -> bool:
    return rec.get(f"sv_{j + 1}", 0.0) > thr


def _jitter(theta: torch.Tensor, size: float, seed: int) -> torch.Tensor:
    if size <= 0:
        return theta
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(theta.shape, generator=gen, dtype=theta.dtype).to(theta.device)
    return theta + size * z / np.sqrt(theta.numel())


def branch_drops(records: list[dict], n_modes: int, threshold: float, direction: str = "off"):
    """Brackets (gamma_a, gamma_b) between consecutive grid points where mode j switches
    off (``direction="off"``, scanning up) or on (``"on"``, scanning down)."""
    out = []
    for j in range(n_modes):
        br = None
        seq = records if direction == "off" else records[::-1]
        for a, b in zip(seq[:-1], seq[1:]):
            if direction == "off" and _on(a, j, threshold) and not _on(b, j, threshold):
                br = (a["gamma"], b["gamma"])
                break
            if direction == "on" and not _on(a, j, threshold) and _on(b, j, threshold):
                br = (b["gamma"], a["gamma"])
                break
        out.append(br)
    return out


def _run_branches(spec, data, g, store, tag, train, train_down, start_up, start_down, seed, jitter, device,
                  progress) -> dict[str, list[dict]]:
    """Both warm-started branches, every point saved as it finishes; a stored prefix is reused
    (the next point warm-starts from its parameters, read back bit for bit)."""
    X, Y = data.tensors(device=device)
    _, beta, _ = data.stats()
    n = g.size
    branches = {"up": g, "down": g[::-1]}
    recs: dict[str, list[dict]] = {"up": [], "down": []}
    thetas: dict[str, torch.Tensor] = {}
    check = point_check(spec, "gamma", ("gamma", "loss", "status"))
    for b, grid in branches.items():
        for x in grid:  # longest finished prefix in sweep order
            pt = store.load_point(f"{tag}-{b}", float(x), _with_diverged(check)) if store is not None else None
            if pt is None:
                break
            recs[b].append(pt.record)
        ok = [r for r in recs[b] if r["status"] != "diverged"]
        if ok:
            thetas[b] = torch.tensor(ok[-1]["theta"], dtype=torch.float64, device=device)
    for b, init, x0 in (("up", start_up, g[0]), ("down", start_down, g[-1])):
        if b not in thetas:
            thetas[b] = initial_parameters(spec, init, beta, point_seed(seed, x0, 7 if b == "up" else 8)).to(device)
    if store is not None:  # both branches' point files listed in the marker at once
        for b in ("up", "down"):
            store.claim_points(f"{tag}-{b}", [float(x) for x in branches[b][len(recs[b]):]])
    while len(recs["up"]) < n or len(recs["down"]) < n:
        todo = [b for b in ("up", "down") if len(recs[b]) < n]
        gam = np.array([branches[b][len(recs[b])] for b in todo])
        th0 = torch.stack([_jitter(thetas[b], jitter, point_seed(seed, x, 11 if b == "up" else 12))
                           for b, x in zip(todo, gam)])
        res = [train_batched(spec, th0[i:i + 1], X, Y, gam[i:i + 1], train if b == "up" else train_down)
               for i, b in enumerate(todo)]
        for i, b in enumerate(todo):
            r = res[i]
            rec = _measure(spec, r, 0, gam[i], r.theta[0])
            rec["theta"] = r.theta[0].detach().cpu().numpy().tolist()
            rec = store.save_point(f"{tag}-{b}", float(gam[i]), rec) if store is not None else \
                json.loads(json.dumps(json_ready(rec, keep_nonfinite=True), allow_nan=True))
            recs[b].append(rec)
            if not rec["status"] == "diverged":
                thetas[b] = r.theta[0].detach().clone()
        if progress is not None:
            progress(len(todo))
    return recs


def _with_diverged(check):
    """The sweep point schema for a hysteresis record (``diverged`` read from its status)."""
    def chk(rec, arrays):
        check(dict(rec, diverged=rec["status"] == "diverged"), arrays)
    return chk


def hysteresis_loop(
    spec: NetSpec,
    data: Dataset,
    gammas,
    *,
    train: TrainConfig | None = None,
    start_up: InitSpec = InitSpec("random", 1.5, name="large"),
    start_down: InitSpec = InitSpec("random", 1e-3, name="small"),
    seed: int = 0,
    threshold: float = 1e-4,
    bisect_rtol: float = 1e-4,
    jitter: float = 1e-6,
    out_dir=None,
    tag: str = "hysteresis",
    resume: bool = False,
    device=None,
    progress: Callable[[int], None] | None = None,
) -> HysteresisResult:
    r"""Warm-started sweeps up and down in gamma (loss L_gamma of docs/conventions.md).

    Parameters
    ----------
    gammas : increasing 1-D grid (> 0).
    start_up, start_down : initialisations at the first gamma of each branch (up starts
        at min(gammas) from ``start_up``; down starts at max(gammas) from ``start_down``).
    threshold : a mode counts as learned when its end-to-end singular value exceeds this.
    bisect_rtol : relative width to which each drop of the up branch is bisected.
    jitter : each warm start is perturbed by ``jitter`` x N(0, I/P) (seeded per point), the
        numerical noise of real training: without it a branch that reached the origin
        exactly would stay on it even where the origin is a saddle (D = 1, gamma < gamma_c),
        since the gradient there is exactly zero.  A strict local minimum (D >= 2) is unaffected.
    out_dir, tag, resume : per-point files and resumption (the next point warm-starts from
        the stored parameters of the last finished one).

    Returns
    -------
    HysteresisResult
    """
    # Pure (saddle-free, damped) Newton by default: its steps stay inside the shrinking
    # basin of a metastable minimum near the spinodal, where a first-order optimiser's
    # first steps (of size ~lr) can jump out and end the branch too early.
    # The down branch uses Adam + Newton polish: first-order steps leave a saddle quickly
    # (from the jitter), where damped Newton can crawl.
    if train is None:
        train = TrainConfig(optimizer="newton") if spec.n_params <= 1500 else TrainConfig()
        train_down = TrainConfig(lr=0.02, max_steps=300)
    else:
        train_down = train
    g = np.asarray(check_gamma(np.atleast_1d(np.asarray(gammas, dtype=float)), "gammas", sorted_grid=True))
    if resume and out_dir is None:
        raise InputError("resume=True needs out_dir")
    settings = dict(train=train.to_dict(), train_down=train_down.to_dict(), start_up=asdict(start_up),
                    start_down=asdict(start_down), seed=seed, threshold=threshold, bisect_rtol=bisect_rtol,
                    jitter=jitter)
    with RunStore.using(out_dir, resume=resume, command="hysteresis_loop",
                        fingerprint=lambda: sweep_fingerprint("hysteresis_loop", spec, data, settings, tag=tag,
                                                              device=device)) as store:
        recs = _run_branches(spec, data, g, store, tag, train, train_down, start_up, start_down, seed, jitter,
                             device, progress)
    X, Y = data.tensors(device=device)
    up = recs["up"]
    down = recs["down"][::-1]
    n_modes = sum(1 for k in up[0] if k.startswith("sv_"))
    drops = branch_drops(up, n_modes, threshold, "off")
    rises = branch_drops(down, n_modes, threshold, "on")
    # bisection of each drop, warm-started from the last learning state
    refined = []
    for j, br in enumerate(drops):
        if br is None:
            refined.append(None)
            continue
        lo, hi = br
        i_lo = int(np.searchsorted(g, lo))
        theta_lo = torch.tensor(up[i_lo]["theta"], dtype=torch.float64, device=device)
        while hi - lo > bisect_rtol * hi:
            mid = 0.5 * (lo + hi)
            th0 = _jitter(theta_lo, jitter, point_seed(seed, mid, 13))[None]
            res = train_batched(spec, th0, X, Y, np.array([mid]), train)
            rec = _measure(spec, res, 0, mid, res.theta[0])
            # near the fold the gradient is tiny along the ghost of the minimum: only a
            # converged learning state counts as "still on the branch"
            if _on(rec, j, threshold) and rec["status"] == "converged":
                lo, theta_lo = mid, res.theta[0].detach().clone()
            else:
                hi = mid
        refined.append((float(lo), float(hi)))
    for r in up + down:
        r.pop("theta", None)
    return HysteresisResult(gamma=g, up=up, down=down, drops=refined, rises=rises, threshold=threshold,
                            meta=dict(start_up=start_up.name, start_down=start_down.name, seed=seed,
                                      bisect_rtol=bisect_rtol, train=train.to_dict()))
