"""Data sets and initial draws of the two-layer ReLU phase-diagram experiments (Luo et al.
arXiv:2007.07497): small regression sets x -> y (scalar targets) and the seeded standard-normal
draws of one run's neurons."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l2phase.theory.checks import InputError, InputTypeError, check_int, check_seed

from ..dataset import check_xy

__all__ = ["TWO_LAYER_DATASETS", "TwoLayerData", "initial_draws", "two_layer_dataset"]

#: Names accepted by :func:`two_layer_dataset` (``mnist`` needs a local path: ``mnist:PATH``).
TWO_LAYER_DATASETS = ("quadratic4", "quadratic1d", "sin1d", "teacher2d", "digits", "mnist")


# ------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class TwoLayerData:
    """A regression set for the two-layer experiments: X (n, d) and scalar targets y (n,)."""

    X: np.ndarray
    y: np.ndarray
    name: str
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        # the shared check; a 1-D X is one input column, y one value per sample
        X, Y = check_xy(self.X, self.y, names=("X", "y"), column_x=True, one_target=True)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", Y[:, 0])

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def in_dim(self) -> int:
        return self.X.shape[1]

    def augmented(self) -> np.ndarray:
        """x~ = (x, 1): the bias is the last input weight (paper p.2)."""
        return np.hstack([self.X, np.ones((self.n_samples, 1))])


#: Largest n_samples of :func:`two_layer_dataset`: full-batch training forms n x n matrices.
MAX_SAMPLES = 10**5


def two_layer_dataset(name: str = "quadratic4", *, n_samples: int | None = None, seed: int = 0,
                      path: str | Path | None = None) -> TwoLayerData:
    """Small data sets for the phase-diagram experiments.

    * ``quadratic4`` - the paper's problem: x = linspace(-1/2, 1/2, 4), y = x^2;
    * ``quadratic1d`` - the same target on ``n_samples`` (default 16) equispaced points;
    * ``sin1d`` - y = sin(2 pi x) / 2 on ``n_samples`` (default 16) points of [-1/2, 1/2];
    * ``teacher2d`` - ``n_samples`` (default 20) seeded uniform points of [-1/2, 1/2]^2, y from a
      fixed 3-neuron ReLU teacher;
    * ``digits`` - ``n_samples`` (default 200) of scikit-learn's 8x8 digits, x = pixels/16 in
      [0, 1]^64, y = label/9 (a scalar label, as the paper's MNIST experiment);
    * ``mnist`` - ``n_samples`` (default 200) MNIST training images from the local file or
      directory ``path`` (see :func:`empirical.data.load_mnist`), x = pixels/255, y = label/9.
      The paper's code used the first 45 images.
    """
    if not isinstance(name, str):
        raise InputTypeError(f"name must be a string, got {name!r}")
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", 1, MAX_SAMPLES)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    if name == "quadratic4":
        x = np.linspace(-0.5, 0.5, 4)
        return TwoLayerData(x[:, None], x ** 2, name, dict(target="x^2", n=4))
    if name in ("quadratic1d", "sin1d"):
        n = int(n_samples or 16)
        x = np.linspace(-0.5, 0.5, n)
        y = x ** 2 if name == "quadratic1d" else np.sin(2 * np.pi * x) / 2
        return TwoLayerData(x[:, None], y, name, dict(n=n))
    if name == "teacher2d":
        n = int(n_samples or 20)
        X = rng.uniform(-0.5, 0.5, size=(n, 2))
        W = np.array([[1.0, 0.5, 0.1], [-0.7, 1.0, 0.2], [0.3, -1.0, -0.1]])
        a = np.array([1.0, -0.8, 0.6])
        y = np.maximum(np.hstack([X, np.ones((n, 1))]) @ W.T, 0) @ a
        return TwoLayerData(X, y, name, dict(n=n, seed=int(seed)))
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        n = int(n_samples or 200)
        if n > d.data.shape[0]:
            raise InputError(f"n_samples must be <= {d.data.shape[0]} for digits, got {n}")
        idx = np.sort(rng.choice(d.data.shape[0], n, replace=False))
        return TwoLayerData(d.data[idx] / 16.0, d.target[idx] / 9.0, name, dict(n=n, seed=int(seed), y="label/9"))
    if name == "mnist":
        if path is None:
            raise InputError("the mnist data set needs a local path (data 'mnist:PATH')")
        from ..data import load_mnist

        n = int(n_samples or 200)
        ds = load_mnist(path, n_samples=n, seed=seed, center_targets=False)
        # load_mnist centres pixels; the paper's inputs are raw pixels / 255 in [0, 1]
        X = ds.X + 0.0
        X = X - X.min(0)
        return TwoLayerData(X, ds.labels / 9.0, name, dict(n=n, seed=int(seed), y="label/9", source=str(path)))
    raise InputError(f"unknown data set {name!r}; known: {', '.join(TWO_LAYER_DATASETS)}")


# ------------------------------------------------------------------------------ draws
def initial_draws(width: int, in_dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal draws (z_a (m,), z_w (m, d+1)) of one run; a = beta1 z_a, w = beta2 z_w.

    Seeded by (seed, m) only, so every (gamma_energy, gamma_dynamic) at the same width and
    seed starts from the same draws (common random numbers across the diagram).
    """
    width = _check_int(width, "width")
    in_dim = _check_int(in_dim, "in_dim")
    rng = np.random.default_rng([int(seed), width])
    za = rng.standard_normal(width)
    zw = rng.standard_normal((width, in_dim + 1))
    return za, zw


def _check_int(v, name, minimum=1) -> int:
    return check_int(v, name, minimum)


