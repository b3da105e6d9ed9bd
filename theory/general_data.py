r"""Every L2 transition of a deep linear network for general data statistics.

Input: A = E[x x^T] (symmetric positive semi-definite: restricted to its range first, see
:func:`restrict_to_range`), beta = E[x y] (vector) or
E[x y^T] (matrix, k outputs), E[||y||^2].  Loss convention as everywhere in l2phase
(no 1/2, one gamma on every layer, D hidden layers, n = D + 1).  Minimising over the
factorisations of a fixed end-to-end map W gives

.. math:: \min_W \; \mathrm{tr}(W^T A W) - 2\,\mathrm{tr}(W^T B) + E\|y\|^2
          + n\gamma \sum_i \sigma_i(W)^{2/n}.

Cases handled exactly:

* **One output, D = 1**: gamma_c = ||beta|| for any A (the origin's Hessian has
  eigenvalues 2 gamma +- 2 ||beta||), second order.
* **One output, D >= 2**: the *ridge branch*.  Every non-zero stationary point is
  w(lam) = (A + lam I)^{-1} beta with gamma(lam) = lam ||w||^{2D/(D+1)}; gamma_c is the
  largest gamma(lam) at which the branch loss equals E[y^2] (roots found with scipy's
  brentq on a log grid of lam), and the spinodal is the maximum of gamma(lam) (the fold).
  The scalar formula with a = n^T A n, n = beta/|beta| is reported as ``lower_bound``:
  it is exact when beta is an eigenvector of A and too low otherwise.
* **Several outputs, A = a I** (whitened up to scale): the modes decouple by von
  Neumann's trace inequality; one transition per singular value s_k of B at the scalar
  gamma_c(a, s_k): the cascade (D = 1: soft-thresholding at s_k, second order each;
  D >= 2: first order each).
* **Several outputs, D = 1, any A**: the problem is convex in W (nuclear norm).  The
  transitions are the gammas at which rank W* drops; the last one is exactly
  sigma_max(B).  The others are located exactly by homotopy on the rank
  (:func:`nuclear_norm_path`, method ``"convex-homotopy"``, with its KKT certificate).
* **Several outputs, D >= 2, any A**: non-convex, no closed form.  Certified global
  numerical search (:func:`global_transitions`, method ``"global-numerical"``): lowest
  branch per rank from many starts, continuation in gamma up and down, each crossing
  located by root finding, with its certificate and accuracy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from .checks import NotConvergedError, check_data_stats, check_depth, check_nonnegative
from .checks import InputError
from .closed_form import critical_point
from .data_range import RANGE_RTOL, restrict_to_range
from .global_branches import global_transitions
from .noise import noisy_covariance
from .nuclear_path import nuclear_norm_path

__all__ = ["Transition", "DataTransitions", "transitions", "data_transitions", "ridge_branch_critical_point"]


@dataclass(frozen=True)
class Transition:
    """One L2 transition as gamma increases.

    Attributes
    ----------
    gamma_c : float
        Critical L2 strength.
    order : int
        Ehrenfest order (2 for D = 1, 1 for D >= 2).
    mode : int
        Index of the output mode (singular value of E[x y^T], largest first).
    c : float
        The mode's singular value (|E[x y]| for one output).
    a : float
        The effective input second moment along the mode (n^T A n).
    spinodal : float
        End of the metastable learning minimum (= gamma_c for D = 1).
    latent_heat : float
        Jump of dL*/dgamma (0 for a continuous transition).
    method : str
        How it was obtained ("exact-D1", "scalar", "ridge-branch", "convex-homotopy",
        "global-numerical").
    lower_bound : float or None
        For D >= 2 and one output: the scalar formula with a = n^T A n, a lower bound on
        gamma_c, equal to it iff beta is an eigenvector of A.
    accuracy : float or None
        Relative accuracy of gamma_c for the numerical methods (None: closed form).
    certificate : dict or None
        For the numerical methods: how the result is certified (KKT / stationarity
        residual, number of starts, gap to the next-best branch, spinodal of the
        higher-gamma branch, ...).
    """

    gamma_c: float
    order: int
    mode: int
    c: float
    a: float
    spinodal: float
    latent_heat: float
    method: str
    lower_bound: float | None = None
    accuracy: float | None = None
    certificate: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _branch(A: np.ndarray, beta: np.ndarray, ey2: float, depth: int):
    """Ridge-branch quantities as functions of log(lam)."""
    evals, evecs = np.linalg.eigh(A)
    proj = evecs.T @ beta
    n = depth + 1

    def point(loglam: float):
        lam = np.exp(loglam)
        w_eig = proj / (evals + lam)
        s2 = float(w_eig @ w_eig)
        s = np.sqrt(s2)
        gamma = lam * s ** (2 * depth / n)
        loss = float(w_eig @ (evals * w_eig)) - 2 * float(w_eig @ proj) + ey2 + n * gamma * s ** (2 / n)
        return gamma, loss - ey2, s

    return point, evals


def ridge_branch_critical_point(A, beta, ey2: float, depth: int) -> tuple[float, float, float]:
    r"""gamma_c, spinodal and ||w|| at gamma_c for one output and D >= 2, any A.

    Along w(lam) = (A + lam I)^{-1} beta, s = ||w||, gamma(lam) = lam s^{2D/(D+1)}, the
    branch loss minus E[y^2] is Delta(lam) = w^T A w - 2 w^T beta + n gamma s^{2/n}.
    gamma_c = max{gamma(lam) : Delta(lam) = 0} and gamma_s = max_lam gamma(lam).

    Returns
    -------
    (gamma_c, gamma_s, norm_c)
    """
    depth = check_depth(depth, minimum=2)
    A, B, ey2 = check_data_stats(A, beta, ey2)
    if B.shape[1] != 1:
        raise InputError("ridge_branch_critical_point takes one output (beta a vector)")
    beta = B[:, 0]
    if not np.any(beta):
        return 0.0, 0.0, 0.0
    point, evals = _branch(A, beta, ey2, depth)
    lo, hi = np.log(evals.min()) - 25.0, np.log(evals.max()) + 25.0
    grid = np.linspace(lo, hi, 4001)
    vals = np.array([point(x) for x in grid])
    gam, delta = vals[:, 0], vals[:, 1]

    # a grid point can hit the crossing exactly (one input: lam = a at gamma_c for D = 2,
    # the centre of the symmetric log-grid), so exact zeros count as roots too
    roots = [float(x) for x in grid[delta == 0.0]]
    for i in np.nonzero(np.sign(delta[:-1]) * np.sign(delta[1:]) < 0)[0]:
        x = brentq(lambda z: point(z)[1], grid[i], grid[i + 1], xtol=1e-14, rtol=1e-15)
        roots.append(x)
    if not roots:
        raise NotConvergedError("ridge branch: no crossing with the trivial minimum was bracketed")
    g_roots = [point(x)[0] for x in roots]
    k = int(np.argmax(g_roots))
    gamma_c, norm_c = g_roots[k], point(roots[k])[2]

    i = int(np.argmax(gam))
    res = minimize_scalar(
        lambda z: -point(z)[0],
        bounds=(grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]),
        method="bounded",
        options={"xatol": 1e-13},
    )
    gamma_s = max(-float(res.fun), float(gam[i]))
    return float(gamma_c), float(gamma_s), float(norm_c)


def transitions(
    A,
    beta,
    ey2: float,
    depth: int,
    noise_sigma2: float = 0.0,
    width: int | None = None,
    *,
    tol: float = 1e-10,
    rtol: float = RANGE_RTOL,
    n_starts: int = 8,
    seed: int = 0,
) -> list[Transition]:
    r"""Every transition of the global minimum as gamma increases, sorted by gamma_c.

    Parameters
    ----------
    A : (d, d) array
        E[x x^T], symmetric positive semi-definite; the problem is restricted to range(A)
        (eigenvalues > rtol * lambda_max, :func:`restrict_to_range`); a beta with a
        component outside that range beyond Cauchy-Schwarz raises InputError.
    beta : (d,) or (d, k) array
        E[x y] or E[x y^T].
    ey2 : float
        E[||y||^2].
    depth : int
        Hidden layers D.  D = 0 has no transition (returns []).
    noise_sigma2, width : float, int
        Stochastic neurons (mean-1 multiplicative noise of variance sigma^2 on every
        hidden unit of a layer of ``width`` units): A is replaced by
        (1 + sigma^2/width)^D A (see :func:`theory.noisy_covariance`).
    tol : float
        Relative accuracy of the numerically located transitions (convex homotopy,
        global-numerical); the closed-form ones are exact.
    rtol : float
        Relative eigenvalue threshold of range(A).
    n_starts, seed : int
        Starts per rank of the global numerical search (D >= 2, several outputs, any A)
        and the seed of its random starts.

    Returns
    -------
    list of Transition

    Examples
    --------
    >>> import numpy as np
    >>> from l2phase.theory import transitions
    >>> [round(t.gamma_c, 4) for t in transitions(np.eye(2), np.diag([1.0, 0.4]), 1.16, depth=2)]
    [0.117, 0.3969]
    """
    return data_transitions(A, beta, ey2, depth, noise_sigma2, width, tol=tol, rtol=rtol,
                            n_starts=n_starts, seed=seed).transitions


@dataclass(frozen=True)
class DataTransitions:
    """The transitions of a data set together with the statistics they were computed from.

    Attributes
    ----------
    transitions : list of Transition
    in_dim, n_outputs : int
        d and k (before the restriction).
    rank_A : int
        Dimension of range(A) kept (eigenvalues > ``threshold``).
    dropped_directions : int
        d - rank_A: input directions along which the data never vary.
    threshold : float
        Absolute eigenvalue threshold (rtol * lambda_max(A)).
    singular_values_B : list of float
        Singular values of E[x y^T], largest first.
    ey2 : float
    """

    transitions: list[Transition]
    in_dim: int
    n_outputs: int
    rank_A: int
    dropped_directions: int
    threshold: float
    singular_values_B: list[float]
    ey2: float

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["transitions"] = [t.to_dict() for t in self.transitions]
        return out


def data_transitions(
    A,
    beta,
    ey2: float,
    depth: int,
    noise_sigma2: float = 0.0,
    width: int | None = None,
    *,
    tol: float = 1e-10,
    rtol: float = RANGE_RTOL,
    n_starts: int = 8,
    seed: int = 0,
) -> DataTransitions:
    """:func:`transitions` with the statistics it used (rank of A, dropped directions, ...).

    Same parameters as :func:`transitions`.
    """
    depth = check_depth(depth)
    A, B, ey2 = check_data_stats(A, beta, ey2, definite=False)
    check_nonnegative(noise_sigma2, "noise_sigma2")
    if noise_sigma2 > 0:
        A = noisy_covariance(A, noise_sigma2, width, depth)
    rr = restrict_to_range(A, B, ey2, rtol=rtol)
    sv = np.linalg.svd(B, compute_uv=False)
    trans = _transitions(rr.eigenvalues, rr.B, rr.ey2, depth, tol, n_starts, seed)
    return DataTransitions(trans, int(A.shape[0]), int(B.shape[1]), rr.rank, rr.n_dropped, rr.threshold,
                           [float(x) for x in sv], float(ey2))


def _transitions(e: np.ndarray, B: np.ndarray, ey2: float, depth: int, tol: float, n_starts: int,
                 seed: int) -> list[Transition]:
    """All transitions for A = diag(e) (e > 0) in its eigenbasis."""
    if depth == 0:
        return []
    A = np.diag(e)
    n_out = B.shape[1]
    n = depth + 1
    if n_out == 1:
        beta_v = B[:, 0]
        c = float(np.linalg.norm(beta_v))
        if c == 0.0:
            return []
        u = beta_v / c
        a_u = float(u @ A @ u)
        scalar = critical_point(depth, a_u, c, max(ey2, c * c / a_u))
        if depth == 1:
            return [Transition(c, 2, 0, c, a_u, c, 0.0, "exact-D1")]
        gamma_c, gamma_s, norm_c = ridge_branch_critical_point(A, beta_v, ey2, depth)
        latent = n * norm_c ** (2 / n)
        return [Transition(gamma_c, 1, 0, c, a_u, gamma_s, latent, "ridge-branch", scalar.gamma_c)]

    U, s, _ = np.linalg.svd(B, full_matrices=False)
    a_iso = float(np.mean(e))
    if np.abs(e - a_iso).max() <= 1e-10 * a_iso:
        out = []
        for k, sk in enumerate(s):
            if sk <= 0:
                continue
            cp = critical_point(depth, a_iso, float(sk), float(sk * sk / a_iso))
            out.append(
                Transition(cp.gamma_c, cp.order, k, float(sk), a_iso, cp.spinodal, cp.latent_heat, "scalar")
            )
        return sorted(out, key=lambda tr: tr.gamma_c)

    def a_mode(k: int) -> float:
        return float(U[:, k] @ (e * U[:, k]))

    out = []
    if depth == 1:
        for p in nuclear_norm_path(e, B, tol=tol):
            k = p.rank - 1
            cert = dict(p.certificate, kkt_residual=p.kkt_residual, dual_margin=p.dual_margin,
                        search_bracket=list(p.bracket))
            out.append(Transition(p.gamma, 2, k, float(s[k]), a_mode(k), p.gamma, 0.0, "convex-homotopy",
                                  accuracy=p.accuracy, certificate=cert))
        return sorted(out, key=lambda tr: tr.gamma_c)
    for g in global_transitions(e, B, depth, n_starts=n_starts, seed=seed, tol=tol):
        k = g.rank_below - 1
        cert = dict(g.certificate, rank_below=g.rank_below, rank_above=g.rank_above,
                    spinodal_lower_branch=g.spinodal_down)
        out.append(Transition(g.gamma_c, 1, k, float(s[k]), a_mode(k), g.spinodal_up, g.latent_heat,
                              "global-numerical", accuracy=g.accuracy, certificate=cert))
    return sorted(out, key=lambda tr: tr.gamma_c)
