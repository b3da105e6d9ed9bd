r"""Change points of measured curves y(gamma), their match with the exact theory, and
adaptive refinement of a sweep around them.

* :func:`predicted_transitions` - the exact transitions (gamma_c, order, mode,
  spinodal) of a deep linear net *for the actual training set* (``theory.transitions``
  on the set's A, beta, E||y||^2).
* :func:`detect_curve_change_points` - :class:`numerics.ChangePointDetector` with the
  settings used for trained-network curves: cubic segments, BIC penalty, and a noise
  level ``resolution * (max y - min y)``.  Curves from converged float64 training are
  smooth (no sampling noise), so the detector's own noise estimate would be the tiny
  rounding level and any misfit of the cubic segments would split the curve; the
  resolution states instead which relative size of feature counts as a change point.
* :func:`match_transitions` - pairs predicted and detected change points of one curve
  and decides, with :func:`l2phase.empirical.verdicts.judge`'s rules, whether location
  (gamma_c within the detection interval widened by ``rtol * gamma_c``, the interval
  located to ``rtol``) and kind (jump <-> first order, kink <-> second order on a level-1
  curve) agree.
* :func:`refine_sweep` - adds gamma points inside the detection intervals until each
  change point is located to ``rtol`` relative (the adaptive refinement).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from l2phase import numerics
from l2phase import theory

from .data import Dataset
from .models import NetSpec
from .sweep import SweepConfig, SweepResult, sweep_gamma
from .verdicts import KIND_OF_ORDER, ORDER_PARAMETER, PredictedTransition, PredictionCheck, SignalRule, judge
from l2phase.theory.checks import (InputError, InputTypeError, check_int, check_positive, check_sequence_of,
                                   check_type)

__all__ = [
    "PredictedTransition",
    "TransitionMatch",
    "predicted_transitions",
    "detect_curve_change_points",
    "match_transitions",
    "refine_sweep",
    "KIND_OF_ORDER",
]

#: One prediction judged on one curve (the verdicts' :class:`PredictionCheck`; the old name).
TransitionMatch = PredictionCheck


def predicted_transitions(data: Dataset | tuple, depth: int, *, noise_sigma2: float = 0.0,
                          width: int | None = None) -> list[PredictedTransition]:
    """Transitions predicted by ``theory.transitions`` from the data's (A, beta, E||y||^2).

    ``data`` is a :class:`Dataset` (statistics computed from its samples) or a tuple
    (A, beta, ey2).  Sorted by gamma_c.
    """
    A, beta, ey2 = data.stats() if isinstance(data, Dataset) else data
    ts = theory.transitions(A, beta, ey2, depth, noise_sigma2=noise_sigma2, width=width)
    return [PredictedTransition(float(t.gamma_c), int(t.order), int(t.mode), float(t.spinodal), str(t.method))
            for t in ts]


def detect_curve_change_points(
    gamma,
    y,
    *,
    resolution: float = 1e-3,
    segment: str = "cubic",
    min_size: int = 4,
    x_scale: str = "linear",
    n_bootstrap: int = 200,
    seed: int = 0,
) -> list[numerics.ChangePoint]:
    """Change points of a measured curve (non-finite points dropped, gamma sorted).

    Parameters
    ----------
    resolution : float
        Noise level of the curve as a fraction of its range (see module docstring).
    segment, min_size, x_scale, n_bootstrap, seed
        Passed to :class:`numerics.ChangePointDetector`.

    Returns
    -------
    list of numerics.ChangePoint (gamma, low, high, kind, size, index), sorted by gamma;
    ``index`` refers to the finite, sorted points.
    """
    g = np.asarray(gamma, dtype=float)
    yy = np.asarray(y, dtype=float)
    if g.shape != yy.shape or g.ndim != 1:
        raise InputError(f"gamma and y must be 1-D of the same length, got {g.shape} and {yy.shape}")
    if not (np.isfinite(resolution) and resolution > 0):
        raise InputError(f"resolution must be a positive number, got {resolution!r}")
    keep = np.isfinite(g) & np.isfinite(yy)
    g, yy = g[keep], yy[keep]
    order = np.argsort(g)
    g, yy = g[order], yy[order]
    if g.size < 2 * min_size:
        return []
    span = float(np.ptp(yy))
    if span == 0.0:
        return []
    det = numerics.ChangePointDetector(segment=segment, penalty="bic", min_size=min_size, x_scale=x_scale,
                                       sigma=resolution * span, n_bootstrap=n_bootstrap, seed=seed)
    return det.fit(g, yy).predict()


def match_transitions(
    predicted: Sequence[PredictedTransition],
    detected: Sequence[numerics.ChangePoint],
    *,
    rtol: float = 1e-2,
    rule: SignalRule = ORDER_PARAMETER,
) -> tuple[list[TransitionMatch], list[numerics.ChangePoint]]:
    """Pair each predicted transition with the nearest unused detected change point of one curve.

    The rules are :func:`l2phase.empirical.verdicts.judge`'s (this is ``judge`` on one
    signal without negative controls): location agrees when gamma_c lies in the
    detection interval [low, high] widened by ``rtol * gamma_c`` on each side (the
    widening covers the convergence and grid accuracy of a sweep; the theory itself is
    exact for the training set) **and** the interval is located to ``rtol``
    (high - low <= rtol * gamma).  Kind agrees when the change point has the kind
    ``rule`` expects for the order; the default rule is a level-1 curve (the order
    parameter ||theta||^2 = dL*/dgamma, or R_L, R_E): first order -> jump, second order
    -> kink.  Returns (one :class:`TransitionMatch` per prediction by increasing gamma_c,
    detections matched to nothing).  ``m.confirmed`` is True for a testable prediction
    matched in location and kind.
    """
    predicted = check_sequence_of(predicted, PredictedTransition, "predicted")
    detected = check_sequence_of(detected, numerics.ChangePoint, "detected")
    check_type(rule, SignalRule, "rule")
    v = judge({rule.name: detected}, predicted, [rule], rtol=rtol, controls=False)
    sv = v.signals[rule.name]
    return sv.checks, sv.unmatched


def refine_sweep(
    spec: NetSpec,
    data: Dataset,
    result: SweepResult,
    config: SweepConfig | None = None,
    *,
    signal: str = "R_L",
    also: Sequence[str] = (),
    rtol: float = 1e-3,
    n_new: int = 8,
    max_rounds: int = 4,
    detect_kwargs: dict | None = None,
    out_dir=None,
    tag: str | None = None,
    device=None,
    progress: Callable[[int], None] | None = None,
    executor=None,
) -> tuple[SweepResult, list[numerics.ChangePoint], dict]:
    """Add gamma points inside every change point's interval until (high - low) <= rtol * gamma.

    Each round detects the change points of ``signal`` (and of every signal in ``also``)
    on the current sweep's usable points (``SweepResult.ok()``: converged, not diverged),
    and for each one not yet located to ``rtol`` adds ``n_new`` equally spaced gammas
    strictly inside [low, high] (for a jump: the grid gap it sits in, so this is a
    multi-section search).  Stops when all are located, after ``max_rounds``, or when no
    new gamma fits.  Returns (refined sweep, final change points of ``signal``, info dict
    with the rounds, ``located_to_rtol`` (every change point of every refined signal
    located) and ``located_per_signal``).  ``executor`` is passed on to :func:`sweep_gamma`
    (in-process or Dask).
    """
    check_type(result, SweepResult, "result")
    columns = {k for r in result.records for k, v in r.items()
               if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and k != "gamma"}
    if not isinstance(signal, str) or signal not in columns:
        raise InputError(f"signal must name a numeric column of the sweep ({', '.join(sorted(columns))}), got {signal!r}")
    rtol = check_positive(rtol, "rtol")
    n_new = check_int(n_new, "n_new", 1, 10**4)
    max_rounds = check_int(max_rounds, "max_rounds", 0, 100)
    if detect_kwargs is not None and not isinstance(detect_kwargs, dict):
        raise InputTypeError(f"detect_kwargs must be a dict or None, got {detect_kwargs!r}")
    detect_kwargs = dict(detect_kwargs or {})
    tag = tag or result.tag
    names = [signal] + [a for a in also if a != signal]
    rounds = []
    cur = result

    def detect(sw):
        ok = sw.ok()
        return {n: detect_curve_change_points(sw.gamma[ok], sw.column(n)[ok], **detect_kwargs) for n in names}

    def wide(cps):
        return [cp for n in names for cp in cps[n] if (cp.high - cp.low) > rtol * abs(cp.gamma)]

    cps = detect(cur)
    for _ in range(max_rounds):
        todo = wide(cps)
        if not todo:
            break
        have = set(cur.gamma.tolist())
        new = []
        for cp in todo:
            pts = np.linspace(cp.low, cp.high, n_new + 2)[1:-1]
            new += [float(x) for x in pts if x > 0 and float(x) not in have and float(x) not in new]
        if not new:
            break
        rounds.append(dict(n_new=len(new), intervals=[(cp.low, cp.high) for cp in todo]))
        grid = np.union1d(cur.gamma, np.asarray(new))
        cur = sweep_gamma(spec, data, grid, config, out_dir=out_dir, tag=tag, resume=out_dir is not None,
                          device=device, progress=progress, previous=cur, executor=executor)
        cps = detect(cur)
    per = {n: all((cp.high - cp.low) <= rtol * abs(cp.gamma) for cp in cps[n]) for n in names}
    return cur, cps[signal], dict(rounds=rounds, located_to_rtol=bool(all(per.values())), located_per_signal=per,
                                  rtol=rtol, signal=signal, signals=names)
