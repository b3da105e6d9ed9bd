r"""Training sets and the data statistics the theory needs.

The exact theory of deep linear nets sees the data only through

.. math:: A = E[x x^T],\quad \beta = E[x y^T],\quad E[\|y\|^2]

(means over the *training set*, uncentred; docs/conventions.md).  :func:`data_stats`
computes them from the actual samples, so predictions are exact for the set the nets
are trained on.

Data sources
------------
* :func:`synthetic_teacher` - Gaussian inputs with a chosen covariance spectrum, a
  linear teacher with chosen singular values (several outputs), label noise; with
  ``exact=True`` the sample second moment equals the chosen A exactly and the noise is
  orthogonal to the inputs, so beta = A T^T exactly.
* :func:`load_digits_dataset` - scikit-learn's bundled handwritten digits (no download).
* :func:`load_mnist` - MNIST from local IDX (optionally gzipped) or ``mnist.npz`` files;
  :func:`download_mnist` fetches and checksums them into a cache directory (never run
  by the tests).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from l2phase.theory.checks import check_nonnegative

__all__ = [
    "Dataset",
    "data_stats",
    "synthetic_teacher",
    "synthetic_autoencoder",
    "load_digits_dataset",
    "classification_split",
    "read_idx",
    "resolve_mnist_path",
    "MNIST_ENV",
    "load_mnist",
    "download_mnist",
    "MNIST_SOURCES",
]


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
        self.X, self.Y = _check_xy(self.X, self.Y)
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
            if self.labels.shape != (self.X.shape[0],):
                raise ValueError(f"labels must have shape ({self.X.shape[0]},), got {self.labels.shape}")

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

    def tensors(self, device=None, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
        """(X, Y) as fresh torch tensors (copies in torch's 64-byte aligned memory).

        Copies, not views, so the BLAS kernels see the same alignment wherever this
        dataset came from (see :meth:`__setstate__`).
        """
        return (
            torch.tensor(self.X, dtype=dtype, device=device),
            torch.tensor(self.Y, dtype=dtype, device=device),
        )


def _check_xy(X, Y) -> tuple[np.ndarray, np.ndarray]:
    try:
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float)
    except (TypeError, ValueError):
        raise TypeError("X and Y must be numeric arrays") from None
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, d), got {X.shape}")
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2:
        raise ValueError(f"Y must have shape (N,) or (N, k), got {Y.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0 or Y.shape[1] == 0:
        raise ValueError(f"empty data: X {X.shape}, Y {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but Y has {Y.shape[0]}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ValueError("X or Y contains NaN or inf")
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
    X, Y = _check_xy(X, Y)
    n = X.shape[0]
    return X.T @ X / n, X.T @ Y / n, float(np.sum(Y * Y) / n)


def _random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _sqrtm_psd(M: np.ndarray, inverse: bool = False) -> np.ndarray:
    w, V = np.linalg.eigh(0.5 * (M + M.T))
    w = np.clip(w, 1e-300, None)
    p = -0.5 if inverse else 0.5
    return (V * w**p) @ V.T


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
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if isinstance(in_dim, bool) or not isinstance(in_dim, (int, np.integer)) or in_dim < 1:
        raise ValueError(f"in_dim must be a positive integer, got {in_dim!r}")
    s = np.atleast_1d(np.asarray(singular_values, dtype=float))
    if s.ndim != 1 or s.size == 0 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"singular_values must be a non-empty list of finite values >= 0, got {singular_values!r}")
    k = s.size
    if k > in_dim:
        raise ValueError(f"need len(singular_values)={k} <= in_dim={in_dim}")
    spec = np.ones(in_dim) if input_spectrum is None else np.asarray(input_spectrum, dtype=float)
    if spec.shape != (in_dim,) or not np.all(np.isfinite(spec)) or np.any(spec <= 0):
        raise ValueError(f"input_spectrum must be {in_dim} positive finite values, got {input_spectrum!r}")
    noise = check_nonnegative(noise, "noise")
    if exact and n_samples < in_dim + (k if noise > 0 else 0):
        raise ValueError(f"exact=True needs n_samples >= in_dim (+ k with noise), got {n_samples}")
    rng = np.random.default_rng(seed)
    Qa = _random_orthogonal(in_dim, rng) if rotate else np.eye(in_dim)
    A = (Qa * spec) @ Qa.T
    U = _random_orthogonal(in_dim, rng)[:, :k] if rotate else np.eye(in_dim)[:, :k]
    V = _random_orthogonal(k, rng) if rotate else np.eye(k)
    T = (V * s) @ U.T  # (k, d)
    X = rng.standard_normal((n_samples, in_dim))
    if exact:
        X = X @ _sqrtm_psd(X.T @ X / n_samples, inverse=True) @ _sqrtm_psd(A)
    else:
        X = X @ _sqrtm_psd(A)
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
        raise ValueError(f"spectrum must be a non-empty list of finite values > 0, got {spectrum!r}")
    d = lam.size
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < d:
        raise ValueError(f"n_samples must be an integer >= len(spectrum) = {d}, got {n_samples!r}")
    rng = np.random.default_rng(seed)
    Q = _random_orthogonal(d, rng) if rotate else np.eye(d)
    X = rng.standard_normal((n_samples, d))
    X = X @ _sqrtm_psd(X.T @ X / n_samples, inverse=True) @ ((Q * np.sqrt(lam)) @ Q.T)
    meta = dict(kind="synthetic_autoencoder", n_samples=int(n_samples), spectrum=lam.tolist(), rotate=bool(rotate),
                seed=int(seed))
    return Dataset(X, X.copy(), name="synthetic-autoencoder", meta=meta)


def _classification_targets(labels: np.ndarray, n_classes: int, center: bool) -> np.ndarray:
    Y = np.eye(n_classes)[labels]
    return Y - Y.mean(0) if center else Y


def _fit_pca(X: np.ndarray, n_components: int | None, whiten: bool):
    """The input transform fitted on X: centring, projection on the top ``n_components``
    principal components (``None``: the non-constant pixels) and optional whitening.
    Returns a function applying the same transform to any array (e.g. a test set)."""
    mean = X.mean(0)
    if n_components is None:
        keep = X.std(0) > 0
        W = _sqrtm_psd(np.cov((X - mean)[:, keep].T, bias=True), inverse=True) if whiten else None
        return lambda Z: (((Z - mean)[:, keep]) @ W) if W is not None else (Z - mean)[:, keep]
    _, sv, Vt = np.linalg.svd(X - mean, full_matrices=False)
    comps = Vt[:n_components].T
    scale = sv[:n_components] / np.sqrt(X.shape[0]) if whiten else np.ones(n_components)
    return lambda Z: ((Z - mean) @ comps) / scale


def _pca(X: np.ndarray, n_components: int, whiten: bool) -> np.ndarray:
    return _fit_pca(X, n_components, whiten)(X)


def load_digits_dataset(
    n_samples: int | None = None,
    *,
    n_components: int | None = 16,
    whiten: bool = True,
    classes=None,
    center_targets: bool = True,
    seed: int = 0,
) -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits (1797 samples, no download).

    Inputs: pixels / 16, centred, projected on the top ``n_components`` principal
    components (``None``: all 64 pixels, minus those constant over the set, so that A
    is positive definite) and optionally whitened.  Targets: one-hot labels of
    ``classes`` (default all ten), centred over the set when ``center_targets``.
    ``n_samples`` draws a seeded random subset.
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data.astype(float) / 16.0
    labels = d.target.astype(np.int64)
    if classes is not None:
        classes = [int(c) for c in classes]
        keep = np.isin(labels, classes)
        X, labels = X[keep], labels[keep]
        labels = np.searchsorted(np.asarray(sorted(classes)), labels)
    n_classes = int(labels.max()) + 1
    if n_samples is not None:
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or not 1 <= n_samples <= X.shape[0]:
            raise ValueError(f"n_samples must be an integer in [1, {X.shape[0]}], got {n_samples!r}")
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], n_samples, replace=False))
        X, labels = X[idx], labels[idx]
    if n_components is None:
        X = X[:, X.std(0) > 0]
        X = X - X.mean(0)
        if whiten:
            X = X @ _sqrtm_psd(X.T @ X / X.shape[0], inverse=True)
    else:
        if not 1 <= int(n_components) <= X.shape[1]:
            raise ValueError(f"n_components must be in [1, {X.shape[1]}], got {n_components!r}")
        X = _pca(X, int(n_components), whiten)
    Y = _classification_targets(labels, n_classes, center_targets)
    meta = dict(kind="digits", n_samples=int(X.shape[0]), n_components=n_components, whiten=whiten,
                classes=classes, center_targets=center_targets, seed=int(seed))
    return Dataset(X, Y, name="digits", labels=labels, meta=meta)


def classification_split(
    source: str = "digits",
    n_train: int = 500,
    n_test: int = 500,
    *,
    n_components: int | None = 16,
    whiten: bool = True,
    center_targets: bool = True,
    path=None,
    seed: int = 0,
) -> tuple[Dataset, Dataset]:
    """Training and test sets of a classification data set, preprocessed consistently.

    The input transform (centring, PCA to ``n_components``, optional whitening) and the
    target centring are fitted on the training set only and applied unchanged to the test
    set, so the theory's A, beta, E||y||^2 are those of the training set and the test set
    is a fair hold-out.

    Parameters
    ----------
    source : {"digits", "mnist"}
        scikit-learn's bundled digits (split at random, seeded), or MNIST from local files
        (training samples from its training split, test samples from its test split;
        ``path`` or the ``L2PHASE_MNIST`` environment variable, see :func:`load_mnist`).
    n_train, n_test : int
        Sample counts (seeded random subsets).
    center_targets : bool
        Subtract the training set's mean one-hot target from both sets (the theory's
        convention for MSE); use False for cross-entropy (targets are probabilities).

    Returns
    -------
    (train, test) :class:`Dataset` pair with ``labels``; ``meta`` records the settings.
    """
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    rng = np.random.default_rng(seed)
    if source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        images, labels = d.data.astype(float) / 16.0, d.target.astype(np.int64)
        if n_train + n_test > images.shape[0]:
            raise ValueError(f"n_train + n_test must be <= {images.shape[0]} for digits, got {n_train + n_test}")
        idx = rng.permutation(images.shape[0])
        tr, te = np.sort(idx[:n_train]), np.sort(idx[n_train:n_train + n_test])
        Xtr, ytr, Xte, yte = images[tr], labels[tr], images[te], labels[te]
    elif source == "mnist":
        root = resolve_mnist_path(path)
        Xa, ya = _mnist_arrays(root, "train")
        Xb, yb = _mnist_arrays(root, "test")
        if n_train > Xa.shape[0] or n_test > Xb.shape[0]:
            raise ValueError(f"MNIST has {Xa.shape[0]} training and {Xb.shape[0]} test images; "
                             f"asked for {n_train} and {n_test}")
        tr = np.sort(rng.choice(Xa.shape[0], n_train, replace=False))
        te = np.sort(rng.choice(Xb.shape[0], n_test, replace=False))
        Xtr, ytr, Xte, yte = Xa[tr], ya[tr], Xb[te], yb[te]
    else:
        raise ValueError(f"source must be 'digits' or 'mnist', got {source!r}")
    if n_components is not None and not 1 <= int(n_components) <= Xtr.shape[1]:
        raise ValueError(f"n_components must be in [1, {Xtr.shape[1]}], got {n_components!r}")
    transform = _fit_pca(Xtr, None if n_components is None else int(n_components), whiten)
    n_classes = 10
    Ytr = np.eye(n_classes)[ytr]
    Yte = np.eye(n_classes)[yte]
    if center_targets:
        mean = Ytr.mean(0)
        Ytr, Yte = Ytr - mean, Yte - mean
    meta = dict(kind=source, n_train=int(n_train), n_test=int(n_test), n_components=n_components, whiten=bool(whiten),
                center_targets=bool(center_targets), seed=int(seed))
    return (Dataset(transform(Xtr), Ytr, name=f"{source}-train", labels=ytr, meta=dict(meta, split="train")),
            Dataset(transform(Xte), Yte, name=f"{source}-test", labels=yte, meta=dict(meta, split="test")))


# ---------------------------------------------------------------------------------- MNIST
#: Download sources of MNIST: file name -> (URL, hash algorithm, hex digest).
MNIST_SOURCES = {
    "mnist.npz": (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        "sha256",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    ),
    "train-images-idx3-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "md5",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    "train-labels-idx1-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
        "md5",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    "t10k-images-idx3-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
        "md5",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
        "md5",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a numpy array.

    Format: two zero bytes, a type byte, the number of dimensions, then one big-endian
    uint32 per dimension, then the data.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtype = _IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise ValueError(f"{path}: unknown IDX data type 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    dt = np.dtype(dtype)
    count = int(np.prod(shape)) if ndim else 1
    if len(raw) - header != count * dt.itemsize:
        raise ValueError(f"{path}: IDX payload has {len(raw) - header} bytes, expected {count * dt.itemsize}")
    return np.frombuffer(raw, dtype=dt, offset=header).reshape(shape).astype(dt.newbyteorder("="))


def _find(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        p = root / name
        if p.exists():
            return p
    return None


#: Environment variable naming the MNIST directory or ``mnist.npz`` when no path is given.
MNIST_ENV = "L2PHASE_MNIST"


def _mnist_help(where: str) -> str:
    return (f"{where}. Put MNIST there as mnist.npz (keys x_train, y_train, x_test, y_test) or as the four "
            "IDX files train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
            f"t10k-labels-idx1-ubyte[.gz], and pass its path or set {MNIST_ENV}=PATH. To fetch it (checksummed): "
            "python -c 'from l2phase import empirical; print(empirical.download_mnist())' (writes ~/.cache/l2phase/mnist; "
            "sources in empirical.MNIST_SOURCES)")


def resolve_mnist_path(path=None) -> Path:
    """The MNIST location: ``path``, else the ``L2PHASE_MNIST`` environment variable.

    Raises ``FileNotFoundError`` with exactly where to put the files and how to fetch them
    when neither names existing data.
    """
    if path is None or str(path) == "":
        env = os.environ.get(MNIST_ENV, "")
        if not env:
            raise FileNotFoundError(_mnist_help(f"no MNIST path given and {MNIST_ENV} is not set"))
        path = env
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(_mnist_help(f"no MNIST data at {p}"))
    return p


def _mnist_arrays(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw MNIST images (n, 784) as pixels / 255 and labels (n,) of one split."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if path.is_dir() and (path / "mnist.npz").exists():
        path = path / "mnist.npz"
    if path.is_file() and path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            try:
                images, labels = f[f"x_{split}"], f[f"y_{split}"]
            except KeyError:
                raise ValueError(f"{path} lacks the arrays x_{split}, y_{split}") from None
    else:
        prefix = "train" if split == "train" else "t10k"
        ip = _find(path, f"{prefix}-images-idx3-ubyte")
        lp = _find(path, f"{prefix}-labels-idx1-ubyte")
        if ip is None or lp is None:
            raise FileNotFoundError(_mnist_help(f"{path} holds no {prefix}-images-idx3-ubyte / "
                                                f"{prefix}-labels-idx1-ubyte files"))
        images, labels = read_idx(ip), read_idx(lp)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    return images.reshape(images.shape[0], -1).astype(float) / 255.0, labels.astype(np.int64)


def load_mnist(
    path=None,
    split: str = "train",
    *,
    n_samples: int | None = None,
    n_components: int | None = None,
    whiten: bool = False,
    center_targets: bool = True,
    seed: int = 0,
) -> Dataset:
    """MNIST from local files: a directory of IDX files or an ``mnist.npz``.

    Parameters
    ----------
    path : str or Path, optional
        ``mnist.npz`` (keys x_train, y_train, x_test, y_test) or a directory holding
        ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` (or an ``mnist.npz``);
        default: the ``L2PHASE_MNIST`` environment variable.  Missing files raise
        ``FileNotFoundError`` saying where to put them and how to fetch them
        (:func:`download_mnist`; never called by the loader).
    split : {"train", "test"}
    n_samples, n_components, whiten, center_targets, seed
        As in :func:`load_digits_dataset` (inputs are pixels / 255, centred).
    """
    path = resolve_mnist_path(path)
    X, labels = _mnist_arrays(path, split)
    if n_samples is not None:
        if not 1 <= int(n_samples) <= X.shape[0]:
            raise ValueError(f"n_samples must be in [1, {X.shape[0]}], got {n_samples!r}")
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], int(n_samples), replace=False))
        X, labels = X[idx], labels[idx]
    if n_components is None:
        X = X[:, X.std(0) > 0]
        X = X - X.mean(0)
    else:
        X = _pca(X, int(n_components), whiten)
    Y = _classification_targets(labels, 10, center_targets)
    meta = dict(kind="mnist", split=split, n_samples=int(X.shape[0]), n_components=n_components,
                whiten=whiten, center_targets=center_targets, seed=int(seed), source=str(path))
    return Dataset(X, Y, name="mnist", labels=labels, meta=meta)


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_mnist(cache_dir=None, *, files=("mnist.npz",), timeout: float = 60.0) -> Path:
    """Download MNIST into ``cache_dir`` (default ``~/.cache/l2phase/mnist``), checksummed.

    Each file of ``files`` (keys of :data:`MNIST_SOURCES`) is fetched only if absent or
    corrupt, written to a temporary file, checked against its published digest and then
    moved into place atomically.  Returns the cache directory (pass it to
    :func:`load_mnist`).  Raises ``ValueError`` on a checksum mismatch.
    """
    root = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "l2phase" / "mnist"
    root.mkdir(parents=True, exist_ok=True)
    for name in files:
        if name not in MNIST_SOURCES:
            raise ValueError(f"unknown MNIST file {name!r}; choose from {sorted(MNIST_SOURCES)}")
        url, algo, digest = MNIST_SOURCES[name]
        target = root / name
        if target.exists() and _digest(target, algo) == digest:
            continue
        fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
            got = _digest(Path(tmp), algo)
            if got != digest:
                raise ValueError(f"checksum mismatch for {name}: {algo} {got} != {digest}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return root
