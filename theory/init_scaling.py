r"""Initialisation phase diagram of wide two-layer ReLU networks (Luo, Xu, Ma & Zhang 2021).

Model and initialisation (bias counted in the input weights, x~ = (x, 1)):

.. math::

    f(x) = \frac{1}{\alpha}\sum_{k=1}^m a_k\,\mathrm{ReLU}(w_k\cdot\tilde x),\qquad
    a_k^0\sim N(0,\beta_1^2),\quad w_k^0\sim N(0,\beta_2^2 I_{d+1}).

Normalised model (:func:`normalised_scales`): with :math:`\bar a=a/\beta_1`,
:math:`\bar w=w/\beta_2`, :math:`\bar t=t/(\beta_1\beta_2)`,

.. math::

    f = \kappa\sum_k \bar a_k\,\mathrm{ReLU}(\bar w_k\cdot\tilde x),\quad
    \kappa=\frac{\beta_1\beta_2}{\alpha},\quad \kappa'=\frac{\beta_1}{\beta_2},\quad
    \dot{\bar a}=-\kappa'^{-1}\nabla_{\bar a}R_S,\ \dot{\bar w}=-\kappa'\nabla_{\bar w}R_S .

One GD step of size eta on (a, w) is *exactly* one mobility-weighted step of size
eta / (beta1 beta2) on (a-bar, w-bar), so runs with equal (kappa, kappa') and equal normal
draws are identical (:func:`normalised_step`).

Coordinates of the diagram (:class:`InitScaling`):

.. math::

    \gamma_{\rm energy} = \lim_{m\to\infty} -\frac{\log\kappa}{\log m},\qquad
    \gamma_{\rm dynamic} = \lim_{m\to\infty} -\frac{\log\kappa'}{\log m}.

These are the paper's (gamma, gamma').  **They are not the L2 strength** ``gamma`` used
everywhere else in l2phase; this module never calls them ``gamma``.

Regimes (:func:`init_regime`, the paper's Theorems 6 and 8 and Fig. 1):

* linear: gamma_energy < 1, or gamma_dynamic > gamma_energy - 1 (input weights barely move);
* condensed: gamma_energy > 1 and gamma_dynamic < gamma_energy - 1;
* critical: the boundary {gamma_energy = 1, gamma_dynamic <= 0} U {gamma_dynamic = gamma_energy - 1,
  gamma_energy >= 1} (mean-field and Xavier sit on it).

This module is pure python/numpy (no torch, no numba).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .checks import check_int, check_positive, check_real
from .checks import InputError, InputTypeError

__all__ = [
    "INIT_REGIMES",
    "PAPER_PLACEMENT",
    "NAMED_INITS",
    "InitCoordinates",
    "InitScaling",
    "NamedInit",
    "boundary_gamma_energy",
    "boundary_distance",
    "heuristic_rd_slope",
    "init_coordinates_finite_m",
    "init_coordinates_fit",
    "init_regime",
    "named_init",
    "normalised_scales",
    "normalised_step",
]

#: The three regimes, in the order linear < critical < condensed.
INIT_REGIMES = ("linear", "critical", "condensed")


# --------------------------------------------------------------------------- regime
def _coord(x, name: str) -> float:
    return check_real(x, name)


def init_regime(gamma_energy: float, gamma_dynamic: float, *, tol: float = 1e-9) -> str:
    """Regime of the point (gamma_energy, gamma_dynamic) = the paper's (gamma, gamma').

    Returns ``"linear"`` (gamma_energy < 1 or gamma_dynamic > gamma_energy - 1),
    ``"condensed"`` (gamma_energy > 1 and gamma_dynamic < gamma_energy - 1) or
    ``"critical"`` (within ``tol`` of the boundary {gamma_energy = 1, gamma_dynamic <= 0} U
    {gamma_dynamic = gamma_energy - 1, gamma_energy >= 1}).

    >>> init_regime(1.0, 0.0)   # mean-field
    'critical'
    >>> init_regime(0.5, 0.0)   # NTK
    'linear'
    """
    g = _coord(gamma_energy, "gamma_energy")
    gp = _coord(gamma_dynamic, "gamma_dynamic")
    tol = float(tol)
    if not tol >= 0:
        raise InputError(f"tol must be >= 0, got {tol}")
    if boundary_distance(g, gp) <= tol:
        return "critical"
    if g < 1 or gp > g - 1:
        return "linear"
    return "condensed"


def boundary_gamma_energy(gamma_dynamic: float) -> float:
    """gamma_energy of the critical boundary on the row gamma_dynamic: 1 for gamma_dynamic <= 0, else 1 + gamma_dynamic."""
    gp = _coord(gamma_dynamic, "gamma_dynamic")
    return 1.0 + max(gp, 0.0)


def boundary_distance(gamma_energy: float, gamma_dynamic: float) -> float:
    """Euclidean distance in the (gamma_energy, gamma_dynamic) plane to the critical boundary (>= 0).

    The boundary is the union of the rays {(1, t): t <= 0} and {(1 + t, t): t >= 0}.
    """
    g = _coord(gamma_energy, "gamma_energy")
    gp = _coord(gamma_dynamic, "gamma_dynamic")
    x = g - 1.0
    corner = math.hypot(x, gp)
    d_vert = abs(x) if gp <= 0 else corner
    t = (x + gp) / 2.0  # projection on the diagonal ray, parameter along (1, 1)
    d_diag = abs(gp - x) / math.sqrt(2.0) if t >= 0 else corner
    return min(d_vert, d_diag)


def heuristic_rd_slope(gamma_energy: float, gamma_dynamic: float) -> float:
    """Heuristic large-m slope of log RD(theta_w) against log m (notes section 8; NOT from the paper).

    Paper's sign convention: negative = linear, positive = condensed; zero on the boundary.

    * linear side: gamma_energy - 1 (gamma_dynamic <= 0, gamma_energy < 1); gamma_energy - 1 - 2 gamma_dynamic
      (gamma_dynamic >= 0, gamma_energy <= 1); 2 (gamma_energy - 1 - gamma_dynamic) (gamma_energy >= 1 above the diagonal);
    * condensed side: (gamma_energy - 1 - gamma_dynamic)/2 if gamma_energy + gamma_dynamic > 1, else gamma_energy - 1.

    A sanity overlay only: at accessible widths the gamma_dynamic > 0 slopes are a crossover
    between gamma_energy - 1 - gamma_dynamic and gamma_energy - 1 - 2 gamma_dynamic.
    """
    g = _coord(gamma_energy, "gamma_energy")
    gp = _coord(gamma_dynamic, "gamma_dynamic")
    if init_regime(g, gp, tol=0.0) == "condensed":
        return (g - 1 - gp) / 2 if g + gp > 1 else g - 1
    if g <= 1:
        return g - 1 if gp <= 0 else g - 1 - 2 * gp
    return 2 * (g - 1 - gp)


# ---------------------------------------------------------------------- coordinates
@dataclass(frozen=True)
class InitCoordinates:
    """A point of the diagram: gamma_energy (the paper's gamma) and gamma_dynamic (its gamma')."""

    gamma_energy: float
    gamma_dynamic: float

    @property
    def regime(self) -> str:
        """:func:`init_regime` of this point (exact comparison up to 1e-9)."""
        return init_regime(self.gamma_energy, self.gamma_dynamic)

    @property
    def distance_to_boundary(self) -> float:
        return boundary_distance(self.gamma_energy, self.gamma_dynamic)

    def as_dict(self) -> dict:
        return dict(gamma_energy=self.gamma_energy, gamma_dynamic=self.gamma_dynamic, regime=self.regime,
                    distance_to_boundary=self.distance_to_boundary)


@dataclass(frozen=True)
class InitScaling:
    """Power-law initialisation scales: alpha ~ m^alpha_exp, beta1 ~ m^beta1_exp, beta2 ~ m^beta2_exp.

    alpha divides the output (f = (1/alpha) sum a_k ReLU(w_k . x~)), beta1 is the std of the
    output weights a_k, beta2 the std of the input weights and biases (w_k, b_k).  Then
    exactly

    .. math:: \\gamma_{\\rm energy} = s_\\alpha - s_1 - s_2,\\qquad \\gamma_{\\rm dynamic} = s_2 - s_1 .

    Use :meth:`from_coordinates` to build a scaling from (gamma_energy, gamma_dynamic) with
    the authors' code's choice beta1_exp (default 0: beta1 = 1).

    >>> InitScaling(alpha_exp=1, beta1_exp=0, beta2_exp=0).regime     # mean-field
    'critical'
    """

    alpha_exp: float
    beta1_exp: float
    beta2_exp: float

    def __post_init__(self):
        for name in ("alpha_exp", "beta1_exp", "beta2_exp"):
            object.__setattr__(self, name, _coord(getattr(self, name), name))

    @classmethod
    def from_coordinates(cls, gamma_energy: float, gamma_dynamic: float, beta1_exp: float = 0.0) -> "InitScaling":
        """The scaling with the given coordinates and beta1 ~ m^beta1_exp (C1's convention)."""
        g = _coord(gamma_energy, "gamma_energy")
        gp = _coord(gamma_dynamic, "gamma_dynamic")
        b1 = _coord(beta1_exp, "beta1_exp")
        b2 = b1 + gp
        return cls(alpha_exp=g + b1 + b2, beta1_exp=b1, beta2_exp=b2)

    @property
    def gamma_energy(self) -> float:
        return self.alpha_exp - self.beta1_exp - self.beta2_exp

    @property
    def gamma_dynamic(self) -> float:
        return self.beta2_exp - self.beta1_exp

    @property
    def coordinates(self) -> InitCoordinates:
        return InitCoordinates(self.gamma_energy, self.gamma_dynamic)

    @property
    def regime(self) -> str:
        return self.coordinates.regime

    def scales(self, width: float) -> tuple[float, float, float]:
        """(alpha, beta1, beta2) at hidden width m (unit prefactors)."""
        m = check_positive(width, "width")
        return m ** self.alpha_exp, m ** self.beta1_exp, m ** self.beta2_exp

    def kappa(self, width: float) -> tuple[float, float]:
        """(kappa, kappa') = (m^-gamma_energy, m^-gamma_dynamic) at width m."""
        return normalised_scales(*self.scales(width))

    def rescaled(self, shift: float) -> "InitScaling":
        """beta1, beta2 -> x m^shift and alpha -> x m^(2 shift): the same (kappa, kappa'), the same diagram point."""
        s = _coord(shift, "shift")
        return InitScaling(self.alpha_exp + 2 * s, self.beta1_exp + s, self.beta2_exp + s)


def normalised_scales(alpha: float, beta1: float, beta2: float) -> tuple[float, float]:
    """(kappa, kappa') = (beta1 beta2 / alpha, beta1 / beta2) of the normalised model (paper eqs. 7-13)."""
    alpha = check_positive(alpha, "alpha")
    beta1 = check_positive(beta1, "beta1")
    beta2 = check_positive(beta2, "beta2")
    return beta1 * beta2 / alpha, beta1 / beta2


def normalised_step(eta: float, beta1: float, beta2: float) -> float:
    """Step size of the normalised model equivalent to a GD step eta on (a, w): eta / (beta1 beta2).

    Exact for discrete GD: a-bar -= eta-bar grad_a-bar R / kappa', w-bar -= eta-bar kappa' grad_w-bar R
    reproduces a -= eta grad_a R, w -= eta grad_w R with a = beta1 a-bar, w = beta2 w-bar.
    """
    eta = check_positive(eta, "eta")
    return eta / (check_positive(beta1, "beta1") * check_positive(beta2, "beta2"))


def init_coordinates_finite_m(alpha: float, beta1: float, beta2: float, width: float) -> InitCoordinates:
    """Finite-m estimate (-log kappa / log m, -log kappa' / log m) from the values at one width.

    Caveat: a constant prefactor c (e.g. He's sqrt 2, Xavier's sqrt(2/(m+d))) biases each
    coordinate by -log(c)/log m = O(1/log m); the limit is exact only as m -> infinity.  Prefer
    :class:`InitScaling` (exponents) or :func:`init_coordinates_fit` (several widths).
    """
    m = check_positive(width, "width")
    if m <= 1:
        raise InputError(f"width must be > 1, got {m}")
    normalised_scales(alpha, beta1, beta2)  # checks the values
    # logarithms of the factors, not of the products: beta1 beta2 / alpha can under- or overflow
    log_kappa = math.log(beta1) + math.log(beta2) - math.log(alpha)
    log_kappa_p = math.log(beta1) - math.log(beta2)
    lm = math.log(m)
    return InitCoordinates(-log_kappa / lm, -log_kappa_p / lm)


def init_coordinates_fit(widths, alphas, beta1s, beta2s) -> InitCoordinates:
    """Coordinates as the least-squares slopes of -log kappa and -log kappa' against log m.

    Removes the constant-prefactor bias of :func:`init_coordinates_finite_m` exactly for
    c m^s scalings; sub-leading terms such as (m + d) still bias it at small m.
    """
    m = np.asarray(widths, dtype=float)
    arrs = [np.asarray(v, dtype=float) for v in (alphas, beta1s, beta2s)]
    if m.ndim != 1 or m.size < 2:
        raise InputError("widths must be a 1-D sequence of at least two widths")
    for name, a in zip(("alphas", "beta1s", "beta2s"), arrs):
        if a.shape != m.shape:
            raise InputError(f"{name} must have the shape of widths {m.shape}, got {a.shape}")
        if not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise InputError(f"{name} must be finite and > 0")
    if not np.all(np.isfinite(m)) or np.any(m <= 1) or np.unique(m).size < 2:
        raise InputError("widths must be finite, > 1, with at least two distinct values")
    al, b1, b2 = arrs
    lm = np.log(m)
    g = -np.polyfit(lm, np.log(b1 * b2 / al), 1)[0]
    gp = -np.polyfit(lm, np.log(b1 / b2), 1)[0]
    return InitCoordinates(float(g), float(gp))


# ---------------------------------------------------------------------- named inits
@dataclass(frozen=True)
class NamedInit:
    """A common initialisation: exponents, exact finite-m scales and where the paper places it.

    ``alpha``, ``beta1``, ``beta2`` are functions of (m, d) (d = input dimension without the
    bias) giving the exact scales (standard deviations); ``scaling`` their exponents in m.
    """

    name: str
    scaling: InitScaling
    alpha: Callable[[float, int], float] = field(repr=False)
    beta1: Callable[[float, int], float] = field(repr=False)
    beta2: Callable[[float, int], float] = field(repr=False)
    description: str = ""

    @property
    def coordinates(self) -> InitCoordinates:
        return self.scaling.coordinates

    @property
    def regime(self) -> str:
        return self.scaling.regime

    def scales(self, width: float, in_dim: int = 1) -> tuple[float, float, float]:
        """Exact (alpha, beta1, beta2) at width m and input dimension d."""
        m = check_positive(width, "width")
        d = check_int(in_dim, "in_dim", 1)
        return float(self.alpha(m, d)), float(self.beta1(m, d)), float(self.beta2(m, d))

    def finite_m_coordinates(self, width: float, in_dim: int = 1) -> InitCoordinates:
        """:func:`init_coordinates_finite_m` of the exact scales (O(1/log m) bias, see there)."""
        return init_coordinates_finite_m(*self.scales(width, in_dim), width)


def _e_et_al(beta_exp: float) -> NamedInit:
    s = _coord(beta_exp, "beta_exp")
    return NamedInit(
        "e_et_al", InitScaling(0.0, -s, 0.0),
        lambda m, d: 1.0, lambda m, d: m ** (-s), lambda m, d: 1.0,
        f"E, Ma & Wu (2020): alpha = 1, a ~ N(0, beta^2) with beta = m^-{s:g}, w ~ N(0, I); on the line "
        "gamma_dynamic = gamma_energy (linear for every beta)",
    )


NAMED_INITS: dict[str, NamedInit] = {
    "lecun": NamedInit(
        "lecun", InitScaling(0.0, -0.5, 0.0),
        lambda m, d: 1.0, lambda m, d: math.sqrt(1.0 / m), lambda m, d: math.sqrt(1.0 / d),
        "LeCun normal: std sqrt(1/fan_in) in each layer (paper Table 1)",
    ),
    "he": NamedInit(
        "he", InitScaling(0.0, -0.5, 0.0),
        lambda m, d: 1.0, lambda m, d: math.sqrt(2.0 / m), lambda m, d: math.sqrt(2.0 / d),
        "He (Kaiming) normal: std sqrt(2/fan_in) (paper Table 1)",
    ),
    "xavier": NamedInit(
        "xavier", InitScaling(0.0, -0.5, -0.5),
        lambda m, d: 1.0, lambda m, d: math.sqrt(2.0 / (m + 1)), lambda m, d: math.sqrt(2.0 / (m + d)),
        "Xavier (Glorot) normal: std sqrt(2/(fan_in + fan_out)) (paper Table 1)",
    ),
    "ntk": NamedInit(
        "ntk", InitScaling(0.5, 0.0, 0.0),
        lambda m, d: math.sqrt(m), lambda m, d: 1.0, lambda m, d: 1.0,
        "NTK parametrisation: alpha = sqrt(m), unit-variance weights (paper Table 1)",
    ),
    "mean_field": NamedInit(
        "mean_field", InitScaling(1.0, 0.0, 0.0),
        lambda m, d: float(m), lambda m, d: 1.0, lambda m, d: 1.0,
        "mean-field parametrisation: alpha = m, unit-variance weights (paper Table 1)",
    ),
    "e_et_al": _e_et_al(1.0),
    "pytorch_default": NamedInit(
        "pytorch_default", InitScaling(0.0, -0.5, 0.0),
        lambda m, d: 1.0, lambda m, d: 1.0 / math.sqrt(3.0 * m), lambda m, d: 1.0 / math.sqrt(3.0 * d),
        "PyTorch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and bias, "
        "std 1/sqrt(3 fan_in); the LeCun point (uniform instead of normal does not move it)",
    ),
}

#: Where the paper places each named init (Table 1, Fig. 1); tests hold NAMED_INITS to it.
PAPER_PLACEMENT = {
    "lecun": (0.5, 0.5, "linear"),
    "he": (0.5, 0.5, "linear"),
    "xavier": (1.0, 0.0, "critical"),
    "ntk": (0.5, 0.0, "linear"),
    "mean_field": (1.0, 0.0, "critical"),
    "e_et_al": (1.0, 1.0, "linear"),
    "pytorch_default": (0.5, 0.5, "linear"),
}


def named_init(name: str, *, beta_exp: float | None = None) -> NamedInit:
    """The named initialisation ``name`` (case-insensitive; '-' or ' ' read as '_').

    Names: lecun, he, xavier, ntk, mean_field (alias mf, mean-field), e_et_al (alias e;
    ``beta_exp`` s sets beta = m^-s, default 1 - the point (1, 1) of Fig. 1),
    pytorch_default (alias pytorch, torch).
    """
    if not isinstance(name, str):
        raise InputTypeError(f"name must be a string, got {name!r}")
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = {"mf": "mean_field", "meanfield": "mean_field", "e": "e_et_al", "e_et_al_2020": "e_et_al",
           "pytorch": "pytorch_default", "torch": "pytorch_default", "kaiming": "he", "glorot": "xavier"}.get(key, key)
    if key not in NAMED_INITS:
        raise InputError(f"unknown initialisation {name!r}; known: {', '.join(sorted(NAMED_INITS))}")
    if beta_exp is not None:
        if key != "e_et_al":
            raise InputError("beta_exp applies only to e_et_al")
        return _e_et_al(beta_exp)
    return NAMED_INITS[key]
