r"""Posterior collapse of a linear VAE as a phase transition in the KL weight beta.

Model (Wang & Ziyin 2022, learnable encoder variance): encoder q(z|x) = N(V x, Sigma)
with Sigma learned, decoder p(y|z) = N(U z, eta_dec^2 I) with eta_dec fixed, loss
E_q[-log p(y|z)] + beta * KL(q(z|x) || N(0, I)).
With whitened inputs x~ = A^{-1/2} x and zeta_i the singular values of E[y x~^T], latent
mode i carries signal only while beta * eta_dec^2 < zeta_i^2; it collapses (its KL
goes to zero) at

.. math:: \beta_i = \zeta_i^2 / \eta_{dec}^2 ,

continuously: the mode's decoder norm vanishes linearly, so the transition is second
order in beta (the linear-VAE counterpart of the D = 1 L2 transition).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .checks import check_covariance, check_positive
from .checks import InputError

__all__ = ["CollapseThreshold", "vae_collapse_thresholds"]


@dataclass(frozen=True)
class CollapseThreshold:
    """Collapse of one latent mode: ``beta_c`` = zeta^2 / eta_dec^2, ``order`` = 2."""

    mode: int
    zeta: float
    beta_c: float
    order: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def vae_collapse_thresholds(A, cross, eta_dec: float) -> list[CollapseThreshold]:
    r"""KL weights at which the modes of a linear VAE collapse, sorted ascending.

    Parameters
    ----------
    A : (d, d) array
        E[x x^T] of the encoder input.
    cross : (d,) or (d, k) array
        E[x y^T] (for a plain autoencoder y = x, pass A itself).
    eta_dec : float
        Decoder noise standard deviation (fixed).

    Returns
    -------
    list of CollapseThreshold, one per non-zero singular value zeta_i of
    E[y x~^T] = cross^T A^{-1/2}.
    """
    A = check_covariance(A, "A")
    eta_dec = check_positive(eta_dec, "eta_dec")
    cross = np.asarray(cross, dtype=float)
    if cross.ndim == 1:
        cross = cross[:, None]
    if cross.ndim != 2 or cross.shape[0] != A.shape[0]:
        raise InputError(f"shape mismatch: A is {A.shape}, cross is {cross.shape}")
    evals, evecs = np.linalg.eigh(A)
    a_inv_sqrt = (evecs / np.sqrt(evals)) @ evecs.T
    zeta = np.linalg.svd(cross.T @ a_inv_sqrt, compute_uv=False)
    out = [CollapseThreshold(i, float(z), float(z * z / eta_dec**2)) for i, z in enumerate(zeta) if z > 0]
    return sorted(out, key=lambda t: t.beta_c)
