r"""Verdicts that can fail: detected change points judged against predicted transitions,
with negative controls.

A verdict says CONFIRMED only if the same rules say NOT CONFIRMED when the prediction
is wrong.  :func:`judge` therefore judges the detected change points of every signal
against the predictions **and** against wrong predictions (negative controls), each of
which must be rejected:

* ``shift``: one prediction moved by +-k times the location tolerance (k = 3), the
  others unchanged;
* ``order``: one prediction with the other Ehrenfest order (1 <-> 2).

Rules (the same for every command; change points from any table):

* **Expected kind per signal.**  A transition of order n has a discontinuous n-th
  derivative of L*(gamma).  A signal that behaves like the ``level``-th derivative of
  L* (:class:`SignalRule`: L* itself level 0; the order parameter ||theta||^2 =
  dL*/dgamma and smooth functions of the minimiser such as the Ricci scalars, level 1)
  has a discontinuous (n - level)-th derivative: 0 -> ``"jump"``, 1 -> ``"kink"``.  The
  detector (:class:`numerics.ChangePointDetector`) separates level jumps from continuous
  changes only, so a discontinuity in the second or a higher derivative is **not
  testable here**; so is any transition a rule marks untestable with a reason.
* **Location.**  A prediction gamma_p is matched by a change point when gamma_p lies in
  the change point's own interval widened by ``rtol * gamma_p`` on each side, **and**
  the change point is located to the tolerance: ``high - low <= rtol * |gamma|``.
* **Signal verdict.**  ``"pass"`` when every testable prediction is matched with the
  expected kind and no detected change point is left unmatched; ``"not testable"`` when
  no prediction is testable; ``"fail"`` otherwise.
* **Overall.**  CONFIRMED when no signal fails, at least one passes, and every control
  is rejected (a control is rejected when under it some signal fails or none passes).

Every command that judges change points goes through :func:`judge`: ``validate``, the
accuracy regimes, the VAE collapse, ``changepoints --theory``
(:func:`l2phase.empirical.table_verdicts`) and :func:`l2phase.empirical.match_transitions`
(one signal, no controls).

Example
-------
>>> from l2phase.numerics import ChangePoint
>>> cp = ChangePoint(gamma=1.0, low=0.9999, high=1.0001, kind="kink", size=1.0, index=3)
>>> p = PredictedTransition(gamma_c=1.0, order=2, mode=0, spinodal=1.0)
>>> v = judge({"param_norm_sq": [cp]}, [p], [ORDER_PARAMETER], rtol=1e-3)
>>> v.confirmed, [c.rejected for c in v.controls]
(True, [True, True, True])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from l2phase import numerics
from l2phase.theory.checks import InputTypeError, check_nonnegative, check_positive, check_sequence_of

__all__ = [
    "KIND_OF_ORDER",
    "PredictedTransition",
    "SignalRule",
    "SignalVerdict",
    "PredictionCheck",
    "Control",
    "Verdict",
    "expected_kind",
    "judge_signal",
    "judge",
    "change_point_from_bracket",
    "rule_for_column",
    "LOSS",
    "ORDER_PARAMETER",
    "RICCI_LOSS",
    "RICCI_ERROR",
    "ACCURACY",
    "CONTROL_FACTOR",
]

#: Controls shift a prediction by +-CONTROL_FACTOR x its location tolerance.
CONTROL_FACTOR = 3.0

PASS, FAIL, NOT_TESTABLE = "pass", "fail", "not testable"

#: Change-point kind an Ehrenfest order shows on a level-1 signal (||theta||^2, R_L, R_E).
KIND_OF_ORDER = {1: "jump", 2: "kink"}


@dataclass(frozen=True)
class PredictedTransition:
    """A predicted transition: gamma_c, Ehrenfest order, mode, spinodal gamma_s, how it was found.

    ``kind`` is the change-point kind the order shows on a level-1 signal (the order
    parameter ||theta||^2 = dL*/dgamma and the Ricci scalars): jump for first order,
    kink for second, "none" otherwise.
    """

    gamma_c: float
    order: int
    mode: int
    spinodal: float
    method: str = ""

    @property
    def kind(self) -> str:
        return KIND_OF_ORDER.get(self.order, "none")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind
        return d


def expected_kind(order: int, level: int | None) -> tuple[str | None, str]:
    """Change-point kind a signal must show at a transition of Ehrenfest ``order``.

    ``level``: the signal behaves like the level-th derivative of L*(gamma) (None: no
    relation to L*).  Returns (kind or None, reason); None means not testable here.
    """
    if level is None:
        return None, "the signal has no fixed relation to L*(gamma)"
    d = int(order) - int(level)
    if d == 0:
        return "jump", f"order {order}: its level is discontinuous"
    if d == 1:
        return "kink", f"order {order}: its slope is discontinuous, its level continuous"
    if d >= 2:
        return None, (f"order {order}: only its derivative {d} jumps; the detector separates level jumps from "
                      "continuous changes only")
    return None, f"order {order} is below the signal's level {level}"


@dataclass(frozen=True)
class SignalRule:
    """How a measured curve relates to L*(gamma), hence what it must show at a transition.

    name : record column; label : readable name; level : derivative of L* the signal
    behaves like (None: unrelated, never testable); untestable : {order: reason} for
    transitions the detector cannot judge on this signal although the kind is defined.
    """

    name: str
    label: str
    level: int | None
    untestable: tuple[tuple[int, str], ...] = ()

    def expected(self, order: int) -> tuple[str | None, str]:
        for o, reason in self.untestable:
            if int(o) == int(order):
                return None, reason
        return expected_kind(order, self.level)

    def with_untestable(self, order: int, reason: str) -> "SignalRule":
        return replace(self, untestable=self.untestable + ((int(order), reason),))


LOSS = SignalRule("loss", "minimal loss L*", 0)
ORDER_PARAMETER = SignalRule("param_norm_sq", "order parameter ||theta||^2 = dL*/dgamma", 1)
RICCI_LOSS = SignalRule("R_L", "Ricci scalar of the loss landscape R_L", 1)
RICCI_ERROR = SignalRule("R_E", "Ricci scalar of the error landscape R_E", 1)
ACCURACY = SignalRule("accuracy", "accuracy", None)

#: The rules of the record columns every sweep writes, by column name.
KNOWN_RULES = {r.name: r for r in (LOSS, ORDER_PARAMETER, RICCI_LOSS, RICCI_ERROR, ACCURACY)}


def rule_for_column(name: str) -> SignalRule:
    """The rule of a table column: the known rule of a sweep's record column (``loss`` is L*,
    level 0; ``param_norm_sq``, ``R_L``, ``R_E`` level 1; ``accuracy`` never testable), else
    level 1 (a smooth function of the minimiser, such as a weight norm or a curvature)."""
    return KNOWN_RULES.get(name) or SignalRule(name, f"{name} (a smooth function of the minimiser, level 1)", 1)


@dataclass
class PredictionCheck:
    """One prediction judged on one signal.

    ``in_interval``: gamma_c lies in the detected change point's widened interval;
    ``located``: that interval is no wider than ``rtol * gamma``; ``location_ok`` both;
    ``passed`` (alias ``confirmed``): testable, located and of the expected kind.
    ``tolerance`` is the absolute widening rtol * gamma_c.
    """

    predicted: PredictedTransition
    expected_kind: str | None
    detected: numerics.ChangePoint | None
    in_interval: bool
    located: bool
    kind_ok: bool
    tolerance: float
    reason: str = ""

    @property
    def testable(self) -> bool:
        return self.expected_kind is not None

    @property
    def passed(self) -> bool:
        return self.testable and self.detected is not None and self.in_interval and self.located and self.kind_ok

    @property
    def location_ok(self) -> bool:
        return self.in_interval and self.located

    @property
    def confirmed(self) -> bool:
        return self.passed

    @property
    def relative_error(self) -> float:
        if self.detected is None:
            return float("nan")
        return abs(self.detected.gamma - self.predicted.gamma_c) / self.predicted.gamma_c

    def to_dict(self) -> dict[str, Any]:
        return dict(predicted=self.predicted.to_dict(), expected_kind=self.expected_kind,
                    detected=None if self.detected is None else self.detected.to_dict(),
                    in_interval=self.in_interval, located=self.located, kind_ok=self.kind_ok,
                    location_ok=self.location_ok, confirmed=self.passed,
                    testable=self.testable, tolerance=self.tolerance, relative_error=self.relative_error,
                    reason=self.reason)


@dataclass
class SignalVerdict:
    """Pass / fail / not testable for one signal, with its per-prediction checks."""

    rule: SignalRule
    status: str
    reason: str
    checks: list[PredictionCheck]
    unmatched: list[numerics.ChangePoint]
    change_points: list[numerics.ChangePoint]

    def to_dict(self) -> dict[str, Any]:
        return dict(name=self.rule.name, label=self.rule.label, status=self.status, reason=self.reason,
                    matches=[c.to_dict() for c in self.checks], unmatched=[c.to_dict() for c in self.unmatched],
                    change_points=[c.to_dict() for c in self.change_points], confirmed=self.status == PASS)


def _located(cp: numerics.ChangePoint, rtol: float) -> bool:
    return (cp.high - cp.low) <= rtol * abs(cp.gamma) * (1 + 1e-9)


def judge_signal(
    change_points: Sequence[numerics.ChangePoint],
    predictions: Sequence[PredictedTransition],
    rule: SignalRule,
    *,
    rtol: float,
) -> SignalVerdict:
    """Judge one signal's change points against the predictions (rules in the module docstring).

    Each prediction (by increasing gamma_c) is paired with the nearest unused change
    point whose interval, widened by ``rtol * gamma_c``, contains gamma_c; untestable
    predictions are paired too (the change point they explain is not "unmatched").
    """
    rtol = check_nonnegative(rtol, "rtol")
    unused = sorted(change_points, key=lambda c: c.gamma)
    checks = []
    for p in sorted(predictions, key=lambda t: t.gamma_c):
        kind, why = rule.expected(p.order)
        tol = rtol * p.gamma_c
        best, best_d = None, np.inf
        for cp in unused:
            d = max(cp.low - p.gamma_c, p.gamma_c - cp.high, 0.0)
            if d < best_d or (d == best_d and best is not None and abs(cp.gamma - p.gamma_c) < abs(best.gamma - p.gamma_c)):
                best, best_d = cp, d
        if best is not None and best_d <= tol * (1 + 1e-9):
            unused.remove(best)
            located = _located(best, rtol)
            checks.append(PredictionCheck(p, kind, best, True, located, kind is not None and best.kind == kind, tol,
                                          why if kind is None else ("" if located else
                                          f"interval wider than {rtol:g} x gamma")))
        else:
            checks.append(PredictionCheck(p, kind, None, False, False, False, tol,
                                          why if kind is None else "no change point within tolerance"))
    testable = [c for c in checks if c.testable]
    if not testable:
        reasons = sorted({c.reason for c in checks})
        status, reason = NOT_TESTABLE, "; ".join(reasons) or "no prediction"
    elif all(c.passed for c in testable) and not unused:
        status, reason = PASS, "every testable prediction matched (location and kind), nothing unmatched"
    else:
        bad = [f"mode {c.predicted.mode} at {c.predicted.gamma_c:.6g}: "
               + ("no change point within tolerance" if c.detected is None else
                  "; ".join(x for x, ok in (("not located to tolerance", c.located),
                                            (f"kind {c.detected.kind}, expected {c.expected_kind}", c.kind_ok)) if not ok))
               for c in testable if not c.passed]
        if unused:
            bad.append(f"{len(unused)} change point(s) the theory does not predict: "
                       + ", ".join(f"{c.gamma:.6g} {c.kind}" for c in unused))
        status, reason = FAIL, "; ".join(bad)
    return SignalVerdict(rule, status, reason, checks, unused, list(change_points))


@dataclass
class Control:
    """A negative control: wrong predictions that the verdict must reject."""

    kind: str  # "shift" or "order"
    mode: int
    description: str
    predictions: list[PredictedTransition]
    by_signal: dict[str, str] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        st = list(self.by_signal.values())
        return (FAIL in st) or (PASS not in st)

    def to_dict(self) -> dict[str, Any]:
        return dict(kind=self.kind, mode=self.mode, description=self.description, rejected=self.rejected,
                    by_signal=dict(self.by_signal), predictions=[p.to_dict() for p in self.predictions])


@dataclass
class Verdict:
    """Signal verdicts, controls, and CONFIRMED / NOT CONFIRMED."""

    signals: dict[str, SignalVerdict]
    controls: list[Control]
    rtol: float
    factor: float

    @property
    def real_passed(self) -> bool:
        st = [s.status for s in self.signals.values()]
        return FAIL not in st and PASS in st

    @property
    def confirmed(self) -> bool:
        return self.real_passed and all(c.rejected for c in self.controls)

    def to_dict(self) -> dict[str, Any]:
        return dict(signals={k: v.to_dict() for k, v in self.signals.items()},
                    controls=[c.to_dict() for c in self.controls], rtol=self.rtol, control_factor=self.factor,
                    real_passed=self.real_passed, confirmed=self.confirmed)


def _controls(predictions: Sequence[PredictedTransition], rtol: float, factor: float) -> list[Control]:
    preds = list(predictions)
    out = []
    for i, p in enumerate(preds):
        for sign in (+1, -1):
            g = p.gamma_c * (1 + sign * factor * rtol)
            q = replace(p, gamma_c=float(g))
            out.append(Control("shift", p.mode, f"mode {p.mode}: {p.gamma_c:.6g} -> {g:.6g} "
                               f"({'+' if sign > 0 else '-'}{factor:g} x tolerance)", preds[:i] + [q] + preds[i + 1:]))
    for i, p in enumerate(preds):
        if p.order in (1, 2):
            q = replace(p, order=3 - p.order)
            out.append(Control("order", p.mode, f"mode {p.mode} at {p.gamma_c:.6g}: order {p.order} -> {q.order}",
                               preds[:i] + [q] + preds[i + 1:]))
    return out


def judge(
    detections: Mapping[str, Sequence[numerics.ChangePoint]],
    predictions: Sequence[PredictedTransition],
    rules: Sequence[SignalRule],
    *,
    rtol: float,
    factor: float = CONTROL_FACTOR,
    controls: bool = True,
) -> Verdict:
    """Judge every signal's change points and run the negative controls.

    Parameters
    ----------
    detections : {signal name: change points} (any table's; a missing name counts as none)
    predictions : the predicted transitions (gamma_c, order, mode)
    rules : one :class:`SignalRule` per judged signal
    rtol : relative location tolerance (the accuracy the change points were refined to)
    factor : controls shift a prediction by +-factor x rtol x gamma_c
    controls : run the negative controls (shift each prediction both ways; swap each order)

    Returns
    -------
    Verdict (``confirmed``: no signal fails, one passes, every control rejected)

    Raises
    ------
    InputError / InputTypeError naming the argument (``detections['R_L'][2]``, ``rtol``, ...)
    """
    rtol, factor = check_nonnegative(rtol, "rtol"), check_positive(factor, "factor")
    predictions = check_sequence_of(predictions, PredictedTransition, "predictions")
    rules = check_sequence_of(rules, SignalRule, "rules")
    if not isinstance(detections, Mapping):
        raise InputTypeError(f"detections must be a mapping {{signal name: change points}}, "
                             f"got {type(detections).__name__}")
    detections = {k: check_sequence_of(v, numerics.ChangePoint, f"detections[{k!r}]") for k, v in detections.items()}
    sig = {r.name: judge_signal(detections.get(r.name, ()), predictions, r, rtol=rtol) for r in rules}
    ctrls = _controls(predictions, rtol, factor) if controls else []
    for c in ctrls:
        for r in rules:
            c.by_signal[r.name] = judge_signal(detections.get(r.name, ()), c.predictions, r, rtol=rtol).status
    return Verdict(sig, ctrls, float(rtol), float(factor))


def change_point_from_bracket(low: float, high: float, kind: str = "jump") -> numerics.ChangePoint:
    """A change point known only by a bracket [low, high] (e.g. a bisected drop), at its midpoint."""
    return numerics.ChangePoint(gamma=0.5 * (low + high), low=float(low), high=float(high), kind=kind,
                                size=float("nan"), index=-1)
