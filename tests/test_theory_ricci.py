"""The sympy Ricci scalar (metric -> Christoffel -> Riemann) vs the closed form and the documented toy values."""

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from l2phase.theory import critical_point, ricci_scalar_formula, ricci_scalar_symbolic, scalar_chain_curvature

x, y = sp.symbols("x y", real=True)


def test_unit_sphere_has_R_2():
    F = sp.sqrt(1 - x**2 - y**2)
    R = ricci_scalar_symbolic(F, [x, y], {x: sp.Rational(1, 3), y: sp.Rational(-1, 4)})
    assert sp.simplify(R - 2) == 0


coef = st.integers(-3, 3)


@settings(max_examples=12)
@given(
    cs=st.lists(coef, min_size=7, max_size=7),
    px=st.fractions(-2, 2, max_denominator=5),
    py=st.fractions(-2, 2, max_denominator=5),
)
# found by hypothesis: nsimplify used to turn this exact rational R into a wrong surd
@example(cs=[-2, 3, -2, 3, -2, 3, 0], px=Fraction(-1, 3), py=Fraction(-2))
def test_symbolic_equals_closed_form_on_random_polynomials(cs, px, py):
    monomials = [x**2, x * y, y**2, x**3, x**2 * y, x * y**3, y]
    F = sum(c * m for c, m in zip(cs, monomials))
    pt = {x: sp.Rational(px.numerator, px.denominator), y: sp.Rational(py.numerator, py.denominator)}
    R1 = ricci_scalar_symbolic(F, [x, y], pt)
    R2 = sp.simplify(ricci_scalar_formula(F, [x, y]).subs(pt))
    assert sp.simplify(R1 - R2) == 0


def test_three_dimensional_landscape():
    z = sp.Symbol("z", real=True)
    F = x**2 * y + y * z**2 - x * z + z**3 / 3
    pt = {x: sp.Rational(1, 2), y: sp.Rational(-1, 3), z: sp.Rational(2, 5)}
    assert sp.simplify(ricci_scalar_symbolic(F, [x, y, z], pt) - ricci_scalar_formula(F, [x, y, z]).subs(pt)) == 0


def test_critical_point_value_is_sum_of_eigenvalue_pairs():
    F = 3 * x**2 + x * y + 2 * y**2 + x**3
    H = sp.hessian(F, [x, y]).subs({x: 0, y: 0})
    l1, l2 = list(H.eigenvals(multiple=True))
    assert sp.simplify(ricci_scalar_formula(F, [x, y]).subs({x: 0, y: 0}) - 2 * l1 * l2) == 0


g = sp.Symbol("gamma", nonnegative=True)


def test_design_toy_values_depth_one():
    # docs/theory.md: scalar chain D = 1, a = c = 1
    assert sp.simplify(scalar_chain_curvature(1, "loss", "learning").R - 32 * g * (1 - g)) == 0
    assert sp.simplify(scalar_chain_curvature(1, "loss", "trivial").R - 8 * (g**2 - 1)) == 0
    RE = 8 * g * (2 - 3 * g) / (1 + 8 * g**2 * (1 - g)) ** 2
    assert sp.simplify(scalar_chain_curvature(1, "error", "learning").R - RE) == 0
    assert scalar_chain_curvature(1, "error", "trivial").R == -8


def test_design_toy_values_depth_two_jump():
    # docs/theory.md: scalar chain D = 2 at gamma_c: R_L jumps 15.119 (learning) vs 3.780 (trivial)
    learn = scalar_chain_curvature(2, "loss", "learning")
    b_c = sp.Rational(1, 2) ** sp.Rational(1, 3)  # ||w||_c = 1/2 = b_c^3
    assert float(learn.gamma.subs(learn.variable, b_c)) == pytest.approx(critical_point(2).gamma_c, rel=1e-12)
    assert float(learn.R.subs(learn.variable, b_c)) == pytest.approx(15.119, abs=5e-4)
    triv = scalar_chain_curvature(2, "loss", "trivial")
    assert float(triv.R.subs(g, critical_point(2).gamma_c)) == pytest.approx(3.780, abs=5e-4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="landscape"):
        scalar_chain_curvature(1, "energy")
    with pytest.raises(ValueError, match="branch"):
        scalar_chain_curvature(1, "loss", "metastable")
    with pytest.raises(ValueError, match="depth"):
        scalar_chain_curvature(0)
