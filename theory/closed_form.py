r"""Closed forms of the critical point of the L2 transition, evaluated in floating point.

The formulas are those derived symbolically by :func:`theory.derivation.critical_point_symbolic`
from the reduced loss (written in the end-to-end norm t = ||w|| = b^n, n = D + 1)

.. math:: L(t) = a t^2 - 2 c t + E[y^2] + n \gamma t^{2/n};

the test suite holds every value here to that derivation for D = 0..6.  Evaluating them
in floats needs no sympy, so any depth (D = 10**6 included) answers in microseconds.

* D = 0: ridge regression, no transition.
* D = 1: gamma_c = c for any A, second order (d^2 L*/d gamma^2 jumps from -2/a to 0),
  b*^2 = (c - gamma)/a, exponent 1; the origin is a saddle below gamma_c.
* D >= 2: b_c^n = (D-1)c/(D a), gamma_c = (c/D) [(D-1)c/(D a)]^{(D-1)/(D+1)}, first order
  (dL*/d gamma jumps by n b_c^2), spinodal gamma_s = (c n/(2D)) [(D-1)c/(2 D a)]^{(D-1)/(D+1)};
  the origin is a strict local minimum (Hessian 2 gamma I).

Which depth gives which order: D = 1 second order, D >= 2 first order.  The first line of
Ziyin & Ueda's abstract (arXiv:2205.12510) and the v1 abstract of Ersoy & Wiesner
(arXiv:2505.06597) state it the other way round; the body of the former and the later
version of the latter agree with this.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .checks import check_depth, check_gamma, check_nonnegative, check_positive, check_scalar_stats
from .checks import InputError

__all__ = ["CriticalPoint", "OptimalSolution", "critical_point", "optimal_solution"]


@dataclass(frozen=True)
class CriticalPoint:
    """Numbers describing the L2 transition of one scalar mode (a, c) at depth D.

    Attributes
    ----------
    depth : int
        Hidden layers D.
    a, c, ey2 : float
        a = n^T A n, c = |E[x y]|, E[y^2].
    transition : bool
        False for D = 0 (ridge regression learns at every gamma).
    gamma_c : float or None
        Critical L2 strength (global minimum switches to / reaches w = 0).
    order : int or None
        Ehrenfest order: 2 for D = 1, 1 for D >= 2, None for D = 0.
    b_c, b_c_squared : float
        Layer norm of the learning minimum at gamma_c (its jump for first order; 0 for D = 1).
    norm_c : float
        End-to-end norm ||w|| = b_c^n at gamma_c.
    latent_heat : float
        Jump of dL*/dgamma = ||theta*||^2 across gamma_c, n b_c^2 (0 for D = 1).
    spinodal : float or None
        gamma_s, where the (metastable) learning minimum disappears; = gamma_c for D = 1.
    origin : str or None
        "saddle" or "local_min": the nature of theta = 0 just below gamma_c.
    exponent : float or None
        Critical exponent of the order parameter, b*^2 ~ (gamma_c - gamma)^exponent
        (continuous transitions only).
    """

    depth: int
    a: float
    c: float
    ey2: float
    transition: bool
    gamma_c: float | None
    order: int | None
    b_c: float | None
    b_c_squared: float | None
    norm_c: float | None
    latent_heat: float | None
    spinodal: float | None
    origin: str | None
    exponent: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dictionary (JSON-serialisable)."""
        return asdict(self)

    def latex(self) -> str:
        """LaTeX of the closed forms for this depth with the numbers substituted."""
        from .derivation import critical_point_symbolic  # sympy only when LaTeX is asked for

        body = critical_point_symbolic(self.depth).latex()
        if self.transition:
            body += (
                rf"\\ \text{{with }} a={self.a:g},\ c={self.c:g}:\ "
                rf"\gamma_c = {self.gamma_c:.6f},\ \gamma_s = {self.spinodal:.6f}"
            )
        return body


def critical_point(depth: int, a: float = 1.0, c: float = 1.0, ey2: float = 1.0) -> CriticalPoint:
    r"""Critical L2 strength, order and companions for one scalar mode of a deep linear net.

    Loss convention: L = E[(f(x)-y)^2] + gamma sum_l ||W_l||_F^2 (no 1/2), D hidden layers,
    reduced to L(b) = a b^{2n} - 2 c b^n + E[y^2] + n gamma b^2 with a = n^T A n, c = |E[x y]|
    (exact when A = aI or E[x y] is an eigenvector of A; see :func:`theory.transitions`
    for general data).  The values are the closed forms of the sympy derivation
    (:func:`critical_point_symbolic`) evaluated in floating point, so any depth is
    instantaneous; the order is 2 for D = 1, 1 for D >= 2 (the jump n b_c^2 of dL*/dgamma
    is positive), as that derivation finds with Ehrenfest's criterion.

    Parameters
    ----------
    depth : int
        Hidden layers D >= 0.
    a : float
        a > 0.
    c : float
        c >= 0.
    ey2 : float
        E[y^2] >= c^2/a.

    Returns
    -------
    CriticalPoint

    Examples
    --------
    >>> from l2phase.theory import critical_point
    >>> cp = critical_point(2, a=1.0, c=1.0)
    >>> round(cp.gamma_c, 6), cp.order, round(cp.spinodal, 6)
    (0.39685, 1, 0.47247)
    """
    depth = check_depth(depth)
    a, c, ey2 = check_scalar_stats(a, c, ey2)
    n = depth + 1
    if depth == 0:
        return CriticalPoint(depth, a, c, ey2, False, None, None, None, None, None, None, None, None, None)
    if depth == 1:
        # the learning branch b*^2 = (c - gamma)/a runs into the origin: continuous, and
        # d2L*/dgamma2 jumps from -2/a to 0 (second order); the origin's Hessian
        # eigenvalues 2 gamma +- 2 c make it a saddle below gamma_c.
        gamma_c = c
        b_c_sq = norm_c = latent_heat = 0.0
        spinodal = gamma_c
        order, exponent, origin = 2, 1.0, "saddle" if c > 0 else "local_min"
    else:
        # logarithms keep (D-1)c/(D a) to the power (D-1)/(D+1) finite for any depth and scale
        # (log c - log a, never c / a, which under- or overflows for extreme a and c)
        log_t_c = math.log((depth - 1) / depth) + math.log(c) - math.log(a) if c > 0 else -math.inf
        log_t_s = log_t_c - math.log(2.0)  # ||w|| at the fold of the branch
        expo = (depth - 1) / (depth + 1)
        gamma_c = c / depth * math.exp(expo * log_t_c) if c > 0 else 0.0
        spinodal = c * n / (2 * depth) * math.exp(expo * log_t_s) if c > 0 else 0.0
        b_c_sq = math.exp(2.0 / n * log_t_c) if c > 0 else 0.0
        norm_c = math.exp(log_t_c) if c > 0 else 0.0
        latent_heat = n * b_c_sq
        # the origin's Hessian is 2 gamma I for D >= 2: a strict local minimum
        order, exponent, origin = 1, None, "local_min"
    for name, value in (("gamma_c", gamma_c), ("spinodal", spinodal), ("b_c_squared", b_c_sq), ("norm_c", norm_c)):
        if not math.isfinite(value) or (c > 0 and value == 0.0 and depth >= 2):
            raise InputError(f"a={a!r}, c={c!r} at depth {depth} are out of floating-point range "
                             f"({name} {'overflows' if value else 'underflows to 0'}); rescale the data")
    return CriticalPoint(
        depth=depth,
        a=a,
        c=c,
        ey2=ey2,
        transition=True,
        gamma_c=float(gamma_c),
        order=order,
        b_c=math.sqrt(b_c_sq),
        b_c_squared=float(b_c_sq),
        norm_c=float(norm_c),
        latent_heat=float(latent_heat),
        spinodal=float(spinodal),
        origin=origin,
        exponent=exponent,
    )


# --------------------------------------------------------------------------- global minimum


@dataclass(frozen=True)
class OptimalSolution:
    """Global minimum of the reduced scalar loss on a gamma grid (arrays of equal length).

    ``param_norm_sq`` is ||theta*||^2 = n b*^2 = dL*/dgamma (envelope theorem);
    ``end_to_end_norm`` is ||w*|| = b*^n; ``learning`` is True where w* != 0.
    """

    gamma: np.ndarray
    loss: np.ndarray
    b_squared: np.ndarray
    param_norm_sq: np.ndarray
    end_to_end_norm: np.ndarray
    learning: np.ndarray


def optimal_solution(depth: int, a: float, c: float, gamma, ey2: float = 1.0) -> OptimalSolution:
    r"""Global minimum of L(b) = a b^{2n} - 2 c b^n + E[y^2] + n gamma b^2 for each gamma.

    The stationary points b > 0 are the positive real roots of the polynomial
    a b^{2n-2} - c b^{n-2} + gamma = 0 (numpy's companion-matrix roots); they are compared
    with the trivial minimum b = 0 (loss E[y^2]).  For D = 0 the ridge solution
    w = c/(a + gamma) is used.  At a first-order gamma_c exactly, the learning branch is
    returned (ties go to the learning minimum).

    Parameters
    ----------
    depth : int
    a, c, ey2 : float
    gamma : float or 1-D array, >= 0
    """
    depth = check_depth(depth)
    a = check_positive(a, "a")
    c = check_nonnegative(c, "c")
    g = np.atleast_1d(check_gamma(gamma, "gamma")).astype(float)
    n = depth + 1
    loss = np.full(g.shape, float(ey2))
    bsq = np.zeros(g.shape)
    if n == 1:
        w = c / (a + g)
        loss = ey2 - c * w
        bsq = w**2
    else:
        coeffs = np.zeros(2 * n - 1)
        coeffs[0] = a  # b^(2n-2)
        coeffs[n] -= c  # b^(n-2)
        for k, gk in enumerate(g):
            coeffs[-1] += gk  # constant term (n = 2 shares it with -c)
            roots = np.roots(coeffs)
            coeffs[-1] -= gk
            real = roots[(np.abs(roots.imag) <= 1e-9 * max(1.0, np.abs(roots).max())) & (roots.real > 0)].real
            for r in real:
                val = a * r ** (2 * n) - 2 * c * r**n + ey2 + n * gk * r * r
                if val <= loss[k] + 1e-15 * max(1.0, abs(ey2)):
                    loss[k], bsq[k] = val, r * r
    learning = bsq > 0
    return OptimalSolution(
        gamma=g,
        loss=loss,
        b_squared=bsq,
        param_norm_sq=n * bsq,
        end_to_end_norm=bsq ** (n / 2),
        learning=learning,
    )
