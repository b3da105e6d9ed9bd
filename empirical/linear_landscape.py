r"""The loss landscape of a deep linear network from its data statistics (batched, torch).

Convention (docs/conventions.md): D hidden layers, n = D + 1 weight matrices W_1 (h x d) ...
W_n (k x h), no biases, end-to-end map W = W_n ... W_1 (k x d), loss without 1/2:

.. math::

    L(\theta) = E\|W x - y\|^2 + \gamma \sum_l \|W_l\|_F^2
             = \mathrm{tr}(W A W^\top) - 2\,\mathrm{tr}(W \beta) + E\|y\|^2 + \gamma |\theta|^2,

A = E[x x^T] (d x d), beta = E[x y^T] (d x k).  The gradient is exact and analytic:
with G = dL/dW = 2 (W A - beta^T), dL/dW_l = (W_n..W_{l+1})^T G (W_{l-1}..W_1)^T + 2 gamma W_l.
Statistics may carry a leading batch dimension (one minibatch per replica, for SGD).

:meth:`LinearLandscape.balanced_state` builds the balanced factorisation of a chosen
end-to-end map aligned with the data's singular vectors (the minima and saddles of
:mod:`theory.barriers`), optionally moved along the rotation symmetry between layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from l2phase.theory.checks import InputError

from .models import NetSpec

__all__ = ["LinearLandscape"]


@dataclass
class LinearLandscape:
    """Loss, gradient and Hessian of a bias-free deep linear net given A, beta, E||y||^2.

    Parameters
    ----------
    spec : NetSpec with activation "linear" and no bias.
    A : (d, d) or (R, d, d); beta : (d, k) or (R, d, k); ey2 : float or (R,).
    gamma : float, L2 strength on every weight matrix (no 1/2).
    """

    spec: NetSpec
    A: torch.Tensor
    beta: torch.Tensor
    ey2: float
    gamma: float

    def __post_init__(self) -> None:
        if self.spec.activation != "linear" or self.spec.bias:
            raise InputError("LinearLandscape needs spec.activation='linear' and bias=False")
        self.A = torch.as_tensor(self.A, dtype=torch.float64)
        self.beta = torch.as_tensor(self.beta, dtype=torch.float64)
        d, k = self.spec.in_dim, self.spec.out_dim
        if self.A.shape[-2:] != (d, d) or self.beta.shape[-2:] != (d, k):
            raise InputError(f"A must be (d, d) = ({d}, {d}) and beta (d, k) = ({d}, {k}), "
                             f"got {tuple(self.A.shape)} and {tuple(self.beta.shape)}")

    @classmethod
    def from_stats(cls, spec: NetSpec, A, beta, ey2: float, gamma: float) -> "LinearLandscape":
        beta = np.asarray(beta, dtype=float)
        if beta.ndim == 1:
            beta = beta[:, None]
        return cls(spec, torch.as_tensor(np.asarray(A, dtype=float)), torch.as_tensor(beta), float(ey2), float(gamma))

    # ----------------------------------------------------------------- values
    def _layers(self, theta):
        return [W for W, _ in self.spec.unflatten(theta)]

    def end_to_end(self, theta: torch.Tensor) -> torch.Tensor:
        """W = W_n ... W_1, shape (..., k, d)."""
        Ws = self._layers(theta)
        M = Ws[0]
        for W in Ws[1:]:
            M = W @ M
        return M

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """L(theta) for a batch of flat parameter vectors (..., P) -> (...)."""
        W = self.end_to_end(theta)
        data = (W @ self.A * W).sum((-1, -2)) - 2.0 * (W * self.beta.transpose(-1, -2)).sum((-1, -2))
        return data + self.ey2 + self.gamma * (theta * theta).sum(-1)

    def loss_and_grad(self, theta: torch.Tensor):
        """(L (...), dL/dtheta (..., P)) with the analytic chain rule (no autograd)."""
        Ws = self._layers(theta)
        n = len(Ws)
        pre = [Ws[0]]  # pre[l] = W_l ... W_1 (0-based)
        for W in Ws[1:]:
            pre.append(W @ pre[-1])
        W = pre[-1]
        WA = W @ self.A
        bT = self.beta.transpose(-1, -2)
        loss = (WA * W).sum((-1, -2)) - 2.0 * (W * bT).sum((-1, -2)) + self.ey2 + self.gamma * (theta * theta).sum(-1)
        G = 2.0 * (WA - bT)
        grads = [None] * n
        suf = G  # (W_n..W_{l+1})^T G, built from the top
        for l in range(n - 1, -1, -1):
            right = pre[l - 1].transpose(-1, -2) if l > 0 else None
            g = suf @ right if right is not None else suf
            grads[l] = g + 2.0 * self.gamma * Ws[l]
            if l > 0:
                suf = Ws[l].transpose(-1, -2) @ suf
        flat = torch.cat([g.reshape(*g.shape[:-2], -1) for g in grads], dim=-1)
        return loss, flat

    def hessian(self, theta: torch.Tensor) -> torch.Tensor:
        """Dense (P, P) Hessian at one parameter vector (torch.func, float64)."""
        return torch.func.hessian(self.loss)(theta.detach().to(torch.float64))

    # ----------------------------------------------------------------- states
    def modes(self):
        """Singular triplets of beta^T (k x d): (U (k, r), s (r,), V (d, r)), descending."""
        b = self.beta if self.beta.dim() == 2 else self.beta[0]
        U, s, Vh = torch.linalg.svd(b.transpose(0, 1), full_matrices=False)
        return U, s, Vh.transpose(0, 1)

    def balanced_state(self, t, *, rotate_seed: int | None = None) -> torch.Tensor:
        r"""Flat theta of the balanced factorisation of W = sum_j t_j u_j v_j^T.

        ``t`` holds the end-to-end singular values per data mode j (0 for an unlearned
        mode); every layer carries t_j^{1/n} on mode j: W_1 = sum t^{1/n} e_j v_j^T,
        W_l = sum t^{1/n} e_j e_j^T, W_n = sum t^{1/n} u_j e_j^T.  ``rotate_seed`` inserts
        seeded random orthogonal Q_l between the layers (W_l -> Q_l W_l Q_{l-1}^T), which
        leaves the end-to-end map and the loss unchanged (the rotation symmetry).
        """
        spec = self.spec
        U, s, V = self.modes()
        t = torch.as_tensor(np.atleast_1d(np.asarray(t, dtype=float)))
        r = t.numel()
        if r > min(spec.width if spec.depth > 0 else r, s.numel()):
            raise InputError(f"t has {r} modes but the net/data support only {min(spec.width, s.numel())}")
        n = spec.depth + 1
        f = torch.sign(t) * t.abs() ** (1.0 / n)
        h = spec.width
        E = torch.zeros(h, r, dtype=torch.float64)
        E[torch.arange(r), torch.arange(r)] = 1.0
        if spec.depth == 0:
            return (U[:, :r] * t) @ V[:, :r].T.reshape(-1)
        Ws = [(E * f) @ V[:, :r].T]
        for _ in range(spec.depth - 1):
            Ws.append((E * f) @ E.T)
        Ws.append((U[:, :r] * f) @ E.T)
        if rotate_seed is not None:
            g = torch.Generator().manual_seed(int(rotate_seed))
            Qs = [torch.linalg.qr(torch.randn(h, h, generator=g, dtype=torch.float64))[0] for _ in range(spec.depth)]
            Ws[0] = Qs[0] @ Ws[0]
            for l in range(1, spec.depth):
                Ws[l] = Qs[l] @ Ws[l] @ Qs[l - 1].T
            Ws[-1] = Ws[-1] @ Qs[-1].T
        return torch.cat([W.reshape(-1) for W in Ws])

    def mode_projection(self, theta: torch.Tensor, mode: int = 0) -> torch.Tensor:
        """u_j^T W v_j, the end-to-end singular value of data mode ``mode`` (signed), (...)."""
        U, _, V = self.modes()
        W = self.end_to_end(theta)
        return torch.einsum("k,...kd,d->...", U[:, mode], W, V[:, mode])

    def orbit_log_volume(self, theta: torch.Tensor, stabiliser_order: int) -> float:
        r"""log volume of the rotation orbit of ``theta`` up to a state-independent constant.

        The generators (one per hidden layer l and pair a < b of its units, K = E_ab - E_ba)
        move W_l -> K W_l, W_{l+1} -> -W_{l+1} K; with J the matrix of these velocities, the
        orbit volume is Vol(O(h))^D sqrt(det' J^T J) / |stabiliser| for a finite stabiliser of
        order ``stabiliser_order`` (e.g. 2^D for a rank-1 state of width 2, 1 for rank 2).
        Only differences between states of one net are meaningful (the Vol(O(h))^D cancels).
        """
        h, D = self.spec.width, self.spec.depth
        Ws = self._layers(theta.detach().to(torch.float64))
        cols = []
        for l in range(D):  # hidden layer l sits between W_l (0-based) and W_{l+1}
            for a in range(h):
                for b in range(a + 1, h):
                    K = torch.zeros(h, h, dtype=torch.float64)
                    K[a, b], K[b, a] = 1.0, -1.0
                    vel = [torch.zeros_like(W) for W in Ws]
                    vel[l] = K @ Ws[l]
                    vel[l + 1] = -Ws[l + 1] @ K
                    cols.append(torch.cat([v.reshape(-1) for v in vel]))
        if not cols:
            return -math.log(stabiliser_order)
        J = torch.stack(cols, 1)
        ev = torch.linalg.eigvalsh(J.T @ J)
        ev = ev[ev > 1e-10 * ev.max()]
        return float(0.5 * torch.log(ev).sum()) - math.log(stabiliser_order)

    def rotation_zero_modes(self) -> int:
        """Dimension D (h - 1) of the rotation orbit of a rank-1 balanced state (width h).

        O(h) acts on each of the D hidden layers; the stabiliser of a rank-1 state fixes
        the hidden unit vector u_l, leaving O(h - 1): dim O(h) - dim O(h - 1) = h - 1 per
        layer.  At the origin the orbit is a point (no zero modes).
        """
        return self.spec.depth * (self.spec.width - 1) if self.spec.depth > 0 else 0

