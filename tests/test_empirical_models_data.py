"""empirical.models and empirical.data: batched nets vs explicit per-net products; data statistics."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from l2phase.empirical import (
    Dataset,
    NetSpec,
    data_stats,
    end_to_end_matrix,
    error,
    forward,
    load_digits_dataset,
    load_mnist,
    penalty,
    read_idx,
    synthetic_teacher,
)


@pytest.mark.parametrize("act", ["linear", "relu", "tanh"])
@pytest.mark.parametrize("bias", [False, True])
def test_batched_forward_equals_per_net_loop(act, bias):
    spec = NetSpec(3, 2, depth=2, width=5, activation=act, bias=bias)
    theta = spec.init(4, scale=1.0, seed=1)
    if bias:  # non-zero biases so they matter
        theta = theta + 0.1 * torch.randn(theta.shape, generator=torch.Generator().manual_seed(2), dtype=theta.dtype)
    X = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = forward(spec, theta, X)
    assert out.shape == (4, 7, 2)
    f = {"linear": lambda h: h, "relu": torch.relu, "tanh": torch.tanh}[act]
    for i in range(4):
        h = X
        layers = spec.unflatten(theta[i])
        for l, (W, bb) in enumerate(layers):
            h = h @ W.T + (bb if bb is not None else 0.0)
            if l < len(layers) - 1:
                h = f(h)
        # same float64 arithmetic up to summation order
        assert torch.allclose(out[i], h, rtol=1e-12, atol=1e-12)


def test_linear_net_is_product_and_penalty_is_frobenius():
    spec = NetSpec(4, 3, depth=2, width=6)
    theta = spec.init(2, seed=3)
    X = torch.eye(4, dtype=torch.float64)
    M = end_to_end_matrix(spec, theta)
    assert torch.allclose(forward(spec, theta, X), M.transpose(-1, -2), atol=1e-13)
    (W1, _), (W2, _), (W3, _) = spec.unflatten(theta[0])
    assert torch.allclose(M[0], W3 @ W2 @ W1, atol=1e-13)
    ref = (W1**2).sum() + (W2**2).sum() + (W3**2).sum()
    assert abs(float(penalty(spec, theta)[0] - ref)) < 1e-12
    # error convention: mean over samples of the squared norm over outputs, no 1/2
    Y = torch.zeros(4, 3, dtype=torch.float64)
    assert abs(float(error(spec, theta, X, Y)[0]) - float((M[0] ** 2).sum() / 4)) < 1e-12


def test_bias_not_penalised_and_flatten_roundtrip():
    spec = NetSpec(2, 1, depth=1, width=3, bias=True)
    theta = spec.init(1, seed=0)
    mask = spec.weight_mask()
    assert int(mask.sum()) == 2 * 3 + 3 * 1 and spec.n_params == 6 + 3 + 3 + 1
    theta2 = theta + (1 - mask) * 5.0  # change only the biases
    assert torch.allclose(penalty(spec, theta2), penalty(spec, theta))
    assert torch.equal(spec.flatten(spec.unflatten(theta2[0])), theta2[0])


@pytest.mark.parametrize(
    "kw, exc",
    [
        (dict(in_dim=0, out_dim=1, depth=1), ValueError),
        (dict(in_dim=2, out_dim=1, depth=1.5), TypeError),
        (dict(in_dim=2, out_dim=1, depth=-1), ValueError),
        (dict(in_dim=2, out_dim=1, depth=1, activation="gelu"), ValueError),
    ],
)
def test_invalid_spec(kw, exc):
    with pytest.raises(exc):
        NetSpec(**kw)


def test_data_stats_by_hand():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    Y = np.array([1.0, -1.0, 2.0])
    A, beta, ey2 = data_stats(X, Y)
    assert np.allclose(A, [[2 / 3, 1 / 3], [1 / 3, 5 / 3]])
    assert np.allclose(beta[:, 0], [1.0, 0.0])
    assert ey2 == pytest.approx(2.0)
    with pytest.raises(ValueError, match="samples"):
        data_stats(X, Y[:2])
    with pytest.raises(ValueError, match="empty"):
        data_stats(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="NaN"):
        data_stats([[np.nan]], [1.0])


def test_synthetic_teacher_exact_statistics():
    s = (1.3, 0.5, 0.2)
    spec = (2.0, 1.0, 1.0, 0.5, 0.25)
    d = synthetic_teacher(300, 5, s, input_spectrum=spec, noise=0.3, seed=4)
    A, beta, ey2 = d.stats()
    assert np.allclose(np.sort(np.linalg.eigvalsh(A)), np.sort(spec), atol=1e-12)
    T = np.linalg.solve(A, beta)  # beta = A T^T exactly (noise orthogonal to X)
    assert np.allclose(np.sort(np.linalg.svd(T, compute_uv=False))[::-1], s, atol=1e-12)
    # E||y||^2 = tr(T A T^T) + k noise^2 exactly
    assert ey2 == pytest.approx(np.trace(T.T @ A @ T) + 3 * 0.3**2, rel=1e-12)
    with pytest.raises(ValueError):
        synthetic_teacher(10, 2, (1.0, 0.5, 0.1))


def test_digits_dataset():
    d = load_digits_dataset(n_samples=300, n_components=8, seed=0)
    assert d.X.shape == (300, 8) and d.Y.shape == (300, 10) and d.labels.shape == (300,)
    A, _, _ = d.stats()
    assert np.allclose(A, np.eye(8), atol=1e-10)  # whitened PCA inputs


def _write_idx(path, arr, gz):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[arr.dtype.type], arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + arr.tobytes())


@pytest.mark.parametrize("gz", [False, True])
def test_idx_and_npz_loaders(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = (np.arange(12) % 10).astype(np.uint8)
    sfx = ".gz" if gz else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{sfx}", images, gz)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{sfx}", labels, gz)
    assert np.array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{sfx}"), images)
    d = load_mnist(tmp_path, "train")
    assert d.labels.tolist() == labels.tolist() and d.Y.shape == (12, 10)
    npz = tmp_path / "m.npz"
    np.savez(npz, x_train=images, y_train=labels, x_test=images[:3], y_test=labels[:3])
    d2 = load_mnist(npz, "test")
    assert d2.n_samples == 3
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    with pytest.raises(FileNotFoundError):
        load_mnist(tmp_path / "nothing")


def test_dataset_validation():
    with pytest.raises(ValueError):
        Dataset(np.zeros((3, 2)), np.zeros((4, 1)))


@pytest.mark.parametrize("X, y, needle", [
    (np.zeros((3, 2)), np.zeros(4), "X has 3 samples but y has 4"),
    (np.zeros((3, 2)), [0.0, np.nan, 1.0], "y contains NaN"),
    ([[0.0, np.inf]] * 3, np.zeros(3), "X contains NaN"),
    (np.zeros((3, 2)), np.zeros((3, 2)), r"y must have shape \(N,\) or \(N, 1\)"),
    (np.zeros((3, 2, 1)), np.zeros(3), r"X must have shape \(N, d\) or \(N,\)"),
    (np.zeros((0, 2)), np.zeros(0), "empty data"),
    ("abc", np.zeros(3), "X must be a numeric array"),
    (np.zeros(3), [1, "b", 2], "y must be a numeric array"),
])
def test_two_layer_data_shares_the_dataset_check(X, y, needle):
    from l2phase.empirical.two_layer import TwoLayerData
    from l2phase.theory.checks import InputError

    with pytest.raises(InputError, match=needle):
        TwoLayerData(X, y, "t")


def test_two_layer_data_accepts_a_column_x_and_scalar_targets():
    from l2phase.empirical.two_layer import TwoLayerData

    d = TwoLayerData([0.0, 0.5, 1.0], [[1.0], [2.0], [3.0]], "t")
    assert d.X.shape == (3, 1) and d.y.tolist() == [1.0, 2.0, 3.0] and d.y.dtype == np.float64
    one = TwoLayerData([[0.1, 0.2]], 0.7, "one")  # one sample, a scalar target
    assert one.X.shape == (1, 2) and one.y.tolist() == [0.7]
    # Dataset keeps its stricter shapes through the same check (multi-output Y allowed, 1-D X refused)
    assert Dataset(np.zeros((3, 2)), np.zeros((3, 2))).Y.shape == (3, 2)
    with pytest.raises(ValueError, match=r"X must have shape \(N, d\), got \(3,\)"):
        Dataset(np.zeros(3), np.zeros(3))


def test_unpickled_dataset_is_aligned_and_gives_the_same_stats():
    # a Dask worker receives arrays at arbitrary byte offsets of a frame: emulate an odd offset
    import pickle

    d = synthetic_teacher(40, 3, (1.0, 0.4), noise=0.1, seed=3)
    bufs = []
    payload = pickle.dumps(d, protocol=5, buffer_callback=bufs.append)
    shifted = []
    for b in bufs:
        raw = b.raw()
        frame = bytearray(len(raw) + 3)
        frame[3:] = raw
        shifted.append(memoryview(frame)[3:])
    e = pickle.loads(payload, buffers=shifted)
    assert e.X.flags.aligned and e.Y.flags.aligned and e.X.flags.c_contiguous
    for a, b in zip(d.stats()[:2], e.stats()[:2]):
        assert a.tobytes() == b.tobytes()
    assert np.array_equal(e.X, d.X) and np.array_equal(e.Y, d.Y)
