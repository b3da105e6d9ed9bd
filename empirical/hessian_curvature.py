r"""Ricci scalar curvature of the loss and error landscapes at trained weights.

Two landscapes (docs/theory.md): the **error** E(theta) = mean ||f(x) - y||^2 and the
**loss** L_gamma = E + gamma sum_l ||W_l||_F^2.  Both come from one data Hessian:

.. math:: H_L = H_E + 2\gamma M,\qquad G_L = G_E + 2\gamma M\theta

(M = diagonal 0/1 mask of the penalised weight entries; biases are not penalised).
For other model specs (:mod:`empirical.models`, e.g. a VAE with KL weight beta) the same
code uses H_L = H_E + knob H_P and G_L = G_E + knob G_P of their own penalty P.
With G, H of a landscape and W = 1 + |G|^2, the scalar curvature of its graph is

.. math:: R = \frac{(\operatorname{tr}H)^2 - \operatorname{tr}H^2}{W}
          - \frac{2}{W^2}\left(\operatorname{tr}H\;G^THG - |HG|^2\right)

evaluated by :mod:`numerics` (``ricci_scalar_batched``, ``ricci_scalar_from_moments``).

* :func:`curvature_exact` - full float64 Hessians (all runs at once), one row per double
  backward through one retained gradient graph for a :class:`NetSpec`, rows by vmapped
  double backward in cache-sized blocks for other specs (the loop where ``torch.func``
  cannot go); also the Hessian spectrum
  (min/max eigenvalue, number of negative ones) so minima and saddles are told apart.
* :func:`curvature_matrix_free` - Hessian-vector products only (double backward through
  the same kind of graph, one backward per probe for all runs): tr H and tr H^2 by
  Hutchinson or Hutch++ with standard errors, G^T H G and |H G|^2 exactly with one HVP;
  the standard error of R by the delta method.  :func:`hvp_error` is the independent
  forward-over-reverse version (``torch.func.jvp`` of ``torch.func.grad``, vmapped).
* :func:`hessian_extreme_eigenvalues` - Lanczos (``scipy.sparse.linalg.eigsh`` on a
  LinearOperator of HVPs) for the top and bottom eigenvalues of large models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import grad, jvp, vjp, vmap

from l2phase import numerics

from .models import NetSpec, error, penalty
from l2phase.theory.checks import InputError, InputTypeError, check_int

__all__ = [
    "CurvatureResult",
    "loss_grad_hessian",
    "error_grad_hessian",
    "penalty_grad_hessian",
    "hvp_error",
    "curvature_exact",
    "curvature_matrix_free",
    "hutchinson_moments",
    "hessian_extreme_eigenvalues",
]


#: Memory (bytes) that one vmapped chunk of Hessian-vector products may use on a GPU.
HVP_MEMORY_BUDGET = 2**30


class _GraphHVP:
    """V (B, m, P) -> H V of a per-run scalar ``fn(theta) -> (B,)`` through one retained
    gradient graph (memoised on V).

    ``products="loop"``: one double backward per probe (reverse-over-reverse), each serving
    all B runs (the sum over runs is separable).  ``products="vmap"``: ``torch.func.vmap``
    over the probes of the vjp of the gradient (reverse-over-reverse), chunked so that one
    chunk keeps about ``activation_bytes`` x chunk <= :data:`HVP_MEMORY_BUDGET`.
    ``products="auto"`` takes the loop on CPU and vmap on other devices.  Measured on a
    2-core CPU (``benchmarks/bench_curvature.py``, float64, 32 probes, P = 40 to 84k): the
    loop is 1.4-3x faster than vmap of reverse-over-reverse, than vmap of
    forward-over-reverse (``jvp`` of ``grad``) and than one call on a probe-expanded
    batch, at every size; a GPU gains from fewer kernel launches (not measured).
    """

    def __init__(self, fn, theta, products: str = "auto", activation_bytes: float | None = None):
        if products not in ("auto", "loop", "vmap"):
            raise ValueError(f"products must be 'auto', 'loop' or 'vmap', got {products!r}")
        if products == "auto":
            products = "loop" if theta.device.type == "cpu" else "vmap"
        self.products = products
        self.fn = fn
        self.t = theta.detach().requires_grad_(True)
        with torch.enable_grad():
            F = fn(self.t)
            (self.G,) = torch.autograd.grad(F.sum(), self.t, create_graph=True)
        self.F = F.detach()
        per = float(activation_bytes) if activation_bytes else 8.0 * self.t.numel() * 8
        self.chunk = max(1, int(HVP_MEMORY_BUDGET // max(per, 1.0)))
        self._vjp = None
        self._cache: list = []

    def product(self, v, retain_graph: bool = True):
        """H_b v_b for every run b: v (B, P) -> (B, P), one double backward (H = 0 if affine)."""
        if not self.G.requires_grad:
            return torch.zeros_like(v)
        return torch.autograd.grad(self.G, self.t, grad_outputs=v, retain_graph=retain_graph)[0]

    def _block(self, V):
        if self._vjp is None:
            t0 = self.t.detach()
            _, self._vjp = vjp(grad(lambda t: self.fn(t).sum()), t0)
        return vmap(lambda v: self._vjp(v)[0], in_dims=1, out_dims=1, chunk_size=self.chunk)(V)

    def __call__(self, V):
        for V0, out0 in self._cache:
            if V0.shape == V.shape and torch.equal(V0, V):
                return out0
        if self.products == "vmap" and self.G.requires_grad:
            out = self._block(V)
        else:
            out = torch.empty_like(V)
            for i in range(V.shape[1]):
                out[:, i] = self.product(V[:, i])
        self._cache = (self._cache + [(V.clone(), out)])[-2:]
        return out


def _activation_bytes(spec, B: int, X: torch.Tensor) -> float:
    """Rough memory of one HVP's graph (forward, backward and their tangents) for chunking."""
    if isinstance(spec, NetSpec):
        feats = spec.in_dim + spec.depth * spec.width + spec.out_dim
    else:
        feats = int(getattr(spec, "in_dim", 1)) + int(getattr(spec, "out_dim", 1)) + int(getattr(spec, "width", 1))
    return 4.0 * B * X.shape[0] * feats * X.element_size() + 8.0 * B * spec.n_params * X.element_size()


_ROWS_CACHE: list = []


def _compressed_rows(spec, X: torch.Tensor, Y: torch.Tensor):
    r"""Fewer data rows with the same error landscape, for deep linear nets (mse, no bias).

    Such a net is linear in x, f(x) = M(theta) x, so with the thin QR decomposition X = Q R
    (Q (N, d) orthonormal columns, R (d, d))

    .. math:: E = \frac1N\lVert X M^T - Y\rVert_F^2
              = \frac1N\lVert R M^T - Q^T Y\rVert_F^2 + \frac1N\lVert (I - QQ^T) Y\rVert_F^2

    exactly: E on the d rows X' = sqrt(d/N) R, Y' = sqrt(d/N) Q^T Y (the error's mean over
    d rows then carries the 1/N) plus a constant c.  Gradients and Hessians of E are those
    of E(X', Y'), N/d times cheaper.  Returns (X', Y', c), or None where this does not apply
    or would not pay (N < 2d, or the QR costs more than a few products: d^2 > 64 P).
    Cached for the last data set (sweeps and the Newton polish call this repeatedly).
    """
    if not (isinstance(spec, NetSpec) and spec.activation == "linear" and not spec.bias
            and spec.objective == "mse"):
        return None
    N, d = X.shape
    if N < 2 * d or d * d > 64 * spec.n_params:
        return None
    key = (X.data_ptr(), X._version, tuple(X.shape), X.dtype, X.device,
           Y.data_ptr(), Y._version, tuple(Y.shape), Y.dtype)
    for k, v in _ROWS_CACHE:
        if k == key:
            return v
    Q, R = torch.linalg.qr(X)
    QtY = Q.transpose(0, 1) @ Y
    resid = Y - Q @ QtY
    w = math.sqrt(d / N)
    out = (w * R, w * QtY, float((resid * resid).sum()) / N)
    _ROWS_CACHE[:] = [(key, out)]
    return out


def _error_fn(spec, X: torch.Tensor, Y: torch.Tensor):
    """(fn, compressed): per-run fn(theta) -> (B,) with the gradient and Hessian of the error
    on the fewest rows that give them exactly (fn = E - c when ``compressed``, else E)."""
    rows = _compressed_rows(spec, X, Y)
    if rows is None:
        return (lambda t: error(spec, t, X, Y)), False
    Xc, Yc, _ = rows
    return (lambda t: error(spec, t, Xc, Yc)), True


#: Bytes of saved activations that one vmapped block of exact-Hessian rows may hold on a CPU
#: (8 MiB, about a last-level cache; tuned on the 2-core VM, benchmarks/README.md): see
#: :func:`_grad_hessian`.
HESSIAN_BLOCK_BYTES = 2**23


def _saved_bytes(fn, theta: torch.Tensor) -> int:
    """Bytes autograd saves for the backward of one call ``fn(theta)`` (all runs)."""
    total = [0]

    def pack(t):
        if isinstance(t, torch.Tensor):
            total[0] += t.numel() * t.element_size()
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(theta.detach().requires_grad_(True))
    return total[0]


def _hessian_rows_loop(fn, theta: torch.Tensor):
    hv = _GraphHVP(fn, theta, products="loop")
    B, P = hv.t.shape
    H = torch.zeros(B, P, P, dtype=hv.t.dtype, device=hv.t.device)
    row = torch.zeros(B, P, dtype=hv.t.dtype, device=hv.t.device)
    for j in range(P):
        row[:, j] = 1.0
        H[:, j, :] = hv.product(row, retain_graph=j < P - 1)  # the last row frees the graph
        row[:, j] = 0.0
    return hv.F, hv.G.detach(), H


def _hessian_rows_vmap(fn, theta: torch.Tensor, chunk: int):
    t0 = theta.detach()
    B, P = t0.shape

    def summed(t):
        F = fn(t)
        return F.sum(), F

    G, vjp_fn, F = vjp(grad(summed, has_aux=True), t0, has_aux=True)
    eye = torch.eye(P, dtype=t0.dtype, device=t0.device)
    # row j of every run's Hessian: the vjp of grad(sum_b F_b) with e_j in every run
    H = vmap(lambda e: vjp_fn(e.expand(B, P))[0], out_dims=1, chunk_size=chunk)(eye)
    return F.detach(), G.detach(), H.contiguous()


def _grad_hessian(fn, theta: torch.Tensor, rows: str = "auto"):
    """F, grad F, Hessian of a per-run scalar ``fn(theta) -> (B,)`` for every row of theta.

    The sum over runs is separable, so row j of *every* run's Hessian is the gradient of
    sum_b (grad F(theta_b))_j.  ``rows="loop"``: one double backward per row through one
    retained graph (graph memory of a single row).  ``rows="vmap"``: ``torch.func.vmap`` of
    the vjp of ``grad`` (reverse-over-reverse) over blocks of rows, as many rows per block
    as keep (rows x the bytes one forward of ``fn`` saves for backward) near
    :data:`HESSIAN_BLOCK_BYTES` on a CPU (about a last-level cache), or
    :data:`HVP_MEMORY_BUDGET` elsewhere: fewer, larger kernels than the loop, still about
    cache-resident.  ``rows="auto"`` takes the blocks, the loop where a block would hold
    one row, and the loop for a function ``torch.func`` cannot transform.  Same Hessians to
    rounding (a few ulp; ``tests/test_scan.py``).  On the 2-core VM (float64, P = 44, N = 200)
    the blocks beat the loop by 9-47 % for an ``nn.Module`` through ``functional_call``, and
    are -14 % to +44 % for a :class:`NetSpec`'s hand-written graph, which therefore keeps
    the loop (:func:`error_grad_hessian`; ``benchmarks/README.md``, ``bench_scan.py``).
    """
    if rows not in ("auto", "loop", "vmap"):
        raise ValueError(f"rows must be 'auto', 'loop' or 'vmap', got {rows!r}")
    if rows == "loop":
        return _hessian_rows_loop(fn, theta)
    P = theta.shape[-1]
    budget = HESSIAN_BLOCK_BYTES if theta.device.type == "cpu" else HVP_MEMORY_BUDGET
    try:
        chunk = int(min(P, max(1, budget // max(_saved_bytes(fn, theta), 1))))
        if chunk < 2 and rows == "auto":
            return _hessian_rows_loop(fn, theta)  # one row per block: the loop's retained graph is cheaper
        return _hessian_rows_vmap(fn, theta, chunk)
    except (RuntimeError, NotImplementedError, ValueError, TypeError):
        if rows == "vmap":
            raise
        return _hessian_rows_loop(fn, theta)


def _single_error(spec: NetSpec, X: torch.Tensor, Y: torch.Tensor):
    def f(th):
        return error(spec, th, X, Y)

    return f


def error_grad_hessian(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor):
    """E, grad E and Hessian of E for every row: theta (B, P) -> (B,), (B, P), (B, P, P).

    Deep linear nets (mse, no bias) are differentiated on d compressed rows instead of the
    N samples (exact: see ``_compressed_rows``); E itself is evaluated on the full data.
    A :class:`NetSpec` takes the Hessian rows by the double-backward loop (its hand-written
    feature-major graph makes that as fast as the vmapped blocks, or faster: a whole relu
    sweep was 14 % slower with the blocks), every other spec (e.g. a user's module,
    :class:`~l2phase.empirical.ModuleSpec`) by the blocks (``_grad_hessian``).
    """
    fn, compressed = _error_fn(spec, X, Y)
    rows = "loop" if isinstance(spec, NetSpec) else "auto"
    if not compressed:
        return _grad_hessian(fn, theta, rows)
    _, G, H = _grad_hessian(fn, theta, rows)
    with torch.no_grad():
        E = error(spec, theta.detach(), X, Y)
    return E, G, H


def _l2_mask(spec, theta: torch.Tensor) -> torch.Tensor | None:
    """The 0/1 mask M of a spec whose penalty is theta^T M theta (one that says so with
    ``l2_penalty = True`` and has a ``weight_mask(dtype, device)``: :class:`NetSpec`,
    :class:`~l2phase.empirical.ModuleSpec`), else None."""
    if getattr(spec, "l2_penalty", False) is True:
        return spec.weight_mask(theta.dtype, theta.device)
    return None


def penalty_grad_hessian(spec, theta: torch.Tensor, X: torch.Tensor):
    """The penalty term P (L = E + knob * P), its gradient and Hessian per row.

    L2 penalty of a :class:`NetSpec` or of a spec with ``l2_penalty = True`` (e.g.
    :class:`~l2phase.empirical.ModuleSpec`): P = theta^T M theta, grad 2 M theta, Hessian
    2 M exactly (M the 0/1 mask of penalised entries, ``spec.weight_mask``).  Other specs
    (e.g. a VAE's KL term): by double backward like the error.
    """
    m = _l2_mask(spec, theta)
    if m is not None:
        B = theta.shape[0]
        return (((theta * theta) * m).sum(-1), 2 * m * theta,
                torch.diag_embed((2 * m).expand(B, -1)).contiguous())
    return _grad_hessian(lambda t: penalty(spec, t, X), theta)


def loss_grad_hessian(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, gamma: torch.Tensor):
    """L_gamma, its gradient and Hessian per row (gamma (B,)): H_L = H_E + gamma H_P (= H_E + 2 gamma M for L2)."""
    E, G, H = error_grad_hessian(spec, theta, X, Y)
    Pn, GP, HP = penalty_grad_hessian(spec, theta, X)
    g = gamma[:, None]
    return E + gamma * Pn, G + g * GP, H + g[:, :, None] * HP


def _penalty_hvp(spec, theta: torch.Tensor, X: torch.Tensor):
    """(hv, grad): V (B, m, P) -> H_P V and grad P; exact 2 M V, 2 M theta for the L2 penalty."""
    mask = _l2_mask(spec, theta)
    if mask is not None:
        return (lambda V: 2 * mask * V), 2 * mask * theta
    hv = _GraphHVP(lambda t: penalty(spec, t, X), theta)
    return hv, hv.G.detach()


def hvp_error(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """H_E(theta_b) v for every run b and probe v: theta (B, P), V (B, m, P) -> (B, m, P).

    Forward-over-reverse: jvp of grad E, vmapped over probes then runs; never forms H.
    """
    f = _single_error(spec, X, Y)
    gf = grad(f)

    def one(th, v):
        return jvp(gf, (th,), (v,))[1]

    return vmap(vmap(one, in_dims=(None, 0)), in_dims=(0, 0))(theta, V)


@dataclass
class CurvatureResult:
    """Curvature of the loss (``_L``) and error (``_E``) landscapes, one entry per run.

    ``*_se`` are standard errors (0 for exact values).  Eigenvalues are of H_L (the loss
    Hessian); NaN where not computed.
    """

    R_L: np.ndarray
    R_E: np.ndarray
    R_L_se: np.ndarray
    R_E_se: np.ndarray
    tr_H_L: np.ndarray
    tr_H2_L: np.ndarray
    grad_norm2_L: np.ndarray
    grad_norm2_E: np.ndarray
    hess_min_eig: np.ndarray
    hess_max_eig: np.ndarray
    n_neg_eig: np.ndarray
    method: str = "exact"
    extra: dict = field(default_factory=dict)

    def row(self, i: int) -> dict:
        keys = ("R_L", "R_E", "R_L_se", "R_E_se", "tr_H_L", "tr_H2_L", "grad_norm2_L", "grad_norm2_E",
                "hess_min_eig", "hess_max_eig", "n_neg_eig")
        return {k: float(getattr(self, k)[i]) for k in keys}


def _gamma_tensor(gamma, B, like):
    g = torch.as_tensor(np.asarray(gamma, dtype=float), dtype=like.dtype, device=like.device)
    if g.ndim == 0:
        g = g.expand(B)
    if g.shape != (B,) or not torch.all(torch.isfinite(g)) or torch.any(g < 0):
        raise InputError(f"gamma must be a finite scalar >= 0 or have {B} entries >= 0")
    return g


def _check_theta(spec, theta):
    if not isinstance(theta, torch.Tensor):
        raise InputTypeError("theta must be a torch tensor")
    if theta.ndim == 1:
        theta = theta[None]
    if theta.ndim != 2 or theta.shape[1] != spec.n_params:
        raise InputError(f"theta must be (B, {spec.n_params}) or ({spec.n_params},), got {tuple(theta.shape)}")
    if not torch.all(torch.isfinite(theta)):
        raise InputError("theta contains NaN or inf")
    return theta.detach()


def curvature_exact(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, gamma) -> CurvatureResult:
    """Exact Ricci scalars R_L, R_E and the Hessian spectrum from full float64 Hessians.

    Parameters
    ----------
    theta : (B, P) or (P,) tensor; gamma : scalar or (B,) (L2 strength of each run).

    Cost: B Hessians of size P x P (use for P up to a few thousand).
    """
    theta = _check_theta(spec, theta).to(torch.float64)
    X, Y = X.to(torch.float64), Y.to(torch.float64)
    B = theta.shape[0]
    gam = _gamma_tensor(gamma, B, theta)
    E, GE, HE = error_grad_hessian(spec, theta, X, Y)
    _, GP, HP = penalty_grad_hessian(spec, theta, X)
    GL = GE + gam[:, None] * GP
    HL = HE + gam[:, None, None] * HP
    GE_n, HE_n = GE.cpu().numpy(), HE.cpu().numpy()
    GL_n, HL_n = GL.cpu().numpy(), HL.cpu().numpy()
    R_E = numerics.ricci_scalar_batched(GE_n, HE_n)
    R_L = numerics.ricci_scalar_batched(GL_n, HL_n)
    eig = np.linalg.eigvalsh(0.5 * (HL_n + np.swapaxes(HL_n, 1, 2)))
    scale = np.abs(eig).max(1)
    n_neg = np.sum(eig < -1e-9 * np.maximum(scale, 1e-300)[:, None], axis=1)
    z = np.zeros(B)
    return CurvatureResult(
        R_L=np.asarray(R_L), R_E=np.asarray(R_E), R_L_se=z, R_E_se=z.copy(),
        tr_H_L=np.trace(HL_n, axis1=1, axis2=2), tr_H2_L=np.sum(HL_n * HL_n, axis=(1, 2)),
        grad_norm2_L=np.sum(GL_n**2, 1), grad_norm2_E=np.sum(GE_n**2, 1),
        hess_min_eig=eig[:, 0], hess_max_eig=eig[:, -1], n_neg_eig=n_neg.astype(float), method="exact",
    )


def _probes(B, m, P, gens, dtype, device):
    """Rademacher probes (B, m, P); row b drawn from its own generator (batch-independent)."""
    # drawn in the float dtype directly: the same stream as int64 draws, half the time
    z = torch.stack([torch.randint(0, 2, (m, P), generator=g, dtype=dtype) for g in gens])
    return z.mul_(2).sub_(1).to(device)


def _generators(seed, B):
    seeds = [int(seed)] * B if np.ndim(seed) == 0 else [int(s) for s in seed]
    if len(seeds) != B:
        raise InputError(f"seed must be an int or have one entry per run ({B}), got {len(seeds)}")
    return [torch.Generator().manual_seed(s) for s in seeds]


def hutchinson_moments(hv, B: int, P: int, n_probes: int, *, method: str = "auto", seed=0,
                       dtype=torch.float64, device=None):
    r"""Estimate tr H and tr H^2 of B symmetric operators from products ``hv(V)``.

    Parameters
    ----------
    hv : callable, or a sequence of callables
        (B, m, P) -> (B, m, P), V -> H_b v for each run b and probe v.  Several operators
        are probed with the same probes (and, for Hutch++, the same subspace Q, taken
        from the first operator's sketch; the estimates stay unbiased for any Q), so
        operators that share work (H_L v = H_E v + gamma H_P v) pay for it once.
    n_probes : int
        Number of operator products spent on the estimate (Hutch++ splits it in three:
        a sketch S, H Q for Q = orth(H S), and projected Rademacher probes).
    method : {"auto", "hutchinson", "hutch++"}
        "auto" chooses per run, after the sketch, whichever of the two has the smaller
        predicted variance of tr H for every operator (below); both then cost n_probes.
    seed : int or sequence of B ints
        Probe seeds (one per run makes each run's estimate independent of the batch).

    Returns
    -------
    dict of (B,) arrays (a list of them, one per operator, for a sequence): ``tr``,
    ``tr2`` (estimates), ``tr_se``, ``tr2_se`` (standard errors of the stochastic parts),
    ``cov`` (covariance of the two estimates), ``estimator`` (per run, "hutchinson" or
    "hutch++"), and the per-probe samples ``samples_tr``, ``samples_tr2`` (lists of B
    arrays).

    Hutchinson: E[z^T H z] = tr H and E|H z|^2 = tr H^2 for Rademacher z.  Hutch++
    (Meyer et al. 2021): tr H = tr(Q^T H Q) + tr((I-QQ^T) H (I-QQ^T)) and
    ||H||_F^2 = ||HQ||_F^2 + ||(I-QQ^T) H Q||_F^2 + ||(I-QQ^T) H (I-QQ^T)||_F^2, the
    first terms exact, the last by Hutchinson on projected probes.

    "auto": the s = n/3 sketch probes S are Rademacher, so they are also Hutchinson
    samples.  With H S and H Q known, Hutchinson's variance is predicted as the sample
    variance of z^T H z over S divided by the n - s probes it would use (S and n - 2s new
    ones), Hutch++'s as 2 ||(I-QQ^T) H (I-QQ^T)||_F^2 / (n - 2s) (the Gaussian-probe
    variance, an upper bound for Rademacher probes), with the deflated norm from the
    identity above and ||H||_F^2 estimated by mean |H z|^2 over S.  A flat spectrum
    (random initialisations) keeps Hutchinson, so "auto" never needs many more products
    than plain Hutchinson for the same error (at most n/(n - s) = 1.5 x); a spectrum
    with a few dominant eigenvalues takes Hutch++.  The choice uses S, which the
    Hutchinson estimate reuses; the bias this can cause is far below the standard error
    (the tests hold the estimates to dense traces within their error bars).
    """
    if method not in ("auto", "hutchinson", "hutch++"):
        raise InputError(f"method must be 'auto', 'hutchinson' or 'hutch++', got {method!r}")
    n_probes = check_int(n_probes, "n_probes", 2)
    single = callable(hv)
    hvs = [hv] if single else list(hv)
    if not hvs or not all(callable(h) for h in hvs):
        raise InputTypeError("hv must be a callable or a non-empty sequence of callables")
    gen = _generators(seed, B)
    parts = []  # per operator: (deterministic tr, tr2, per-probe samples of tr, tr2, hutch++ mask)
    if method != "hutchinson" and n_probes >= 6 and n_probes // 3 < P:
        s = n_probes // 3
        r = n_probes - 2 * s
        S = _probes(B, s, P, gen, dtype, device)
        HS = [h(S) for h in (hvs if method == "auto" else hvs[:1])]
        Q, _ = torch.linalg.qr(HS[0].transpose(1, 2))  # (B, P, s)
        Z = _probes(B, r, P, gen, dtype, device)
        Zp = Z - (Z @ Q) @ Q.transpose(1, 2)  # (I - QQ^T) z
        sk = []
        pp = torch.ones(B, dtype=torch.bool, device=Z.device)
        for i, h in enumerate(hvs):
            HQ = h(Q.transpose(1, 2)).transpose(1, 2)  # (B, P, s)
            QtHQ = Q.transpose(1, 2) @ HQ
            resid_HQ = HQ - Q @ QtHQ
            det2 = (HQ * HQ).sum((1, 2)) + (resid_HQ * resid_HQ).sum((1, 2))
            sk.append((torch.diagonal(QtHQ, dim1=1, dim2=2).sum(-1), det2))
            if method == "auto":
                t1S = (S * HS[i]).sum(-1)
                var_hu = t1S.var(1) / (n_probes - s)
                deflated = ((HS[i] * HS[i]).sum(-1).mean(1) - det2).clamp_min(0.0)
                pp &= 2 * deflated / r < var_hu
        Zuse = torch.where(pp[:, None, None], Zp, Z)
        zero = torch.zeros(B, dtype=dtype, device=Z.device)
        for i, h in enumerate(hvs):
            HZ = h(Zuse)
            HZp = HZ - (HZ @ Q) @ Q.transpose(1, 2)
            t1, t2 = (Zp * HZp).sum(-1), (HZp * HZp).sum(-1)
            if method == "auto":  # Hutchinson runs: the sketch probes S and the raw Z
                t1 = [t1[b] if pp[b] else torch.cat([(S[b] * HS[i][b]).sum(-1), (Z[b] * HZ[b]).sum(-1)])
                      for b in range(B)]
                t2 = [t2[b] if pp[b] else torch.cat([(HS[i][b] * HS[i][b]).sum(-1), (HZ[b] * HZ[b]).sum(-1)])
                      for b in range(B)]
            parts.append((torch.where(pp, sk[i][0], zero), torch.where(pp, sk[i][1], zero), t1, t2, pp))
    else:
        Z = _probes(B, n_probes, P, gen, dtype, device)
        zero = torch.zeros(B, dtype=dtype, device=device)
        for h in hvs:
            HZ = h(Z)
            parts.append((zero, zero, (Z * HZ).sum(-1), (HZ * HZ).sum(-1), torch.zeros(B, dtype=torch.bool)))
    out = [_moments(*p) for p in parts]
    return out[0] if single else out


def _moments(base1, base2, t1, t2, pp) -> dict:
    """Estimates, standard errors and covariance from per-probe samples (one row, or one
    array in a list, per run) plus the deterministic parts ``base1``, ``base2``."""
    s1 = [np.asarray(x.detach().cpu().numpy(), dtype=float) for x in t1]
    s2 = [np.asarray(x.detach().cpu().numpy(), dtype=float) for x in t2]
    mean1 = np.array([x.mean() for x in s1])
    mean2 = np.array([x.mean() for x in s2])
    m = np.array([x.size for x in s1], dtype=float)
    var1 = np.array([x.var(ddof=1) for x in s1]) / m
    var2 = np.array([x.var(ddof=1) for x in s2]) / m
    cov = np.array([((x - x.mean()) * (y - y.mean())).sum() for x, y in zip(s1, s2)]) / (m - 1) / m
    return dict(
        tr=base1.cpu().numpy() + mean1, tr2=base2.cpu().numpy() + mean2,
        tr_se=np.sqrt(var1), tr2_se=np.sqrt(var2), cov=cov,
        estimator=np.where(pp.cpu().numpy(), "hutch++", "hutchinson"), samples_tr=s1, samples_tr2=s2,
    )


def _ricci_and_se(tr, tr2, var1, var2, cov, g2, ghg, hg2):
    R = numerics.ricci_scalar_from_moments(tr, tr2, g2, ghg, hg2)
    w = 1.0 + g2
    d1 = 2 * tr / w - 2 * ghg / w**2  # dR / d tr H
    d2 = -1.0 / w  # dR / d tr H^2
    var = d1 * d1 * var1 + d2 * d2 * var2 + 2 * d1 * d2 * cov
    return np.asarray(R, dtype=float), np.sqrt(np.maximum(var, 0.0))


def curvature_matrix_free(
    spec: NetSpec,
    theta: torch.Tensor,
    X: torch.Tensor,
    Y: torch.Tensor,
    gamma,
    n_probes: int = 60,
    *,
    method: str = "auto",
    seed=0,
    products: str = "auto",
) -> CurvatureResult:
    r"""R_L and R_E from Hessian-vector products only, with standard errors.

    tr H_E and tr H_E^2 are estimated (:func:`hutchinson_moments` with ``n_probes``
    products, ``method`` "auto", "hutchinson" or "hutch++"), then shifted exactly to the
    loss landscape: tr H_L = tr H_E + 2 gamma |M| and tr H_L^2 from the probes of
    H_L = H_E + 2 gamma M.  G^T H G and |H G|^2 use one exact HVP with v = G.  Standard
    error of R: delta method with the estimated variances and covariance of (tr H, tr H^2).
    Eigenvalues are not computed here (NaN): use :func:`hessian_extreme_eigenvalues`.

    Products of H_E: one retained gradient graph, ``products`` as in ``_GraphHVP`` ("loop"
    of double backwards, the fastest on CPU; "vmap" blocks, chunked under a memory budget;
    "auto" picks by device).  Deep linear nets (mse, no bias) are differentiated on d
    compressed rows instead of N samples (exact; N/d times fewer flops per product).
    ``result.extra["estimator"]`` says which estimator each run used.
    """
    theta = _check_theta(spec, theta)
    B, P = theta.shape
    gam = _gamma_tensor(gamma, B, theta)

    # One retained gradient graph; every H_E v is one double backward.  Both landscapes are
    # probed with the same probes and the loss landscape reuses the error landscape's
    # products (H_L v = H_E v + gamma H_P v, H_P = 2 M for L2; _GraphHVP memoises), so
    # Hutchinson and Hutch++ cost n_probes + 2 HVPs of H_E for both.
    fn_E, _ = _error_fn(spec, X, Y)
    hv_E = _GraphHVP(fn_E, theta, products, _activation_bytes(spec, B, X))
    hv_P, GP = _penalty_hvp(spec, theta, X)

    def hv_L(V):
        return hv_E(V) + gam[:, None, None] * hv_P(V)

    GE = hv_E.G.detach()
    GL = GE + gam[:, None] * GP
    moments = hutchinson_moments([hv_E, hv_L], B, P, n_probes, method=method, seed=seed,
                                 dtype=theta.dtype, device=theta.device)
    out = {}
    for name, hv, G, mom in (("E", hv_E, GE, moments[0]), ("L", hv_L, GL, moments[1])):
        HG = hv(G[:, None, :])[:, 0, :]
        g2 = (G * G).sum(-1).cpu().numpy()
        ghg = (G * HG).sum(-1).cpu().numpy()
        hg2 = (HG * HG).sum(-1).cpu().numpy()
        R, se = _ricci_and_se(mom["tr"], mom["tr2"], mom["tr_se"] ** 2, mom["tr2_se"] ** 2, mom["cov"], g2, ghg, hg2)
        out[name] = (R, se, mom, g2)
    nan = np.full(B, np.nan)
    return CurvatureResult(
        R_L=out["L"][0], R_E=out["E"][0], R_L_se=out["L"][1], R_E_se=out["E"][1],
        tr_H_L=out["L"][2]["tr"], tr_H2_L=out["L"][2]["tr2"], grad_norm2_L=out["L"][3], grad_norm2_E=out["E"][3],
        hess_min_eig=nan, hess_max_eig=nan.copy(), n_neg_eig=nan.copy(), method=method,
        extra=dict(tr_se_L=out["L"][2]["tr_se"], tr2_se_L=out["L"][2]["tr2_se"], n_probes=n_probes,
                   estimator=out["L"][2]["estimator"]),
    )


def hessian_extreme_eigenvalues(
    spec: NetSpec, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, gamma: float,
    k: int = 3, *, tol: float = 1e-8, landscape: str = "loss",
) -> tuple[np.ndarray, float]:
    """Top-``k`` and minimum eigenvalue of H_L (or H_E) at one point, by Lanczos on HVPs.

    Returns (top k eigenvalues, descending; minimum eigenvalue).  A negative minimum
    eigenvalue means a saddle, not a minimum.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    theta = _check_theta(spec, theta)
    if theta.shape[0] != 1:
        raise InputError("hessian_extreme_eigenvalues takes one parameter vector")
    if landscape not in ("loss", "error"):
        raise InputError(f"landscape must be 'loss' or 'error', got {landscape!r}")
    P = spec.n_params
    g = float(gamma) if landscape == "loss" else 0.0
    hv_P, _ = _penalty_hvp(spec, theta, X)
    fn_E, _ = _error_fn(spec, X, Y)
    hv_E = _GraphHVP(fn_E, theta, "loop")  # one retained graph, one double backward per product

    def mv(v):
        V = torch.as_tensor(np.asarray(v, dtype=float).reshape(1, P), dtype=theta.dtype, device=theta.device)
        out = hv_E.product(V)[0] + g * hv_P(V[:, None])[0, 0]
        return out.detach().cpu().numpy()

    if P <= 2 * k + 2:  # too small for ARPACK: dense from HVPs of the basis
        H = np.stack([mv(e) for e in np.eye(P)])
        ev = np.linalg.eigvalsh(0.5 * (H + H.T))
        return ev[::-1][:k], float(ev[0])
    op = LinearOperator((P, P), matvec=mv, dtype=float)
    v0 = np.random.default_rng(0).standard_normal(P)
    top = eigsh(op, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    bottom = eigsh(op, k=1, which="SA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(top)[::-1], float(bottom[0])
