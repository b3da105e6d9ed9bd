"""Input checks shared by every layer of l2phase.

Every public function validates its inputs at the boundary with these helpers, so
that a bad argument fails early with a message naming it.  ``numerics``,
``empirical`` and ``l2phase`` import them from here (imports go one way:
theory <- numerics <- empirical <- l2phase).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "InputError",
    "InputTypeError",
    "InvalidCovarianceError",
    "NotConvergedError",
    "check_depth",
    "check_positive",
    "check_nonnegative",
    "check_gamma",
    "check_covariance",
    "check_data_stats",
]


class InputError(ValueError):
    """Invalid input from the user: an argument, a configuration entry or a data file.

    The one exception type the command line reports as a user error (one line, exit
    status 2); anything else escaping a command is a bug (exit 1, with a traceback).
    The message names the argument, key or file at fault.
    """


class InputTypeError(InputError, TypeError):
    """An input of the wrong type (also a ``TypeError``)."""


class InvalidCovarianceError(InputError):
    """A covariance (second-moment) matrix is not square, symmetric, finite or positive definite."""


class NotConvergedError(RuntimeError):
    """An iterative solver stopped before reaching its stated tolerance."""


def check_depth(depth: Any, name: str = "depth", minimum: int = 0) -> int:
    """Return ``depth`` as ``int`` after checking it is an integer >= ``minimum``.

    Depth is the number of hidden layers D (D=0 is ridge regression).

    Raises
    ------
    TypeError
        If ``depth`` is not an integer (bools and non-integral floats are refused).
    ValueError
        If ``depth < minimum``.
    """
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral):
        raise InputTypeError(f"{name} must be a non-negative integer (number of hidden layers), got {depth!r}")
    depth = int(depth)
    if depth < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {depth}")
    return depth


def _as_real_scalar(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        try:
            arr = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            raise InputTypeError(f"{name} must be a real number, got {x!r}") from None
        if arr.ndim != 0:
            raise InputTypeError(f"{name} must be a scalar, got an array of shape {arr.shape}")
        x = arr.item()
    x = float(x)
    if not np.isfinite(x):
        raise InputError(f"{name} must be finite, got {x}")
    return x


def check_positive(x: Any, name: str) -> float:
    """Return ``x`` as float after checking it is finite and > 0."""
    x = _as_real_scalar(x, name)
    if x <= 0:
        raise InputError(f"{name} must be > 0, got {x}")
    return x


def check_nonnegative(x: Any, name: str) -> float:
    """Return ``x`` as float after checking it is finite and >= 0."""
    x = _as_real_scalar(x, name)
    if x < 0:
        raise InputError(f"{name} must be >= 0, got {x}")
    return x


def check_gamma(gamma: Any, name: str = "gamma", *, sorted_grid: bool = False) -> np.ndarray | float:
    """Check an L2 strength (scalar or 1-D grid): finite, >= 0, and optionally strictly increasing.

    Returns a float for scalar input and a float64 array otherwise.
    """
    if np.ndim(gamma) == 0:
        return check_nonnegative(gamma, name)
    arr = np.asarray(gamma, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a scalar or a 1-D grid, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or inf")
    if np.any(arr < 0):
        raise InputError(f"{name} must be >= 0 everywhere, min is {arr.min()}")
    if sorted_grid and arr.size > 1 and np.any(np.diff(arr) <= 0):
        raise InputError(f"{name} must be strictly increasing")
    return arr


def check_covariance(A: Any, name: str = "A", *, rtol: float = 1e-10, definite: bool = True) -> np.ndarray:
    """Return ``A`` as a float64 symmetric positive-definite matrix or raise.

    With ``definite=False`` positive *semi*-definite is enough: the smallest eigenvalue
    must be >= -rtol * lambda_max (rounding of a sample second moment).

    Raises
    ------
    InvalidCovarianceError
        If ``A`` is not a finite square matrix, not symmetric (to ``rtol`` relative to its
        largest entry), or not positive definite (Cholesky fails).
    """
    try:
        A = np.asarray(A, dtype=float)
    except (TypeError, ValueError):
        raise InvalidCovarianceError(f"{name} must be a numeric matrix") from None
    if A.ndim == 0:
        A = A.reshape(1, 1)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise InvalidCovarianceError(f"{name} must be a non-empty square matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise InvalidCovarianceError(f"{name} contains NaN or inf")
    scale = max(np.abs(A).max(), 1e-300)
    if np.abs(A - A.T).max() > rtol * scale:
        raise InvalidCovarianceError(f"{name} is not symmetric")
    A = 0.5 * (A + A.T)
    if not definite:
        w = np.linalg.eigvalsh(A)
        if w[0] < -rtol * max(w[-1], 0.0) or w[-1] <= 0:
            raise InvalidCovarianceError(
                f"{name} is not positive semi-definite (eigenvalues {w[0]:.3g} .. {w[-1]:.3g})")
        return A
    try:
        np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise InvalidCovarianceError(
            f"{name} is not positive definite (singular A: restrict to its range with "
            "l2phase.theory.restrict_to_range; theory.transitions does this itself)") from None
    return A


def check_data_stats(A: Any, beta: Any, ey2: Any, *, definite: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Validate the data statistics of a (deep) linear regression.

    With ``definite=False`` A may be positive semi-definite and the Cauchy-Schwarz check
    uses the pseudo-inverse (beta's component outside range(A) is checked by
    :func:`l2phase.theory.restrict_to_range`).

    Parameters
    ----------
    A : (d, d) array
        Input second moment E[x x^T]; symmetric positive definite.
    beta : (d,) or (d, k) array
        E[x y] (vector, one output) or E[x y^T] (matrix, k outputs).
    ey2 : float
        E[||y||^2]; must be >= beta^T A^-1 beta summed over outputs (Cauchy-Schwarz),
        otherwise the statistics cannot come from any data set.

    Returns
    -------
    A, beta, ey2 with beta always 2-D of shape (d, k).
    """
    A = check_covariance(A, "A", definite=definite)
    try:
        beta = np.asarray(beta, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError("beta must be a numeric vector or matrix") from None
    if beta.ndim == 1:
        beta = beta[:, None]
    if beta.ndim != 2 or beta.shape[1] == 0:
        raise InputError(f"beta must be a vector (d,) or a matrix (d, k), got shape {beta.shape}")
    if beta.shape[0] != A.shape[0]:
        raise InputError(f"shape mismatch: A is {A.shape} but beta has {beta.shape[0]} rows")
    if not np.all(np.isfinite(beta)):
        raise InputError("beta contains NaN or inf")
    ey2 = check_nonnegative(ey2, "Ey2")
    if definite:
        explained = float(np.trace(beta.T @ np.linalg.solve(A, beta)))
    else:
        w, V = np.linalg.eigh(A)
        keep = w > 1e-10 * w[-1]
        proj = V[:, keep].T @ beta
        explained = float(np.sum(proj * proj / w[keep, None]))
    if ey2 < explained * (1 - 1e-9) - 1e-12:
        raise InputError(
            f"Ey2={ey2} is smaller than beta^T A^-1 beta={explained}: no data set has these statistics"
        )
    return A, beta, ey2
