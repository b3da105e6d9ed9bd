r"""Loaders of real data sets: scikit-learn's digits, MNIST from local files, user files.

* :func:`load_digits_dataset` - scikit-learn's bundled handwritten digits (no download).
* :func:`classification_split` - training / test sets preprocessed consistently.
* :func:`load_mnist` - MNIST from local IDX (optionally gzipped) or ``mnist.npz`` files;
  :func:`download_mnist` fetches and checksums them into a cache directory (never run
  by the tests or by any default command).
* :func:`load_raw` - raw inputs and labels / targets of a named source (digits, mnist,
  synthetic) or of a user file (``.npz`` with arrays X and Y; ``.csv`` with named target
  columns), for :class:`empirical.preprocessing.Preprocessing`.

The preprocessing is done by :mod:`empirical.preprocessing` (shared with the theory's
command line).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import struct
import tempfile
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np

from l2phase.theory.checks import InputError, InputFileNotFoundError, InputTypeError, check_int, check_seed

from .dataset import Dataset
from .preprocessing import classification_targets, fit_input_transform, psd_power

__all__ = [
    "load_digits_dataset",
    "classification_split",
    "read_idx",
    "resolve_mnist_path",
    "MNIST_ENV",
    "load_mnist",
    "download_mnist",
    "MNIST_SOURCES",
    "RAW_SOURCES",
    "load_raw",
]


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

    seed = check_seed(seed)
    d = load_digits()
    X = d.data.astype(float) / 16.0
    labels = d.target.astype(np.int64)
    if classes is not None:
        if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
            raise InputTypeError(f"classes must be a list of digits 0..9, got {classes!r}")
        classes = [check_int(c, "classes[i]", 0, 9) for c in classes]
        if not classes or len(set(classes)) != len(classes):
            raise InputError(f"classes must be a non-empty list of distinct digits 0..9, got {classes!r}")
        keep = np.isin(labels, classes)
        X, labels = X[keep], labels[keep]
        labels = np.searchsorted(np.asarray(sorted(classes)), labels)
    n_classes = int(labels.max()) + 1
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", 1, X.shape[0])
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], n_samples, replace=False))
        X, labels = X[idx], labels[idx]
    if n_components is None:
        X = X[:, X.std(0) > 0]
        X = X - X.mean(0)
        if whiten:
            X = X @ psd_power(X.T @ X / X.shape[0], -0.5)
    else:
        if not 1 <= int(n_components) <= X.shape[1]:
            raise InputError(f"n_components must be in [1, {X.shape[1]}], got {n_components!r}")
        X = fit_input_transform(X, int(n_components), whiten)(X)
    Y = classification_targets(labels, n_classes, center_targets)
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
    n_train, n_test = check_int(n_train, "n_train", 1), check_int(n_test, "n_test", 1)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    if source == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        images, labels = d.data.astype(float) / 16.0, d.target.astype(np.int64)
        if n_train + n_test > images.shape[0]:
            raise InputError(f"n_train + n_test must be <= {images.shape[0]} for digits, got {n_train + n_test}")
        idx = rng.permutation(images.shape[0])
        tr, te = np.sort(idx[:n_train]), np.sort(idx[n_train:n_train + n_test])
        Xtr, ytr, Xte, yte = images[tr], labels[tr], images[te], labels[te]
    elif source == "mnist":
        root = resolve_mnist_path(path)
        Xa, ya = _mnist_arrays(root, "train")
        Xb, yb = _mnist_arrays(root, "test")
        if n_train > Xa.shape[0] or n_test > Xb.shape[0]:
            raise InputError(f"MNIST has {Xa.shape[0]} training and {Xb.shape[0]} test images; "
                             f"asked for {n_train} and {n_test}")
        tr = np.sort(rng.choice(Xa.shape[0], n_train, replace=False))
        te = np.sort(rng.choice(Xb.shape[0], n_test, replace=False))
        Xtr, ytr, Xte, yte = Xa[tr], ya[tr], Xb[te], yb[te]
    else:
        raise InputError(f"source must be 'digits' or 'mnist', got {source!r}")
    if n_components is not None and not 1 <= int(n_components) <= Xtr.shape[1]:
        raise InputError(f"n_components must be in [1, {Xtr.shape[1]}], got {n_components!r}")
    transform = fit_input_transform(Xtr, None if n_components is None else int(n_components), whiten)
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
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise InputFileNotFoundError(f"no such file: {path}") from None
    except (OSError, EOFError, zlib.error) as exc:  # truncated or damaged gzip, unreadable file
        raise InputError(f"{path} cannot be read: damaged or truncated file ({type(exc).__name__}: {exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise InputError(f"{path} is not an IDX file (bad magic number)")
    dtype = _IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise InputError(f"{path}: unknown IDX data type 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{path}: truncated IDX header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    dt = np.dtype(dtype)
    count = int(np.prod(shape)) if ndim else 1
    if len(raw) - header != count * dt.itemsize:
        raise InputError(f"{path}: IDX payload has {len(raw) - header} bytes, expected {count * dt.itemsize}")
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
            raise InputFileNotFoundError(_mnist_help(f"no MNIST path given and {MNIST_ENV} is not set"))
        path = env
    p = Path(path).expanduser()
    if not p.exists():
        raise InputFileNotFoundError(_mnist_help(f"no MNIST data at {p}"))
    return p


def _mnist_arrays(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw MNIST images (n, 784) as pixels / 255 and labels (n,) of one split."""
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    if path.is_dir() and (path / "mnist.npz").exists():
        path = path / "mnist.npz"
    if path.is_file() and path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as f:
                images, labels = f[f"x_{split}"], f[f"y_{split}"]
        except KeyError:
            raise InputError(f"{path} lacks the arrays x_{split}, y_{split}") from None
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
            # numpy's message for object arrays suggests allow_pickle: never do that with a data file
            raise InputError(f"{path} is not a readable MNIST .npz (damaged, truncated or holding object arrays: "
                             f"{type(exc).__name__})") from None
    else:
        prefix = "train" if split == "train" else "t10k"
        ip = _find(path, f"{prefix}-images-idx3-ubyte")
        lp = _find(path, f"{prefix}-labels-idx1-ubyte")
        if ip is None or lp is None:
            raise InputFileNotFoundError(_mnist_help(f"{path} holds no {prefix}-images-idx3-ubyte / "
                                                f"{prefix}-labels-idx1-ubyte files"))
        images, labels = read_idx(ip), read_idx(lp)
    if images.shape[0] != labels.shape[0]:
        raise InputError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
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
    seed = check_seed(seed)
    path = resolve_mnist_path(path)
    X, labels = _mnist_arrays(path, split)
    if n_samples is not None:
        if not 1 <= int(n_samples) <= X.shape[0]:
            raise InputError(f"n_samples must be in [1, {X.shape[0]}], got {n_samples!r}")
        idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], int(n_samples), replace=False))
        X, labels = X[idx], labels[idx]
    if n_components is None:
        X = X[:, X.std(0) > 0]
        X = X - X.mean(0)
    else:
        X = fit_input_transform(X, int(n_components), whiten)(X)
    Y = classification_targets(labels, 10, center_targets)
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
            raise InputError(f"unknown MNIST file {name!r}; choose from {sorted(MNIST_SOURCES)}")
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
                raise InputError(f"checksum mismatch for {name}: {algo} {got} != {digest}")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return root


#: Named sources of :func:`load_raw` (besides ``.npz`` / ``.csv`` files).
RAW_SOURCES = ("digits", "mnist", "synthetic")


def load_raw(source: str, *, targets=None, mnist_path=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Raw inputs and labels (or targets) of a data source, before any preprocessing.

    Parameters
    ----------
    source : str
        ``"digits"`` (scikit-learn's 1797 8x8 images, x = pixels / 16, integer labels),
        ``"mnist"`` (the 60000 training images from local files, x = pixels / 255; path
        from ``mnist_path`` or the ``L2PHASE_MNIST`` environment variable),
        ``"synthetic"`` (:func:`synthetic_teacher` with its defaults, real targets), or a
        file: ``.npz`` with arrays ``X`` (N, d) and ``Y`` ((N,) labels or (N, k) targets),
        ``.csv`` with a header row, ``targets`` naming the target column(s) and every other
        column an input.
    targets : list of str, optional
        Target column names (``.csv`` only; required there).

    Returns
    -------
    (X, y, info) with X (N, d) float, y (N,) labels or (N, k) targets, info a dict
    (source, how the inputs were scaled).

    Raises
    ------
    InputError
        Unknown source, missing file / array / column, non-numeric entries (the message
        names the file and the array or column).
    """
    name = str(source)
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.data.astype(float) / 16.0, d.target.astype(np.int64), {"source": "digits", "inputs": "pixels / 16"}
    if name == "mnist":
        X, labels = _mnist_arrays(resolve_mnist_path(mnist_path), "train")
        return X, labels, {"source": "mnist (training split)", "inputs": "pixels / 255"}
    if name == "synthetic":
        from .synthetic import synthetic_teacher

        ds = synthetic_teacher()
        return ds.X, ds.Y, {"source": "synthetic_teacher()", "inputs": "as generated", **ds.meta}
    path = Path(name).expanduser()
    if path.suffix not in (".npz", ".csv"):
        raise InputError(f"--data must be one of {', '.join(RAW_SOURCES)} or a .npz / .csv file, got {name!r}")
    if not path.is_file():
        raise InputError(f"--data file not found: {path}")
    if path.suffix == ".npz":
        X, y = _read_npz(path)
    else:
        X, y = _read_csv(path, targets)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{path}: X must have shape (N, d) with N, d >= 1, got {X.shape}")
    if y.shape[0] != X.shape[0] or y.ndim not in (1, 2):
        raise InputError(f"{path}: Y must have shape (N,) or (N, k) with N = {X.shape[0]}, got {y.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise InputError(f"{path}: X or Y contains NaN or inf")
    return X, y, {"source": str(path), "inputs": "as stored"}


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("X", "Y") if k not in f.files]
            if missing:
                raise InputError(f"{path} lacks array(s) {', '.join(missing)} (has: {', '.join(f.files) or 'none'})")
            X, y = f["X"], f["Y"]
    except (OSError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{path} is not a readable .npz file ({exc.__class__.__name__})") from None
    for key, arr in (("X", X), ("Y", y)):
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise InputError(f"{path}: array {key} must be numeric, got dtype {arr.dtype}")
    return np.asarray(X, dtype=float), (y if np.issubdtype(y.dtype, np.integer) else np.asarray(y, dtype=float))


def _read_csv(path: Path, targets) -> tuple[np.ndarray, np.ndarray]:
    if not targets:
        raise InputError(f"{path}: name the target column(s) with --target COL[,COL...]")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    unknown = [t for t in targets if t not in header]
    if unknown:
        raise InputError(f"{path}: no column(s) {', '.join(map(repr, unknown))}; columns are {', '.join(header)}")
    t_idx = [header.index(t) for t in targets]
    x_idx = [i for i in range(len(header)) if i not in t_idx]
    if not x_idx:
        raise InputError(f"{path}: no input columns left besides the target(s)")
    data = np.empty((len(rows) - 1, len(header)))
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path} line {r}: {len(row)} fields, header has {len(header)}")
        for c, v in enumerate(row):
            try:
                data[r - 2, c] = float(v)
            except ValueError:
                raise InputError(f"{path} line {r}, column {header[c]!r}: not a number: {v!r}") from None
    y = data[:, t_idx]
    if len(t_idx) == 1:
        y = y[:, 0]
        if np.all(y == np.round(y)) and y.min() >= 0:
            y = y.astype(np.int64)
    return data[:, x_idx], y
