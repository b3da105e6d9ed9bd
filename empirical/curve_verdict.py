"""Verdict of detected change points against predicted transitions, with negative controls.

The rule is ``validate``'s: a curve confirms the theory when every predicted transition
is matched (location within the detection interval widened by ``rtol * gamma_c``, kind
jump <-> first order, kink <-> second order; :func:`match_transitions`) and no detected
change point is left unmatched.  A verdict is only worth something if it can fail, so
the same rule is run on negative controls that must be rejected:

* every prediction moved by ``+shift`` and by ``-shift`` tolerances (one at a time),
* every prediction with the other order (first <-> second).

``CONFIRMED`` needs the real check to pass and every control to be rejected;
``NOT CONFIRMED`` when the real check fails; ``INCONCLUSIVE`` when it passes but a
control passes too (the intervals are too wide to tell the prediction from a wrong one).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from l2phase.theory.checks import InputError

from .transition_matching import PredictedTransition, match_transitions

__all__ = ["verdict_with_controls", "read_data_stats", "table_verdicts"]


def _passes(predicted, detected, rtol) -> tuple[bool, list, list]:
    matches, extra = match_transitions(predicted, detected, rtol=rtol)
    return all(m.confirmed for m in matches) and not extra, matches, extra


def verdict_with_controls(
    predicted: Sequence[PredictedTransition],
    detected: Sequence,
    *,
    rtol: float = 1e-2,
    shift: float = 3.0,
) -> dict[str, Any]:
    """Match ``detected`` change points to ``predicted`` transitions and run the controls.

    Returns a dict: ``verdict`` ("CONFIRMED" / "NOT CONFIRMED" / "INCONCLUSIVE"),
    ``passed`` (real check), ``matches``, ``unmatched``, and ``controls`` (one entry per
    control: name, passed; each must have passed = False).
    """
    if not (shift > 1):
        raise InputError(f"shift must be > 1 tolerance, got {shift!r}")
    preds = list(predicted)
    ok, matches, extra = _passes(preds, detected, rtol)
    controls = []
    for j, p in enumerate(preds):
        tol = rtol * p.gamma_c
        for sign in (+1, -1):
            moved = preds.copy()
            moved[j] = replace(p, gamma_c=p.gamma_c + sign * shift * tol)
            controls.append(dict(name=f"transition {j + 1} moved by {'+' if sign > 0 else '-'}{shift:g} tolerances",
                                 passed=_passes(moved, detected, rtol)[0]))
        if p.order in (1, 2):
            swapped = preds.copy()
            swapped[j] = replace(p, order=3 - p.order)
            controls.append(dict(name=f"transition {j + 1} with the other order ({3 - p.order})",
                                 passed=_passes(swapped, detected, rtol)[0]))
    if not ok:
        verdict = "NOT CONFIRMED"
    elif any(c["passed"] for c in controls):
        verdict = "INCONCLUSIVE"
    else:
        verdict = "CONFIRMED"
    return dict(verdict=verdict, passed=bool(ok), matches=[m.to_dict() for m in matches],
                unmatched=[c.to_dict() for c in extra], controls=controls, rtol=rtol)


def read_data_stats(path) -> tuple:
    """(A, beta, E||y||^2) from a JSON file ``{"A": [[...]], "beta": [...], "ey2": float}``.

    A = E[x x^T] (d, d), beta = E[x y^T] ((d,) or (d, k)), ey2 = E||y||^2 (the statistics
    that fix a deep linear net's transitions, docs/theory.md).
    """
    import json
    from pathlib import Path

    import numpy as np

    from l2phase.theory.checks import check_data_stats

    p = Path(path)
    if not p.is_file():
        raise InputError(f"--theory: no such file {p}")
    try:
        obj = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc.msg})") from None
    missing = [k for k in ("A", "beta", "ey2") if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise InputError(f"{p}: missing key(s) {missing} (need A = E[x x^T], beta = E[x y^T], ey2 = E||y||^2)")
    try:
        A, beta, ey2 = np.asarray(obj["A"], dtype=float), np.asarray(obj["beta"], dtype=float), float(obj["ey2"])
    except (TypeError, ValueError):
        raise InputError(f"{p}: A, beta and ey2 must be numbers") from None
    return check_data_stats(A, beta, ey2)


def table_verdicts(change_points: dict, stats: tuple, depth: int, *, rtol: float = 1e-2,
                   x_per_gamma: float = 1.0) -> dict[str, Any]:
    """:func:`verdict_with_controls` for every column's change points against the theory of ``stats``.

    ``x_per_gamma`` converts the table's x to gamma (x = x_per_gamma * gamma; e.g. 2 for a
    torch weight decay with the mean loss, gamma = lam / 2).  Overall ``CONFIRMED`` only
    when every column is.
    """
    from l2phase import numerics
    from l2phase.theory.checks import check_depth

    from .transition_matching import predicted_transitions

    D = check_depth(depth, "depth", minimum=1)
    preds = predicted_transitions(stats, D)
    out = {}
    for col, cps in change_points.items():
        gcps = [numerics.ChangePoint(**{**c.to_dict(), "gamma": c.gamma / x_per_gamma, "low": c.low / x_per_gamma,
                                        "high": c.high / x_per_gamma}) for c in cps]
        out[col] = verdict_with_controls(preds, gcps, rtol=rtol)
    overall = "CONFIRMED" if out and all(v["verdict"] == "CONFIRMED" for v in out.values()) else "NOT CONFIRMED"
    return dict(predicted=[p.to_dict() for p in preds], columns=out, verdict=overall, depth=D)
