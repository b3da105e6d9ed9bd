r"""Exact energy barriers of the metastable states of deep linear networks (D >= 2).

Convention (docs/conventions.md): D hidden layers, n = D + 1 weight matrices, loss
E[(f(x) - y)^2] + gamma sum_l ||W_l||_F^2 (no 1/2).  One scalar mode (a = n^T A n,
c = |E[x y]|) reduces to (docs/theory.md), in the end-to-end norm t = ||w|| = b^n,

.. math:: L(t) = a t^2 - 2 c t + E[y^2] + n \gamma t^{2/n}.

**Stationary points in closed (parametric) form.**  L'(t) = 0 for t > 0 reads

.. math:: \gamma(t) = c\, t^{(n-2)/n} - a\, t^{(2n-2)/n},
          \qquad L(t) - E[y^2] = (n-2)\, c\, t - (n-1)\, a\, t^2 ,

the second identity from substituting the first into L.  gamma(t) rises from 0 to the
spinodal gamma_s at t_s = (n-2) c / (2 (n-1) a) and falls back to 0 at t = c/a: below
gamma_s the smaller root t_- is the saddle (the top of the barrier between the origin
and the learning minimum) and the larger root t_+ the learning minimum.  Hence, exactly,

.. math::

    \Delta L_{0 \to 1} = (n-2) c\, t_- - (n-1) a\, t_-^2 \quad (\text{origin} \to \text{saddle}),\qquad
    \Delta L_{1 \to 0} = \Delta L_{0\to 1} - [(n-2) c\, t_+ - (n-1) a\, t_+^2]

(learning minimum -> saddle).  The roots are found by bisection on the two monotone
pieces of gamma(t) (machine precision; no fitted quantity).  Small gamma:
Delta L_{0->1} = (n-2) gamma (gamma/c)^{2/(n-2)} (1 + O(gamma^{n/(n-2)})).

**Why the reduced barrier is the barrier of the full network** (any widths).  Every
path theta(s) of the full network maps to the path w(s) of its end-to-end map, whose
reduced loss is <= the network loss at every s (the reduced loss is the minimum over
factorisations), so no network path has a lower maximum than the best reduced path;
conversely the balanced rank-1 path realises the reduced path.  The minimax (mountain
pass) level is therefore the same.

**Several output modes** (whitened inputs A = a I, E[x y^T] with singular values c_k,
rank <= widths): by von Neumann's trace inequality the loss at end-to-end singular
values sigma_k is >= sum_k l_k(sigma_k), with equality when aligned with the data's
singular vectors, so the landscape of the singular values is separable.  The local
minima are the 2^m states "subset S of the modes learned" (m modes with gamma below
their own spinodal), a saddle of index 1 flips one mode, and the barrier between two
states is the bottleneck (minimax) path over single-mode flips
(:func:`cascade_barriers`).
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .checks import InputError, check_depth, check_nonnegative, check_positive

__all__ = [
    "ScalarBarrier",
    "CascadeState",
    "CascadeBarriers",
    "stationary_branch",
    "scalar_barrier",
    "cascade_barriers",
]


def stationary_branch(t, depth: int, a: float = 1.0, c: float = 1.0):
    r"""The stationary points of the reduced loss in parametric form (exact).

    For end-to-end norm t > 0 returns (gamma(t), L(t) - E[y^2]) with
    gamma(t) = c t^{(n-2)/n} - a t^{(2n-2)/n} and L - E[y^2] = (n-2) c t - (n-1) a t^2:
    the reduced loss is stationary at t exactly when the L2 strength is gamma(t).
    """
    depth = check_depth(depth, minimum=1)
    n = depth + 1
    t = np.asarray(t, dtype=float)
    gam = c * t ** ((n - 2) / n) - a * t ** ((2 * n - 2) / n)
    dl = (n - 2) * c * t - (n - 1) * a * t * t
    return gam, dl


def _bisect_branch(gamma: np.ndarray, lo: float, hi: float, n: int, a: float, c: float, rising: bool):
    lo_a = np.full(gamma.shape, lo)
    hi_a = np.full(gamma.shape, hi)
    for _ in range(200):
        mid = 0.5 * (lo_a + hi_a)
        g = c * mid ** ((n - 2) / n) - a * mid ** ((2 * n - 2) / n)
        below = (g < gamma) if rising else (g > gamma)
        lo_a = np.where(below, mid, lo_a)
        hi_a = np.where(below, hi_a, mid)
    return 0.5 * (lo_a + hi_a)


@dataclass(frozen=True)
class ScalarBarrier:
    """Barriers of one scalar mode at L2 strengths ``gamma`` (arrays of equal length).

    Attributes
    ----------
    gamma : L2 strengths; ``exists`` is False where gamma >= gamma_s (no saddle, no
        learning minimum: every other field is NaN there).
    t_saddle, t_learned : end-to-end norms ||w|| = b^n of the saddle and the learning minimum.
    b_saddle, b_learned : their layer norms b = t^(1/n) (balanced factorisation).
    loss_origin, loss_saddle, loss_learned : reduced losses (E[y^2] at the origin).
    barrier_from_trivial : L(saddle) - L(origin), the barrier for learning.
    barrier_from_learned : L(saddle) - L(learning minimum), the barrier for forgetting.
    metastable : "trivial" below gamma_c (the origin is the higher minimum), "learned" for
        gamma_c < gamma < gamma_s, "" where no saddle exists.
    """

    depth: int
    a: float
    c: float
    ey2: float
    gamma: np.ndarray
    exists: np.ndarray
    t_saddle: np.ndarray
    t_learned: np.ndarray
    b_saddle: np.ndarray
    b_learned: np.ndarray
    loss_origin: np.ndarray
    loss_saddle: np.ndarray
    loss_learned: np.ndarray
    barrier_from_trivial: np.ndarray
    barrier_from_learned: np.ndarray
    metastable: np.ndarray

    def barrier(self, start: str) -> np.ndarray:
        """Barrier out of ``start`` ("trivial" or "learned")."""
        if start == "trivial":
            return self.barrier_from_trivial
        if start == "learned":
            return self.barrier_from_learned
        raise InputError(f"start must be 'trivial' or 'learned', got {start!r}")


def scalar_barrier(gamma, depth: int, a: float = 1.0, c: float = 1.0, ey2: float = 1.0) -> ScalarBarrier:
    r"""Exact barriers between the origin and the learning minimum of one mode (D >= 2).

    See the module docstring for the formulas.  Vectorised over ``gamma``.

    Examples
    --------
    >>> from l2phase.theory.barriers import scalar_barrier
    >>> sb = scalar_barrier(0.3, depth=2)
    >>> round(float(sb.barrier_from_trivial[0]), 6), str(sb.metastable[0])
    (0.027796, 'trivial')
    """
    depth = check_depth(depth, minimum=2)
    a = check_positive(a, "a")
    c = check_positive(c, "c")
    ey2 = check_nonnegative(ey2, "ey2")
    g = np.atleast_1d(np.asarray(gamma, dtype=float))
    if g.ndim != 1 or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise InputError(f"gamma must be a number or 1-D array of finite values > 0, got {gamma!r}")
    n = depth + 1
    t_s = (n - 2) * c / (2 * (n - 1) * a)
    gamma_s = c * t_s ** ((n - 2) / n) - a * t_s ** ((2 * n - 2) / n)
    ok = g < gamma_s
    gg = np.where(ok, g, 0.5 * gamma_s)
    t_lo = _bisect_branch(gg, 0.0, t_s, n, a, c, rising=True)
    t_hi = _bisect_branch(gg, t_s, c / a, n, a, c, rising=False)
    nan = np.full(g.shape, np.nan)
    t_lo = np.where(ok, t_lo, nan)
    t_hi = np.where(ok, t_hi, nan)

    def loss(t):
        return a * t * t - 2 * c * t + ey2 + n * g * t ** (2.0 / n)

    l0 = np.full(g.shape, float(ey2))
    ls, lm = loss(t_lo), loss(t_hi)
    meta = np.where(~ok, "", np.where(lm < l0, "trivial", "learned"))
    return ScalarBarrier(
        depth, a, c, ey2, g, ok, t_lo, t_hi, t_lo ** (1.0 / n), t_hi ** (1.0 / n), l0, ls, lm, ls - l0, ls - lm, meta
    )


# --------------------------------------------------------------------------- several modes


@dataclass(frozen=True)
class CascadeState:
    """One local minimum of the multi-mode problem: ``learned`` is the tuple of learned modes.

    ``exits``: one entry per mode that can flip (index-1 saddle), as dicts with keys
    mode, to (the learned tuple after the flip), barrier (L(saddle) - L(state)) and
    target_loss.  ``escape_barrier`` is the lowest exit barrier (it sets the Kramers rate
    out of the basin); ``barrier_to_lower`` the bottleneck barrier to the nearest state of
    lower loss (inf for the global minimum).
    """

    learned: tuple[int, ...]
    loss: float
    exits: list = field(default_factory=list)
    escape_barrier: float = math.inf
    barrier_to_lower: float = math.inf
    is_global: bool = False


@dataclass(frozen=True)
class CascadeBarriers:
    """All local minima (``states``) of the separable multi-mode problem at one gamma.

    ``n_local_minima`` = 2^m with m the number of modes whose spinodal lies above gamma;
    ``n_metastable`` = n_local_minima - 1; ``learning_cascade`` is the sequence of states
    visited from the origin when each escape takes the lowest barrier to a lower state (it
    has one step per learnable mode, the count Ersoy & Wiesner arXiv:2606.17120 report as
    "one metastable state per singular value").
    """

    gamma: float
    depth: int
    a: float
    singular_values: tuple[float, ...]
    states: list
    n_local_minima: int
    n_metastable: int
    learning_cascade: list

    def state(self, learned) -> CascadeState:
        key = tuple(sorted(learned))
        for s in self.states:
            if s.learned == key:
                return s
        raise InputError(f"no local minimum with learned modes {key}")


def cascade_barriers(gamma: float, depth: int, singular_values, a: float = 1.0, ey2: float = 1.0) -> CascadeBarriers:
    r"""Local minima, exits and barriers of a deep linear net with several output modes.

    Whitened inputs (A = a I), E[x y^T] with singular values c_k = ``singular_values``
    (widths >= number of modes), D >= 2.  The loss of a state S (set of learned modes) is
    E||y||^2 + sum_{k in S} [L_k(t_k^+) - E[y^2]]; flipping mode k crosses its saddle,
    barrier L_k(t_k^-) - L_k(current value of mode k) (:func:`scalar_barrier`).
    ``ey2`` is E||y||^2 (only shifts every loss).
    """
    depth = check_depth(depth, minimum=2)
    a = check_positive(a, "a")
    gamma = check_positive(gamma, "gamma")
    cs = np.atleast_1d(np.asarray(singular_values, dtype=float))
    if cs.ndim != 1 or cs.size == 0 or not np.all(np.isfinite(cs)) or np.any(cs <= 0):
        raise InputError(f"singular_values must be a non-empty 1-D array of values > 0, got {singular_values!r}")
    per = [scalar_barrier(gamma, depth, a=a, c=float(ck), ey2=0.0) for ck in cs]
    active = [k for k, sb in enumerate(per) if bool(sb.exists[0])]
    # gain of learning mode k (negative = lowers the loss), and its saddle level above "off"
    gain = {k: float(per[k].loss_learned[0]) for k in active}
    top = {k: float(per[k].loss_saddle[0]) for k in active}
    states = list(itertools.chain.from_iterable(itertools.combinations(active, r) for r in range(len(active) + 1)))
    loss = {s: ey2 + sum(gain[k] for k in s) for s in states}

    def neighbours(s):
        for k in active:
            t = tuple(sorted(set(s) ^ {k}))
            level = loss[s] - (gain[k] if k in s else 0.0) + top[k]  # mode k at its saddle
            yield k, t, level

    lmin = min(loss.values())
    out = []
    for s in states:
        exits = [dict(mode=k, to=t, barrier=lev - loss[s], target_loss=loss[t]) for k, t, lev in neighbours(s)]
        esc = min((e["barrier"] for e in exits), default=math.inf)
        # bottleneck (minimax) Dijkstra: the lowest level at which each state is reachable
        best = {s: loss[s]}
        heap = [(loss[s], s)]
        to_lower = math.inf
        while heap:
            lev, u = heapq.heappop(heap)
            if lev > best.get(u, math.inf):
                continue
            if loss[u] < loss[s] - 1e-15:
                to_lower = lev - loss[s]
                break
            for _, v, el in neighbours(u):
                nl = max(lev, el)
                if nl < best.get(v, math.inf):
                    best[v] = nl
                    heapq.heappush(heap, (nl, v))
        out.append(CascadeState(s, loss[s], exits, esc, to_lower, loss[s] <= lmin + 1e-15))
    # learning cascade from the origin: follow the lowest exit that lowers the loss
    by_key = {st.learned: st for st in out}
    path = [()]
    while True:
        cur = by_key[path[-1]]
        down = [e for e in cur.exits if e["target_loss"] < cur.loss and len(e["to"]) > len(cur.learned)]
        if not down:
            break
        path.append(min(down, key=lambda e: e["barrier"])["to"])
    n_min = len(out)
    return CascadeBarriers(float(gamma), depth, a, tuple(map(float, cs)), out, n_min, n_min - 1, path)
