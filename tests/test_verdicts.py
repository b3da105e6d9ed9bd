"""Verdicts that can fail: every rule of :mod:`empirical.verdicts` rejects a wrong input, the
negative controls are rejected on right data and accepted when too weak, and the checks of
the validation, the hysteresis loop, the sweep table and the init diagram each fail on an
input made to fail them.  Pure data: no training (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from l2phase.empirical.experiments.init_diagram import consistency_checks
from l2phase.empirical.experiments.validation import (
    DEEP_LINEAR_RULES,
    judge_depth,
    judge_hysteresis,
    starts_at_minimum,
)
from l2phase.empirical.sweep import SweepResult
from l2phase.empirical.transition_matching import PredictedTransition
from l2phase.empirical.verdicts import (
    LOSS,
    ORDER_PARAMETER,
    RICCI_ERROR,
    RICCI_LOSS,
    expected_kind,
    judge,
    judge_signal,
)
from l2phase.numerics import ChangePoint

RTOL = 1e-3


def _cp(g, kind, half=2e-4):
    return ChangePoint(gamma=g, low=g * (1 - half), high=g * (1 + half), kind=kind, size=1.0, index=1)


def _pred(g, order, mode=0, spinodal=None):
    return PredictedTransition(g, order, mode, g if spinodal is None else spinodal)


# Two first-order transitions (deep linear D = 2 on the validation data) and their jumps.
PREDS = [_pred(0.116961, 1, 1, 0.139248), _pred(0.396850, 1, 0, 0.472470)]
JUMPS = [_cp(0.116953, "jump"), _cp(0.396879, "jump")]


def test_expected_kind_follows_the_order_and_the_signal_level():
    # the n-th derivative of L* jumps; a signal like the m-th derivative shows it in derivative n - m
    assert expected_kind(1, 1)[0] == "jump" and expected_kind(2, 1)[0] == "kink"
    assert expected_kind(1, 0)[0] == "kink"            # L* is continuous at a first-order transition
    assert expected_kind(2, 0)[0] is None              # a jump of d2L*/dgamma2: not testable here
    assert expected_kind(1, None)[0] is None
    assert RICCI_ERROR.with_untestable(2, "why").expected(2) == (None, "why")


def test_right_predictions_are_confirmed_and_every_control_rejected():
    v = judge({"R_L": JUMPS, "param_norm_sq": JUMPS}, PREDS, [RICCI_LOSS, ORDER_PARAMETER], rtol=RTOL)
    assert v.confirmed and v.real_passed
    assert {s.status for s in v.signals.values()} == {"pass"}
    # 2 predictions x (shift up, shift down, order swapped)
    assert len(v.controls) == 6 and all(c.rejected for c in v.controls)
    assert {c.kind for c in v.controls} == {"shift", "order"}
    d = v.to_dict()
    assert all(c["rejected"] is True for c in d["controls"]) and d["confirmed"] is True


@pytest.mark.parametrize("wrong", ["shift", "order", "missing", "extra", "wide"])
def test_each_rule_rejects_its_wrong_input(wrong):
    preds, cps = list(PREDS), list(JUMPS)
    if wrong == "shift":        # a transition 1% away from the prediction
        preds[1] = _pred(0.396850 * 1.01, 1, 0)
    elif wrong == "order":      # the prediction says second order, the data jump
        preds[0] = _pred(0.116961, 2, 1)
    elif wrong == "missing":    # no change point where a transition is predicted
        cps = cps[1:]
    elif wrong == "extra":      # a change point the theory does not predict
        cps = cps + [_cp(0.25, "kink")]
    elif wrong == "wide":       # contains gamma_c but is not located to the tolerance
        cps[0] = _cp(0.116953, "jump", half=5e-3)
    sv = judge_signal(cps, preds, ORDER_PARAMETER, rtol=RTOL)
    assert sv.status == "fail", sv.reason
    assert not judge({"param_norm_sq": cps}, preds, [ORDER_PARAMETER], rtol=RTOL).confirmed


def test_a_control_that_is_too_weak_to_reject_blocks_the_verdict():
    # shifted by only 1 x the tolerance, the wrong prediction still lies in the widened interval
    v = judge({"param_norm_sq": JUMPS}, PREDS, [ORDER_PARAMETER], rtol=RTOL, factor=1.0)
    assert v.real_passed and not v.confirmed
    assert any(not c.rejected for c in v.controls if c.kind == "shift")


def test_not_testable_signals_neither_pass_nor_fail():
    # D = 1: L* has a jump only in its second derivative; R_E's kink is marked untestable
    second = [_pred(0.4, 2, 1), _pred(1.0, 2, 0)]
    kinks = [_cp(0.4, "kink", 0.0), _cp(1.0, "kink", 0.0)]
    rules = [RICCI_LOSS, RICCI_ERROR.with_untestable(2, "bends too steeply"), LOSS]
    v = judge({"R_L": kinks, "R_E": kinks + [_cp(0.82, "kink")], "loss": kinks}, second, rules, rtol=RTOL)
    assert v.signals["R_L"].status == "pass"
    assert v.signals["R_E"].status == "not testable" and "steeply" in v.signals["R_E"].reason
    assert v.signals["loss"].status == "not testable"
    assert v.confirmed
    # with nothing testable there is nothing to confirm
    assert not judge({"loss": kinks}, second, [LOSS], rtol=RTOL).confirmed


def _table(gamma, cols, status="converged"):
    recs = []
    for i, g in enumerate(gamma):
        r = dict(gamma=float(g), diverged=status == "diverged", converged=status == "converged", status=status,
                 loss=1.0, init_losses=[1.0, 1.0 + 1e-3, 1.0, 2.0])
        r.update({k: float(v[i]) for k, v in cols.items()})
        recs.append(r)
    return SweepResult(recs, np.zeros((len(recs), 1)), spec=None)


def test_judge_depth_on_a_table_with_a_shifted_transition():
    # order parameter of a D = 1 net: ||theta||^2 = 2 (s - gamma)_+ per mode (exact kinks)
    g = np.concatenate([np.linspace(0.1, 1.4, 40), [0.4, 1.0]])
    g = np.unique(g)
    pn = 2 * np.clip(1.0 - g, 0, None) + 2 * np.clip(0.4 - g, 0, None)
    sw = _table(g, {"param_norm_sq": pn})
    right = [_pred(0.4, 2, 1), _pred(1.0, 2, 0)]
    v, _ = judge_depth(sw, right, rtol=RTOL, rules=(ORDER_PARAMETER,))
    assert v.confirmed, v.to_dict()
    wrong = [_pred(0.4 * 1.02, 2, 1), _pred(1.0, 2, 0)]
    assert not judge_depth(sw, wrong, rtol=RTOL, rules=(ORDER_PARAMETER,))[0].confirmed
    swapped = [_pred(0.4, 1, 1), _pred(1.0, 2, 0)]
    assert not judge_depth(sw, swapped, rtol=RTOL, rules=(ORDER_PARAMETER,))[0].confirmed
    assert [r.name for r in DEEP_LINEAR_RULES] == ["R_L", "param_norm_sq", "R_E", "loss"]


def test_unconverged_points_are_excluded_from_fits():
    g = np.linspace(0.1, 1.4, 30)
    sw = _table(g, {"param_norm_sq": 1.0 - g})
    sw.records[3].update(status="not_converged", converged=False)
    sw.records[5].update(status="diverged", converged=False, diverged=True)
    ok = sw.ok()
    assert ok.sum() == 28 and not ok[3] and not ok[5]


def test_starts_at_minimum_names_every_start_that_reached_it():
    sw = _table([0.1, 0.2], {})
    sw.records[1]["init_losses"] = [3.0, 2.0, 1.0, 1.0]
    names = ["small", "large", "spectral-1", "spectral-2"]
    assert starts_at_minimum(sw, names) == [["small", "spectral-1"], ["spectral-1", "spectral-2"]]


def test_hysteresis_judge_rejects_a_shifted_spinodal_and_a_rising_down_branch():
    drops = [(0.472460, 0.472490), (0.139240, 0.139256)]
    v, stays = judge_hysteresis(drops, [None, None], PREDS, rtol=RTOL)
    assert v.confirmed and stays and all(c.rejected for c in v.controls)
    off = [PredictedTransition(p.gamma_c, p.order, p.mode, p.spinodal * 1.01) for p in PREDS]
    assert not judge_hysteresis(drops, [None, None], off, rtol=RTOL)[0].confirmed
    assert not judge_hysteresis([None, drops[1]], [None, None], PREDS, rtol=RTOL)[0].confirmed
    assert judge_hysteresis(drops, [(0.3, 0.31), None], PREDS, rtol=RTOL)[1] is False


def _point(slope, theory="linear", dist=0.5, bad=0):
    return dict(gamma_energy=0.5, gamma_dynamic=0.0, slope=slope, measured_sign="linear" if slope < 0 else "condensed",
                theory_regime=theory, distance_to_boundary=dist, n_not_converged=bad)


def test_init_diagram_checks_fail_on_wrong_sign_unconverged_runs_or_nothing_testable():
    assert all(c["passed"] for c in consistency_checks([_point(-0.5)]))
    assert not all(c["passed"] for c in consistency_checks([_point(+0.3)]))          # wrong sign
    assert not all(c["passed"] for c in consistency_checks([_point(-0.5, bad=1)]))   # a run did not converge
    assert not all(c["passed"] for c in consistency_checks([_point(-0.5, dist=0.01)]))  # nothing far from the boundary
