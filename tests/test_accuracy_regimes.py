"""Classifier metrics, train/test preprocessing, the cross-entropy objective and MNIST paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2phase.empirical import (
    MNIST_ENV,
    NetSpec,
    classification_metrics,
    classification_split,
    error,
    forward,
    resolve_mnist_path,
)
from test_empirical_models_data import _write_idx


@pytest.fixture(scope="module")
def split():
    return classification_split("digits", 300, 200, n_components=12, whiten=True, seed=2)


def test_split_is_fitted_on_the_training_set_only(split):
    train, test = split
    assert (train.n_samples, test.n_samples, train.in_dim, train.out_dim) == (300, 200, 12, 10)
    A, _, _ = train.stats()
    assert np.allclose(A, np.eye(12), atol=1e-10)  # whitened on the training set
    assert np.allclose(train.X.mean(0), 0, atol=1e-12) and np.allclose(train.Y.mean(0), 0, atol=1e-12)
    assert not np.allclose(test.X.mean(0), 0, atol=1e-3)  # the test set is transformed, not refitted
    # the same transform: a test image equal to a training image maps to the same features
    tr2, te2 = classification_split("digits", 300, 200, n_components=12, whiten=True, seed=2)
    assert np.array_equal(te2.X, test.X)
    with pytest.raises(ValueError, match="n_train"):
        classification_split("digits", 0, 10)
    with pytest.raises(ValueError, match="1797"):
        classification_split("digits", 1500, 400)
    with pytest.raises(ValueError, match="source"):
        classification_split("cifar", 10, 10)


def test_metrics_against_a_plain_loop(split):
    train, test = split
    # tanh: no exact ties (a ReLU net with zero biases has samples whose hidden units are all
    # dead, all outputs 0, where the tie rule, not argmax, decides)
    spec = NetSpec(12, 10, 1, 6, "tanh", True)
    th = spec.init(3, 1.0, seed=5)
    m = classification_metrics(spec, th, test, train)
    f = forward(spec, th, torch.as_tensor(test.X)).numpy()
    for b in range(3):
        pred = f[b].argmax(1)
        assert m["accuracy"][b] == pytest.approx(np.mean(pred == test.labels))
        for c in range(10):
            sel = test.labels == c
            assert m["per_class"][b, c] == pytest.approx(np.mean(pred[sel] == c))


def test_collapsed_net_is_the_majority_predictor(split):
    train, test = split
    spec = NetSpec(12, 10, 2, 6, "tanh", False)
    tiny = spec.init(2, 1.0, seed=1) * 1e-9  # outputs ~1e-27: all tied
    m = classification_metrics(spec, tiny, test, train)
    majority = np.bincount(train.labels, minlength=10).argmax()
    assert m["chance"] == pytest.approx(np.mean(test.labels == majority))
    assert np.all(m["accuracy"] == m["chance"])
    assert np.all(m["predictions"] == majority)
    with pytest.raises(ValueError, match="thetas"):
        classification_metrics(spec, tiny[:, :5], test)


def test_cross_entropy_objective_equals_torch(split):
    train, _ = split
    tr_ce, _ = classification_split("digits", 300, 200, n_components=12, center_targets=False, seed=2)
    spec = NetSpec(12, 10, 1, 7, "relu", True, "cross_entropy")
    th = spec.init(2, 1.0, seed=3)
    X, Y = tr_ce.tensors()
    ref = torch.stack([torch.nn.functional.cross_entropy(forward(spec, t, X), torch.as_tensor(tr_ce.labels))
                       for t in th])
    assert torch.allclose(error(spec, th, X, Y), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="objective"):
        NetSpec(12, 10, 1, 7, objective="hinge")


def test_mnist_path_resolution_and_messages(tmp_path, monkeypatch):
    monkeypatch.delenv(MNIST_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=MNIST_ENV) as exc:
        resolve_mnist_path(None)
    assert "download_mnist" in str(exc.value) and "train-images-idx3-ubyte" in str(exc.value)
    with pytest.raises(FileNotFoundError, match="no MNIST data at"):
        resolve_mnist_path(tmp_path / "missing")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 30)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), True)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8), True)
    monkeypatch.setenv(MNIST_ENV, str(tmp_path))
    assert resolve_mnist_path(None) == tmp_path
    train, test = classification_split("mnist", 25, 20, n_components=8, seed=1)
    assert (train.n_samples, test.n_samples, train.in_dim) == (25, 20, 8)
    with pytest.raises(ValueError, match="MNIST has 40 training"):
        classification_split("mnist", 41, 5, n_components=8)
