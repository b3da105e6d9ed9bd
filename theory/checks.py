"""Input checks shared by every layer of l2phase.

Every public function validates its inputs at the boundary with these helpers, so
that a bad argument fails early with a message naming it.  ``numerics``,
``empirical`` and ``l2phase`` import them from here (imports go one way:
theory <- numerics <- empirical <- l2phase).
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any, Sequence

import numpy as np

__all__ = [
    "InputError",
    "InputTypeError",
    "InputFileNotFoundError",
    "InvalidCovarianceError",
    "NotConvergedError",
    "check_depth",
    "check_int",
    "check_seed",
    "check_choice",
    "check_type",
    "check_sequence_of",
    "check_scalar_stats",
    "check_memory",
    "physical_memory_bytes",
    "format_bytes",
    "SEED_MAX",
    "check_real",
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


class InputFileNotFoundError(InputError, FileNotFoundError):
    """A file or directory named by the user does not exist (also a ``FileNotFoundError``)."""


class InvalidCovarianceError(InputError):
    """A covariance (second-moment) matrix is not square, symmetric, finite or positive definite."""


class NotConvergedError(RuntimeError):
    """An iterative solver stopped before reaching its stated tolerance."""


# Seeds feed numpy's and torch's generators; torch.Generator.manual_seed takes at most
# 2**64 - 1 and several seeds are derived by adding offsets, so the bound leaves room.
SEED_MAX = 2**32 - 1


def check_int(x: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``x`` as ``int`` after checking it is an integer in [minimum, maximum].

    Bools and floats are refused (``InputTypeError``), also integral ones: a count or an
    index is an integer.  numpy integers are accepted.

    Raises
    ------
    InputTypeError
        If ``x`` is not an integer.
    InputError
        If ``x`` lies outside [minimum, maximum] (either bound may be None).
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise InputTypeError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {x!r}")
    x = int(x)
    if (minimum is not None and x < minimum) or (maximum is not None and x > maximum):
        raise InputError(f"{name} must be an integer{_range_text(minimum, maximum)}, got {x}")
    return x


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_seed(seed: Any, name: str = "seed") -> int:
    """A random seed: an integer in [0, SEED_MAX] (numpy and torch generators take it)."""
    return check_int(seed, name, 0, SEED_MAX)


def check_type(x: Any, types: type | tuple[type, ...], name: str) -> Any:
    """Return ``x`` if it is an instance of ``types``, else raise ``InputTypeError`` naming ``name``."""
    if not isinstance(x, types):
        wanted = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise InputTypeError(f"{name} must be a {wanted}, got {type(x).__name__} {_short_repr(x)}")
    return x


def check_sequence_of(items: Any, cls: type, name: str) -> list:
    """``items`` as a list after checking it is a sequence (not a string) of ``cls`` instances.

    Raises ``InputTypeError`` naming ``name`` (or ``name[i]`` for a wrong entry).
    """
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__") or isinstance(items, dict):
        raise InputTypeError(f"{name} must be a sequence of {cls.__name__}, got {type(items).__name__}")
    items = list(items)
    for i, it in enumerate(items):
        if not isinstance(it, cls):
            raise InputTypeError(f"{name}[{i}] must be a {cls.__name__}, got {type(it).__name__} {_short_repr(it)}")
    return items


def _short_repr(x: Any, limit: int = 60) -> str:
    r = repr(x)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices`` (compared with ==), else raise ``InputError``."""
    try:
        ok = any(value == c and type(value) is type(c) for c in choices)
    except Exception:  # e.g. an array compared with a string
        ok = False
    if not ok:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def physical_memory_bytes() -> int | None:
    """Total physical memory of this machine in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human-readable string (1024-based units)."""
    if not math.isfinite(n):
        return "an unbounded amount"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024.0
    return f"{n:.3g} EiB"  # pragma: no cover


def check_memory(n_bytes: float, what: str, limit: float | None = None, where: str = "this machine") -> float:
    """Refuse a job whose estimated memory ``n_bytes`` exceeds ``limit`` (default: physical RAM).

    Called before anything is allocated, so that a size typed by mistake fails at once
    with the estimate in the message instead of exhausting the memory.

    Parameters
    ----------
    n_bytes : float
        The estimate (may be inf for sizes out of floating-point range).
    what : str
        What needs it, naming the inputs at fault (e.g. ``"[model] width = 10000000"``).
    limit : float, optional
        Bytes available; the physical memory of this machine by default (no check if unknown).
    where : str
        Where the limit applies, for the message (``"this machine"``, ``"cuda:0"``).
    """
    if limit is None:
        limit = physical_memory_bytes()
    if limit is not None and not (n_bytes <= limit):
        raise InputError(f"{what} needs about {format_bytes(n_bytes)} of memory, more than the "
                         f"{format_bytes(limit)} of {where}")
    return n_bytes


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


def check_real(x: Any, name: str) -> float:
    """Return ``x`` as float after checking it is a finite real scalar."""
    return _as_real_scalar(x, name)


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


def check_scalar_stats(a: Any, c: Any, ey2: Any) -> tuple[float, float, float]:
    """Check the statistics of one scalar mode: a = n^T A n > 0, c = |E[x y]| >= 0, E[y^2] >= c^2/a.

    E[y^2] >= c^2/a is Cauchy-Schwarz (E[x y]^2 <= E[x^2] E[y^2] along n): statistics
    that violate it come from no data set, and the loss L* would go negative.  Shared by
    every function that takes (a, c, E[y^2]) (``critical_point``, ``free_energy``, ...).

    Returns
    -------
    (a, c, ey2) as floats.
    """
    a = check_positive(a, "a")
    c = check_nonnegative(c, "c")
    ey2 = check_nonnegative(ey2, "Ey2")
    if c > 0 and not math.isfinite(c * (c / a)):
        raise InputError(f"c={c!r} and a={a!r} are out of floating-point range (c^2/a overflows)")
    if ey2 < c * (c / a) * (1 - 1e-12):
        raise InputError(f"Ey2={ey2} must be >= c^2/a={c * (c / a)} (Cauchy-Schwarz: no data set has these statistics)")
    return a, c, ey2


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
