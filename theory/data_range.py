r"""Data statistics with a singular input second moment: restriction to range(A).

Real inputs often have directions that never vary (digits: 3 of 64 pixels are zero in
every image; MNIST: about 67 of 784).  Then A = E[x x^T] is only positive
*semi*-definite.  If v^T A v = 0 then v^T x = 0 for every sample, hence
v^T E[x y^T] = 0: the data never leave range(A), and every result of the theory
(transitions, end-to-end maps) lives there.  :func:`restrict_to_range` rotates to A's
eigenbasis, keeps the eigenvalues above a stated relative threshold and returns the
problem in those coordinates (A diagonal there), with the number of dropped directions.

Consistency test for beta (the only refusal): any data set satisfies, for every unit v,
|v^T E[x y^T]|^2 <= (v^T A v) E||y||^2 (Cauchy-Schwarz).  Summed over the dropped
eigen-directions (eigenvalues lambda_j <= ``rtol`` lambda_max):
||P_0 beta||_F^2 <= E||y||^2 sum_j |lambda_j| (plus rounding).  A larger component
outside the kept range cannot come from data and raises :class:`InputError` naming beta.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import InputError, check_data_stats

__all__ = ["RANGE_RTOL", "RangeRestriction", "restrict_to_range"]

#: Default relative eigenvalue threshold: eigen-directions of A with lambda <= RANGE_RTOL *
#: lambda_max are dropped (float64 rounding of X^T X / N is ~1e-16 lambda_max).
RANGE_RTOL = 1e-10


@dataclass(frozen=True)
class RangeRestriction:
    """The data statistics restricted to range(A), in A's eigenbasis.

    Attributes
    ----------
    eigenvalues : (r,) array
        Kept eigenvalues of A (ascending); A restricted is ``diag(eigenvalues)``.
    basis : (d, r) array
        Orthonormal eigenvectors of A spanning the kept range (x_restricted = basis^T x).
    B : (r, k) array
        basis^T E[x y^T].
    ey2 : float
        E||y||^2 (unchanged).
    n_dropped : int
        Number of eigen-directions of A dropped (d - r).
    threshold : float
        Absolute eigenvalue threshold used (rtol * lambda_max).
    beta_outside : float
        Frobenius norm of the dropped component of beta (checked against Cauchy-Schwarz).
    """

    eigenvalues: np.ndarray
    basis: np.ndarray
    B: np.ndarray
    ey2: float
    n_dropped: int
    threshold: float
    beta_outside: float

    @property
    def A(self) -> np.ndarray:
        """A restricted to its range (diagonal in these coordinates)."""
        return np.diag(self.eigenvalues)

    @property
    def rank(self) -> int:
        return int(self.eigenvalues.size)


def restrict_to_range(A, beta, ey2, *, rtol: float = RANGE_RTOL) -> RangeRestriction:
    r"""Restrict (A, beta, E||y||^2) to range(A), dropping eigenvalues <= rtol * lambda_max.

    Parameters
    ----------
    A : (d, d) array
        E[x x^T], symmetric positive semi-definite (symmetric to 1e-10 relative to its
        largest entry; eigenvalues >= -rtol lambda_max).
    beta : (d,) or (d, k) array
        E[x y] or E[x y^T].
    ey2 : float
        E||y||^2.
    rtol : float
        Relative eigenvalue threshold.

    Returns
    -------
    RangeRestriction

    Raises
    ------
    InputError
        If A is not symmetric PSD, or beta has a component outside range(A) larger than
        Cauchy-Schwarz allows (the message names beta and gives both numbers).

    Examples
    --------
    >>> import numpy as np
    >>> r = restrict_to_range(np.diag([2.0, 0.0]), [1.0, 0.0], 1.0)
    >>> r.n_dropped, r.eigenvalues.tolist(), r.B.ravel().tolist()
    (1, [2.0], [1.0])
    """
    A, B, ey2 = check_data_stats(A, beta, ey2, definite=False)
    evals, evecs = np.linalg.eigh(A)
    lam_max = float(evals[-1])
    if lam_max <= 0:
        raise InputError("A is zero: the inputs carry no signal")
    threshold = rtol * lam_max
    keep = evals > threshold
    outside = evecs[:, ~keep].T @ B
    beta_out = float(np.linalg.norm(outside))
    eps = np.finfo(float).eps
    allowed = np.sqrt(ey2 * float(np.sum(np.abs(evals[~keep])))) + 64 * eps * A.shape[0] * (
        float(np.linalg.norm(B)) + np.sqrt(lam_max * ey2))
    if beta_out > allowed * (1 + 1e-6):
        raise InputError(
            f"beta has a component {beta_out:.3g} outside range(A) (A has {int((~keep).sum())} eigenvalue(s) "
            f"<= {threshold:.3g}); data allow at most {allowed:.3g} (Cauchy-Schwarz): inconsistent statistics"
        )
    return RangeRestriction(
        eigenvalues=evals[keep].copy(),
        basis=evecs[:, keep].copy(),
        B=evecs[:, keep].T @ B,
        ey2=ey2,
        n_dropped=int((~keep).sum()),
        threshold=float(threshold),
        beta_outside=beta_out,
    )
