"""Condensation of the neurons of a two-layer ReLU net: orientations, amplitudes, effective
number of orientations and rank, cosine-similarity matrices (Luo et al. arXiv:2007.07497;
Zhou et al. 2022)."""

from __future__ import annotations

import math

import numpy as np

from l2phase.theory.checks import InputError

__all__ = ["angle_amplitude", "condensation_metrics", "cosine_similarity_matrix", "effective_orientations"]


def angle_amplitude(a: np.ndarray, w: np.ndarray, reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron orientation and amplitude A_k = |a_k| ||(w_k, b_k)||.

    Orientation: for 1-D inputs (w has 2 columns: w, b) the angle atan2(b, w) in [-pi, pi]
    (paper p.7, authors' code); in higher dimension the projection w_hat . p on the unit
    reference direction p (default the all-ones unit vector of R^(d+1), as the authors' MNIST code).
    """
    a = np.asarray(a, dtype=float).reshape(-1)
    w = np.asarray(w, dtype=float)
    if w.ndim != 2 or w.shape[0] != a.shape[0]:
        raise InputError(f"w must be (m, d+1) with m = len(a) = {a.shape[0]}, got {w.shape}")
    norm = np.linalg.norm(w, axis=1)
    amp = np.abs(a) * norm
    if w.shape[1] == 2 and reference is None:
        return np.arctan2(w[:, 1], w[:, 0]), amp
    p = np.ones(w.shape[1]) if reference is None else np.asarray(reference, dtype=float).reshape(-1)
    if p.shape[0] != w.shape[1]:
        raise InputError(f"reference must have length {w.shape[1]}, got {p.shape[0]}")
    p = p / np.linalg.norm(p)
    return (w @ p) / np.where(norm > 0, norm, 1.0), amp


def effective_orientations(orientation: np.ndarray, amplitude: np.ndarray, *, bins: int = 90,
                           value_range: tuple[float, float] = (-math.pi, math.pi)) -> tuple[float, float]:
    """(N_eff, top-4 mass) of the amplitude-weighted orientation histogram.

    Weights p_k = A_k / sum A, ``bins`` bins over ``value_range``; N_eff = exp(entropy) of the
    bin masses (90 for a uniform spread, 1 for a single orientation); top-4 mass = the mass
    of the 4 heaviest bins.
    """
    amp = np.asarray(amplitude, dtype=float)
    tot = amp.sum()
    if not tot > 0:
        return float("nan"), float("nan")
    h, _ = np.histogram(orientation, bins=bins, range=value_range, weights=amp / tot)
    p = h[h > 0]
    return float(np.exp(-(p * np.log(p)).sum())), float(np.sort(h)[-4:].sum())


def _effective_rank(w: np.ndarray, amp: np.ndarray) -> float:
    # exp(entropy) of the eigenvalues of sum_k p_k w_hat_k w_hat_k^T: ~(d+1) diffuse, 1 condensed on one line
    norm = np.linalg.norm(w, axis=1)
    keep = norm > 0
    if not keep.any() or not amp[keep].sum() > 0:
        return float("nan")
    u = w[keep] / norm[keep, None]
    p = amp[keep] / amp[keep].sum()
    lam = np.clip(np.linalg.eigvalsh((u * p[:, None]).T @ u), 0, None)
    lam = lam[lam > 1e-15] / lam.sum()
    return float(np.exp(-(lam * np.log(lam)).sum()))


def condensation_metrics(a: np.ndarray, w: np.ndarray, *, bins: int = 90) -> dict:
    """Condensation of the neurons (a_k, w_k): ``neff`` and ``top4`` of :func:`effective_orientations`
    (angle for 1-D inputs, projection on the all-ones direction over [-1, 1] otherwise) and ``erank``,
    the effective rank (exp entropy of eigenvalues) of the amplitude-weighted second moment of the
    unit input weights."""
    orient, amp = angle_amplitude(a, w)
    rng = (-math.pi, math.pi) if np.asarray(w).shape[1] == 2 else (-1.0, 1.0)
    neff, top4 = effective_orientations(orient, amp, bins=bins, value_range=rng)
    return dict(neff=neff, top4=top4, erank=_effective_rank(np.asarray(w, dtype=float), amp))


def cosine_similarity_matrix(w: np.ndarray, *, max_neurons: int = 400, amplitude: np.ndarray | None = None,
                             seed: int = 0) -> np.ndarray:
    """Cosine similarity D(u, v) = u_hat . v_hat of input weights (bias included), rows sorted by
    the leading eigenvector (Zhou et al. 2022).  At most ``max_neurons`` neurons: the largest
    amplitudes if ``amplitude`` is given, else a seeded random subset."""
    w = np.asarray(w, dtype=float)
    if w.ndim != 2:
        raise InputError(f"w must be (m, d+1), got {w.shape}")
    if w.shape[0] > max_neurons:
        if amplitude is not None:
            idx = np.argsort(np.asarray(amplitude))[-max_neurons:]
        else:
            idx = np.random.default_rng(seed).choice(w.shape[0], max_neurons, replace=False)
        w = w[idx]
    u = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-300)
    D = u @ u.T
    _, vec = np.linalg.eigh(D)
    order = np.argsort(vec[:, -1])
    return D[np.ix_(order, order)]


