"""Exact barriers (theory.barriers) against brute-force path searches and closed-form limits."""

import numpy as np
import pytest
from scipy import ndimage

from l2phase.theory import InputError, critical_point
from l2phase.theory.barriers import cascade_barriers, scalar_barrier, stationary_branch


def _reduced(b, gamma, depth, a, c, ey2=1.0):
    n = depth + 1
    return a * b ** (2 * n) - 2 * c * b**n + ey2 + n * gamma * b * b


@pytest.mark.parametrize("depth,a,c", [(2, 1.0, 1.0), (3, 1.0, 1.0), (2, 1.3, 0.7), (4, 0.8, 1.5)])
def test_scalar_barrier_equals_one_dimensional_scan(depth, a, c):
    cp = critical_point(depth, a=a, c=c, ey2=c * c / a)
    gammas = np.array([0.3, 0.7, 0.95, 1.05, 1.15]) * cp.gamma_c
    gammas = gammas[gammas < cp.spinodal]
    sb = scalar_barrier(gammas, depth, a=a, c=c)
    for k, g in enumerate(gammas):
        # brute force: the only path from b = 0 to the learning minimum in one dimension is
        # the segment itself; its highest point is the saddle (no root finding involved)
        b = np.linspace(0.0, 1.5 * (c / a) ** (1.0 / (depth + 1)), 400_001)
        L = _reduced(b, g, depth, a, c)
        interior = (np.diff(np.sign(np.diff(L))) != 0).nonzero()[0] + 1
        assert len(interior) == 2  # one maximum (saddle), one minimum (learning state)
        i_s, i_m = interior
        assert L[i_s] > L[i_m - 1] and L[i_m] < L[i_m - 1]
        top = L[: i_m + 1].max()
        # the grid spacing h = 4e-6 bounds the error by L'' h^2 ~ 1e-10
        assert sb.barrier_from_trivial[k] == pytest.approx(top - 1.0, abs=1e-9)
        assert sb.barrier_from_learned[k] == pytest.approx(top - L[i_m], abs=1e-9)
        assert sb.b_saddle[k] == pytest.approx(b[i_s], abs=1e-5)
        assert sb.b_learned[k] == pytest.approx(b[i_m], abs=1e-5)
        assert sb.metastable[k] == ("trivial" if g < cp.gamma_c else "learned")


def test_scalar_barrier_matches_numerical_branches():
    # numerics.free_energy finds the saddle and learning branches independently (ridge curve)
    from l2phase.numerics import free_energy

    g = 0.44
    fe = free_energy(np.array([g]), 2)
    mn = next(b for b in fe.branches if b.kind == "min")
    sd = next(b for b in fe.branches if b.kind == "saddle")
    sb = scalar_barrier(g, 2)
    assert sb.barrier_from_learned[0] == pytest.approx(sd.loss[0] - mn.loss[0], rel=1e-6)
    assert sb.barrier_from_trivial[0] == pytest.approx(sd.loss[0] - 1.0, rel=1e-6)


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_closed_form_limits(depth):
    n = depth + 1
    cp = critical_point(depth)
    # at gamma_c the two minima are level: both barriers equal
    sb = scalar_barrier(cp.gamma_c, depth)
    assert sb.barrier_from_trivial[0] == pytest.approx(sb.barrier_from_learned[0], rel=1e-9)
    assert sb.t_learned[0] == pytest.approx(cp.norm_c, rel=1e-9)
    # at the spinodal the learning minimum merges with the saddle: barrier -> 0 linearly in
    # sqrt(gamma_s - gamma)^3 (fold); and nothing exists beyond it
    near = scalar_barrier(cp.spinodal * (1 - 1e-6), depth)
    assert 0 <= near.barrier_from_learned[0] < 1e-6
    assert not scalar_barrier(cp.spinodal * 1.001, depth).exists[0]
    # small gamma: Delta L = (n-2) gamma (gamma/c)^(2/(n-2)), relative correction O(gamma^(n/(n-2)))
    g = 1e-3
    small = scalar_barrier(g, depth)
    assert small.barrier_from_trivial[0] == pytest.approx((n - 2) * g * g ** (2 / (n - 2)), rel=5 * g)
    # parametric identity: gamma(t) recovers gamma at both roots
    gam, dl = stationary_branch(np.array([sb.t_saddle[0], sb.t_learned[0]]), depth)
    assert gam == pytest.approx([cp.gamma_c] * 2, rel=1e-10)
    assert dl[0] == pytest.approx(sb.barrier_from_trivial[0], rel=1e-10)


def test_scalar_barrier_rejects_bad_input():
    with pytest.raises(InputError):
        scalar_barrier(0.3, 1)
    with pytest.raises(InputError):
        scalar_barrier(-0.3, 2)
    with pytest.raises(InputError):
        scalar_barrier(0.3, 2).barrier("middle")


def _grid_minimax(F, start, target):
    """Lowest level at which ``start`` and ``target`` are connected in {F <= level} (grid)."""
    levels = np.unique(F)
    lo, hi = 0, len(levels) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        lab, _ = ndimage.label(F <= levels[mid])
        if lab[start] and lab[start] == lab[target]:
            hi = mid
        else:
            lo = mid + 1
    return levels[lo]


def test_cascade_barriers_equal_grid_minimax_search():
    depth, s, gamma = 2, (1.0, 0.55), 0.12
    cb = cascade_barriers(gamma, depth, s)
    assert cb.n_local_minima == 4 and cb.n_metastable == 3
    assert cb.learning_cascade == [(), (0,), (0, 1)]
    # brute force on a 2-D grid of the two end-to-end singular values (separable loss)
    n = depth + 1
    t = [1.2 * c * np.linspace(0.0, 1.0, 1001) ** 2 for c in s]  # finer near t = 0, where the saddles sit
    lk = [c2 * 0 + tt * tt - 2 * c2 * tt + n * gamma * tt ** (2 / n) for tt, c2 in zip(t, s)]
    F = lk[0][:, None] + lk[1][None, :]
    mins = {}
    for key, (i, j) in {(): (0, 0), (0,): (np.argmin(lk[0]), 0), (1,): (0, np.argmin(lk[1])),
                        (0, 1): (np.argmin(lk[0]), np.argmin(lk[1]))}.items():
        mins[key] = (i, j)
    for st in cb.states:
        start = mins[st.learned]
        assert st.loss - 1.0 == pytest.approx(F[start], abs=3e-5)
        lower = [k for k in mins if F[mins[k]] < F[start] - 1e-9]
        if not lower:
            assert st.is_global and st.barrier_to_lower == np.inf
            continue
        level = min(_grid_minimax(F, start, mins[k]) for k in lower)
        assert st.barrier_to_lower == pytest.approx(level - F[start], abs=5e-5)


def test_cascade_counts_modes_below_their_spinodal():
    # mode with c = 0.2 has gamma_s(0.2) = 0.47247 * 0.2^(4/3) = 0.055 < 0.1: only one learnable mode
    cb = cascade_barriers(0.1, 2, [1.0, 0.2])
    assert cb.n_local_minima == 2
    assert cb.learning_cascade == [(), (0,)]
    with pytest.raises(InputError):
        cb.state((1,))
