r"""Ehrenfest order of a transition, computed from the free energy on each side.

The order of a transition at gamma_c is the lowest k such that d^k L*/d gamma^k is
discontinuous there, L*(gamma) = min_theta L(theta; gamma).  L* is concave in gamma (a
minimum of affine functions of gamma), hence continuous, so k >= 1 at finite depth.

Here each side of gamma_c is a *branch* of stationary points given parametrically:
the branch variable t (the end-to-end norm ||w||) runs along the branch, gamma(t) is
the L2 strength at which t is stationary, and L(t) the loss there.  Derivatives with
respect to gamma follow from the chain rule d/dgamma = (1/gamma'(t)) d/dt, so the
Taylor coefficients of L*(gamma) on each side are exact sympy expressions; the order
is the first k at which the two sides' k-th derivatives differ at gamma_c.

Settled result (computed, not asserted, by :func:`theory.critical_point`): D = 1 gives
a second-order transition, D >= 2 a first-order one, D = 0 none.  Beware: third-party
summaries of Ziyin & Ueda (arXiv:2205.12510) and the v1 abstract of Ersoy & Wiesner
(arXiv:2505.06597) state it reversed.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["Branch", "EhrenfestResult", "ehrenfest_order"]


@dataclass(frozen=True)
class Branch:
    """A branch of stationary points of the reduced loss, parametrised by ``t``.

    Attributes
    ----------
    loss : sympy expression in t
        L along the branch (already evaluated at gamma = gamma(t)).
    gamma : sympy expression in t, or None
        gamma(t) along the branch; None for a branch that exists for every gamma at a
        fixed point (the trivial branch t = 0), whose loss is then gamma-independent
        except through ``loss_of_gamma``.
    t_at_critical : sympy expression
        The value of t at gamma_c (the limit is taken from inside the branch).
    loss_of_gamma : sympy expression in the gamma symbol, optional
        For branches pinned at fixed t (trivial branch): L as a function of gamma.
    """

    loss: sp.Expr
    gamma: sp.Expr | None
    t_at_critical: sp.Expr
    loss_of_gamma: sp.Expr | None = None


@dataclass(frozen=True)
class EhrenfestResult:
    """Order of the transition and the derivative jumps up to it.

    ``jumps[k]`` is (d^k L*/dgamma^k)(gamma_c^-) - (d^k L*/dgamma^k)(gamma_c^+) for
    k = 0 .. order (exact sympy values).  ``order`` is None when no derivative up to
    ``max_order`` jumps.
    """

    order: int | None
    jumps: tuple[sp.Expr, ...]
    below: tuple[sp.Expr, ...]
    above: tuple[sp.Expr, ...]


def _derivatives_along(branch: Branch, t: sp.Symbol, gamma_sym: sp.Symbol):
    """Yield d^k L/dgamma^k along the branch, k = 0, 1, ... (lazily: each costs more)."""
    if branch.gamma is None:
        f = branch.loss_of_gamma if branch.loss_of_gamma is not None else branch.loss
        while True:
            yield f
            f = sp.diff(f, gamma_sym)
    dgamma_dt = sp.diff(branch.gamma, t)
    f = branch.loss
    while True:
        yield f
        f = sp.together(sp.diff(f, t) / dgamma_dt)


def _value_at(expr: sp.Expr, t: sp.Symbol, t_c: sp.Expr, gamma_sym: sp.Symbol, gamma_c: sp.Expr) -> sp.Expr:
    expr = expr.subs(gamma_sym, gamma_c)
    if expr.has(t):
        direct = sp.simplify(expr.subs(t, t_c))
        if direct.is_finite and not direct.has(sp.nan, sp.zoo):
            return direct
        return sp.limit(expr, t, t_c)
    return sp.simplify(expr)


def ehrenfest_order(
    below: Branch,
    above: Branch,
    gamma_c: sp.Expr,
    t: sp.Symbol,
    gamma_sym: sp.Symbol,
    max_order: int = 4,
) -> EhrenfestResult:
    """Lowest k at which d^k L*/dgamma^k differs between the two branches at gamma_c.

    Parameters
    ----------
    below, above : Branch
        The global-minimum branches just below and just above gamma_c.
    gamma_c : sympy expression
        The transition point.
    t, gamma_sym : sympy symbols
        The branch parameter and the L2-strength symbol.
    max_order : int
        Highest derivative inspected.

    Notes
    -----
    A jump is decided by ``sympy.simplify(left - right) == 0``; with positive symbols
    (a, c > 0) this is exact for the algebraic expressions of the deep-linear problem.
    """
    left = _derivatives_along(below, t, gamma_sym)
    right = _derivatives_along(above, t, gamma_sym)
    vals_l, vals_r, jumps = [], [], []
    for k in range(max_order + 1):
        vl = _value_at(next(left), t, below.t_at_critical, gamma_sym, gamma_c)
        vr = _value_at(next(right), t, above.t_at_critical, gamma_sym, gamma_c)
        vals_l.append(vl)
        vals_r.append(vr)
        jump = sp.simplify(vl - vr)
        jumps.append(jump)
        if jump != 0:
            return EhrenfestResult(k, tuple(jumps), tuple(vals_l), tuple(vals_r))
    return EhrenfestResult(None, tuple(jumps), tuple(vals_l), tuple(vals_r))
