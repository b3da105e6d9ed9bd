r"""Reference solver of the D = 1 several-output cascade: proximal gradient + bisection on the rank.

Independent of :func:`l2phase.theory.nuclear_norm_path` (the exact homotopy) and much slower;
kept as its cross-check (tests) and as the alternative in ``benchmarks/bench_data_theory.py``.
For A = E[x x^T] (positive definite), B = E[x y^T], the convex problem

.. math:: \min_W \; \mathrm{tr}(W^T A W) - 2\,\mathrm{tr}(W^T B) + 2\gamma\|W\|_*

is solved by FISTA with singular-value thresholding (step 1 / (2 lambda_max(A))), and the
gamma at which the rank of the solution drops is bisected to relative accuracy ``tol``.
Its accuracy is limited by the stopping rule of FISTA (a solution counts as rank r when its
r-th singular value exceeds 1e-7 sigma_max(B)) on ill-conditioned A.
"""

from __future__ import annotations

import numpy as np

__all__ = ["proximal_rank_path"]


def proximal_rank_path(A, B, tol: float = 1e-9, max_iter: int = 20000) -> list[float]:
    """The gammas where rank W*(gamma) drops, ascending (the largest is sigma_max(B)).

    Examples
    --------
    >>> import numpy as np
    >>> [round(g, 6) for g in proximal_rank_path(np.eye(2), np.diag([1.0, 0.4]), tol=1e-8)]
    [0.4, 1.0]
    """
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    smax = np.linalg.svd(B, compute_uv=False)
    step = 1.0 / (2.0 * np.linalg.eigvalsh(A).max())

    def rank(gamma: float) -> int:
        W = Y = np.zeros_like(B)
        t = 1.0
        for _ in range(max_iter):
            U, s, Vt = np.linalg.svd(Y - step * 2.0 * (A @ Y - B), full_matrices=False)
            Wn = (U * np.maximum(s - 2.0 * gamma * step, 0.0)) @ Vt
            tn = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
            Y = Wn + ((t - 1) / tn) * (Wn - W)
            if np.abs(Wn - W).max() <= 1e-13 * max(1.0, np.abs(Wn).max()):
                W = Wn
                break
            W, t = Wn, tn
        return int(np.sum(np.linalg.svd(W, compute_uv=False) > 1e-7 * max(1.0, smax[0])))

    out, hi = [float(smax[0])], float(smax[0])
    for r in range(1, min(B.shape)):
        if rank(1e-12 * smax[0]) < r + 1:
            break
        lo = 0.0
        while hi - lo > tol * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if rank(mid) >= r + 1 else (lo, mid)
        out.append(0.5 * (lo + hi))
    return sorted(out)
