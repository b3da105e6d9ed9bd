r"""Fixed-rank branches of the reduced deep-linear problem by variable projection.

The reduced problem of a deep linear network (D hidden layers, n = D + 1, loss without 1/2,
one gamma on every layer) for data statistics A = E[x x^T], B = E[x y^T] is

.. math:: L(\gamma) = E\|y\|^2 + \min_W \; \mathrm{tr}(W^T A W) - 2\,\mathrm{tr}(W^T B)
          + n\gamma \sum_i \sigma_i(W)^{2/n}.

Split the network into its last layer P (d x r) and the product Q^T of the D layers before it
(Q: k x r, r the rank).  Minimising gamma * sum_l ||W_l||^2 over the factorisations of Q^T
gives gamma D sum_i sigma_i(Q)^{2/D}, so at fixed rank r

.. math:: g(Q) = \min_P \; \mathrm{tr}(Q P^T A P Q^T) - 2\,\mathrm{tr}(Q P^T B)
          + \gamma \|P\|_F^2 + \gamma D \sum_i l_i^{1/D},\qquad l = \mathrm{eig}(Q^T Q),

and the minimum over P is explicit: with Q^T Q = R diag(l) R^T and C = B Q R, column j of
P R is (l_j A + gamma I)^{-1} c_j (variable projection).  In A's eigenbasis (A = diag(e))
an evaluation costs O(d k r), and the branch is a smooth problem in the k r entries of Q,
solved by Newton's method (Hessian by central differences of the exact gradient, in one
batched call; the rotation gauge Q -> Q O is handled by the eigen-decomposition of the
Hessian).  D = 1 is the convex nuclear-norm problem (sum_i l_i = ||Q||^2).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigh as _sym_eig

__all__ = ["FactoredBranch"]


class FactoredBranch:
    """Rank-r branches of the reduced problem, A = diag(e) in its eigenbasis.

    Parameters
    ----------
    e : (d,) array
        Positive eigenvalues of A (see :func:`restrict_to_range`).
    B : (d, k) array
        E[x y^T] in A's eigenbasis.
    depth : int
        Hidden layers D >= 1.

    Examples
    --------
    >>> import numpy as np
    >>> br = FactoredBranch(np.ones(1), np.ones((1, 1)), depth=1)
    >>> P, Q = br.solve(0.5, np.ones((1, 1)))
    >>> round(float((P @ Q.T)[0, 0]), 12)   # soft threshold: (c - gamma) / a
    0.5
    """

    def __init__(self, e: np.ndarray, B: np.ndarray, depth: int):
        self.e = np.asarray(e, dtype=float)
        self.B = np.asarray(B, dtype=float)
        self.k = self.B.shape[1]
        self.depth = int(depth)
        self.scale = max(float(np.linalg.norm(self.B)), 1e-300)

    def projection(self, Q: np.ndarray, gamma: float) -> np.ndarray:
        """The minimising P for each Q of a stack (..., k, r)."""
        lam, R = np.linalg.eigh(np.swapaxes(Q, -1, -2) @ Q)
        C = self.B @ (Q @ R)
        Pp = C / (self.e[:, None] * lam[..., None, :] + gamma)
        return Pp @ np.swapaxes(R, -1, -2)

    def fun_grad(self, Q: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
        """g(Q) (the loss minus E||y||^2) and its gradient for a stack of Q (..., k, r).

        A Q of lower rank than r gives +inf curvature in the penalty (D >= 2); its value is
        still finite (l^{1/D} >= 0)."""
        lam, R = np.linalg.eigh(np.swapaxes(Q, -1, -2) @ Q)
        lam = np.maximum(lam, 0.0)
        C = self.B @ (Q @ R)
        Pp = C / (self.e[:, None] * lam[..., None, :] + gamma)
        Rt = np.swapaxes(R, -1, -2)
        P = Pp @ Rt
        Pt = np.swapaxes(P, -1, -2)
        PtAP = Pt @ (self.e[:, None] * P)
        BtP = self.B.T @ P
        if self.depth == 1:
            pen = np.sum(lam, axis=-1)
            dpen = 2 * Q
        else:
            pen = self.depth * np.sum(lam ** (1.0 / self.depth), axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(lam > 0, lam ** (1.0 / self.depth - 1.0), np.inf)
                dpen = 2 * Q @ (R * w[..., None, :]) @ Rt
        val = (np.sum(PtAP * (np.swapaxes(Q, -1, -2) @ Q), axis=(-1, -2)) - 2 * np.sum(BtP * Q, axis=(-1, -2))
               + gamma * (np.sum(P * P, axis=(-1, -2)) + pen))
        grad = 2 * (Q @ PtAP - BtP) + gamma * dpen
        return val, grad

    def value(self, Q: np.ndarray, gamma: float) -> float:
        return float(self.fun_grad(Q[None], gamma)[0][0])

    def dloss_dgamma(self, Q: np.ndarray, gamma: float) -> float:
        """dL/dgamma along the branch = sum_l ||W_l||^2 = ||P||^2 + D sum_i l_i^{1/D} (envelope theorem)."""
        P = self.projection(Q[None], gamma)[0]
        lam = np.maximum(np.linalg.eigvalsh(Q.T @ Q), 0.0)
        return float(np.sum(P * P) + self.depth * np.sum(lam ** (1.0 / self.depth)))

    def residual(self, Q: np.ndarray, gamma: float) -> float:
        """Largest entry of the gradient relative to ||B||_F (stationarity of the branch)."""
        return float(np.abs(self.fun_grad(Q[None], gamma)[1][0]).max()) / self.scale

    def solve(self, gamma: float, Q0: np.ndarray, gtol: float = 1e-13, max_iter: int = 100):
        """Local minimum of g near Q0: Newton with backtracking (saddle-free: |eigenvalues|).

        Returns (P, Q); check :meth:`residual` for convergence."""
        k, r = Q0.shape
        Q = np.array(Q0, dtype=float)
        m = k * r
        eye = np.eye(m).reshape(m, k, r)
        gabs = gtol * self.scale
        for _ in range(max_iter):
            f0, g0 = self.fun_grad(Q[None], gamma)
            f0, g0 = float(f0[0]), g0[0].ravel()
            if not np.all(np.isfinite(g0)) or np.abs(g0).max() <= gabs:
                break
            lam = np.linalg.eigvalsh(Q.T @ Q)
            if lam[0] <= 1e-14 * lam[-1]:  # the rank collapsed: no rank-r minimum here
                break
            hstep = 1e-6 * max(1e-3, float(np.abs(Q).max()))
            _, gp = self.fun_grad(Q[None] + hstep * eye, gamma)
            _, gm = self.fun_grad(Q[None] - hstep * eye, gamma)
            H = (gp - gm).reshape(m, m) / (2 * hstep)
            if not np.all(np.isfinite(H)):
                break
            H = 0.5 * (H + H.T)
            # numpy's eigh (syevd) is very slow with many BLAS threads on a loaded machine
            w, V = _sym_eig(H, driver="ev")
            wabs = np.maximum(np.abs(w), 1e-10 * max(np.abs(w).max(), 1e-300))
            step = -(V @ ((V.T @ g0) / wabs)).reshape(k, r)
            slope = float(g0 @ step.ravel())
            gnorm = float(np.abs(g0).max())
            # the predicted decrease is below the rounding of f: judge the step by the gradient
            flat = abs(slope) <= 1e-10 * max(abs(f0), self.scale ** 2)
            t = 1.0
            while t > 1e-8:
                f1, g1 = self.fun_grad((Q + t * step)[None], gamma)
                f1 = float(f1[0])
                # sufficient decrease, or (near the minimum, where f is flat to rounding) a smaller gradient
                if f1 <= f0 + 1e-4 * t * slope or (flat and float(np.abs(g1).max()) <= 0.5 * gnorm):
                    break
                t *= 0.5
            if t <= 1e-8:
                break
            Q = Q + t * step
            if t * float(np.abs(step).max()) <= 1e-15 * max(float(np.abs(Q).max()), 1e-300):
                break
        P = self.projection(Q[None], gamma)[0]
        return P, Q
