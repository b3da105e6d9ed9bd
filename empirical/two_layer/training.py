r"""Wide two-layer ReLU networks trained by full-batch GD from a scaled initialisation
(Luo et al., arXiv:2007.07497).

Model (Luo, Xu, Ma & Zhang 2021), bias counted in the input weights (x~ = (x, 1)):

.. math::

    f(x) = \frac1\alpha \sum_{k=1}^m a_k\,\mathrm{ReLU}(w_k\cdot\tilde x),\qquad
    a_k\sim N(0,\beta_1^2),\ w_k\sim N(0,\beta_2^2 I_{d+1}),

loss :math:`R_S=\frac1{2n}\sum_i (f(x_i)-y_i)^2` (the paper's; the authors' code's MSE
without 1/2 is 2 R_S, so the code's tol 1e-6 is R_S < 5e-7 here).  This is the
*unregularised* experiment of Luo et al.: no L2 term, and its (gamma, gamma') are the
initialisation exponents ``gamma_energy``/``gamma_dynamic`` of :mod:`theory.init_scaling`,
not the L2 strength.

:func:`train_normalised` simulates the normalised model
:math:`f=\kappa\sum\bar a_k\mathrm{ReLU}(\bar w_k\cdot\tilde x)`, :math:`\bar a,\bar w\sim N(0,1)`,
with mobility-weighted GD :math:`\bar a \mathrel{-}= \eta\nabla_{\bar a}R/\kappa'`,
:math:`\bar w \mathrel{-}= \eta\kappa'\nabla_{\bar w}R`; it is exactly GD on any
(alpha, beta1, beta2) with kappa = beta1 beta2/alpha, kappa' = beta1/beta2 and step
eta beta1 beta2.  :func:`train_plain` is the plain autograd trainer on (a, w) used to check
that equivalence.  Both batch nothing clever: :func:`train_normalised` stacks many runs
(rows: kappa, kappa', width, seed) into one tensor, zero-padding narrower widths (a
neuron with a = 0 and w = 0 has zero gradient, so padding is inert).

Step size (no silent divergence): every ``eta_every`` steps
eta = c / (lambda_GN + lambda_res), lambda_GN the top eigenvalue of the mobility-weighted
Gauss-Newton Gram J M J^T / n, lambda_res = kappa max_k ||(1/n) sum_i e_i 1[w_k.x_i > 0] x~_i||
(the saddle curvature that dominates at small initialisation).  A step that raises the
loss is undone and c halved for that run.  Runs stop at R_S < tol (not a step count); a
run that hits ``max_steps`` is reported with ``converged=False``.

RD(theta_w) = ||w(t*) - w(0)|| / ||w(0)|| over the first copy of the input weights
(bias included; the authors' code's choice with ASI), and its running maximum over training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numba
import numpy as np
import torch

from l2phase.theory.checks import InputError, NotConvergedError, check_positive

from ..torch_state import tf32_disabled

from .data import TwoLayerData, initial_draws
from .metrics import angle_amplitude, condensation_metrics

__all__ = ["TwoLayerRun", "train_normalised", "train_plain"]


def _check_int(v, name: str, minimum: int = 1) -> int:
    """The trainers' integer arguments (sizes, step counts)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


@dataclass
class TwoLayerRun:
    """One trained run (a row of a batch). RD and metrics refer to the first copy of the neurons."""

    kappa: float
    kappa_prime: float
    width: int
    seed: int
    rd_w: float
    rd_w_max: float
    rd_a: float
    final_loss: float
    steps: int
    converged: bool
    status: str
    seconds: float
    metrics_init: dict
    metrics_final: dict
    neurons: dict | None = None  # subsampled (angle/projection, amplitude) initial and final

    def as_record(self) -> dict:
        rec = {k: getattr(self, k) for k in ("kappa", "kappa_prime", "width", "seed", "rd_w", "rd_w_max", "rd_a",
                                               "final_loss", "steps", "converged", "status", "seconds")}
        rec.update({f"{k}_init": v for k, v in self.metrics_init.items()})
        rec.update({f"{k}_final": v for k, v in self.metrics_final.items()})
        return rec


_BLOCK = 256  # neurons per block of the compiled trainer (its temporaries stay in L1)
_njit = numba.njit(cache=True, error_model="numpy")


@_njit
def _pre_block(X, w, j0, L, pre):
    """pre[i, jj] = x~_i . w_(j0 + jj) for a block of L neurons (w is (D, N): neurons innermost)."""
    n, D = X.shape
    for i in range(n):
        x0 = X[i, 0]
        for jj in range(L):
            pre[i, jj] = x0 * w[0, j0 + jj]
        for d in range(1, D):
            xd = X[i, d]
            for jj in range(L):
                pre[i, jj] += xd * w[d, j0 + jj]


@_njit
def _forward_one(X, y, a, w, kappa):
    """f (n,) of one net (w (D, N)) and its loss R_S = (1/2n) sum (f - y)^2."""
    n = X.shape[0]
    N = a.shape[0]
    lanes = np.zeros((n, _BLOCK))
    pre = np.empty((n, _BLOCK))
    for j0 in range(0, N, _BLOCK):
        L = min(_BLOCK, N - j0)
        _pre_block(X, w, j0, L, pre)
        _add_block_output(a, j0, L, pre, lanes)
    f = lanes.sum(axis=1)
    return f, _scale_and_loss(f, y, kappa)


@_njit
def _add_block_output(a, j0, L, pre, lanes):
    """lanes[i, jj] += a_j ReLU(pre_ij) over a block: element-wise, so it vectorises (a
    running sum over jj would not without fastmath); f_i = sum_jj lanes[i, jj] at the end."""
    for i in range(lanes.shape[0]):
        for jj in range(L):
            lanes[i, jj] += a[j0 + jj] * max(pre[i, jj], 0.0)


@_njit
def _scale_and_loss(f, y, kappa):
    """f *= kappa in place; returns R_S = (1/2n) sum (f - y)^2."""
    loss = 0.0
    for i in range(f.shape[0]):
        f[i] *= kappa
        loss += (f[i] - y[i]) ** 2
    return 0.5 * loss / f.shape[0]


@_njit
def _gd_run(X, y, a, w, w0, kappa, kp, tol, max_steps, step_factor, eta_every, record_every):
    """Mobility-weighted GD of one normalised net, in place on a (N,), w (D, N) (neurons innermost).

    The rules of :func:`train_normalised` for one row: eta = c / (lambda_GN + lambda_res)
    every ``eta_every`` steps, a rise of the loss undoes the step and halves c, stop at
    R_S < tol, ``max_steps`` or c < step_factor 2^-40; RD of the first m = w0.shape[1]
    neurons recorded every ``record_every`` iterations.  One pass over the neurons per step,
    by blocks of ``_BLOCK`` (branch-free, vectorised over neurons), computes each neuron's
    gradient, saves and updates it, and accumulates the next forward pass.
    Returns (status 0 converged / 1 max_steps / 2 step_size_underflow, steps, loss, rd_max).
    """
    n, D = X.shape
    N = a.shape[0]
    m = w0.shape[1]
    gram = X @ X.T
    prev_a = a.copy()
    prev_w = w.copy()
    w0n = np.sqrt((w0 * w0).sum())
    f, loss = _forward_one(X, y, a, w, kappa)
    prev_loss = np.inf
    c = step_factor
    steps = 0
    it = 0
    since = eta_every
    rd_max = 0.0
    eta = 0.0
    e = np.zeros(n)
    pre = np.empty((n, _BLOCK))
    msk = np.empty((n, _BLOCK))
    G = np.empty((D, _BLOCK))
    ga = np.empty(_BLOCK)
    while True:
        if not loss <= prev_loss:  # a rise (or NaN): undo the last step, halve c
            a[:] = prev_a
            w[:, :] = prev_w
            c /= 2
            steps -= 1
            since = eta_every
            f, loss = _forward_one(X, y, a, w, kappa)
        if c < step_factor * 2.0 ** -40:
            return 2, steps, loss, rd_max
        if loss < tol:
            return 0, steps, loss, rd_max
        if steps >= max_steps:
            return 1, steps, loss, rd_max
        if it % record_every == 0:
            acc = 0.0
            for d in range(D):
                for j in range(m):
                    acc += (w[d, j] - w0[d, j]) ** 2
            rd_max = max(rd_max, np.sqrt(acc) / w0n)
        for i in range(n):
            e[i] = f[i] - y[i]
        if since >= eta_every:  # eta = c / (lambda_GN + lambda_res), one extra pass
            K = np.zeros((n, n))
            Klanes = np.zeros((n, n, _BLOCK))  # element-wise partial sums (vectorise)
            lam_res = 0.0
            for j0 in range(0, N, _BLOCK):
                L = min(_BLOCK, N - j0)
                _pre_block(X, w, j0, L, pre)
                for i in range(n):
                    for jj in range(L):
                        msk[i, jj] = 1.0 if pre[i, jj] > 0.0 else 0.0
                        pre[i, jj] = max(pre[i, jj], 0.0)
                for jj in range(L):
                    g2 = 0.0
                    for d in range(D):
                        acc = 0.0
                        for i in range(n):
                            acc += e[i] * msk[i, jj] * X[i, d]
                        g2 += (acc / n) ** 2
                    lam_res = max(lam_res, g2)
                for i in range(n):
                    for i2 in range(i, n):
                        gi = gram[i, i2] * kp * kp
                        for jj in range(L):
                            aj = a[j0 + jj]
                            Klanes[i, i2, jj] += pre[i, jj] * pre[i2, jj] + aj * aj * msk[i, jj] * msk[i2, jj] * gi
            for i in range(n):
                for i2 in range(i, n):
                    K[i, i2] = Klanes[i, i2].sum() / kp
                    K[i2, i] = K[i, i2]
            K *= kappa * kappa / n
            eta = c / (np.linalg.eigvalsh(K)[-1] + kappa * np.sqrt(lam_res))
            since = 0
        since += 1
        prev_loss = loss
        cw = eta * kp * kappa / n
        ca = eta / kp * kappa / n
        lanes = np.zeros((n, _BLOCK))
        for j0 in range(0, N, _BLOCK):
            L = min(_BLOCK, N - j0)
            _pre_block(X, w, j0, L, pre)
            for jj in range(L):
                ga[jj] = 0.0
            for d in range(D):
                for jj in range(L):
                    G[d, jj] = 0.0
            for i in range(n):
                ei = e[i]
                for jj in range(L):
                    p = pre[i, jj]
                    em = ei if p > 0.0 else 0.0  # e_i 1[w.x_i > 0]
                    ga[jj] += em * p
                for d in range(D):
                    xd = X[i, d]
                    for jj in range(L):
                        G[d, jj] += (ei if pre[i, jj] > 0.0 else 0.0) * xd
            for d in range(D):
                for jj in range(L):
                    j = j0 + jj
                    prev_w[d, j] = w[d, j]
                    w[d, j] -= cw * a[j] * G[d, jj]  # a before its update
            for jj in range(L):
                j = j0 + jj
                prev_a[j] = a[j]
                a[j] -= ca * ga[jj]
            _pre_block(X, w, j0, L, pre)  # the next forward pass, while the block is in cache
            _add_block_output(a, j0, L, pre, lanes)
        f = lanes.sum(axis=1)
        loss = _scale_and_loss(f, y, kappa)
        steps += 1
        it += 1


def _device_dtype(device, dtype):
    dev = torch.device(device or "cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError("device cuda requested but CUDA is not available")
    elif dev.type != "cpu":
        raise InputError(f"device must be cpu or cuda[:k], got {device!r}")
    if dtype is None:
        dtype = torch.float64 if dev.type == "cpu" else torch.float32
    return dev, dtype


@tf32_disabled()  # RD ~ 1e-3 at the linear end needs true fp32/fp64 matmuls (TF32: ~1e-3 relative error)
def train_normalised(
    data: TwoLayerData,
    kappa: Sequence[float],
    kappa_prime: Sequence[float],
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    asi: bool = True,
    tol: float = 5e-7,
    max_steps: int = 200_000,
    step_factor: float = 0.5,
    eta_every: int = 10,
    record_every: int = 20,
    keep_neurons: int | Sequence[int] = 0,
    device=None,
    dtype=None,
    progress=None,
    kernel: str = "auto",
) -> list[TwoLayerRun]:
    """Train a batch of normalised two-layer ReLU nets by mobility-weighted full-batch GD.

    Row r has scales kappa[r] = beta1 beta2 / alpha, kappa_prime[r] = beta1 / beta2, width
    m = widths[r] and draws :func:`initial_draws` (widths[r], d, seeds[r]).  With ``asi`` the
    hidden layer holds 2m neurons: the m drawn ones and a copy with the same w and output
    weights -a, so f = 0 at t = 0 (alpha, beta still use m).  Loss R_S = (1/2n) sum (f - y)^2.

    Parameters
    ----------
    tol : stop a run at R_S < tol (default 5e-7 = the authors' MSE < 1e-6).
    max_steps : cap; runs still above ``tol`` come back with ``converged=False``, status "max_steps".
    step_factor : c in eta = c / (lambda_GN + lambda_res), halved for a run whenever a step
        raises its loss (the step is undone).
    eta_every : steps between recomputations of eta.
    record_every : steps between evaluations of the running maximum of RD.
    keep_neurons : keep up to this many neurons' (orientation, amplitude), initial and final
        (one int for every row, or one per row).
    device, dtype : torch device (TF32 disabled on CUDA) and dtype (default float64 on CPU,
        float32 on CUDA).
    kernel : "auto", "numba" or "torch".  "numba" (what "auto" takes for float64 on CPU) trains
        the rows one after another in a compiled loop that makes one pass over the neurons per
        step (gradient, saved copy, update and the next forward pass fused), so a step moves
        ~9 numbers per neuron through memory; "torch" (any device) trains all rows at once in
        stacked (rows, neurons, samples) tensors.  Both follow the same rules per row (eta,
        rejections and RD records of one row never depend on the others), and agree to rounding.

    Returns
    -------
    list of :class:`TwoLayerRun`, one per row, in input order.
    """
    kap = np.asarray(kappa, dtype=float).reshape(-1)
    kpp = np.asarray(kappa_prime, dtype=float).reshape(-1)
    B = kap.size
    if B == 0:
        raise InputError("kappa is empty")
    if kpp.size != B or len(widths) != B or len(seeds) != B:
        raise InputError("kappa, kappa_prime, widths and seeds must have the same length")
    if not (np.all(np.isfinite(kap)) and np.all(kap > 0) and np.all(np.isfinite(kpp)) and np.all(kpp > 0)):
        raise InputError("kappa and kappa_prime must be finite and > 0")
    widths = [_check_int(m, "widths") for m in widths]
    keep = [int(keep_neurons)] * B if np.ndim(keep_neurons) == 0 else [int(v) for v in keep_neurons]
    if len(keep) != B:
        raise InputError("keep_neurons must be an int or one int per row")
    tol = check_positive(tol, "tol")
    step_factor = check_positive(step_factor, "step_factor")
    max_steps = _check_int(max_steps, "max_steps", minimum=0)
    eta_every = _check_int(eta_every, "eta_every")
    record_every = _check_int(record_every, "record_every")
    if kernel not in ("auto", "numba", "torch"):
        raise InputError(f"kernel must be 'auto', 'numba' or 'torch', got {kernel!r}")
    dev, dt = _device_dtype(device, dtype)
    if kernel == "auto":
        kernel = "numba" if dev.type == "cpu" and dt == torch.float64 and not numba.config.DISABLE_JIT else "torch"
    if kernel == "numba" and (dev.type != "cpu" or dt != torch.float64):
        raise InputError("kernel 'numba' runs on the CPU in float64")
    t0 = time.perf_counter()
    if kernel == "numba":
        Xn = np.ascontiguousarray(data.augmented())
        yn = np.ascontiguousarray(data.y, dtype=float)
        codes = ("converged", "max_steps", "step_size_underflow")
        status, steps, final_loss, rd, rd_max, rd_a = [], [], [], [], [], []
        a_np, w_np, a0_np, w0_np = [], [], [], []
        for r, (m, s) in enumerate(zip(widths, seeds)):
            za, zw = initial_draws(m, data.in_dim, s)
            a = np.concatenate([za, -za]) if asi else za.copy()
            w = np.ascontiguousarray(np.concatenate([zw, zw]).T if asi else zw.T)  # (D, N)
            code, st, fl, rmax = _gd_run(Xn, yn, a, w, np.ascontiguousarray(zw.T), float(kap[r]), float(kpp[r]),
                                         tol, max_steps, step_factor, eta_every, record_every)
            w = w.T
            rdw = float(np.linalg.norm(w[:m] - zw) / np.linalg.norm(zw))
            status.append(codes[code])
            steps.append(st)
            final_loss.append(fl)
            rd.append(rdw)
            rd_max.append(max(rmax, rdw))
            rd_a.append(float(np.linalg.norm(a[:m] - za) / np.linalg.norm(za)))
            a_np.append(a[:m])
            w_np.append(w[:m])
            a0_np.append(za)
            w0_np.append(zw)
            if progress is not None:
                progress(int(st), B - r - 1)
        return _runs(kap, kpp, widths, seeds, keep, status, steps, final_loss, rd, rd_max, rd_a,
                     a_np, w_np, a0_np, w0_np, time.perf_counter() - t0)

    Xt = torch.as_tensor(data.augmented(), dtype=dt, device=dev)  # (n, D)
    y = torch.as_tensor(data.y, dtype=dt, device=dev)
    n, D = Xt.shape
    M = max(widths)
    N = 2 * M if asi else M
    a = torch.zeros(B, N, dtype=dt, device=dev)
    w = torch.zeros(B, N, D, dtype=dt, device=dev)
    for r, (m, s) in enumerate(zip(widths, seeds)):
        za, zw = initial_draws(m, data.in_dim, s)
        a[r, :m] = torch.as_tensor(za, dtype=dt)
        w[r, :m] = torch.as_tensor(zw, dtype=dt)
        if asi:
            a[r, M:M + m] = -a[r, :m]
            w[r, M:M + m] = w[r, :m]
    a0, w0 = a[:, :M].clone(), w[:, :M].clone()
    w0_norm = w0.flatten(1).norm(dim=1)
    a0_norm = a0.norm(dim=1)
    k = torch.as_tensor(kap, dtype=dt, device=dev)
    kp = torch.as_tensor(kpp, dtype=dt, device=dev)
    gram_x = Xt @ Xt.T  # (n, n)

    XtT = Xt.T.contiguous()

    def forward(a, w):
        pre = torch.matmul(w, XtT)  # (B, N, n)
        act = torch.relu(pre)
        f = k[:, None] * torch.bmm(a[:, None, :], act)[:, 0, :]
        e = f - y
        return pre, act, e, 0.5 * (e * e).mean(1)

    def step_size(a, G, act, c):
        mask = (act > 0).to(dt)
        Ka = torch.matmul(act.transpose(1, 2), act)
        Kw = torch.matmul((mask * (a * a)[:, :, None]).transpose(1, 2), mask) * gram_x
        K = (k * k)[:, None, None] / n * (Ka / kp[:, None, None] + Kw * kp[:, None, None])
        lam_gn = torch.linalg.eigvalsh(K)[:, -1]
        lam_res = k * G.norm(dim=2).amax(1)
        return c / (lam_gn + lam_res)

    c = torch.full((B,), step_factor, dtype=dt, device=dev)
    active = torch.ones(B, dtype=torch.bool, device=dev)
    status = ["running"] * B
    steps = np.zeros(B, dtype=np.int64)
    rd_max = torch.zeros(B, dtype=dt, device=dev)
    prev_a, prev_w = a.clone(), w.clone()
    prev_loss = torch.full((B,), float("inf"), dtype=dt, device=dev)
    eta = torch.zeros(B, dtype=dt, device=dev)
    final_loss = torch.zeros(B, dtype=dt, device=dev)
    it = 0
    since_eta = torch.full((B,), eta_every, dtype=torch.long, device=dev)  # per row: compute on the first step
    while True:
        pre, act, e, loss = forward(a, w)
        bad = active & ~(loss <= prev_loss)  # a rise (or NaN): undo that run's last step, halve c
        if bool(bad.any()):
            a = torch.where(bad[:, None], prev_a, a)
            w = torch.where(bad[:, None, None], prev_w, w)
            c = torch.where(bad, c / 2, c)
            steps[bad.cpu().numpy()] -= 1
            pre, act, e, loss = forward(a, w)
            since_eta = torch.where(bad, eta_every, since_eta)
        final_loss = torch.where(active, loss, final_loss)
        failed = active & (c < step_factor * 2.0 ** -40)
        if bool(failed.any()):
            for r in torch.nonzero(failed).flatten().tolist():
                status[r] = "step_size_underflow"
            active = active & ~failed
        conv = active & (loss < tol)
        if bool(conv.any()):
            for r in torch.nonzero(conv).flatten().tolist():
                status[r] = "converged"
            active = active & ~conv
        over = active & torch.as_tensor(steps >= max_steps, device=dev)
        if bool(over.any()):
            for r in torch.nonzero(over).flatten().tolist():
                status[r] = "max_steps"
            active = active & ~over
        if not bool(active.any()):
            break
        if it % record_every == 0:
            rd = (w[:, :M] - w0).flatten(1).norm(dim=1) / w0_norm
            rd_max = torch.where(active, torch.maximum(rd_max, rd), rd_max)
        # G_k = (1/n) sum_i e_i 1[w_k.x_i > 0] x~_i, built in place to spare large temporaries
        G = torch.matmul(pre.gt_(0).to(dt).mul_(e[:, None, :]), Xt).div_(n)  # (B, N, D); pre is consumed
        need = since_eta >= eta_every  # per row, so a row's eta never depends on the others
        if bool(need.any()):
            eta = torch.where(need, step_size(a, G, act, c), eta)
            since_eta = torch.where(need, 0, since_eta)
        since_eta += 1
        ga = torch.bmm(act, e[:, :, None])[:, :, 0].mul_((k / n)[:, None])
        prev_a.copy_(a)
        prev_w.copy_(w)
        prev_loss = torch.where(active, loss, prev_loss)
        ea = torch.where(active, eta / kp, torch.zeros_like(eta))
        ew = torch.where(active, eta * kp, torch.zeros_like(eta))
        w.sub_(G.mul_((ew * k)[:, None, None]).mul_(a[:, :, None]))  # uses a before its update
        a.sub_(ga.mul_(ea[:, None]))
        steps[active.cpu().numpy()] += 1
        it += 1
        if progress is not None and it % 500 == 0:
            progress(it, int(active.sum()))

    rd = (w[:, :M] - w0).flatten(1).norm(dim=1) / w0_norm
    rd_max = torch.maximum(rd_max, rd)
    rd_a = (a[:, :M] - a0).norm(dim=1) / a0_norm
    a_np, w_np, a0_np, w0_np = (t.cpu().numpy() for t in (a[:, :M], w[:, :M], a0, w0))
    return _runs(kap, kpp, widths, seeds, keep, status, steps, final_loss.cpu().numpy(), rd.cpu().numpy(),
                 rd_max.cpu().numpy(), rd_a.cpu().numpy(), a_np, w_np, a0_np, w0_np, time.perf_counter() - t0)


def _runs(kap, kpp, widths, seeds, keep, status, steps, final_loss, rd, rd_max, rd_a,
          a_np, w_np, a0_np, w0_np, seconds) -> list[TwoLayerRun]:
    """One :class:`TwoLayerRun` per row from the final state (first copy of the neurons)."""
    out = []
    for r in range(len(widths)):
        m = widths[r]
        mi = condensation_metrics(a0_np[r][:m], w0_np[r][:m])
        mf = condensation_metrics(a_np[r][:m], w_np[r][:m])
        neurons = None
        if keep[r] > 0:
            idx = np.arange(m) if m <= keep[r] else np.sort(
                np.random.default_rng(0).choice(m, keep[r], replace=False))
            o0, A0 = angle_amplitude(a0_np[r][idx], w0_np[r][idx])
            o1, A1 = angle_amplitude(a_np[r][idx], w_np[r][idx])
            neurons = dict(orientation_init=o0, amplitude_init=A0, orientation_final=o1, amplitude_final=A1)
        out.append(TwoLayerRun(
            kappa=float(kap[r]), kappa_prime=float(kpp[r]), width=m, seed=int(seeds[r]),
            rd_w=float(rd[r]), rd_w_max=float(rd_max[r]), rd_a=float(rd_a[r]), final_loss=float(final_loss[r]),
            steps=int(steps[r]), converged=status[r] == "converged", status=status[r], seconds=seconds,
            metrics_init=mi, metrics_final=mf, neurons=neurons))
    return out


def train_plain(
    data: TwoLayerData,
    alpha: float,
    beta1: float,
    beta2: float,
    width: int,
    seed: int,
    *,
    asi: bool = True,
    tol: float = 5e-7,
    max_steps: int = 200_000,
    step_factor: float = 0.5,
    eta_every: int = 10,
    dtype=torch.float64,
    raise_on_failure: bool = False,
) -> dict:
    """Plain GD on (a, w) of f = (1/alpha) sum a_k ReLU(w_k . x~), a = beta1 z_a, w = beta2 z_w (autograd).

    The independent reference for :func:`train_normalised`: gradients by autograd, the
    Gauss-Newton Gram from the autograd Jacobian (torch.func), the step-size rule of
    :func:`train_normalised` evaluated in the original (unit-mobility) coordinates, where it
    gives eta = beta1 beta2 eta-bar.  One run, small widths.

    Returns dict(rd_w, rd_a, final_loss, steps, converged, a, w) (first copy only for a, w).
    """
    from torch.func import jacrev

    alpha = check_positive(alpha, "alpha")
    beta1 = check_positive(beta1, "beta1")
    beta2 = check_positive(beta2, "beta2")
    width = _check_int(width, "width")
    za, zw = initial_draws(width, data.in_dim, seed)
    Xt = torch.as_tensor(data.augmented(), dtype=dtype)
    y = torch.as_tensor(data.y, dtype=dtype)
    n = Xt.shape[0]
    a = torch.as_tensor(beta1 * za, dtype=dtype)
    w = torch.as_tensor(beta2 * zw, dtype=dtype)
    if asi:
        a, w = torch.cat([a, -a]), torch.cat([w, w])
    a0, w0 = a[:width].clone(), w[:width].clone()

    def f(a, w):
        return torch.relu(w @ Xt.T).T @ a / alpha

    def loss_fn(a, w):
        return 0.5 * ((f(a, w) - y) ** 2).mean()

    c = step_factor
    prev = None
    prev_loss = float("inf")
    steps, since = 0, eta_every
    eta = 0.0
    status = "running"
    while True:
        a.requires_grad_(True)
        w.requires_grad_(True)
        L = loss_fn(a, w)
        Lv = float(L.detach())
        if not Lv <= prev_loss:
            a, w = prev
            c /= 2
            steps -= 1
            since = eta_every
            if c < step_factor * 2.0 ** -40:
                status = "step_size_underflow"
                break
            continue
        if Lv < tol:
            status = "converged"
            break
        if steps >= max_steps:
            status = "max_steps"
            break
        ga, gw = torch.autograd.grad(L, (a, w))
        a, w = a.detach(), w.detach()
        if since >= eta_every:
            Ja, Jw = jacrev(f, argnums=(0, 1))(a, w)  # (n, N), (n, N, D)
            J = torch.cat([Ja, Jw.flatten(1)], dim=1)
            lam_gn = float(torch.linalg.eigvalsh(J @ J.T / n)[-1])
            e = (f(a, w) - y)
            G = (((w @ Xt.T) > 0).to(dtype) * e[None, :]) @ Xt / n
            lam_res = float(G.norm(dim=1).max()) / alpha
            eta = c / (lam_gn + lam_res)
            since = 0
        since += 1
        prev = (a.clone(), w.clone())
        prev_loss = Lv
        a = a - eta * ga
        w = w - eta * gw
        steps += 1
    a, w = a.detach(), w.detach()
    if raise_on_failure and status != "converged":
        raise NotConvergedError(f"train_plain stopped with status {status} after {steps} steps")
    return dict(rd_w=float((w[:width] - w0).norm() / w0.norm()), rd_a=float((a[:width] - a0).norm() / a0.norm()),
                final_loss=Lv, steps=steps, converged=status == "converged", status=status,
                a=a[:width].numpy(), w=w[:width].numpy())
