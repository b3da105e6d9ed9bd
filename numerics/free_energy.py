r"""Zero-temperature free energy L*(gamma) of deep linear networks, by global minimisation.

Convention (docs/conventions.md): D hidden layers, n = D + 1 weight matrices,
L = E[(f(x) - y)^2] + gamma sum_l ||W_l||_F^2 (no 1/2).  After the exact reduction to the
end-to-end vector w (balanced rank-1 factorisation),

.. math::

    L(w;\gamma) = w^T A w - 2 w^T\beta + E[y^2] + n\gamma\|w\|^{2/n},
    \qquad L^*(\gamma) = \min_w L(w;\gamma).

The scalar mode (A = a, beta = c) is L(b) = a b^{2n} - 2 c b^n + E[y^2] + n gamma b^2 with
||w|| = b^n.  Nothing here evaluates a closed form for gamma_c: every stationary point is
found numerically on the ridge curve (A + lam I) w = beta, lam = gamma ||w||^(2/n-2)
(see ``numerics._ridge_kernels``), the global minimum is the lowest of them and of w = 0,
and every local minimum is kept as a branch, so metastable branches and spinodals come
out of the numbers.  ||theta*||^2 = n b*^2 = dL*/dgamma (envelope theorem) and
d2L*/dgamma2 = d(n b*^2)/dgamma (implicit differentiation along the branch).

Example
-------
>>> import numpy as np
>>> from l2phase.numerics import free_energy
>>> fe = free_energy(np.array([0.2, 0.5]), depth=2, a=1.0, c=1.0)
>>> fe.branch.tolist()           # learning minimum (piece 0), then trivial (-1)
[0, -1]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from l2phase.theory.checks import check_data_stats, check_depth, check_gamma, check_scalar_stats

from . import _lstar_kernels as _lk
from . import _ridge_kernels as _rk
from l2phase.theory.checks import InputError

__all__ = [
    "Branch",
    "FreeEnergyCurve",
    "NumericalTransition",
    "ReducedLossModel",
    "free_energy",
    "free_energy_general",
    "locate_transitions",
    "free_energy_lean",
]

TRIVIAL = -1  # branch label of w = 0

_N_EXTREMA_GRID = 4001  # exhaustive bracketing of the extrema of gamma(lam)


@dataclass(frozen=True)
class Branch:
    """One family of stationary points followed across the gamma grid.

    ``label`` is the monotone piece of the ridge curve (-1 for w = 0); ``kind`` is
    ``"min"`` (local minimum), ``"saddle"`` (barrier between minima) or ``"trivial"``.
    Arrays are nan where the branch does not exist.  ``gamma_range`` is the open range of
    gamma over which it exists (its ends are spinodals).
    """

    label: int
    kind: str
    gamma_range: tuple[float, float]
    loss: np.ndarray
    param_norm_sq: np.ndarray
    d2loss: np.ndarray


@dataclass(frozen=True)
class FreeEnergyCurve:
    """L*(gamma) and its derivatives on a grid, with every branch.

    Attributes
    ----------
    gamma : (m,) grid
    loss : L*(gamma)
    param_norm_sq : ||theta*||^2 = n b*^2 = dL*/dgamma
    d2loss : d2L*/dgamma2 (0 on the trivial branch)
    end_to_end_norm : ||w*||
    branch : label of the global minimum (-1 = trivial w = 0)
    branches : all branches (local minima, saddles, trivial)
    """

    gamma: np.ndarray
    loss: np.ndarray
    param_norm_sq: np.ndarray
    d2loss: np.ndarray
    end_to_end_norm: np.ndarray
    branch: np.ndarray
    branches: list[Branch] = field(default_factory=list)

    @property
    def learning(self) -> np.ndarray:
        return self.branch != TRIVIAL


@dataclass(frozen=True)
class NumericalTransition:
    """A transition located and classified from numbers alone.

    ``jump_d1`` / ``jump_d2`` are right-minus-left limits of dL*/dgamma and
    d2L*/dgamma2 at gamma_c; ``order`` is the lowest derivative that jumps (1 or 2; None
    if neither does to ``tol``); ``latent_heat`` = |jump_d1|.  ``spinodal`` is the end
    of the branch that is stable below gamma_c (>= gamma_c); ``lower_spinodal`` the start
    of the branch stable above (<= gamma_c); between them both are local minima
    (hysteresis window).  ``mode`` is the output mode for several outputs.
    """

    gamma_c: float
    order: int | None
    jump_d1: float
    jump_d2: float
    latent_heat: float
    spinodal: float
    lower_spinodal: float
    branch_below: int
    branch_above: int
    bracket: tuple[float, float]
    mode: int = 0


class ReducedLossModel:
    """Reduced loss of a deep linear net with one output (or one output mode).

    Parameters
    ----------
    depth : int
        Hidden layers D >= 0.
    alpha : (d,) array
        Eigenvalues of A = E[x x^T] (> 0).
    beta2 : (d,) array
        Squared components of beta = E[x y] in the eigenbasis of A.
    ey2 : float
        E[y^2].
    fast_scalar : bool
        For one mode and D >= 1 use the integer-power kernel in b (default); False forces
        the general ridge-curve kernel (same answers, used to cross-check).
    """

    def __init__(self, depth: int, alpha, beta2, ey2: float, *, fast_scalar: bool = True) -> None:
        self.depth = check_depth(depth)
        self.n = self.depth + 1
        self.p = 2.0 * self.depth / (self.depth + 1)
        self.alpha = np.ascontiguousarray(alpha, dtype=float)
        self.beta2 = np.ascontiguousarray(beta2, dtype=float)
        self.ey2 = float(ey2)
        self.beta_norm = float(np.sqrt(self.beta2.sum()))
        if self.beta_norm == 0.0:
            lo = hi = np.empty(0)
            inc = np.empty(0, dtype=np.bool_)
        else:
            ext = _rk.find_extrema(self.alpha, self.beta2, self.p, _N_EXTREMA_GRID)
            bounds = np.concatenate([[-np.inf], ext, [np.inf]])
            lo, hi = bounds[:-1].copy(), bounds[1:].copy()
            # the first piece increases (g' -> 1 as lam -> 0); pieces alternate
            inc = np.array([k % 2 == 0 for k in range(lo.size)], dtype=np.bool_)
        self.piece_lo, self.piece_hi, self.piece_inc = lo, hi, inc
        # one mode, n >= 2: the integer-power kernel in b (no exp/log) gives the same pieces
        self._fast = bool(fast_scalar and self.alpha.size == 1 and self.n >= 2 and self.beta_norm > 0)
        self.piece_gamma = [
            tuple(float(np.exp(_rk.g_of_tau(self.alpha, self.beta2, self.p, t))) for t in (a, b))
            for a, b in zip(lo, hi)
        ]

    @classmethod
    def scalar(cls, depth: int, a: float = 1.0, c: float = 1.0, ey2: float = 1.0) -> "ReducedLossModel":
        """L(b) = a b^(2n) - 2 c b^n + E[y^2] + n gamma b^2 (A = a, beta = c)."""
        a, c, ey2 = check_scalar_stats(a, c, ey2)
        return cls(depth, np.array([a]), np.array([c * c]), ey2)

    @classmethod
    def from_data(cls, depth: int, A, beta, ey2: float) -> "ReducedLossModel":
        """One output: A = E[x x^T] (SPD), beta = E[x y] (vector)."""
        A, beta, ey2 = check_data_stats(A, beta, ey2)
        if beta.shape[1] != 1:
            raise InputError("ReducedLossModel.from_data takes one output; use free_energy_general for several")
        alpha, Q = np.linalg.eigh(A)
        bt = Q.T @ beta[:, 0]
        return cls(depth, alpha, bt * bt, ey2)

    # ---------------------------------------------------------------- evaluation
    def _raw(self, g: np.ndarray):
        K = self.piece_lo.size
        if K == 0:
            m = g.size
            e = np.full((m, 0), np.nan)
            return e, e, e, e
        if self._fast:
            dl, nrm, d2, _ = _lk.scalar_sweep(
                float(self.alpha[0]), self.beta_norm, self.n, g, bool(K > 1)
            )
            return None, dl[:, :K], nrm[:, :K], d2[:, :K]
        return _rk.sweep(self.alpha, self.beta2, float(self.n), g, self.piece_lo, self.piece_hi, self.piece_inc)

    def sweep(self, gamma) -> FreeEnergyCurve:
        """L*(gamma), ||theta*||^2, d2L*/dgamma2 and every branch on a grid (any order, >= 0)."""
        g = np.atleast_1d(check_gamma(gamma, "gamma")).astype(float)
        tau, dl, nrm, d2 = self._raw(g)
        m, K = dl.shape
        best = np.full(m, np.inf) if self.n == 1 else np.zeros(m)  # L - Ey2 of the trivial point
        label = np.full(m, TRIVIAL, dtype=np.int64)
        for k in range(K):
            if not self.piece_inc[k]:
                continue
            v = dl[:, k]
            better = np.isfinite(v) & (v <= best)  # ties go to the learning branch
            best = np.where(better, v, best)
            label = np.where(better, k, label)
        loss = self.ey2 + best
        norm2 = np.zeros(m)
        dd = np.zeros(m)
        idx = np.arange(m)
        sel = label >= 0
        norm2[sel] = nrm[idx[sel], label[sel]]
        dd[sel] = d2[idx[sel], label[sel]]
        branches = [
            Branch(
                TRIVIAL,
                "trivial",
                (0.0, np.inf),
                np.full(m, self.ey2),
                np.zeros(m),
                np.zeros(m),
            )
        ]
        for k in range(K):
            gr = self.piece_gamma[k]
            branches.append(
                Branch(
                    k,
                    "min" if self.piece_inc[k] else "saddle",
                    (min(gr), max(gr)),
                    self.ey2 + dl[:, k],
                    nrm[:, k],
                    d2[:, k],
                )
            )
        return FreeEnergyCurve(
            gamma=g,
            loss=loss,
            param_norm_sq=norm2,
            d2loss=dd,
            end_to_end_norm=(norm2 / self.n) ** (self.n / 2.0),
            branch=label,
            branches=branches,
        )

    def _label(self, gamma: float) -> int:
        return int(self.sweep(np.array([gamma])).branch[0])

    def _branch_derivs(self, label: int, gamma: float, side: int) -> tuple[float, float]:
        """(dL/dgamma, d2L/dgamma2) of a branch at gamma; one-sided extrapolated limit if it ends there."""
        if label == TRIVIAL:
            return 0.0, 0.0

        def at(gm):
            _, _, nrm, d2 = self._raw(np.array([gm]))
            return nrm[0, label], d2[0, label]

        v = at(gamma)
        if np.all(np.isfinite(v)):
            return float(v[0]), float(v[1])
        # branch ends at gamma (second order): linear extrapolation from the inside
        h = 1e-6 * gamma
        v1 = np.array(at(gamma + side * h))
        v2 = np.array(at(gamma + 2 * side * h))
        lim = 2 * v1 - v2
        return float(lim[0]), float(lim[1])

    def transitions(self, gamma=None, rtol: float = 1e-13, tol: float = 1e-6) -> list[NumericalTransition]:
        """Locate and classify every change of the global-minimum branch.

        Parameters
        ----------
        gamma : 1-D grid, optional
            Coarse grid on which branch changes are bracketed (default: 400 log-spaced
            points spanning every spinodal, with margins).
        rtol : float
            Relative width of the final bisection bracket.
        tol : float
            A derivative counts as jumping if the jump exceeds ``tol`` times its
            largest magnitude on the grid.
        """
        if gamma is None:
            gamma = self.default_grid()
        g = check_gamma(gamma, "gamma", sorted_grid=True)
        g = np.atleast_1d(g)
        if g.size < 2:
            raise InputError("gamma needs at least two points to bracket a transition")
        fe = self.sweep(g)
        s1 = max(float(np.max(np.abs(fe.param_norm_sq))), 1e-300)
        s2 = max(float(np.max(np.abs(fe.d2loss[np.isfinite(fe.d2loss)]), initial=0.0)), 1e-300)
        out = []
        for j in np.nonzero(fe.branch[1:] != fe.branch[:-1])[0]:
            lo, hi = float(g[j]), float(g[j + 1])
            lab_lo = int(fe.branch[j])
            while hi - lo > rtol * hi:
                mid = 0.5 * (lo + hi)
                if mid in (lo, hi):
                    break
                if self._label(mid) == lab_lo:
                    lo = mid
                else:
                    hi = mid
            gc = 0.5 * (lo + hi)
            below, above = lab_lo, self._label(hi)
            d1l, d2l = self._branch_derivs(below, gc, -1)
            d1r, d2r = self._branch_derivs(above, gc, +1)
            j1, j2 = d1r - d1l, d2r - d2l
            order = 1 if abs(j1) > tol * s1 else (2 if abs(j2) > tol * s2 else None)
            spin = self.piece_gamma[below] if below >= 0 else (0.0, np.inf)
            if above >= 0:
                low_sp = min(self.piece_gamma[above])
            else:
                low_sp = self.beta_norm if self.n == 2 else 0.0
            out.append(
                NumericalTransition(
                    gamma_c=gc,
                    order=order,
                    jump_d1=j1,
                    jump_d2=j2,
                    latent_heat=abs(j1) if order == 1 else 0.0,
                    spinodal=max(spin) if below >= 0 else gc,
                    lower_spinodal=float(low_sp),
                    branch_below=below,
                    branch_above=above,
                    bracket=(lo, hi),
                )
            )
        return out

    def default_grid(self, m: int = 400) -> np.ndarray:
        ends = [x for r in self.piece_gamma for x in r if 0 < x < np.inf]
        ends.append(self.beta_norm if self.beta_norm > 0 else 1.0)
        lo, hi = min(ends), max(ends)
        return np.geomspace(lo * 1e-3, hi * 10.0, m)


def free_energy(gamma, depth: int, a: float = 1.0, c: float = 1.0, ey2: float = 1.0) -> FreeEnergyCurve:
    """L*(gamma) of one scalar mode, L(b) = a b^(2n) - 2 c b^n + E[y^2] + n gamma b^2.

    Global minimum over all stationary points (found numerically) and b = 0, with every
    local-minimum and saddle branch.  See :class:`FreeEnergyCurve`.
    """
    return ReducedLossModel.scalar(depth, a, c, ey2).sweep(gamma)


def free_energy_lean(gamma, depth: int, a: float = 1.0, c: float = 1.0, ey2: float = 1.0, *, parallel: bool = False):
    """(L*, dL*/dgamma, d2L*/dgamma2) of one scalar mode: the lean path for long sweeps.

    Same numbers as :func:`free_energy` (``loss``, ``param_norm_sq``, ``d2loss``; tested to
    1e-12) without the barrier branch and the branch bookkeeping: one numba kernel
    (``numerics._lstar_kernels.scalar_lstar_checked``) that solves
    q(b) = a b^(2n-2) - c b^(n-2) + gamma = 0 (L'(b) = 2 n b q(b)) on the learning bracket by
    Newton, in chunks of the grid whose starts come from safeguarded solves at the chunk
    ends, so that the per-point work vectorises; every point passes the safeguarded
    solver's convergence test or is re-solved by it.  Any grid order works (an increasing
    fine grid is fastest).  D = 0 and c = 0 use :func:`free_energy`.

    Parameters
    ----------
    parallel : bool
        Spread independent blocks of 1024 grid points over numba's threads (prange) for
        grids of at least ``numerics._lstar_kernels.PARALLEL_MIN_POINTS`` points.  The results
        are bit-identical to the serial kernel for any thread count.  Off by default: on a
        machine whose cores are busy, a parallel region can wait a scheduler time slice
        (milliseconds) for a descheduled worker thread, which is longer than the whole
        serial sweep of 10^5 points.

    Returns
    -------
    (loss, param_norm_sq, d2loss) arrays (the rows of one (3, m) array).
    """
    depth = check_depth(depth)
    a, c, ey2 = check_scalar_stats(a, c, ey2)
    if (
        isinstance(gamma, np.ndarray)
        and gamma.dtype == np.float64
        and gamma.ndim == 1
        and gamma.size > 0
        and gamma.flags.c_contiguous
    ):
        # the common case: validated by the kernel's first pass; check_gamma then raises
        # the same error as for any other input
        g = gamma
    else:
        # no copy for a float64 array (the kernel only reads gamma)
        g = np.ascontiguousarray(np.atleast_1d(check_gamma(gamma, "gamma")), dtype=float)
    if depth == 0 or c == 0.0:
        fe = free_energy(check_gamma(g, "gamma"), depth, a, c, ey2)
        return fe.loss, fe.param_norm_sq, fe.d2loss
    if parallel and g.size >= _lk.PARALLEL_MIN_POINTS:
        kern = _lk.scalar_lstar_checked_parallel
    else:
        kern = _lk.scalar_lstar_checked
    n_bad, loss, d1, d2 = kern(a, c, ey2, depth + 1, g)
    if n_bad:
        check_gamma(g, "gamma")  # raises (NaN, inf or negative)
        raise AssertionError("unreachable: the kernel flagged a gamma that check_gamma accepts")
    return loss, d1, d2


def _modes(depth, A, beta, ey2):
    """Decoupled output modes: one output (any A), or several outputs with A = alpha I."""
    A, B, ey2 = check_data_stats(A, beta, ey2)
    if B.shape[1] == 1:
        return [ReducedLossModel.from_data(depth, A, B[:, 0], ey2)], ey2
    alpha = np.linalg.eigvalsh(A)
    if not np.allclose(alpha, alpha.mean(), rtol=1e-10, atol=0):
        raise NotImplementedError(
            "several outputs with non-isotropic A: the Schatten-penalty problem does not decouple; "
            "whiten the inputs (A = I) or treat one output at a time"
        )
    svals = np.linalg.svd(B, compute_uv=False)
    return [ReducedLossModel(depth, np.array([alpha.mean()]), np.array([s * s]), 0.0) for s in svals], ey2


def free_energy_general(gamma, depth: int, A, beta, ey2: float) -> FreeEnergyCurve:
    """L*(gamma) for data statistics A = E[x x^T], beta = E[x y] (vector) or E[x y^T] (matrix).

    One output: any SPD A (exact reduction to the ridge curve).  Several outputs: A must be
    isotropic (whitened inputs), where the modes (singular values of E[x y^T]) decouple and
    L* = E||y||^2 + sum_k (L*_k - 0).  The returned ``branch`` is that of the
    first mode for several outputs; ``branches`` is empty then.
    """
    models, ey2 = _modes(depth, A, beta, ey2)
    if len(models) == 1:
        return models[0].sweep(gamma)
    curves = [m.sweep(gamma) for m in models]
    loss = ey2 + sum(cv.loss for cv in curves)
    norm2 = sum(cv.param_norm_sq for cv in curves)
    return FreeEnergyCurve(
        gamma=curves[0].gamma,
        loss=loss,
        param_norm_sq=norm2,
        d2loss=sum(cv.d2loss for cv in curves),
        end_to_end_norm=np.sqrt(sum(cv.end_to_end_norm**2 for cv in curves)),
        branch=curves[0].branch,
        branches=[],
    )


def locate_transitions(
    depth: int,
    a: float | None = None,
    c: float | None = None,
    ey2: float = 1.0,
    *,
    A=None,
    beta=None,
    gamma=None,
    rtol: float = 1e-13,
) -> list[NumericalTransition]:
    """Every transition of L*(gamma), located by bisection and classified by derivative jumps.

    Give either the scalar mode (a, c) or data statistics (A, beta; several outputs need
    isotropic A and give one transition per mode, sorted by gamma_c).
    """
    if A is not None or beta is not None:
        if A is None or beta is None:
            raise InputError("give both A and beta (or neither, with a and c)")
        models, _ = _modes(depth, A, beta, ey2)
    else:
        models = [ReducedLossModel.scalar(depth, 1.0 if a is None else a, 1.0 if c is None else c, ey2)]
    out = []
    for k, m in enumerate(models):
        for t in m.transitions(gamma, rtol=rtol):
            out.append(NumericalTransition(**{**t.__dict__, "mode": k}))
    return sorted(out, key=lambda t: t.gamma_c)
