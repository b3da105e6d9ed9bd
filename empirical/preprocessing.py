r"""Preprocessing shared by the theory (``l2phase theory --data``) and the empirical sweeps.

numpy only.  The loaders of :mod:`empirical.loaders` and the command line call these same
functions, so theory and experiment see identical A = E[x x^T], B = E[x y^T].

* :func:`psd_power` - M^p of a symmetric PSD matrix (whitening).
* :func:`classification_targets` - one-hot targets, optionally with the mean removed.
* :func:`fit_input_transform` - centring, projection on principal components, whitening,
  fitted on one set and applicable to another.
* :class:`Preprocessing` - the whole, selectable recipe (inputs centred or not, scaled or
  not, PCA / whitening, one-hot targets with or without mean removal, bias column).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from l2phase.theory.checks import InputError

__all__ = ["Preprocessing", "psd_power", "classification_targets", "fit_input_transform"]


def psd_power(M: np.ndarray, p: float) -> np.ndarray:
    """M^p for a symmetric positive semi-definite M (eigenvalues clipped at 1e-300)."""
    w, V = np.linalg.eigh(0.5 * (M + M.T))
    w = np.clip(w, 1e-300, None)
    return (V * w**p) @ V.T


def classification_targets(labels: np.ndarray, n_classes: int, center: bool) -> np.ndarray:
    """One-hot targets (N, n_classes); with ``center`` the mean over the set is removed."""
    Y = np.eye(n_classes)[labels]
    return Y - Y.mean(0) if center else Y


def fit_input_transform(X: np.ndarray, n_components: int | None, whiten: bool) -> Callable[[np.ndarray], np.ndarray]:
    """The input transform fitted on X: centring, projection on the top ``n_components``
    principal components (``None``: the non-constant columns) and optional whitening.
    Returns a function applying the same transform to any array (e.g. a test set)."""
    mean = X.mean(0)
    if n_components is None:
        keep = X.std(0) > 0
        W = psd_power(np.cov((X - mean)[:, keep].T, bias=True), -0.5) if whiten else None
        return lambda Z: (((Z - mean)[:, keep]) @ W) if W is not None else (Z - mean)[:, keep]
    _, sv, Vt = np.linalg.svd(X - mean, full_matrices=False)
    comps = Vt[:n_components].T
    scale = sv[:n_components] / np.sqrt(X.shape[0]) if whiten else np.ones(n_components)
    return lambda Z: ((Z - mean) @ comps) / scale


@dataclass(frozen=True)
class Preprocessing:
    """A selectable preprocessing recipe: raw (X, labels or Y) -> (X, Y) for the theory or a sweep.

    Attributes
    ----------
    center_inputs : bool
        Subtract the mean input (then A is the covariance, not the second moment).
    scale_inputs : bool
        Divide every input column by its standard deviation (constant columns are left as
        they are; they are dropped later with the rest of A's null space).
    n_components : int or None
        Project the (centred) inputs on their top principal components.
    whiten : bool
        With ``n_components``: unit variance per component.
    one_hot : bool
        Integer labels -> one-hot targets (ignored for real-valued targets).
    center_targets : bool
        Remove the mean target (one-hot or real); the theory's convention for MSE.
    bias : bool
        Append a constant-1 input column (a bias as an ordinary weight, penalised).
    """

    center_inputs: bool = False
    scale_inputs: bool = False
    n_components: int | None = None
    whiten: bool = False
    one_hot: bool = True
    center_targets: bool = True
    bias: bool = False

    def describe(self, labels: bool = True) -> str:
        """One line stating what is done, in order (``labels``: the targets are class labels)."""
        parts = ["inputs " + ("centred" if self.center_inputs or self.n_components else "not centred")]
        if self.scale_inputs:
            parts.append("scaled to unit std per column")
        if self.n_components:
            parts.append(f"PCA to {self.n_components} components" + (" whitened" if self.whiten else ""))
        parts.append("bias column appended" if self.bias else "no bias column")
        parts.append(("one-hot targets" if self.one_hot and labels else "targets as given")
                     + (" with the mean removed" if self.center_targets else ", mean kept"))
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def are_labels(y) -> bool:
        """Whether targets ``y`` are class labels: one column of non-negative integers."""
        y = np.asarray(y)
        return bool(y.ndim == 1 and (np.issubdtype(y.dtype, np.integer) or np.all(y == np.round(y))) and y.min() >= 0)

    def apply(self, X, y, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(X, Y) after the recipe.  ``y``: integer labels (N,) or targets (N,) / (N, k)."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y)
        if self.center_inputs and not self.n_components:
            X = X - X.mean(0)
        if self.scale_inputs:
            sd = X.std(0)
            X = X / np.where(sd > 0, sd, 1.0)
        if self.n_components:
            if not 1 <= int(self.n_components) <= X.shape[1]:
                raise InputError(f"n_components must be in [1, {X.shape[1]}], got {self.n_components!r}")
            X = fit_input_transform(X, int(self.n_components), self.whiten)(X)
        if self.bias:
            X = np.column_stack([X, np.ones(X.shape[0])])
        if self.one_hot and self.are_labels(y):
            lab = y.astype(np.int64)
            Y = classification_targets(lab, int(n_classes or lab.max() + 1), self.center_targets)
        else:
            Y = y.astype(float).reshape(y.shape[0], -1)
            if self.center_targets:
                Y = Y - Y.mean(0)
        return X, Y
