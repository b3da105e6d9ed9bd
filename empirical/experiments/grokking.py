r"""Grokking as a noise-driven escape: sparse sub-sampling of the training set (deep linear net).

Task (kept small).  Inputs x in R^d, teacher y = s_1 x_1 e_1 + s_2 x_2 e_2 (k = 2 output modes).
Test set: Gaussian inputs.  Training set ("sparse sub-sampling", after Ersoy & Wiesner
arXiv:2606.17120): the points +-r e_1 (many copies) and only a fraction ``rho`` as many
points +-r e_2 (and +-r e_j, j > 2, when d > 2, with zero labels); its statistics are exactly diagonal,
A = diag(a_1, a_2, ...), beta = diag(c_1, c_2), so each output mode is a scalar problem
(a_k, c_k) with c_k = s_k a_k, and sub-sampling makes mode 2 weak (a_2, c_2 ~ rho): its
barrier from the trivial state is higher.  A sample counts as correct when
||f(x) - y||^2 < ||y||^2 / 4.

Langevin dynamics at temperature T on the training loss, started at the origin (a
metastable state for both modes when gamma < gamma_c of each): mode 1 (low barrier) is
learned early, which already classifies the 1 - rho share of e_1 training points, so
training accuracy is high early; the test points need both modes, so test accuracy jumps
only when mode 2 escapes over its (exact, :mod:`theory.barriers`) barrier, at the time
predicted by Kramers-Langer (marked on the curves).  The string method checks the barrier
of mode 2 in the full network (from the state with mode 1 learned).

Count of metastable states: 2^m local minima for m modes below their spinodal, of which
the learning path from the origin visits m + 1 (one new plateau per singular value).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from l2phase.theory.barriers import scalar_barrier
from l2phase.theory.checks import InputError
from l2phase.theory.closed_form import critical_point

from ..linear_landscape import LinearLandscape
from ..models import NetSpec
from ..string_method import string_method
from .escape import kramers_langer

__all__ = ["grokking_task", "run_grokking", "plot_grokking"]


def grokking_task(d: int = 2, s=(1.0, 1.0), rho: float = 0.1, n_copies: int = 20, r: float = 2.0, n_test: int = 400,
                  seed: int = 0):
    """(X_train, Y_train, X_test, Y_test) of the sparse-sampling task (see the module docstring)."""
    if not 0 < rho <= 1 or d < 2:
        raise InputError(f"rho must be in (0, 1] and d >= 2, got rho={rho}, d={d}")
    n2 = max(1, int(round(rho * n_copies)))
    rows = []
    for j, m in [(0, n_copies), (1, n2)] + [(j, n_copies) for j in range(2, d)]:
        for sign in (1.0, -1.0):
            for _ in range(m):
                x = np.zeros(d)
                x[j] = sign * r
                rows.append(x)
    Xtr = np.array(rows)
    T = np.zeros((2, d))
    T[0, 0], T[1, 1] = s
    rng = np.random.default_rng(seed)
    Xte = rng.standard_normal((n_test, d))
    return Xtr, Xtr @ T.T, Xte, Xte @ T.T


def _accuracy(ls: LinearLandscape, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Share of samples with ||f(x) - y||^2 < ||y||^2 / 4 (samples with y = 0 are not counted)."""
    W = ls.end_to_end(theta)  # (R, k, d)
    F = torch.einsum("rkd,nd->rnk", W, X)
    y2 = (Y**2).sum(-1)
    keep = y2 > 0
    return (((F - Y) ** 2).sum(-1) < 0.25 * y2)[:, keep].double().mean(-1)


def run_grokking(depth: int = 2, *, width: int = 2, rho: float = 0.1, gamma: float | None = None,
                 x1: float = 1.5, x2: float = 5.0, replicas: int = 12, dt: float = 0.05, quick: bool = False,
                 max_steps: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Train/test accuracy curves of Langevin dynamics from the origin, with the predicted escape time.

    The temperature is set so that barrier_2 / T = ``x2`` (mode 2, the late one); ``x1`` is
    only reported (barrier_1 / T).  ``gamma`` defaults to 0.6 x the gamma_c of mode 2.
    The run lasts 4 predicted escape times, at most ``max_steps`` steps (default 20 000
    with ``quick``, 200 000 otherwise).
    """
    if quick:
        replicas, x2, dt = min(replicas, 6), 4.0, 0.1
    Xtr, Ytr, Xte, Yte = grokking_task(rho=rho, seed=seed)
    n, d = Xtr.shape
    A = Xtr.T @ Xtr / n
    beta = Xtr.T @ Ytr / n
    a_k = np.array([A[0, 0], A[1, 1]])
    c_k = np.array([beta[0, 0], beta[1, 1]])
    cps = [critical_point(depth, a=float(a), c=float(c), ey2=float(c * c / a)) for a, c in zip(a_k, c_k)]
    gamma = 0.6 * cps[1].gamma_c if gamma is None else float(gamma)
    sbs = [scalar_barrier(gamma, depth, a=float(a), c=float(c), ey2=0.0) for a, c in zip(a_k, c_k)]
    if not all(sb.exists[0] and sb.metastable[0] == "trivial" for sb in sbs):
        raise InputError(f"gamma={gamma}: the origin must be metastable for both modes (gamma < gamma_c of each)")
    barriers = [float(sb.barrier_from_trivial[0]) for sb in sbs]
    T = barriers[1] / x2
    spec = NetSpec(d, 2, depth, width)
    ls = LinearLandscape(spec, torch.as_tensor(A), torch.as_tensor(beta), float((Ytr**2).sum() / n), gamma)
    tm = [float(sb.t_learned[0]) for sb in sbs]
    ts2 = float(sbs[1].t_saddle[0])
    th1 = ls.balanced_state([tm[0], 0.0])
    th_s = ls.balanced_state([tm[0], ts2])
    th12 = ls.balanced_state([tm[0], tm[1]])
    # barrier of mode 2 in the full net (string method from a bent initial string)
    g = torch.Generator().manual_seed(seed)
    u = torch.linspace(0, 1, 11, dtype=torch.float64)[:, None]
    init = th1 * (1 - u) + th12 * u + 0.2 * torch.sin(math.pi * u) * torch.randn(1, spec.n_params, generator=g,
                                                                                  dtype=torch.float64)
    mep = string_method(ls.loss_and_grad, th1, th12, n_images=11, init=init, dt=0.02, n_steps=1500 if quick else 4000)
    # Kramers-Langer time of mode 2 (rank 1 -> rank 2 over a rank-2 saddle; stabilisers 2^D and 1 for width 2)
    log_vr = None
    if width == 2:
        log_vr = ls.orbit_log_volume(th_s, 1) - ls.orbit_log_volume(th1, 2**depth)
    kl = kramers_langer(ls, th1, th_s, log_volume_ratio=log_vr) if width == 2 else None
    tau_pred = float(kl.mean_time(T)) if kl is not None else float("nan")
    # Langevin from the origin (Leimkuhler-Matthews), accuracy recorded along the way
    cap = max_steps if max_steps is not None else (20_000 if quick else 200_000)
    n_steps = int(min(4.0 * tau_pred / dt, cap)) if math.isfinite(tau_pred) else 40_000
    record = max(1, n_steps // 200)
    gen = torch.Generator().manual_seed(seed + 1)
    theta = torch.zeros(replicas, spec.n_params, dtype=torch.float64)
    amp = 0.5 * math.sqrt(2 * T * dt)
    prev = torch.randn(theta.shape, generator=gen, dtype=torch.float64)
    Xtr_t, Ytr_t, Xte_t, Yte_t = (torch.as_tensor(v) for v in (Xtr, Ytr, Xte, Yte))
    times, train_acc, test_acc, modes = [], [], [], []
    U, _, V = ls.modes()
    for step in range(n_steps + 1):
        if step % record == 0:
            times.append(step * dt)
            train_acc.append(_accuracy(ls, theta, Xtr_t, Ytr_t).tolist())
            test_acc.append(_accuracy(ls, theta, Xte_t, Yte_t).tolist())
            W = ls.end_to_end(theta)
            modes.append([[float(W[i, 0, 0]), float(W[i, 1, 1])] for i in range(replicas)])
        _, grad = ls.loss_and_grad(theta)
        new = torch.randn(theta.shape, generator=gen, dtype=torch.float64)
        theta = theta - dt * grad + amp * (prev + new)
        prev = new
    m2 = np.array(modes)[:, :, 1]
    learned2 = m2 > 0.5 * (ts2 + tm[1])
    first = [float(np.array(times)[learned2[:, i]][0]) if learned2[:, i].any() else float("nan")
             for i in range(replicas)]
    mean_train = np.mean(train_acc, axis=1)
    mean_test = np.mean(test_acc, axis=1)
    t_arr = np.array(times)
    t_train = float(t_arr[np.argmax(mean_train >= 0.85)]) if (mean_train >= 0.85).any() else float("nan")
    t_test = float(t_arr[np.argmax(mean_test >= 0.5)]) if (mean_test >= 0.5).any() else float("nan")
    n_learnable = sum(bool(sb.exists[0]) for sb in sbs)
    summary = (f"Sparse sampling (rho={rho}): mode barriers {barriers[0]:.4g} (mode 1) and {barriers[1]:.4g} (mode 2) "
               f"at gamma={gamma:.4g}, T={T:.4g}; train accuracy >= 85% at t={t_train:.4g}, test accuracy >= 50% at "
               f"t={t_test:.4g}; Kramers-Langer escape time of mode 2: {tau_pred:.4g} (median measured "
               f"{np.nanmedian(first):.4g} over {int(np.isfinite(first).sum())}/{replicas} replicas; an exponential "
               f"law has median tau ln 2 = {tau_pred * math.log(2):.4g}); string method barrier of mode 2 "
               f"{mep.barrier_forward:.6g} vs exact {barriers[1]:.6g}; local minima 2^{n_learnable} = "
               f"{2 ** n_learnable}, plateaus on the learning path {n_learnable + 1} for {len(sbs)} singular values.")
    return dict(rho=rho, gamma=gamma, temperature=T, depth=depth, width=width, barriers=barriers,
                barrier_mode2_string_method=mep.barrier_forward, tau_predicted=tau_pred,
                escape_times_mode2=first, times=times, train_accuracy=train_acc, test_accuracy=test_acc,
                t_train_85=t_train, t_test_50=t_test, n_singular_values=len(sbs), n_local_minima=2**n_learnable,
                n_plateaus=n_learnable + 1, a=a_k.tolist(), c=c_k.tolist(), summary=summary)


def plot_grokking(res: dict, path) -> None:
    """Mean train and test accuracy against time (log), predicted escape time of mode 2 marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array(res["times"])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(t[1:], np.mean(res["train_accuracy"], axis=1)[1:], label="train accuracy")
    ax.plot(t[1:], np.mean(res["test_accuracy"], axis=1)[1:], label="test accuracy")
    if math.isfinite(res["tau_predicted"]):
        ax.axvline(res["tau_predicted"], ls="--", color="k", label="predicted escape time of mode 2 (Kramers-Langer)")
    ax.set_xscale("log")
    ax.set_xlabel("time (Langevin)")
    ax.set_ylabel("accuracy (mean over replicas)")
    ax.set_title(f"sparse sub-sampling rho={res['rho']}, D={res['depth']}, T={res['temperature']:.3g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
