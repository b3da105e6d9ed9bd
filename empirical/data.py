"""Data for the experiments: one import for the three modules it is made of.

* :mod:`empirical.dataset` - :class:`Dataset` and :func:`data_stats` (A, beta, E||y||^2).
* :mod:`empirical.synthetic` - synthetic sets with known statistics.
* :mod:`empirical.loaders` - digits, MNIST from local files, user ``.npz`` / ``.csv`` files.
* :mod:`empirical.preprocessing` - the preprocessing shared with ``l2phase theory --data``.
"""

from .dataset import Dataset, check_xy, data_stats
from .loaders import (
    MNIST_ENV,
    MNIST_SOURCES,
    RAW_SOURCES,
    classification_split,
    download_mnist,
    load_digits_dataset,
    load_mnist,
    load_raw,
    read_idx,
    resolve_mnist_path,
)
from .preprocessing import Preprocessing, classification_targets, fit_input_transform, psd_power
from .synthetic import synthetic_autoencoder, synthetic_teacher

from . import dataset as _dataset_module
from . import loaders as _loaders_module
from . import preprocessing as _preprocessing_module
from . import synthetic as _synthetic_module

__all__ = [
    name
    for module in (_dataset_module, _synthetic_module, _loaders_module, _preprocessing_module)
    for name in module.__all__
]
