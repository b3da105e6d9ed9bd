"""VAE collapse thresholds and the torch weight-decay converter, against independent references."""

import numpy as np
import pytest
import torch

from l2phase.theory import gamma_from_weight_decay, vae_collapse_thresholds, weight_decay_from_gamma


def test_vae_thresholds_whitened_and_autoencoder():
    # whitened inputs: zeta = singular values of E[x y^T]
    cross = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    th = vae_collapse_thresholds(np.eye(3), cross, eta_dec=0.5)
    assert [t.beta_c for t in th] == pytest.approx([1.0 / 0.25, 4.0 / 0.25])
    assert all(t.order == 2 for t in th)
    # autoencoder y = x with A = diag(l): E[y x~^T] = A^{1/2}, beta_i = l_i / eta^2
    lam = np.array([3.0, 1.0, 0.2])
    th = vae_collapse_thresholds(np.diag(lam), np.diag(lam), eta_dec=2.0)
    assert [t.beta_c for t in th] == pytest.approx(sorted(lam / 4.0))


def test_vae_rejects_bad_input():
    with pytest.raises(ValueError, match="eta_dec"):
        vae_collapse_thresholds(np.eye(2), np.eye(2), 0.0)
    with pytest.raises(ValueError, match="shape"):
        vae_collapse_thresholds(np.eye(2), np.eye(3), 1.0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("k", [1, 3])
def test_round_trip(optimizer, k):
    for lam in (0.0, 1e-3, 0.7):
        g = gamma_from_weight_decay(lam, optimizer, n_outputs=k)
        assert g == pytest.approx(k * lam / 2)
        assert weight_decay_from_gamma(g, optimizer, n_outputs=k) == pytest.approx(lam)
    assert gamma_from_weight_decay(0.4, reduction="sum", n_samples=20) == pytest.approx(0.01)


def test_converter_bad_input():
    with pytest.raises(ValueError, match="weight_decay"):
        gamma_from_weight_decay(-1.0)
    with pytest.raises(ValueError, match="optimizer"):
        gamma_from_weight_decay(0.1, optimizer="rmsprop")
    with pytest.raises(TypeError, match="n_samples"):
        gamma_from_weight_decay(0.1, reduction="sum")
    with pytest.raises(ValueError, match="n_outputs"):  # a wrong value (InputError)
        gamma_from_weight_decay(0.1, n_outputs=0)
    with pytest.raises(TypeError, match="n_outputs"):  # a wrong type (InputTypeError)
        gamma_from_weight_decay(0.1, n_outputs=1.5)


@pytest.mark.parametrize("k", [1, 3])
def test_torch_sgd_weight_decay_reaches_the_l2_minimiser(k):
    """torch MSELoss(mean) + SGD(weight_decay=lam) converges to argmin E||Wx-y||^2 + gamma||W||^2."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    Y = X @ rng.normal(size=(4, k)) + 0.3 * rng.normal(size=(200, k))
    lam = 0.3
    gamma = gamma_from_weight_decay(lam, "sgd", n_outputs=k)
    A = X.T @ X / len(X)
    B = X.T @ Y / len(X)
    W_exact = np.linalg.solve(A + gamma * np.eye(4), B)  # minimiser of l2phase's loss (D = 0)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, k, bias=False).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.2, weight_decay=lam)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    for _ in range(800):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(Xt), Yt).backward()
        opt.step()
    assert model.weight.detach().numpy().T == pytest.approx(W_exact, abs=1e-9)
