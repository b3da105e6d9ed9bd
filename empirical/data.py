r"""Training sets and the data statistics the theory needs.

The exact theory of deep linear nets sees the data only through

.. math:: A = E[x x^T],\quad \beta = E[x y^T],\quad E[\|y\|^2]

(means over the *training set*, uncentred; DESIGN section 3).  :func:`data_stats`
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

from theory.validation import check_nonnegative

__all__ = [
    "Dataset",
    "data_stats",
    "synthetic_teacher",
    "load_digits_dataset",
    "read_idx",
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
        return (
            torch.as_tensor(self.X, dtype=dtype, device=device),
            torch.as_tensor(self.Y, dtype=dtype, device=device),
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


def _classification_targets(labels: np.ndarray, n_classes: int, center: bool) -> np.ndarray:
    Y = np.eye(n_classes)[labels]
    return Y - Y.mean(0) if center else Y


def _pca(X: np.ndarray, n_components: int, whiten: bool) -> np.ndarray:
    _, sv, Vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    Z = (X - X.mean(0)) @ Vt[:n_components].T
    if whiten:
        Z = Z / (sv[:n_components] / np.sqrt(X.shape[0]))
    return Z


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


def load_mnist(
    path,
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
    path : str or Path
        ``mnist.npz`` (keys x_train, y_train, x_test, y_test) or a directory holding
        ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` (or an ``mnist.npz``).
    split : {"train", "test"}
    n_samples, n_components, whiten, center_targets, seed
        As in :func:`load_digits_dataset` (inputs are pixels / 255, centred).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no MNIST data at {path}")
    if path.is_dir() and (path / "mnist.npz").exists():
        path = path / "mnist.npz"
    if path.is_file() and path.suffix == ".npz":
        with np.load(path) as f:
            key = "train" if split == "train" else "test"
            images, labels = f[f"x_{key}"], f[f"y_{key}"]
    else:
        prefix = "train" if split == "train" else "t10k"
        ip = _find(path, f"{prefix}-images-idx3-ubyte")
        lp = _find(path, f"{prefix}-labels-idx1-ubyte")
        if ip is None or lp is None:
            raise FileNotFoundError(f"{path} holds no {prefix}-images-idx3-ubyte / {prefix}-labels-idx1-ubyte files")
        images, labels = read_idx(ip), read_idx(lp)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    X = images.reshape(images.shape[0], -1).astype(float) / 255.0
    labels = labels.astype(np.int64)
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
