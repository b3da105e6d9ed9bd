r"""Stochastic neurons: multiplicative noise renormalises the input second moment.

Each hidden unit's output is multiplied by an independent random factor of mean 1 and
variance sigma^2 (dropout-like noise), in every one of the D hidden layers of width d.
Averaging the squared error over the noise multiplies the quadratic term of the loss
of the balanced rank-1 solution by (1 + sigma^2/d) per hidden layer, i.e.

.. math:: A \;\to\; (1 + \sigma^2/d)^D A ,

while E[x y] and E[y^2] are unchanged.  Consequences: D = 1's gamma_c = |E[x y]| is
unchanged (it does not depend on A); for D >= 2, gamma_c ~ a^{-(D-1)/(D+1)} decreases.
"""

from __future__ import annotations

import math

import numpy as np

from .checks import InputError, check_covariance, check_depth, check_int, check_nonnegative

_LOG_FLOAT_MAX = math.log(np.finfo(float).max)

__all__ = ["noise_factor", "noisy_covariance"]


def noise_factor(sigma2: float, width: int, depth: int) -> float:
    """(1 + sigma^2/width)^depth, the factor multiplying A."""
    sigma2 = check_nonnegative(sigma2, "noise_sigma2")
    depth = check_depth(depth)
    width = check_int(width, "width (needed when noise_sigma2 > 0)", minimum=1)
    # the logarithm tells overflow before the power raises OverflowError
    log_factor = depth * math.log1p(sigma2 / width)
    if log_factor > _LOG_FLOAT_MAX:
        raise InputError(f"noise_sigma2={sigma2!r} with width={width} and depth={depth}: the noise factor "
                         f"(1 + sigma^2/width)^depth = e^{log_factor:.4g} is out of floating-point range")
    return float((1.0 + sigma2 / width) ** depth)


def noisy_covariance(A, sigma2: float, width: int, depth: int) -> np.ndarray:
    """Effective input second moment (1 + sigma^2/width)^depth A of a net with noisy neurons.

    Parameters
    ----------
    A : (d, d) array
        E[x x^T] of the data.
    sigma2 : float
        Variance of the mean-1 multiplicative noise on each hidden unit.
    width : int
        Units per hidden layer.
    depth : int
        Hidden layers D.
    """
    A = check_covariance(A, "A")
    return noise_factor(sigma2, width, depth) * A
