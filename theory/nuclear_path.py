r"""The D = 1 cascade for several outputs and any A: the solution path of a nuclear-norm problem.

For one hidden layer (n = 2) the reduced problem is convex,

.. math:: L^*(\gamma) = E\|y\|^2 + \min_W \; \mathrm{tr}(W^T A W) - 2\,\mathrm{tr}(W^T B)
          + 2\gamma \|W\|_*,

(no 1/2 in the loss, one gamma on both layers).  W* = 0 for gamma >= sigma_max(B); below,
rank W* grows by one at each transition gamma_1 > gamma_2 > ... (second order each).

Method (exact homotopy on the rank).  On a stretch of constant rank r, W = P Q^T with
P (d x r), Q (k x r) solves the balanced problem
f(P, Q) = tr(Q P^T A P Q^T) - 2 tr(Q P^T B) + gamma (||P||^2 + ||Q||^2), whose minimum
over P is explicit (variable projection): with Q^T Q = R diag(l) R^T, C = B Q R,
min_P f = gamma ||Q||^2 - sum_j c_j^T (l_j A + gamma)^{-1} c_j.  In A's eigenbasis this
costs O(d k r), so the branch is followed by BFGS on the k r entries of Q with warm
starts.  KKT (optimality of the convex problem): M = B - A W satisfies M V = gamma U,
U^T M = gamma V^T (W = U S V^T) and the certificate h(gamma) = ||P_U^perp M P_V^perp||_2 -
gamma <= 0.  The next transition is the root of h on the rank-r branch (brentq; h is
smooth there and the rank-r branch continues past the root as a stationary point), and
the new direction enters along the top singular pair of P_U^perp M P_V^perp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from threadpoolctl import threadpool_limits

from .checks import NotConvergedError
from .factored_branch import FactoredBranch

__all__ = ["NuclearPathPoint", "nuclear_norm_path"]


@dataclass(frozen=True)
class NuclearPathPoint:
    """One rank change of the D = 1 solution path.

    Attributes
    ----------
    gamma : float
        The transition: rank W* is ``rank`` just below and ``rank - 1`` just above.
    rank : int
    kkt_residual : float
        Relative stationarity residual of the rank-r branch at the points that bracket
        the transition (max over the root search).
    bracket : tuple of float
        Bracket handed to brentq (h changes sign in it).
    accuracy : float
        Guaranteed relative accuracy of ``gamma`` (brentq's xtol / gamma + 4 eps).
    dual_margin : float
        max(0, ||B - A W||_2 / gamma - 1) just above the transition (0 when the
        certificate of global optimality holds).
    """

    gamma: float
    rank: int
    kkt_residual: float
    bracket: tuple[float, float]
    dual_margin: float
    accuracy: float = 0.0
    certificate: dict = field(default_factory=dict)


def _kkt(br: FactoredBranch, P: np.ndarray, Q: np.ndarray, gamma: float):
    """(relative stationarity residual of W = P Q^T, h = ||P_U^perp M P_V^perp||_2 - gamma,
    top singular pair of P_U^perp M P_V^perp, singular values of W)."""
    W = P @ Q.T
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    r = P.shape[1]
    U, s, V = U[:, :r], s[:r], Vt[:r].T
    M = br.B - br.e[:, None] * W
    res = max(np.abs(M @ V - gamma * U).max(), np.abs(U.T @ M - gamma * V.T).max()) / br.scale
    Mp = M - U @ (U.T @ M)
    Mp = Mp - (Mp @ V) @ V.T
    u2, s2, v2t = np.linalg.svd(Mp, full_matrices=False)
    return float(res), float(s2[0] - gamma), u2[:, 0], v2t[0], s


def nuclear_norm_path(
    eigenvalues,
    B,
    *,
    tol: float = 1e-10,
    gamma_min_ratio: float = 1e-8,
    max_rank: int | None = None,
) -> list[NuclearPathPoint]:
    r"""Every rank change of argmin_W tr(W^T A W) - 2 tr(W^T B) + 2 gamma ||W||_*.

    Parameters
    ----------
    eigenvalues : (d,) array of positive floats
        A in its eigenbasis (A = diag(eigenvalues)); see :func:`restrict_to_range`.
    B : (d, k) array
        E[x y^T] in the same basis.
    tol : float
        Relative accuracy of each transition (brentq xtol = tol * gamma).
    gamma_min_ratio : float
        Transitions below gamma_min_ratio * sigma_max(B) are not searched.
    max_rank : int, optional
        Stop after this many transitions (default min(d, k, rank B)).

    Returns
    -------
    list of NuclearPathPoint, gamma decreasing (rank 1, 2, ...).

    Examples
    --------
    >>> import numpy as np
    >>> [round(p.gamma, 6) for p in nuclear_norm_path(np.ones(2), np.diag([1.0, 0.4]))]
    [1.0, 0.4]
    """
    # small matrices: one BLAS thread is several times faster than many on a busy machine
    with threadpool_limits(limits=1, user_api="blas"):
        return _path(np.asarray(eigenvalues, dtype=float), np.asarray(B, dtype=float), tol, gamma_min_ratio, max_rank)


def _path(e: np.ndarray, B: np.ndarray, tol: float, gamma_min_ratio: float, max_rank: int | None):
    d, k = B.shape
    U0, s0, V0t = np.linalg.svd(B, full_matrices=False)
    smax = float(s0[0])
    if smax == 0.0:
        return []
    rank_b = int(np.sum(s0 > 1e-12 * smax))
    max_rank = min(d, k, rank_b) if max_rank is None else min(max_rank, d, k, rank_b)
    br = FactoredBranch(e, B, depth=1)
    gtol = 1e-13
    gamma_min = gamma_min_ratio * smax
    out = [NuclearPathPoint(smax, 1, 0.0, (smax, smax), 0.0, 0.0, {"exact": "sigma_max(B)"})]
    gamma_r, v_new = smax, V0t[0]
    Q = np.zeros((k, 0))
    for r in range(1, max_rank):
        # new column: the entering direction with a small amplitude
        Q = np.column_stack([Q, 1e-6 * np.sqrt(smax / max(e.max(), 1e-300)) * v_new])
        cache: dict[float, np.ndarray] = {}
        worst = [0.0]

        def h(gamma: float) -> float:
            near = min(cache, key=lambda g: abs(g - gamma)) if cache else None
            Qs = cache[near] if near is not None else Q
            P, Qn = br.solve(gamma, Qs, gtol)
            cache[gamma] = Qn
            res, hv, _, _, sv = _kkt(br, P, Qn, gamma)
            worst[0] = max(worst[0], res)
            if sv.min() <= 1e-9 * smax:
                # a singular value of the rank-r branch returned to zero before the next one
                # entered: the rank path is not monotone here, which this homotopy does not follow
                raise NotConvergedError(f"nuclear-norm path: rank {r} branch loses a direction at gamma={gamma:.6g} "
                                        "(non-monotone rank path)")
            return hv

        # walk down from gamma_r until h > 0 (the next direction becomes favourable)
        g_prev, g = gamma_r, gamma_r * (1 - 1e-3)
        h_prev, hv = None, h(g)
        if hv > 0:
            raise NotConvergedError(f"nuclear-norm path: rank {r} branch not entered below gamma={gamma_r}")
        step = 0.05
        while True:
            g_next = g * (1 - step)
            if h_prev is not None and hv - h_prev != 0:  # secant guess of the root, kept inside (0.5 g, g)
                guess = g + hv * (g - g_prev) / (h_prev - hv)
                if 0.5 * g < guess < g:
                    g_next = max(guess * (1 - 1e-3), 0.5 * g)
            if g_next < gamma_min:
                return out
            h_next = h(g_next)
            if h_next > 0:
                break
            g_prev, h_prev, g, hv = g, hv, g_next, h_next
            step = min(2 * step, 0.5)
        lo, hi = g_next, g
        root = brentq(h, lo, hi, xtol=tol * lo, rtol=4 * np.finfo(float).eps)
        P, Qn = br.solve(root * (1 + 2 * tol), cache[min(cache, key=lambda x: abs(x - root))], gtol)
        res, hv, u_top, v_top, s = _kkt(br, P, Qn, root * (1 + 2 * tol))
        margin = max(0.0, hv / root)
        acc = tol * lo / root + 4 * np.finfo(float).eps
        out.append(NuclearPathPoint(float(root), r + 1, float(max(worst[0], res)), (float(lo), float(hi)), margin, acc,
                                    {"evaluations": len(cache), "smallest_singular_value": float(s.min())}))
        gamma_r, v_new, Q = root, v_top, Qn
    return out
