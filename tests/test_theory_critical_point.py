"""Closed forms of theory.critical_point against the public numbers of docs/theory.md and the loss itself."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from l2phase import theory
from l2phase.theory import critical_point, critical_point_symbolic, optimal_solution, reduced_loss

# docs/theory.md, a = c = E[y^2] = 1: (D, gamma_c, b_c^2, ||w||_c, latent heat, spinodal)
TABLE = [
    (2, 0.396850, 0.629961, 0.500000, 1.889882, 0.472470),
    (3, 0.272166, 0.816497, 0.666667, 3.265986, 0.384900),
    (4, 0.210367, 0.891301, 0.750000, 4.456506, 0.346975),
]


@pytest.mark.parametrize("D, gc, bc2, wc, heat, gs", TABLE)
def test_public_validation_table(D, gc, bc2, wc, heat, gs):
    cp = critical_point(D, 1.0, 1.0)
    # the table is printed to 6 decimals
    assert cp.gamma_c == pytest.approx(gc, abs=5e-7)
    assert cp.b_c_squared == pytest.approx(bc2, abs=5e-7)
    assert cp.norm_c == pytest.approx(wc, abs=5e-7)
    assert cp.latent_heat == pytest.approx(heat, abs=5e-7)
    assert cp.spinodal == pytest.approx(gs, abs=5e-7)
    assert cp.order == 1
    assert cp.origin == "local_min"


def test_depth_one_row():
    cp = critical_point(1, 1.0, 1.0)
    assert cp.gamma_c == 1.0 and cp.spinodal == 1.0
    assert cp.order == 2
    assert cp.b_c_squared == 0 and cp.latent_heat == 0
    assert cp.origin == "saddle"
    assert cp.exponent == 1.0
    # d2L*/dgamma2 jumps from -2/a to 0
    sym = critical_point_symbolic(1)
    a = theory.SYMBOLS["a"]
    assert sp.simplify(sym.derivative_jumps[2] + 2 / a) == 0


@pytest.mark.parametrize("D, expected", [(1, 0.700000), (2, 0.226001), (3, 0.139800), (5, 0.079853)])
def test_public_numbers_a13_c07(D, expected):
    assert critical_point(D, 1.3, 0.7).gamma_c == pytest.approx(expected, abs=5e-7)


def test_orders_are_computed():
    assert critical_point_symbolic(0).order is None
    assert critical_point(0).transition is False and critical_point(0).gamma_c is None
    assert critical_point_symbolic(1).order == 2
    for D in range(2, 9):
        assert critical_point_symbolic(D).order == 1
    assert critical_point_symbolic(None).order == 1  # symbolic D >= 2


def test_symbolic_depth_matches_design_formula():
    # the documented formulas typed in independently, compared at random points
    sym = critical_point_symbolic(None)
    s = theory.SYMBOLS
    rng = np.random.default_rng(1)
    for _ in range(10):
        a, c, D = rng.uniform(0.2, 3), rng.uniform(0.2, 3), int(rng.integers(2, 9))
        sub = {s["a"]: a, s["c"]: c, s["D"]: D}
        gc = (c / D) * ((D - 1) * c / (D * a)) ** ((D - 1) / (D + 1))
        gs = (c * (D + 1) / (2 * D)) * ((D - 1) * c / (2 * D * a)) ** ((D - 1) / (D + 1))
        assert float(sym.gamma_c.subs(sub)) == pytest.approx(gc, rel=1e-12)
        assert float(sym.spinodal.subs(sub)) == pytest.approx(gs, rel=1e-12)
        assert float(sym.t_c.subs(sub)) == pytest.approx((D - 1) * c / (D * a), rel=1e-12)
        assert float(sym.latent_heat.subs(sub)) == pytest.approx(
            (D + 1) * ((D - 1) * c / (D * a)) ** (2 / (D + 1)), rel=1e-12
        )


def test_reduced_loss_built_from_network():
    s = theory.SYMBOLS
    b, g, a, c, e = s["b"], s["gamma"], s["a"], s["c"], s["Ey2"]
    for D in range(0, 5):
        n = D + 1
        assert sp.expand(theory.reduced_loss_expr(D) - (a * b ** (2 * n) - 2 * c * b**n + e + n * g * b**2)) == 0
    sym = theory.reduced_loss_expr(None)
    assert sp.simplify(sym.subs(s["D"], 3) - theory.reduced_loss_expr(3)) == 0


def _dL(b, gamma, D, a, c):
    n = D + 1
    return 2 * n * a * b ** (2 * n - 1) - 2 * n * c * b ** (n - 1) + 2 * n * gamma * b


def _d2L(b, gamma, D, a, c):
    n = D + 1
    return 2 * n * (2 * n - 1) * a * b ** (2 * n - 2) - 2 * n * (n - 1) * c * b ** (n - 2) + 2 * n * gamma


scalars = st.floats(min_value=0.05, max_value=20.0)


@settings(max_examples=60)
@given(a=scalars, c=scalars, D=st.integers(2, 8))
def test_first_order_conditions(a, c, D):
    cp = critical_point(D, a, c, c * c / a)
    ey2 = c * c / a
    scale = max(1.0, c * c / a)
    # L(b_c) = L(0) and L'(b_c) = 0 at gamma_c
    assert reduced_loss(cp.b_c, cp.gamma_c, D, a, c, ey2) == pytest.approx(ey2, abs=1e-9 * scale)
    assert _dL(cp.b_c, cp.gamma_c, D, a, c) == pytest.approx(0.0, abs=1e-8 * scale * (1 + cp.b_c))
    # L' = L'' = 0 at the spinodal, for b_s^n = (D-1) c / (2 D a)
    b_s = ((D - 1) * c / (2 * D * a)) ** (1 / (D + 1))
    assert _dL(b_s, cp.spinodal, D, a, c) == pytest.approx(0.0, abs=1e-8 * scale * (1 + b_s))
    assert _d2L(b_s, cp.spinodal, D, a, c) == pytest.approx(0.0, abs=1e-7 * scale * (1 + b_s) ** 2)
    assert cp.gamma_c < cp.spinodal
    assert cp.latent_heat == pytest.approx((D + 1) * cp.b_c**2, rel=1e-12)


@settings(max_examples=40)
@given(a=scalars, c=scalars)
def test_depth_one_gamma_c_is_c(a, c):
    cp = critical_point(1, a, c, c * c / a)
    assert cp.gamma_c == pytest.approx(c, rel=1e-14)
    assert cp.order == 2


@settings(max_examples=30)
@given(a=scalars, c=scalars, D=st.integers(1, 6))
def test_global_minimum_switches_at_gamma_c(a, c, D):
    """optimal_solution (polynomial roots) vs a dense brute-force grid over b."""
    cp = critical_point(D, a, c, c * c / a)
    ey2 = c * c / a
    gam = np.array([0.8 * cp.gamma_c, 0.99 * cp.gamma_c, 1.01 * cp.gamma_c, 1.3 * cp.gamma_c])
    sol = optimal_solution(D, a, c, gam, ey2)
    assert list(sol.learning) == [True, True, False, False]
    b_max = (2 * c / a) ** (1 / (D + 1)) + 1.0
    b = np.linspace(0, b_max, 200001)
    for g, L in zip(gam, sol.loss):
        brute = reduced_loss(b, g, D, a, c, ey2).min()
        assert L <= brute + 1e-12 * max(1, ey2)
        assert L == pytest.approx(brute, abs=1e-6 * max(1.0, ey2))


def test_latex_contains_formulas():
    tex = critical_point(2, 1.0, 1.0).latex()
    assert r"\gamma_c" in tex and "0.396850" in tex
    assert r"\gamma_s" in critical_point_symbolic(None).latex()
    assert "no transition" in critical_point_symbolic(0).latex()


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(depth=2.5), TypeError),
        (dict(depth=-1), ValueError),
        (dict(depth=True), TypeError),
        (dict(depth=2, a=-1.0), ValueError),
        (dict(depth=2, a=0.0), ValueError),
        (dict(depth=2, c=float("nan")), ValueError),
        (dict(depth=2, c=-0.5), ValueError),
        (dict(depth=2, a=1.0, c=2.0, ey2=1.0), ValueError),  # E[y^2] < c^2/a is impossible
    ],
)
def test_bad_input(kwargs, exc):
    with pytest.raises(exc):
        critical_point(**kwargs)


def test_optimal_solution_rejects_bad_gamma():
    with pytest.raises(ValueError, match="gamma"):
        optimal_solution(2, 1.0, 1.0, [0.1, float("nan")])
    with pytest.raises(ValueError, match="gamma"):
        optimal_solution(2, 1.0, 1.0, -0.1)
    with pytest.raises(ValueError, match="gamma"):
        optimal_solution(2, 1.0, 1.0, [])
    assert math.isfinite(optimal_solution(0, 1.0, 1.0, 0.5).loss[0])


@pytest.mark.parametrize("D", range(0, 7))
def test_float_closed_forms_equal_the_sympy_derivation(D):
    """critical_point evaluates closed forms without sympy; they must be the derivation's."""
    s = theory.SYMBOLS
    sym = critical_point_symbolic(D)
    for a, c, ey2 in [(1.0, 1.0, 1.0), (1.3, 0.7, 2.0), (0.2, 3.0, 50.0)]:
        cp = critical_point(D, a, c, ey2)
        if sym.gamma_c == sp.oo:
            assert not cp.transition and cp.gamma_c is None
            continue
        sub = {s["a"]: a, s["c"]: c, s["Ey2"]: ey2}
        assert cp.order == sym.order
        assert (cp.exponent is None) == (sym.exponent is None)
        if sym.exponent is not None:
            assert cp.exponent == float(sym.exponent)
        for mine, exact in [
            (cp.gamma_c, sym.gamma_c),
            (cp.spinodal, sym.spinodal),
            (cp.b_c_squared, sym.b_c_squared),
            (cp.norm_c, sym.t_c),
            (cp.latent_heat, sp.Abs(sym.latent_heat)),
        ]:
            assert mine == pytest.approx(float(exact.subs(sub)), rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("D", [50, 1000, 10**6])
def test_large_depths_answer_without_sympy_and_follow_the_asymptote(D):
    cp = critical_point(D, 1.3, 0.7)
    # gamma_c -> c^2/(a D) as D -> infinity (the design's asymptote)
    assert cp.gamma_c == pytest.approx(0.7**2 / (1.3 * D), rel=5.0 / D)
    assert cp.order == 1 and cp.gamma_c < cp.spinodal
