"""Verdict of a logged table's change points against the exact theory (``changepoints --theory``).

The table's columns go through :func:`l2phase.empirical.verdicts.judge`, with the rules
and negative controls of ``validate``: each column has a :class:`SignalRule`
(:func:`~l2phase.empirical.verdicts.rule_for_column`: a sweep's ``loss`` is L*, level 0;
``accuracy`` is never testable; any other column is level 1, a smooth function of the
minimiser such as ||theta||^2 or a Ricci scalar), a prediction is matched when gamma_c
lies in a change point's interval widened by ``rtol * gamma_c``, that interval is located
to ``rtol`` and its kind is the one the order implies; and the same rules must reject
every negative control (each prediction moved by +-3 tolerances, each order swapped).
CONFIRMED needs no column to fail, one to pass and every control to be rejected.
"""

from __future__ import annotations

from typing import Any, Mapping


from .verdicts import CONTROL_FACTOR, SignalRule, judge, rule_for_column

__all__ = ["table_verdicts"]


def table_verdicts(change_points: dict, stats: tuple, depth: int, *, rtol: float = 1e-2,
                   x_per_gamma: float = 1.0, rules: Mapping[str, SignalRule] | None = None,
                   factor: float = CONTROL_FACTOR) -> dict[str, Any]:
    """:func:`~l2phase.empirical.verdicts.judge` of every column's change points against the theory of ``stats``.

    Parameters
    ----------
    change_points : {column: [ChangePoint, ...]} in the table's x units
    stats : (A, beta, E||y||^2) of the data (:func:`l2phase.theory.read_data_stats`)
    depth : hidden layers D >= 1 of the deep linear net
    rtol : relative location tolerance (widening of the intervals, and the width they must be located to)
    x_per_gamma : x = x_per_gamma * gamma (a torch weight decay lam with ``MSELoss()`` over k
        outputs: gamma = k lam / 2, so x_per_gamma = 2 / k)
    rules : {column: SignalRule} overriding :func:`~l2phase.empirical.verdicts.rule_for_column`
    factor : the shift controls move a prediction by +-factor tolerances

    Returns
    -------
    dict: ``predicted``, ``depth``, ``x_per_gamma``, the :class:`Verdict`'s fields (``signals`` per column
    with status and reason, ``controls``, ``confirmed``) and ``verdict`` ("CONFIRMED" / "NOT CONFIRMED").
    """
    from l2phase import numerics
    from l2phase.theory.checks import check_depth, check_positive

    from .transition_matching import predicted_transitions

    D = check_depth(depth, "depth", minimum=1)
    x_per_gamma = check_positive(x_per_gamma, "x_per_gamma")
    preds = predicted_transitions(stats, D)
    rules = dict(rules or {})
    det = {col: [numerics.ChangePoint(**{**c.to_dict(), "gamma": c.gamma / x_per_gamma, "low": c.low / x_per_gamma,
                                         "high": c.high / x_per_gamma}) for c in cps]
           for col, cps in change_points.items()}
    v = judge(det, preds, [rules.get(col) or rule_for_column(col) for col in det], rtol=rtol, factor=factor)
    return dict(predicted=[p.to_dict() for p in preds], depth=D, x_per_gamma=x_per_gamma, **v.to_dict(),
                verdict="CONFIRMED" if v.confirmed else "NOT CONFIRMED")
