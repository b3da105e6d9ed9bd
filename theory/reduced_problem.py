r"""The loss of a deep linear network and its exact reduction to one variable.

Convention (binding across l2phase): depth D = number of hidden layers, n = D + 1
weight matrices, loss without a factor 1/2 and one common gamma on every layer,

.. math::

    L(\theta;\gamma) = E[(f(x) - y)^2] + \gamma \sum_{l=1}^{n} \|W_l\|_F^2,
    \qquad f(x) = W_n \cdots W_1 x .

Reduction (exact, any widths).  Only A = E[x x^T], beta = E[x y] and E[y^2] enter:
with the end-to-end vector w = (W_n ... W_1)^T,
``E[(f - y)^2] = w^T A w - 2 w^T beta + E[y^2]``.  For a fixed end-to-end map the
penalty sum_l ||W_l||^2 is smallest for a balanced rank-1 factorisation in which every
layer has Frobenius norm b and ||w|| = b^n (AM-GM on the singular values; the products
of layer norms bound ||w|| from above), so

.. math::

    \min_{\theta: \mathrm{end\,to\,end} = w} L = w^T A w - 2 w^T \beta + E[y^2]
        + n \gamma \|w\|^{2/n}.

If beta is an eigenvector of A (or A = aI) the direction is beta/|beta|, and with
a = n^T A n, c = |beta| the loss of the norm variable b is

.. math::

    L(b) = a b^{2n} - 2 c b^n + E[y^2] + n \gamma b^2 .

This is exactly the loss of the *scalar chain* f(x) = u_n ... u_1 x with every u_i = b,
which is how :func:`reduced_loss_expr` builds it from :func:`network_loss_expr`.

Example
-------
>>> from l2phase.theory import reduced_loss
>>> float(reduced_loss(0.0, 0.3, depth=2, a=1.0, c=1.0, ey2=1.0))
1.0
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from .checks import check_depth, check_nonnegative, check_positive
from .checks import InputError

__all__ = [
    "SYMBOLS",
    "network_loss_expr",
    "reduced_loss_expr",
    "reduced_loss",
]

#: The sympy symbols every derivation in ``theory`` shares.
SYMBOLS = {
    "a": sp.Symbol("a", positive=True),  # n^T A n, input second moment along the teacher
    "c": sp.Symbol("c", positive=True),  # |E[x y]|
    "Ey2": sp.Symbol("E_{y^2}", positive=True),
    "gamma": sp.Symbol("gamma", nonnegative=True),  # L2 strength
    "b": sp.Symbol("b", nonnegative=True),  # Frobenius norm of every layer (balanced)
    "t": sp.Symbol("t", nonnegative=True),  # end-to-end norm ||w|| = b^n
    "D": sp.Symbol("D", positive=True, integer=True),  # hidden layers, symbolic depth
    "i": sp.Symbol("i", positive=True, integer=True),  # layer index
}


@lru_cache(maxsize=None)
def network_loss_expr(depth: int) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    r"""Symbolic loss of the scalar chain with ``depth`` hidden layers.

    f(x) = u_{D} \cdots u_0 x (one unit per layer, n = D + 1 parameters), with data
    statistics a = E[x^2], c = E[x y], E[y^2]:

    .. math:: L(u;\gamma) = a (\prod_i u_i)^2 - 2 c \prod_i u_i + E[y^2] + \gamma \sum_i u_i^2 .

    Any deep linear network reduces to this (see the module docstring), so its
    stationary points, Hessians and landscapes are those of the full network along the
    balanced rank-1 manifold.

    Returns
    -------
    (expr, params): the loss and the tuple (u_0, ..., u_D).
    """
    depth = check_depth(depth)
    s = SYMBOLS
    params = sp.symbols(f"u0:{depth + 1}", real=True)
    prod = sp.Mul(*params)
    expr = s["a"] * prod**2 - 2 * s["c"] * prod + s["Ey2"] + s["gamma"] * sum(p**2 for p in params)
    return expr, tuple(params)


@lru_cache(maxsize=None)
def reduced_loss_expr(depth: int | None = None) -> sp.Expr:
    r"""The reduced loss L(b) = a b^{2n} - 2 c b^n + E[y^2] + n gamma b^2, built from the network.

    For an integer ``depth`` the scalar chain of :func:`network_loss_expr` is evaluated
    on the balanced point u_i = b (the minimiser of the penalty at fixed end-to-end
    map).  For ``depth=None`` the depth is the symbol D and the product and the sum over
    the n = D + 1 layers are carried out symbolically (sympy ``product``/``summation``).
    """
    s = SYMBOLS
    b, gamma = s["b"], s["gamma"]
    if depth is None:
        n = s["D"] + 1
        prod = sp.product(b, (s["i"], 1, n))  # b**n
        penalty = sp.summation(b**2, (s["i"], 1, n))  # n b**2
        return s["a"] * prod**2 - 2 * s["c"] * prod + s["Ey2"] + gamma * penalty
    expr, params = network_loss_expr(depth)
    return sp.expand(expr.subs({p: b for p in params}))


def reduced_loss(b, gamma, depth: int, a: float, c: float, ey2: float = 1.0):
    r"""Evaluate L(b) = a b^{2n} - 2 c b^n + E[y^2] + n gamma b^2 (vectorised, numpy).

    Parameters
    ----------
    b : float or array
        Frobenius norm of every layer (balanced factorisation), b >= 0.
    gamma : float or array
        L2 strength (no factor 1/2), broadcast against ``b``.
    depth : int
        Number of hidden layers D; n = D + 1.
    a, c : float
        a = n^T A n > 0 and c = |E[x y]| >= 0.
    ey2 : float
        E[y^2].
    """
    depth = check_depth(depth)
    check_positive(a, "a")
    check_nonnegative(c, "c")
    b = np.asarray(b, dtype=float)
    gamma = np.asarray(gamma, dtype=float)
    if np.any(np.isnan(gamma)) or np.any(gamma < 0):
        raise InputError("gamma must be >= 0 and not NaN")
    n = depth + 1
    bn = b**n
    return a * bn**2 - 2 * c * bn + ey2 + n * gamma * b**2
