r"""Fully connected networks as *stacks* of flat parameter vectors (one row per run).

A network is described by a :class:`NetSpec` (input and output dimension, depth D =
number of hidden layers, width, activation, bias) and its parameters by a flat tensor
``theta`` of shape ``(..., P)``: one row per independent run (e.g. one per gamma of a
sweep), so that B networks train together with batched matmuls, and a single row can be
handed to ``torch.func`` (grad, hessian, jvp) unchanged.

Conventions (docs/conventions.md)
---------------------------------
* D hidden layers -> D + 1 weight matrices W_1 (width x d), ..., W_{D+1} (k x width);
  ``activation="linear"`` is a deep linear network, f(x) = W_{D+1} ... W_1 x.
* Error  E(theta) = mean over samples of ||f(x) - y||^2 (sum over the k outputs, no 1/2);
  with ``objective="cross_entropy"`` E(theta) = mean over samples of
  logsumexp_k f_k(x) - sum_k y_k f_k(x) (softmax cross-entropy with target
  probabilities y, one-hot for labels; torch ``CrossEntropyLoss()`` (mean) + weight
  decay lam is then gamma = lam/2, with no division by the number of outputs).
* Loss   L_gamma(theta) = E(theta) + gamma * sum_l ||W_l||_F^2 (weights only: biases,
  when present, are not penalised).

Other models
------------
:func:`error`, :func:`penalty` and :func:`loss` are the objective of *any* model spec:
a spec that is not a :class:`NetSpec` provides ``n_params``, ``in_dim``, ``out_dim`` and the
methods ``error(theta, X, Y)``, ``penalty(theta, X)`` and ``init(n, scale, generator=...)``.
The objective is then L = error + knob * penalty, and the batched trainer
(:func:`empirical.train_batched`) and the curvature code (:mod:`empirical.hessian_curvature`)
work unchanged: e.g. :class:`empirical.VAESpec`, whose knob is the KL weight beta.

Example
-------
>>> import torch
>>> spec = NetSpec(in_dim=3, out_dim=2, depth=1, width=4)
>>> theta = spec.init(5, scale=0.1, seed=0)            # 5 independent nets, (5, P)
>>> X, Y = torch.randn(10, 3, dtype=torch.float64), torch.zeros(10, 2, dtype=torch.float64)
>>> loss(spec, theta, X, Y, torch.full((5,), 0.1, dtype=torch.float64)).shape
torch.Size([5])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch

from l2phase.theory.checks import check_depth, check_int, check_memory
from l2phase.theory.checks import InputError, InputTypeError

__all__ = [
    "ACTIVATIONS",
    "OBJECTIVES",
    "NetSpec",
    "forward",
    "error",
    "penalty",
    "loss",
    "end_to_end_matrix",
]

ACTIVATIONS = ("linear", "relu", "tanh")
#: Largest depth D of a NetSpec (the per-layer Python loops make deeper nets impractical).
MAX_DEPTH = 1000
#: Error terms E(theta) of the loss (see the module docstring).
OBJECTIVES = ("mse", "cross_entropy")


@dataclass(frozen=True)
class NetSpec:
    """Architecture of a fully connected net (depth D = number of hidden layers).

    Parameters
    ----------
    in_dim, out_dim : int
        Input dimension d and number of outputs k.
    depth : int
        Number of hidden layers D (D = 0: linear regression, one matrix).
    width : int
        Hidden width (ignored for D = 0).
    activation : {"linear", "relu", "tanh"}
        Hidden nonlinearity ("linear" = deep linear network).
    bias : bool
        Whether every layer has a bias (not penalised by gamma).
    objective : {"mse", "cross_entropy"}
        Error term E(theta): mean squared error (default, the theory's) or softmax
        cross-entropy against target probabilities Y (one-hot rows for labels).
    """

    in_dim: int
    out_dim: int
    depth: int
    width: int = 1
    activation: str = "linear"
    bias: bool = False
    objective: str = "mse"

    #: the penalty is sum(weight_mask() * theta**2): hessian_curvature takes 2 M theta, 2 M exactly
    l2_penalty: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_int(self.in_dim, "in_dim", 1)
        check_int(self.out_dim, "out_dim", 1)
        check_depth(self.depth, "depth")
        check_int(self.depth, "depth", 0, MAX_DEPTH)
        check_int(self.width, "width", 1)
        if self.activation not in ACTIVATIONS:
            raise InputError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not isinstance(self.bias, bool):
            raise InputTypeError(f"bias must be a bool, got {self.bias!r}")
        if self.objective not in OBJECTIVES:
            raise InputError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        # one parameter vector must fit (training holds several per run)
        check_memory(8.0 * self.n_params, f"a net with in_dim={self.in_dim}, depth={self.depth}, width={self.width} "
                     f"(P = {self.n_params} parameters, one float64 vector)")

    # ----------------------------------------------------------------- layout
    @property
    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of W_1 ... W_{D+1}."""
        dims = [self.in_dim] + [self.width] * self.depth + [self.out_dim]
        return [(dims[i + 1], dims[i]) for i in range(self.depth + 1)]

    @property
    def n_layers(self) -> int:
        return self.depth + 1

    def _slices(self) -> list[tuple[slice, tuple[int, int], slice | None]]:
        out, pos = [], 0
        for o, i in self.layer_shapes:
            ws = slice(pos, pos + o * i)
            pos += o * i
            bs = None
            if self.bias:
                bs = slice(pos, pos + o)
                pos += o
            out.append((ws, (o, i), bs))
        return out

    @property
    def n_params(self) -> int:
        """P, the length of a flat parameter vector."""
        return sum(o * i + (o if self.bias else 0) for o, i in self.layer_shapes)

    def weight_mask(self, dtype=torch.float64, device=None) -> torch.Tensor:
        """(P,) tensor: 1 on weight entries (penalised by gamma), 0 on biases."""
        m = torch.zeros(self.n_params, dtype=dtype, device=device)
        for ws, _, _ in self._slices():
            m[ws] = 1.0
        return m

    def unflatten(self, theta: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Views [(W_l (..., out, in), b_l (..., out) or None)] of a flat ``theta`` (..., P)."""
        if theta.shape[-1] != self.n_params:
            raise InputError(f"theta must have last dimension P={self.n_params}, got {tuple(theta.shape)}")
        lead = theta.shape[:-1]
        layers = []
        for ws, (o, i), bs in self._slices():
            W = theta[..., ws].reshape(*lead, o, i)
            b = theta[..., bs] if bs is not None else None
            layers.append((W, b))
        return layers

    def flatten(self, layers: list[tuple[torch.Tensor, torch.Tensor | None]]) -> torch.Tensor:
        """Inverse of :meth:`unflatten`."""
        parts = []
        for W, b in layers:
            parts.append(W.reshape(*W.shape[:-2], -1))
            if self.bias:
                if b is None:
                    raise InputError("this spec has biases: every layer needs b")
                parts.append(b)
        return torch.cat(parts, dim=-1)

    # ------------------------------------------------------------------- init
    def init(
        self,
        n: int,
        scale: float = 1.0,
        seed: int | None = 0,
        *,
        generator: torch.Generator | None = None,
        dtype=torch.float64,
        device=None,
    ) -> torch.Tensor:
        """``n`` random parameter vectors (n, P): W_l ~ N(0, scale^2 / fan_in), biases 0.

        ``scale = 1`` is LeCun-normal; small ``scale`` starts near the origin, large
        ``scale`` far from it.  Draws come from ``generator`` or a CPU generator seeded
        with ``seed`` (so results do not depend on the device).
        """
        check_int(n, "n", 1)
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
            raise InputError(f"scale must be a finite number >= 0, got {scale!r}")
        if generator is None:
            generator = torch.Generator().manual_seed(int(seed or 0))
        theta = torch.zeros(n, self.n_params, dtype=dtype)
        for ws, (o, i), bs in self._slices():
            theta[:, ws] = torch.randn(n, o * i, generator=generator, dtype=dtype) * (scale / math.sqrt(i))
        return theta.to(device)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _act(spec: NetSpec, h: torch.Tensor) -> torch.Tensor:
    if spec.activation == "relu":
        return torch.relu(h)
    if spec.activation == "tanh":
        return torch.tanh(h)
    return h


def _forward_fm(spec: NetSpec, theta: torch.Tensor, XT: torch.Tensor) -> torch.Tensor:
    """Feature-major forward: XT (d, N) -> (..., k, N) (W @ h is the fast bmm layout on CPU)."""
    layers = spec.unflatten(theta)
    h = XT
    for l, (W, b) in enumerate(layers):
        h = torch.matmul(W, h)
        if b is not None:
            h = h + b.unsqueeze(-1)
        if l < len(layers) - 1:
            h = _act(spec, h)
    return h


def forward(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Outputs f(x) for every run: theta (..., P), X (N, d) -> (..., N, k).

    Batched matmuls: row b of ``theta`` is an independent network.
    """
    return _forward_fm(spec, theta, X.transpose(-1, -2)).transpose(-1, -2)


def error(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """E(theta) = mean_samples ||f(x) - y||^2 (sum over outputs, no 1/2); shape theta.shape[:-1].

    With ``spec.objective == "cross_entropy"``: E = mean_samples [logsumexp_k f_k - sum_k y_k f_k]
    (softmax cross-entropy; equals -log softmax(f)_label for one-hot rows of Y).
    """
    if not isinstance(spec, NetSpec):
        return spec.error(theta, X, Y)
    out = _forward_fm(spec, theta, X.transpose(-1, -2))
    YT = Y.transpose(-1, -2)
    if spec.objective == "cross_entropy":
        return (torch.logsumexp(out, dim=-2) - (YT * out).sum(-2)).mean(-1)
    r = out - YT
    return (r * r).sum(-2).mean(-1)


def penalty(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
    """sum_l ||W_l||_F^2 (weights only); shape theta.shape[:-1].

    For a spec that is not a :class:`NetSpec`, its own ``penalty(theta, X)`` (which may
    depend on the data, e.g. a VAE's KL term).
    """
    if not isinstance(spec, NetSpec):
        return spec.penalty(theta, X)
    if not spec.bias:
        return (theta * theta).sum(-1)
    return sum((W * W).sum((-1, -2)) for W, _ in spec.unflatten(theta))


def loss(spec: NetSpec, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, gamma) -> torch.Tensor:
    """L_gamma(theta) = E(theta) + gamma * sum_l ||W_l||_F^2 (``gamma`` broadcast over runs).

    Any other model spec: error + gamma * penalty (gamma is then that model's knob).
    """
    return error(spec, theta, X, Y) + gamma * penalty(spec, theta, X)


def end_to_end_matrix(spec: NetSpec, theta: torch.Tensor) -> torch.Tensor:
    """Product W_{D+1} ... W_1 (..., k, d) of a deep linear net without biases."""
    if spec.activation != "linear" or spec.bias:
        raise InputError("end_to_end_matrix needs a deep linear net without biases")
    layers = spec.unflatten(theta)
    M = layers[0][0]
    for W, _ in layers[1:]:
        M = torch.matmul(W, M)
    return M
