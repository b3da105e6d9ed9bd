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

# The compiled kernel keeps the neurons innermost (w is (D, N)) and works on blocks of
# _BLOCK neurons through 1-D slices, so every inner loop is a unit-stride loop over neurons
# that LLVM vectorises.  For D = 2 (scalar inputs with the bias: the default data) the
# pre-activation x~_i . w_j is formed in registers inside those loops; for other D it goes
# through one L1 row ``pre``.  The arithmetic (order of every sum included) is the same in
# both, so the two paths give identical numbers.


@_njit
def _pre_row(X, i, w, j0, L, pre):
    """pre[jj] = x~_i . w_(j0 + jj) for a block of L neurons (the general-D path)."""
    w0 = w[0, j0:j0 + L]
    x0 = X[i, 0]
    for jj in range(L):
        pre[jj] = x0 * w0[jj]
    for d in range(1, X.shape[1]):
        wd = w[d, j0:j0 + L]
        xd = X[i, d]
        for jj in range(L):
            pre[jj] += xd * wd[jj]


@_njit
def _add_block_output(X, a, w, j0, L, pre, lanes):
    """lanes[i, jj] += a_j ReLU(x~_i . w_j) over a block: element-wise, so it vectorises (a
    running sum over jj would not without fastmath); f_i = sum_jj lanes[i, jj] at the end."""
    ab = a[j0:j0 + L]
    two = X.shape[1] == 2
    w0 = w[0, j0:j0 + L]
    w1 = w[-1, j0:j0 + L]
    for i in range(X.shape[0]):
        li = lanes[i]
        if two:
            x0 = X[i, 0]
            x1 = X[i, 1]
            for jj in range(L):
                li[jj] += ab[jj] * max(x0 * w0[jj] + x1 * w1[jj], 0.0)
        else:
            _pre_row(X, i, w, j0, L, pre)
            for jj in range(L):
                li[jj] += ab[jj] * max(pre[jj], 0.0)


@_njit
def _forward_one(X, y, a, w, kappa):
    """f (n,) of one net (w (D, N)) and its loss R_S = (1/2n) sum (f - y)^2."""
    N = a.shape[0]
    lanes = np.zeros((X.shape[0], _BLOCK))
    pre = np.empty(_BLOCK)
    for j0 in range(0, N, _BLOCK):
        _add_block_output(X, a, w, j0, min(_BLOCK, N - j0), pre, lanes)
    f = lanes.sum(axis=1)
    return f, _scale_and_loss(f, y, kappa)


@_njit
def _scale_and_loss(f, y, kappa):
    """f *= kappa in place; returns R_S = (1/2n) sum (f - y)^2."""
    loss = 0.0
    for i in range(f.shape[0]):
        f[i] *= kappa
        loss += (f[i] - y[i]) ** 2
    return 0.5 * loss / f.shape[0]


@_njit
def _grad_block(X, e, w, j0, L, pre, ga, G):
    """Per neuron of a block, without the factors kappa/n: ga_j = sum_i e_i ReLU(x~_i . w_j)
    and G[d, j] = sum_i e_i 1[x~_i . w_j > 0] x~_id (sums in the order i = 0, 1, ...)."""
    n, D = X.shape
    ga[:L] = 0.0
    G[:, :L] = 0.0
    w0 = w[0, j0:j0 + L]
    w1 = w[-1, j0:j0 + L]
    for i in range(n):
        ei = e[i]
        if D == 2:  # pre holds e_i 1[w.x_i > 0]; one accumulator per loop (more would not vectorise)
            x0 = X[i, 0]
            x1 = X[i, 1]
            g0 = G[0]
            g1 = G[1]
            for jj in range(L):
                p = x0 * w0[jj] + x1 * w1[jj]
                em = ei if p > 0.0 else 0.0
                pre[jj] = em
                ga[jj] += em * p
            for jj in range(L):
                g0[jj] += pre[jj] * x0
            for jj in range(L):
                g1[jj] += pre[jj] * x1
        else:
            _pre_row(X, i, w, j0, L, pre)
            for jj in range(L):
                p = pre[jj]
                ga[jj] += (ei if p > 0.0 else 0.0) * p
            for d in range(D):
                gd = G[d]
                xd = X[i, d]
                for jj in range(L):
                    gd[jj] += (ei if pre[jj] > 0.0 else 0.0) * xd


@_njit
def _step_size(X, e, a, w, kappa, kp, c):
    """eta = c / (lambda_GN + lambda_res) of one net: the top eigenvalue of the mobility-weighted
    Gauss-Newton Gram K = (kappa^2/n) [A^T A / kp + kp (M^T diag(a^2) M) * (X~ X~^T)] (A the
    activations, M the masks) plus lambda_res = kappa max_j ||(1/n) sum_i e_i 1[w_j.x_i > 0] x~_i||.
    One pass over the neurons, by blocks, every sum element-wise over the neurons of a block."""
    n, D = X.shape
    N = a.shape[0]
    gram = X @ X.T
    act = np.empty((n, _BLOCK))
    msk = np.empty((n, _BLOCK))
    acc = np.empty(_BLOCK)
    g2 = np.empty(_BLOCK)
    Klanes = np.zeros((n, n, _BLOCK))
    lam_res = 0.0
    for j0 in range(0, N, _BLOCK):
        L = min(_BLOCK, N - j0)
        for i in range(n):
            _pre_row(X, i, w, j0, L, act[i])
            ai = act[i]
            mi = msk[i]
            for jj in range(L):
                mi[jj] = 1.0 if ai[jj] > 0.0 else 0.0
                ai[jj] = max(ai[jj], 0.0)
        g2[:L] = 0.0
        for d in range(D):
            acc[:L] = 0.0
            for i in range(n):
                ei = e[i]
                xd = X[i, d]
                mi = msk[i]
                for jj in range(L):
                    acc[jj] += ei * mi[jj] * xd
            for jj in range(L):
                g2[jj] += (acc[jj] / n) ** 2
        for jj in range(L):
            lam_res = max(lam_res, g2[jj])
        ab = a[j0:j0 + L]
        for i in range(n):
            for i2 in range(i, n):
                gi = gram[i, i2] * kp * kp
                kl = Klanes[i, i2]
                ai, ai2 = act[i], act[i2]
                mi, mi2 = msk[i], msk[i2]
                for jj in range(L):
                    aj = ab[jj]
                    kl[jj] += ai[jj] * ai2[jj] + aj * aj * mi[jj] * mi2[jj] * gi
    K = np.zeros((n, n))
    for i in range(n):
        for i2 in range(i, n):
            K[i, i2] = Klanes[i, i2].sum() / kp
            K[i2, i] = K[i, i2]
    K *= kappa * kappa / n
    return c / (np.linalg.eigvalsh(K)[-1] + kappa * np.sqrt(lam_res))


@_njit
def _sq_dist(w, w0):
    """sum (w[:, :m] - w0)^2 over the first m = w0.shape[1] neurons (w, w0 (D, .))."""
    acc = 0.0
    for d in range(w0.shape[0]):
        for j in range(w0.shape[1]):
            acc += (w[d, j] - w0[d, j]) ** 2
    return acc


@_njit
def _step_pass(X, y, e, a, w, kappa, cw, ca, pre, ga, G, lanes, save_a, save_w):
    """One GD step of one net, in one pass over the neurons by blocks: each block's gradient,
    update and its share of the next forward pass while the block is in cache.  With a
    non-empty ``save_a`` the parameters before the step are written there (and to ``save_w``).
    Returns (f, loss) after the step."""
    N = a.shape[0]
    save = save_a.shape[0] > 0
    lanes[:, :] = 0.0
    for j0 in range(0, N, _BLOCK):
        L = min(_BLOCK, N - j0)
        _grad_block(X, e, w, j0, L, pre, ga, G)
        ab = a[j0:j0 + L]
        for d in range(X.shape[1]):
            wd = w[d, j0:j0 + L]
            gd = G[d]
            if save:
                save_w[d, j0:j0 + L] = wd
            for jj in range(L):
                wd[jj] -= cw * ab[jj] * gd[jj]  # a before its update
        if save:
            save_a[j0:j0 + L] = ab
        for jj in range(L):
            ab[jj] -= ca * ga[jj]
        _add_block_output(X, a, w, j0, L, pre, lanes)
    f = lanes.sum(axis=1)
    return f, _scale_and_loss(f, y, kappa)


_CHECKPOINT = 8  # steps between saved copies of (a, w) for undoing a rejected step (see _gd_run)


@_njit
def _gd_run(X, y, a, w, w0, kappa, kp, tol, max_steps, step_factor, eta_every, record_every, checkpoint_every):
    """Mobility-weighted GD of one normalised net, in place on a (N,), w (D, N) (neurons innermost).

    The rules of :func:`train_normalised` for one row: eta = c / (lambda_GN + lambda_res)
    every ``eta_every`` steps, a rise of the loss undoes the step and halves c, stop at
    R_S < tol, ``max_steps`` or c < step_factor 2^-40; RD of the first m = w0.shape[1]
    neurons recorded every ``record_every`` iterations.  Each step is one pass over the
    neurons (:func:`_step_pass`).  Undoing without a copy per step: every
    ``checkpoint_every`` steps the pass also saves the parameters it is about to update, the
    step sizes since then are kept, and a rejected step is undone by going back to that copy
    and replaying the accepted steps after it (the same operations, so the same numbers).
    Returns (status 0 converged / 1 max_steps / 2 step_size_underflow, steps, loss, rd_max,
    rejected steps).
    """
    n, D = X.shape
    ck_a = np.empty_like(a)  # the parameters before the step etas[0], saved by the first pass
    ck_w = np.empty_like(w)
    etas = np.empty(checkpoint_every)
    n_hist = checkpoint_every
    no_a = np.empty(0)
    no_w = np.empty((D, 0))
    w0n = np.sqrt((w0 * w0).sum())
    f, loss = _forward_one(X, y, a, w, kappa)
    prev_loss = np.inf
    c = step_factor
    steps = 0
    rejected = 0
    it = 0
    since = eta_every
    rd_max = 0.0
    eta = 0.0
    e = np.zeros(n)
    pre = np.empty(_BLOCK)
    G = np.empty((D, _BLOCK))
    ga = np.empty(_BLOCK)
    lanes = np.empty((n, _BLOCK))
    while True:
        if not loss <= prev_loss:  # a rise (or NaN): undo the last step, halve c
            a[:] = ck_a
            w[:, :] = ck_w
            n_hist -= 1
            f, loss = _forward_one(X, y, a, w, kappa)
            for h in range(n_hist):
                for i in range(n):
                    e[i] = f[i] - y[i]
                f, loss = _step_pass(X, y, e, a, w, kappa, etas[h] * kp * kappa / n, etas[h] / kp * kappa / n,
                                     pre, ga, G, lanes, no_a, no_w)
            c /= 2
            steps -= 1
            rejected += 1
            since = eta_every
        if c < step_factor * 2.0 ** -40:
            return 2, steps, loss, rd_max, rejected
        if loss < tol:
            return 0, steps, loss, rd_max, rejected
        if steps >= max_steps:
            return 1, steps, loss, rd_max, rejected
        if it % record_every == 0:
            rd_max = max(rd_max, np.sqrt(_sq_dist(w, w0)) / w0n)
        for i in range(n):
            e[i] = f[i] - y[i]
        if since >= eta_every:
            eta = _step_size(X, e, a, w, kappa, kp, c)
            since = 0
        since += 1
        prev_loss = loss
        cw = eta * kp * kappa / n
        ca = eta / kp * kappa / n
        if n_hist == checkpoint_every:  # a new checkpoint: this pass saves what it updates
            f, loss = _step_pass(X, y, e, a, w, kappa, cw, ca, pre, ga, G, lanes, ck_a, ck_w)
            n_hist = 0
        else:
            f, loss = _step_pass(X, y, e, a, w, kappa, cw, ca, pre, ga, G, lanes, no_a, no_w)
        etas[n_hist] = eta
        n_hist += 1
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
        step (gradient, update and the next forward pass fused, by blocks of neurons held in
        cache, every inner loop vectorised over the neurons), so a step reads and writes the 2 + D
        numbers of each neuron once; a rejected step is undone from a copy saved every 8 steps by
        replaying the accepted steps since (bit-identical to a copy per step, at an eighth of
        its cost); "torch" (any device) trains all rows at once in stacked (rows, neurons,
        samples) tensors, copying the parameters every step.  Both follow the same rules per row
        (eta, rejections and RD records of one row never depend on the others), and agree to
        rounding.

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
            w0 = np.ascontiguousarray(zw.T)
            w = np.concatenate([w0, w0], axis=1) if asi else w0.copy()  # (D, N): neurons innermost
            code, st, fl, rmax, _ = _gd_run(Xn, yn, a, w, w0, float(kap[r]), float(kpp[r]), tol, max_steps,
                                            step_factor, eta_every, record_every, _CHECKPOINT)
            # norms by the compiled loop: BLAS dot wakes its thread pool, which costs ms on a busy machine
            rdw = float(np.sqrt(_sq_dist(w, w0) / _sq_dist(w0, 0 * w0)))
            w = w.T
            status.append(codes[code])
            steps.append(st)
            final_loss.append(fl)
            rd.append(rdw)
            rd_max.append(max(rmax, rdw))
            rd_a.append(float(np.sqrt(_sq_dist(a[None, :], za[None, :]) / _sq_dist(za[None, :], 0 * za[None, :]))))
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
