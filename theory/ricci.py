r"""Scalar (Ricci) curvature of a loss landscape, derived from the metric in sympy.

The landscape of F: R^P -> R is the graph {(theta, F(theta))} in R^{P+1} with the induced
metric g_ij = delta_ij + F_i F_j.  :func:`ricci_scalar_symbolic` computes its scalar
curvature the long way (Christoffel symbols -> Riemann tensor -> Ricci tensor -> R, sign
such that a sphere has R > 0); :func:`ricci_scalar_formula` is the closed form (docs/theory.md,
landscape curvature) that the numerics and empirical layers evaluate,

.. math::

    R = \frac{(\mathrm{tr} H)^2 - \mathrm{tr}(H^2)}{W}
        - \frac{2}{W^2}\left[\mathrm{tr} H \; G^T H G - G^T H^2 G\right],
    \qquad W = 1 + |G|^2,

with G = grad F and H = Hessian F.  At a critical point R = 2 sum_{i<j} lambda_i lambda_j.
The tests hold the two against each other on random polynomial landscapes.

:func:`scalar_chain_curvature` gives the exact R at the minimisers of the scalar-chain
toys (f = u_D ... u_0 x, a = c = E[y^2] = 1) for the loss landscape L_gamma and the error
landscape E = L_0, on the learning and trivial branches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from .derivation import critical_point_symbolic
from .reduced_problem import SYMBOLS, network_loss_expr
from .checks import check_depth
from .checks import InputError

__all__ = [
    "ricci_scalar_symbolic",
    "ricci_scalar_formula",
    "CurvatureToy",
    "scalar_chain_curvature",
]


def ricci_scalar_symbolic(F: sp.Expr, variables: Sequence[sp.Symbol], point: dict | None = None) -> sp.Expr:
    """Scalar curvature of the graph of F from its induced metric (no shortcut formula).

    Parameters
    ----------
    F : sympy expression
        The landscape.
    variables : sequence of sympy symbols
        Coordinates theta_1..theta_P (P >= 2; for P = 1 the graph is a curve and R = 0).
    point : dict, optional
        Substitute these values at the end (after all derivatives are taken).

    Returns
    -------
    sympy expression (unsimplified unless ``point`` makes it a number).
    """
    x = list(variables)
    P = len(x)
    grad = [sp.diff(F, v) for v in x]
    g = sp.Matrix(P, P, lambda i, j: sp.KroneckerDelta(i, j) + grad[i] * grad[j])
    ginv = g.inv(method="LU")
    dg = [[[sp.diff(g[i, j], x[k]) for k in range(P)] for j in range(P)] for i in range(P)]
    # Christoffel symbols of the second kind: Gamma[k][i][j]
    Gam = [
        [
            [
                sum(ginv[k, l] * (dg[j][l][i] + dg[i][l][j] - dg[i][j][l]) for l in range(P)) / 2
                for j in range(P)
            ]
            for i in range(P)
        ]
        for k in range(P)
    ]
    dGam = [[[[sp.diff(Gam[r][m][s], x[q]) for q in range(P)] for s in range(P)] for m in range(P)] for r in range(P)]

    def riemann(r, s, m, v):  # R^r_{s m v}
        val = dGam[r][v][s][m] - dGam[r][m][s][v]
        val += sum(Gam[r][m][l] * Gam[l][v][s] - Gam[r][v][l] * Gam[l][m][s] for l in range(P))
        return val

    ricci = [[sum(riemann(r, s, r, v) for r in range(P)) for v in range(P)] for s in range(P)]
    R = sum(ginv[s, v] * ricci[s][v] for s in range(P) for v in range(P))
    if point is not None:
        # Exact values stay exact: no nsimplify, which goes through floats and can return
        # a wrong "simple" number for a rational with large numerator and denominator.
        R = sp.simplify(R.subs(point))
    return R


def ricci_scalar_formula(F: sp.Expr, variables: Sequence[sp.Symbol]) -> sp.Expr:
    """The closed form of the landscape curvature (docs/theory.md) in terms of G = grad F and H = Hessian F."""
    x = list(variables)
    G = sp.Matrix([sp.diff(F, v) for v in x])
    H = sp.hessian(F, x)
    W = 1 + (G.T * G)[0, 0]
    trH = H.trace()
    trH2 = (H * H).trace()
    gHg = (G.T * H * G)[0, 0]
    gH2g = (G.T * H * H * G)[0, 0]
    return (trH**2 - trH2) / W - 2 / W**2 * (trH * gHg - gH2g)


@dataclass(frozen=True)
class CurvatureToy:
    """R at a minimiser of a scalar-chain toy, exact.

    ``R`` is a sympy expression in ``variable``; ``gamma`` gives the L2 strength as a
    function of ``variable`` (``variable`` is gamma itself where the minimiser is explicit,
    the layer norm b of the balanced minimiser on a branch known only parametrically:
    gamma(b) = (c - a b^n) b^(n-2)).
    """

    R: sp.Expr
    variable: sp.Symbol
    gamma: sp.Expr


def scalar_chain_curvature(depth: int, landscape: str = "loss", branch: str = "learning") -> CurvatureToy:
    r"""Exact Ricci scalar at the minimiser of the scalar chain f = u_D ... u_0 x, a = c = E[y^2] = 1.

    Parameters
    ----------
    depth : int
        1 or 2 (any D >= 1 works; the chain has D + 1 parameters).
    landscape : {"loss", "error"}
        "loss": F = L_gamma (critical at the minimiser); "error": F = E = L_0 (gradient
        -2 gamma theta* there).
    branch : {"learning", "trivial"}
        Balanced minimiser u_i = b > 0 (below gamma_c; metastable up to gamma_s for
        D >= 2) or theta = 0.

    Examples
    --------
    >>> from l2phase.theory import scalar_chain_curvature
    >>> scalar_chain_curvature(1, "loss", "learning").R
    -32*gamma*(gamma - 1)
    """
    depth = check_depth(depth, minimum=1)
    if landscape not in ("loss", "error"):
        raise InputError(f"landscape must be 'loss' or 'error', got {landscape!r}")
    if branch not in ("learning", "trivial"):
        raise InputError(f"branch must be 'learning' or 'trivial', got {branch!r}")
    s = SYMBOLS
    ones = {s["a"]: 1, s["c"]: 1, s["Ey2"]: 1}
    expr, params = network_loss_expr(depth)
    gamma = s["gamma"]
    F_loss = expr.subs(ones)
    F = F_loss if landscape == "loss" else F_loss.subs(gamma, 0)
    R_general = ricci_scalar_formula(F, params)
    if branch == "trivial":
        R = sp.simplify(R_general.subs({p: 0 for p in params}))
        return CurvatureToy(R=R, variable=gamma, gamma=gamma)
    # parametrise the branch by the layer norm b (polynomial in b, cheap to simplify)
    bsym = s["b"]
    n = depth + 1
    gamma_b = sp.expand(critical_point_symbolic(depth).gamma_of_t.subs(ones).subs(s["t"], bsym**n))
    R_b = R_general.subs({p: bsym for p in params}).subs(gamma, gamma_b)
    R_b = sp.factor(sp.cancel(sp.expand(R_b)))
    if depth == 1:  # invert gamma = 1 - b^2
        R_g = sp.factor(sp.cancel(sp.expand(R_b.subs(bsym, sp.sqrt(1 - gamma)))))
        return CurvatureToy(R=R_g, variable=gamma, gamma=gamma)
    return CurvatureToy(R=R_b, variable=bsym, gamma=gamma_b)
