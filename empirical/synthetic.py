r"""Synthetic training sets with known statistics (known transitions).

* :func:`synthetic_teacher` - Gaussian inputs with a chosen covariance spectrum, a linear
  teacher with chosen singular values (several outputs), label noise; with ``exact=True``
  the sample second moment equals the chosen A exactly and the noise is orthogonal to the
  inputs, so beta = A T^T exactly.
* :func:`synthetic_autoencoder` - Y = X with an exact sample spectrum.
"""

from __future__ import annotations

import numpy as np

from l2phase.theory.checks import InputError, check_int, check_memory, check_nonnegative, check_seed

from .dataset import Dataset
from .preprocessing import psd_power

__all__ = ["synthetic_teacher", "synthetic_autoencoder"]


def _random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def synthetic_teacher(
    n_samples: int = 200,
    in_dim: int = 4,
    singular_values=(1.0, 0.4),
    input_spectrum=None,
    noise: float = 0.0,
    *,
    rotate: bool = True,
    exact: bool = True,
    seed: int = 0,
) -> Dataset:
    r"""Gaussian inputs, linear teacher y = T x + noise with chosen singular values.

    Parameters
    ----------
    n_samples, in_dim : int
        N and d.
    singular_values : sequence of float
        Singular values of the teacher map T (k x d), k = len(singular_values) <= d.
        With A = I (whitened inputs) these are the singular values of beta = E[x y^T],
        and the exact transitions sit at gamma = s_k (D = 1), (s_k/2)^(4/3) (D = 2).
    input_spectrum : sequence of float, optional
        Eigenvalues of A = E[x x^T] (default all ones: whitened).
    noise : float
        Label-noise standard deviation per output.
    rotate : bool
        Random orthogonal bases for A's eigenvectors and T's singular vectors.
    exact : bool
        Make the *sample* statistics exact: X^T X / N = A, the noise is orthogonal to
        the columns of X and has E||noise||^2 = k noise^2, so beta = A T^T exactly.
    seed : int
        Seed of every random draw (numpy Generator).
    """
    n_samples = check_int(n_samples, "n_samples", 1)
    in_dim = check_int(in_dim, "in_dim", 1)
    seed = check_seed(seed)
    check_memory(8.0 * n_samples * (2 * in_dim + len(np.atleast_1d(singular_values))),
                 f"synthetic_teacher(n_samples={n_samples}, in_dim={in_dim})")
    s = np.atleast_1d(np.asarray(singular_values, dtype=float))
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise InputError(f"singular_values must be a non-empty list of finite values >= 0, got {singular_values!r}")
    k = s.size
    if k > in_dim:
        raise InputError(f"need len(singular_values)={k} <= in_dim={in_dim}")
    spec = np.ones(in_dim) if input_spectrum is None else np.asarray(input_spectrum, dtype=float)
    if spec.shape != (in_dim,) or not np.all(np.isfinite(spec)) or np.any(spec <= 0):
        raise InputError(f"input_spectrum must be {in_dim} positive finite values, got {input_spectrum!r}")
    noise = check_nonnegative(noise, "noise")
    if exact and n_samples < in_dim + (k if noise > 0 else 0):
        raise InputError(f"exact=True needs n_samples >= in_dim (+ k with noise), got {n_samples}")
    rng = np.random.default_rng(seed)
    Qa = _random_orthogonal(in_dim, rng) if rotate else np.eye(in_dim)
    A = (Qa * spec) @ Qa.T
    U = _random_orthogonal(in_dim, rng)[:, :k] if rotate else np.eye(in_dim)[:, :k]
    V = _random_orthogonal(k, rng) if rotate else np.eye(k)
    T = (V * s) @ U.T  # (k, d)
    X = rng.standard_normal((n_samples, in_dim))
    if exact:
        X = X @ psd_power(X.T @ X / n_samples, -0.5) @ psd_power(A, 0.5)
    else:
        X = X @ psd_power(A, 0.5)
    Y = X @ T.T
    if noise > 0:
        eps = rng.standard_normal((n_samples, k))
        if exact:
            Qx, _ = np.linalg.qr(X)
            eps = eps - Qx @ (Qx.T @ eps)
            eps *= np.sqrt(k * n_samples) / np.linalg.norm(eps)
        Y = Y + noise * eps
    meta = dict(
        kind="synthetic_teacher",
        n_samples=int(n_samples),
        in_dim=int(in_dim),
        singular_values=s.tolist(),
        input_spectrum=spec.tolist(),
        noise=noise,
        rotate=bool(rotate),
        exact=bool(exact),
        seed=int(seed),
    )
    return Dataset(X, Y, name="synthetic", meta=meta)


def synthetic_autoencoder(n_samples: int = 200, spectrum=(4.0, 2.0, 1.0, 0.5), *, rotate: bool = True,
                          seed: int = 0) -> Dataset:
    r"""Gaussian inputs reconstructed by an autoencoder (Y = X) with an exact sample spectrum.

    X^T X / N = Q diag(spectrum) Q^T exactly (Q a seeded random rotation when ``rotate``), so
    the linear VAE's collapse thresholds on this set are exactly beta_i = spectrum_i /
    eta_dec^2 (zeta_i = sqrt(spectrum_i), :func:`theory.vae_collapse_thresholds`).
    """
    lam = np.asarray(spectrum, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise InputError(f"spectrum must be a non-empty list of finite values > 0, got {spectrum!r}")
    d = lam.size
    n_samples = check_int(n_samples, "n_samples", d)
    seed = check_seed(seed)
    check_memory(16.0 * n_samples * d, f"synthetic_autoencoder(n_samples={n_samples}, {d} dimensions)")
    rng = np.random.default_rng(seed)
    Q = _random_orthogonal(d, rng) if rotate else np.eye(d)
    X = rng.standard_normal((n_samples, d))
    X = X @ psd_power(X.T @ X / n_samples, -0.5) @ ((Q * np.sqrt(lam)) @ Q.T)
    meta = dict(kind="synthetic_autoencoder", n_samples=int(n_samples), spectrum=lam.tolist(), rotate=bool(rotate),
                seed=int(seed))
    return Dataset(X, X.copy(), name="synthetic-autoencoder", meta=meta)
