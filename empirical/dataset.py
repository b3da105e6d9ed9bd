r"""A training set and the data statistics the theory needs.

The exact theory of deep linear nets sees the data only through

.. math:: A = E[x x^T],\quad \beta = E[x y^T],\quad E[\|y\|^2]

(means over the *training set*, uncentred).  :func:`data_stats` computes them from the
actual samples, so predictions are exact for the set the nets are trained on.  numpy only
(torch is imported by :meth:`Dataset.tensors` when called).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from l2phase.theory.checks import InputError, InputTypeError

__all__ = ["Dataset", "data_stats", "check_xy"]


@dataclass
class Dataset:
    """A full-batch regression training set.

    Attributes
    ----------
    X : (N, d) float64 array
    Y : (N, k) float64 array (targets; one-hot-like for classification)
    name : str
    labels : (N,) int array or None (class labels, for accuracy)
    meta : dict (how it was made: seeds, spectra, ...)
    """

    X: np.ndarray
    Y: np.ndarray
    name: str = "data"
    labels: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X, self.Y = check_xy(self.X, self.Y)
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
            if self.labels.shape != (self.X.shape[0],):
                raise InputError(f"labels must have shape ({self.X.shape[0]},), got {self.labels.shape}")

    def __setstate__(self, state: dict) -> None:
        # An unpickled array (e.g. on a Dask worker) can sit at any byte offset of the
        # received frame, even one that is not a multiple of 8.  numpy's matmul then takes
        # another path and data_stats differed in the last bits from the sender's (seen in
        # 4 of 12 transfers), which moved theory-aligned starts and broke bit-identical
        # cluster sweeps.  Fresh copies are aligned like any array made here.
        self.__dict__.update(state)
        self.X, self.Y = np.array(self.X, copy=True, order="C"), np.array(self.Y, copy=True, order="C")
        if self.labels is not None:
            self.labels = np.array(self.labels, copy=True, order="C")

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def in_dim(self) -> int:
        return self.X.shape[1]

    @property
    def out_dim(self) -> int:
        return self.Y.shape[1]

    def stats(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(A, beta, E||y||^2) of this training set, see :func:`data_stats`."""
        return data_stats(self.X, self.Y)

    def tensors(self, device=None, dtype=None) -> tuple[Any, Any]:
        """(X, Y) as fresh torch tensors (copies in torch's 64-byte aligned memory).

        Copies, not views, so the BLAS kernels see the same alignment wherever this
        dataset came from (see :meth:`__setstate__`).
        """
        import torch

        dtype = torch.float64 if dtype is None else dtype
        return (
            torch.tensor(self.X, dtype=dtype, device=device),
            torch.tensor(self.Y, dtype=dtype, device=device),
        )


def check_xy(X, Y, *, names: tuple[str, str] = ("X", "Y"), column_x: bool = False,
             one_target: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """X as (N, d) and Y as (N, k) float64 arrays (a 1-D Y becomes one column), checked.

    Parameters
    ----------
    X, Y : array-likes of numbers (finite)
    names : the arguments' names used in the error messages
    column_x : accept a 1-D X as one input column (N,) -> (N, 1)
    one_target : Y holds one value per sample: (N,), (N, 1), or a scalar when N = 1; returned as (N, 1)

    Raises
    ------
    InputTypeError (not numbers) or InputError (shape, empty, NaN / inf), naming the argument.
    """
    nx, ny = names
    arrays = []
    for v, n in ((X, nx), (Y, ny)):
        try:
            arrays.append(np.asarray(v, dtype=float))
        except (TypeError, ValueError):
            raise InputTypeError(f"{n} must be a numeric array, got {type(v).__name__}") from None
    X, Y = arrays
    if column_x and X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise InputError(f"{nx} must have shape (N, d){' or (N,)' if column_x else ''}, got {X.shape}")
    if one_target and Y.ndim == 0:
        Y = Y.reshape(1)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or (one_target and Y.shape[1] != 1):
        raise InputError(f"{ny} must have shape (N,) or (N, {'1' if one_target else 'k'}), got {Y.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0 or Y.shape[1] == 0:
        raise InputError(f"empty data: {nx} {X.shape}, {ny} {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise InputError(f"{nx} has {X.shape[0]} samples but {ny} has {Y.shape[0]}")
    for v, n in ((X, nx), (Y, ny)):
        if not np.all(np.isfinite(v)):
            raise InputError(f"{n} contains NaN or inf")
    return X, Y


def data_stats(X, Y) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Data statistics of a training set: A = X^T X / N, beta = X^T Y / N, E||y||^2.

    Parameters
    ----------
    X : (N, d) array
    Y : (N,) or (N, k) array

    Returns
    -------
    A : (d, d), beta : (d, k), ey2 : float  (uncentred means over the N samples)

    Examples
    --------
    >>> A, beta, ey2 = data_stats([[1.0], [-1.0]], [2.0, -2.0])
    >>> float(A[0, 0]), float(beta[0, 0]), ey2
    (1.0, 2.0, 4.0)
    """
    X, Y = check_xy(X, Y)
    n = X.shape[0]
    return X.T @ X / n, X.T @ Y / n, float(np.sum(Y * Y) / n)
