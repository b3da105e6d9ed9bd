r"""Symbolic derivation (sympy) of the critical point and order of the L2 transition.

Everything here is *derived* from the reduced loss of :mod:`theory.reduced_problem`,
written in the end-to-end norm t = ||w|| = b^n (n = D + 1):

.. math:: L(t) = a t^2 - 2 c t + E[y^2] + n \gamma t^{2/n}.

1. Stationary branch: dL/dt = 0 solved for gamma gives gamma(t) = (c - a t) t^{1-2/n}.
2. Critical point: the learning branch meets the trivial minimum L(0) = E[y^2]:
   solve L(t, gamma(t)) = E[y^2] for t > 0.  If that has no positive root the branch
   runs into t = 0 and gamma_c = lim_{t->0+} gamma(t) (D = 1: gamma_c = c; D = 0: the
   limit is infinite, no transition).
3. Spinodal: where the branch folds, d gamma/dt = 0 (L' = L'' = 0); the learning
   minimum disappears above gamma_s.  Without a fold gamma_s = gamma_c.
4. Order: Ehrenfest, from the derivatives of L* on both sides (:mod:`theory.order`).

Results (a = c = E[y^2] = 1 reproduces the table of docs/theory.md):

* D = 1: gamma_c = c for any A, second order, b*^2 = (c - gamma)/a, exponent 1.
* D >= 2: b_c^n = (D-1)c/(D a), gamma_c = (c/D) [(D-1)c/(D a)]^{(D-1)/(D+1)}, first order,
  latent heat n b_c^2, spinodal gamma_s = (c n/(2D)) [(D-1)c/(2 D a)]^{(D-1)/(D+1)}.
* D = 0: ridge regression, no transition.

Which depth gives which order is settled here by computation: D = 1 second order,
D >= 2 first order.  Third-party summaries of Ziyin & Ueda (arXiv:2205.12510)
and the v1 abstract of Ersoy & Wiesner (arXiv:2505.06597) state it the other way round;
Ziyin & Ueda's abstract itself and later versions of Ersoy & Wiesner's paper agree with this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from .order import Branch, ehrenfest_order
from .reduced_problem import SYMBOLS, network_loss_expr, reduced_loss_expr
from .checks import InputError, check_depth

__all__ = ["SYMBOLIC_MAX_DEPTH", "SymbolicCriticalPoint", "critical_point_symbolic"]

# The sympy derivation at a fixed depth D solves polynomials of degree ~2D: about 3 s at
# D = 12, 6 s at D = 16, 80 s at D = 50 (2-core VM).  Above this bound it is refused;
# the closed forms (``critical_point``, or ``depth=None`` here: D a symbol) hold for any D.
SYMBOLIC_MAX_DEPTH = 12


@dataclass(frozen=True)
class SymbolicCriticalPoint:
    """Exact sympy expressions (in a, c, E[y^2]; in D too for symbolic depth).

    ``gamma_c`` is ``sympy.oo`` when there is no transition (D = 0).
    """

    depth: int | sp.Symbol
    reduced_loss: sp.Expr
    gamma_of_t: sp.Expr
    t_c: sp.Expr
    gamma_c: sp.Expr
    b_c_squared: sp.Expr
    spinodal: sp.Expr
    t_spinodal: sp.Expr
    order: int | None
    derivative_jumps: tuple[sp.Expr, ...]
    exponent: sp.Expr | None
    origin_hessian_eigenvalues: tuple[sp.Expr, ...] = field(default=())

    @property
    def latent_heat(self) -> sp.Expr:
        """Jump of dL*/dgamma across gamma_c (zero for a continuous transition)."""
        return self.derivative_jumps[1] if len(self.derivative_jumps) > 1 else sp.Integer(0)

    def latex(self) -> str:
        """LaTeX (an ``aligned`` block) of every closed form."""
        s = SYMBOLS
        lines = [
            rf"L(b) &= {sp.latex(self.reduced_loss)}",
            rf"\gamma(t) &= {sp.latex(self.gamma_of_t)} \quad (t = \|w\| = b^{{n}})",
        ]
        if self.gamma_c == sp.oo:
            lines.append(r"\gamma_c &= \infty \quad \text{(no transition)}")
        else:
            lines += [
                rf"\gamma_c &= {sp.latex(self.gamma_c)}",
                rf"b_c^2 &= {sp.latex(self.b_c_squared)}",
                rf"\|w\|_c &= {sp.latex(self.t_c)}",
                rf"\gamma_s &= {sp.latex(self.spinodal)}",
                rf"\Delta \frac{{dL^*}}{{d\gamma}} &= {sp.latex(self.latent_heat)}",
                rf"\text{{order}} &= {self.order}",
            ]
            if self.exponent is not None:
                lines.append(rf"b^{{*2}} &\propto (\gamma_c - \gamma)^{{{sp.latex(self.exponent)}}}")
        del s
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def _tidy_powers(expr: sp.Expr) -> sp.Expr:
    """Simplify every exponent (symbolic depth leaves sums like 2D/(D+1) + 2/(D+1))."""
    return expr.replace(lambda e: e.is_Pow, lambda e: sp.Pow(e.base, sp.simplify(e.exp)))


def _is_positive_root(root: sp.Expr, depth: int | None) -> bool:
    """True for a root that is positive for positive a, c (checked at a sample point).

    A sample point suffices: the roots are monomials in a, c (and D) whose sign cannot
    change for a, c > 0 and D >= 2.
    """
    s = SYMBOLS
    sample = {s["a"]: sp.Rational(13, 10), s["c"]: sp.Rational(7, 10), s["D"]: 3}
    try:
        val = complex(sp.N(root.subs(sample)))
    except (TypeError, ValueError):
        return False
    return abs(val.imag) < 1e-12 and val.real > 1e-12


def _t_power(depth: int | None) -> sp.Expr:
    """1/n as a sympy number or expression."""
    n = SYMBOLS["D"] + 1 if depth is None else sp.Integer(depth + 1)
    return 1 / n


@lru_cache(maxsize=None)
def critical_point_symbolic(depth: int | None = None) -> SymbolicCriticalPoint:
    """Derive gamma_c, b_c, the spinodal, the order and the exponent symbolically.

    Parameters
    ----------
    depth : int or None
        Number of hidden layers D, 0 <= D <= ``SYMBOLIC_MAX_DEPTH`` (12).  ``None`` derives
        the D >= 2 branch with D a symbol (the first-order formulas of docs/theory.md, valid for any D).

    Returns
    -------
    SymbolicCriticalPoint with exact expressions in a, c, E[y^2] (and D).

    Examples
    --------
    >>> from l2phase.theory import critical_point_symbolic
    >>> critical_point_symbolic(1).gamma_c
    c
    """
    if depth is not None:
        depth = check_depth(depth)
        if depth > SYMBOLIC_MAX_DEPTH:
            raise InputError(f"depth={depth}: the symbolic derivation is limited to depth <= {SYMBOLIC_MAX_DEPTH} "
                             "(sympy's time grows fast with D); critical_point(depth, a, c) evaluates the same "
                             "closed forms in floating point for any depth, critical_point_symbolic(None) keeps D "
                             "a symbol")
    s = SYMBOLS
    ey2, gamma, b, t = s["Ey2"], s["gamma"], s["b"], s["t"]
    L_b = reduced_loss_expr(depth)
    inv_n = _t_power(depth)
    L_t = _tidy_powers(sp.powsimp(sp.expand(L_b.subs(b, t**inv_n)), force=True))

    # 1. the stationary branch gamma(t)
    (gamma_t,) = sp.solve(sp.diff(L_t, t), gamma)
    gamma_t = sp.simplify(gamma_t)
    L_branch = sp.simplify(L_t.subs(gamma, gamma_t))
    L_trivial = L_t.subs(t, 0) if depth is not None and depth >= 1 else ey2

    # 2. the critical point: learning branch meets the trivial minimum
    positive = [r for r in sp.solve(sp.simplify(L_branch - ey2), t) if _is_positive_root(r, depth)]
    if positive:
        t_c = sp.simplify(positive[0])
        gamma_c = sp.simplify(_tidy_powers(sp.powsimp(gamma_t.subs(t, t_c), force=True)))
    else:
        t_c = sp.Integer(0)
        gamma_c = sp.limit(gamma_t, t, 0, "+")

    if gamma_c == sp.oo:
        return SymbolicCriticalPoint(
            depth=depth if depth is not None else s["D"],
            reduced_loss=L_b,
            gamma_of_t=gamma_t,
            t_c=sp.nan,
            gamma_c=sp.oo,
            b_c_squared=sp.nan,
            spinodal=sp.oo,
            t_spinodal=sp.nan,
            order=None,
            derivative_jumps=(),
            exponent=None,
        )

    b_c_sq = sp.simplify(sp.powsimp(t_c ** (2 * inv_n), force=True))

    # 3. spinodal: fold of the branch
    folds = [r for r in sp.solve(sp.diff(gamma_t, t), t) if _is_positive_root(r, depth)]
    if folds:
        t_s = sp.simplify(folds[0])
        gamma_s = sp.simplify(_tidy_powers(sp.powsimp(gamma_t.subs(t, t_s), force=True)))
    else:
        t_s, gamma_s = t_c, gamma_c

    # 4. Ehrenfest order: learning branch below gamma_c, trivial (t = 0) above
    below = Branch(loss=L_branch, gamma=gamma_t, t_at_critical=t_c)
    above = Branch(loss=ey2, gamma=None, t_at_critical=sp.Integer(0), loss_of_gamma=L_trivial)
    result = ehrenfest_order(below, above, gamma_c, t, gamma, max_order=4)

    # order-parameter exponent for a continuous transition: gamma_c - gamma(t) ~ C t^p
    exponent = None
    if result.order is not None and result.order >= 2:
        lead = sp.simplify(gamma_c - gamma_t).as_leading_term(t)
        p = sp.Poly(lead, t).monoms()[0][0] if lead.is_polynomial(t) else sp.degree(lead, t)
        exponent = sp.simplify(2 * inv_n / p)

    eigs: tuple[sp.Expr, ...] = ()
    if depth is not None:
        expr, params = network_loss_expr(depth)
        H = sp.hessian(expr, params).subs({p: 0 for p in params})
        eigs = tuple(sp.simplify(e) for e in H.eigenvals(multiple=True))

    return SymbolicCriticalPoint(
        depth=depth if depth is not None else s["D"],
        reduced_loss=L_b,
        gamma_of_t=gamma_t,
        t_c=t_c,
        gamma_c=gamma_c,
        b_c_squared=b_c_sq,
        spinodal=gamma_s,
        t_spinodal=t_s,
        order=result.order,
        derivative_jumps=result.jumps,
        exponent=exponent,
        origin_hessian_eigenvalues=eigs,
    )
