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

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from l2phase.theory.checks import NotConvergedError, check_positive

__all__ = [
    "TWO_LAYER_DATASETS",
    "TwoLayerData",
    "TwoLayerRun",
    "angle_amplitude",
    "condensation_metrics",
    "cosine_similarity_matrix",
    "effective_orientations",
    "initial_draws",
    "train_normalised",
    "train_plain",
    "two_layer_dataset",
]

#: Names accepted by :func:`two_layer_dataset` (``mnist`` needs a local path: ``mnist:PATH``).
TWO_LAYER_DATASETS = ("quadratic4", "quadratic1d", "sin1d", "teacher2d", "digits", "mnist")


# ------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class TwoLayerData:
    """A regression set for the two-layer experiments: X (n, d) and scalar targets y (n,)."""

    X: np.ndarray
    y: np.ndarray
    name: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        X = np.asarray(self.X, dtype=float)
        y = np.asarray(self.y, dtype=float).reshape(-1)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(f"X must be a non-empty (n, d) array, got shape {np.shape(self.X)}")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {y.shape[0]} values but X has {X.shape[0]} rows")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
            raise ValueError("X and y must be finite")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def in_dim(self) -> int:
        return self.X.shape[1]

    def augmented(self) -> np.ndarray:
        """x~ = (x, 1): the bias is the last input weight (paper p.2)."""
        return np.hstack([self.X, np.ones((self.n_samples, 1))])


def two_layer_dataset(name: str = "quadratic4", *, n_samples: int | None = None, seed: int = 0,
                      path: str | Path | None = None) -> TwoLayerData:
    """Small data sets for the phase-diagram experiments.

    * ``quadratic4`` - the paper's problem: x = linspace(-1/2, 1/2, 4), y = x^2;
    * ``quadratic1d`` - the same target on ``n_samples`` (default 16) equispaced points;
    * ``sin1d`` - y = sin(2 pi x) / 2 on ``n_samples`` (default 16) points of [-1/2, 1/2];
    * ``teacher2d`` - ``n_samples`` (default 20) seeded uniform points of [-1/2, 1/2]^2, y from a
      fixed 3-neuron ReLU teacher;
    * ``digits`` - ``n_samples`` (default 200) of scikit-learn's 8x8 digits, x = pixels/16 in
      [0, 1]^64, y = label/9 (a scalar label, as the paper's MNIST experiment);
    * ``mnist`` - ``n_samples`` (default 200) MNIST training images from the local file or
      directory ``path`` (see :func:`empirical.data.load_mnist`), x = pixels/255, y = label/9.
      The paper's code used the first 45 images.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {name!r}")
    if n_samples is not None and (isinstance(n_samples, bool) or int(n_samples) != n_samples or n_samples < 1):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    if name == "quadratic4":
        x = np.linspace(-0.5, 0.5, 4)
        return TwoLayerData(x[:, None], x ** 2, name, dict(target="x^2", n=4))
    if name in ("quadratic1d", "sin1d"):
        n = int(n_samples or 16)
        x = np.linspace(-0.5, 0.5, n)
        y = x ** 2 if name == "quadratic1d" else np.sin(2 * np.pi * x) / 2
        return TwoLayerData(x[:, None], y, name, dict(n=n))
    if name == "teacher2d":
        n = int(n_samples or 20)
        X = rng.uniform(-0.5, 0.5, size=(n, 2))
        W = np.array([[1.0, 0.5, 0.1], [-0.7, 1.0, 0.2], [0.3, -1.0, -0.1]])
        a = np.array([1.0, -0.8, 0.6])
        y = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0) @ a
        return TwoLayerData(X, y, name, dict(n=n, seed=int(seed)))
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        n = int(n_samples or 200)
        if n > d.data.shape[0]:
            raise ValueError(f"n_samples must be <= {d.data.shape[0]} for digits, got {n}")
        idx = np.sort(rng.choice(d.data.shape[0], n, replace=False))
        return TwoLayerData(d.data[idx] / 16.0, d.target[idx] / 9.0, name, dict(n=n, seed=int(seed), y="label/9"))
    if name == "mnist":
        if path is None:
            raise ValueError("the mnist data set needs a local path (data 'mnist:PATH')")
        from .data import load_mnist

        n = int(n_samples or 200)
        ds = load_mnist(path, n_samples=n, seed=seed, center_targets=False)
        # load_mnist centres pixels; the paper's inputs are raw pixels / 255 in [0, 1]
        X = ds.X + 0.0
        X = X - X.min(0)
        return TwoLayerData(X, ds.labels / 9.0, name, dict(n=n, seed=int(seed), y="label/9", source=str(path)))
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(TWO_LAYER_DATASETS)}")


# ------------------------------------------------------------------------------ draws
def initial_draws(width: int, in_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal draws (z_a (m,), z_w (m, d+1)) of one run; a = beta1 z_a, w = beta2 z_w.

    Seeded by (seed, m) only, so every (gamma_energy, gamma_dynamic) at the same width and
    seed starts from the same draws (common random numbers across the diagram).
    """
    width = _check_int(width, "width")
    in_dim = _check_int(in_dim, "in_dim")
    rng = np.random.default_rng([int(seed), width])
    za = rng.standard_normal(width)
    zw = rng.standard_normal((width, in_dim + 1))
    return za, zw


def _check_int(v, name, minimum=1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or int(v) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


# ------------------------------------------------------------------------- result row
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


# ------------------------------------------------------------------------ condensation
def angle_amplitude(a: np.ndarray, w: np.ndarray, reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron orientation and amplitude A_k = |a_k| ||(w_k, b_k)||.

    Orientation: for 1-D inputs (w has 2 columns: w, b) the angle atan2(b, w) in [-pi, pi]
    (paper p.7, authors' code); in higher dimension the projection w_hat . p on the unit
    reference direction p (default the all-ones unit vector of R^(d+1), as the authors' MNIST code).
    """
    a = np.asarray(a, dtype=float).reshape(-1)
    w = np.asarray(w, dtype=float)
    if w.ndim != 2 or w.shape[0] != a.shape[0]:
        raise ValueError(f"w must be (m, d+1) with m = len(a) = {a.shape[0]}, got {w.shape}")
    norm = np.linalg.norm(w, axis=1)
    amp = np.abs(a) * norm
    if w.shape[1] == 2 and reference is None:
        return np.arctan2(w[:, 1], w[:, 0]), amp
    p = np.ones(w.shape[1]) if reference is None else np.asarray(reference, dtype=float).reshape(-1)
    if p.shape[0] != w.shape[1]:
        raise ValueError(f"reference must have length {w.shape[1]}, got {p.shape[0]}")
    p = p / np.linalg.norm(p)
    return (w @ p) / np.where(norm > 0, norm, 1.0), amp


def effective_orientations(orientation: np.ndarray, amplitude: np.ndarray, *, bins: int = 90,
                           value_range: tuple[float, float] = (-math.pi, math.pi)) -> tuple[float, float]:
    """(N_eff, top-4 mass) of the amplitude-weighted orientation histogram.

    Weights p_k = A_k / sum A, ``bins`` bins over ``value_range``; N_eff = exp(entropy) of the
    bin masses (90 for a uniform spread, 1 for a single orientation); top-4 mass = the mass
    of the 4 heaviest bins.
    """
    amp = np.asarray(amplitude, dtype=float)
    tot = amp.sum()
    if not tot > 0:
        return float("nan"), float("nan")
    h, _ = np.histogram(orientation, bins=bins, range=value_range, weights=amp / tot)
    p = h[h > 0]
    return float(np.exp(-(p * np.log(p)).sum())), float(np.sort(h)[-4:].sum())


def _effective_rank(w: np.ndarray, amp: np.ndarray) -> float:
    # exp(entropy) of the eigenvalues of sum_k p_k w_hat_k w_hat_k^T: ~(d+1) diffuse, 1 condensed on one line
    norm = np.linalg.norm(w, axis=1)
    keep = norm > 0
    if not keep.any() or not amp[keep].sum() > 0:
        return float("nan")
    u = w[keep] / norm[keep, None]
    p = amp[keep] / amp[keep].sum()
    lam = np.clip(np.linalg.eigvalsh((u * p[:, None]).T @ u), 0, None)
    lam = lam[lam > 1e-15] / lam.sum()
    return float(np.exp(-(lam * np.log(lam)).sum()))


def condensation_metrics(a: np.ndarray, w: np.ndarray, *, bins: int = 90) -> dict:
    """Condensation of the neurons (a_k, w_k): ``neff`` and ``top4`` of :func:`effective_orientations`
    (angle for 1-D inputs, projection on the all-ones direction over [-1, 1] otherwise) and ``erank``,
    the effective rank (exp entropy of eigenvalues) of the amplitude-weighted second moment of the
    unit input weights."""
    orient, amp = angle_amplitude(a, w)
    rng = (-math.pi, math.pi) if np.asarray(w).shape[1] == 2 else (-1.0, 1.0)
    neff, top4 = effective_orientations(orient, amp, bins=bins, value_range=rng)
    return dict(neff=neff, top4=top4, erank=_effective_rank(np.asarray(w, dtype=float), amp))


def cosine_similarity_matrix(w: np.ndarray, *, max_neurons: int = 400, amplitude: np.ndarray | None = None,
                             seed: int = 0) -> np.ndarray:
    """Cosine similarity D(u, v) = u_hat . v_hat of input weights (bias included), rows sorted by
    the leading eigenvector (Zhou et al. 2022).  At most ``max_neurons`` neurons: the largest
    amplitudes if ``amplitude`` is given, else a seeded random subset."""
    w = np.asarray(w, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"w must be (m, d+1), got {w.shape}")
    if w.shape[0] > max_neurons:
        if amplitude is not None:
            idx = np.argsort(np.asarray(amplitude))[-max_neurons:]
        else:
            idx = np.random.default_rng(seed).choice(w.shape[0], max_neurons, replace=False)
        w = w[idx]
    u = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-300)
    D = u @ u.T
    _, vec = np.linalg.eigh(D)
    order = np.argsort(vec[:, -1])
    return D[np.ix_(order, order)]


# --------------------------------------------------------------------- the trainer
def _device_dtype(device, dtype):
    dev = torch.device(device or "cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device cuda requested but CUDA is not available")
        # RD ~ 1e-3 at the linear end needs true fp32/fp64 matmuls (TF32 has ~1e-3 relative error)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if dtype is None:
        dtype = torch.float64 if dev.type == "cpu" else torch.float32
    return dev, dtype


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

    Returns
    -------
    list of :class:`TwoLayerRun`, one per row, in input order.
    """
    kap = np.asarray(kappa, dtype=float).reshape(-1)
    kpp = np.asarray(kappa_prime, dtype=float).reshape(-1)
    B = kap.size
    if B == 0:
        raise ValueError("kappa is empty")
    if kpp.size != B or len(widths) != B or len(seeds) != B:
        raise ValueError("kappa, kappa_prime, widths and seeds must have the same length")
    if not (np.all(np.isfinite(kap)) and np.all(kap > 0) and np.all(np.isfinite(kpp)) and np.all(kpp > 0)):
        raise ValueError("kappa and kappa_prime must be finite and > 0")
    widths = [_check_int(m, "widths") for m in widths]
    keep = [int(keep_neurons)] * B if np.ndim(keep_neurons) == 0 else [int(v) for v in keep_neurons]
    if len(keep) != B:
        raise ValueError("keep_neurons must be an int or one int per row")
    tol = check_positive(tol, "tol")
    step_factor = check_positive(step_factor, "step_factor")
    max_steps = _check_int(max_steps, "max_steps", minimum=0)
    eta_every = _check_int(eta_every, "eta_every")
    record_every = _check_int(record_every, "record_every")
    dev, dt = _device_dtype(device, dtype)
    t0 = time.perf_counter()

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
    since_eta = eta_every  # force a computation on the first step
    while True:
        pre, act, e, loss = forward(a, w)
        bad = active & ~(loss <= prev_loss)  # a rise (or NaN): undo that run's last step, halve c
        if bool(bad.any()):
            a = torch.where(bad[:, None], prev_a, a)
            w = torch.where(bad[:, None, None], prev_w, w)
            c = torch.where(bad, c / 2, c)
            steps[bad.cpu().numpy()] -= 1
            pre, act, e, loss = forward(a, w)
            since_eta = eta_every
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
        if since_eta >= eta_every:
            eta = step_size(a, G, act, c)
            since_eta = 0
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
    seconds = time.perf_counter() - t0
    out = []
    a_np, w_np, a0_np, w0_np = (t.cpu().numpy() for t in (a[:, :M], w[:, :M], a0, w0))
    for r in range(B):
        m = widths[r]
        mi = condensation_metrics(a0_np[r, :m], w0_np[r, :m])
        mf = condensation_metrics(a_np[r, :m], w_np[r, :m])
        neurons = None
        if keep[r] > 0:
            idx = np.arange(m) if m <= keep[r] else np.sort(
                np.random.default_rng(0).choice(m, keep[r], replace=False))
            o0, A0 = angle_amplitude(a0_np[r, idx], w0_np[r, idx])
            o1, A1 = angle_amplitude(a_np[r, idx], w_np[r, idx])
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
    from torch.func import functional_call, jacrev  # noqa: F401  (jacrev used below)

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
