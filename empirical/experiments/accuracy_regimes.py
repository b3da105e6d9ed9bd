r"""Accuracy regimes of classifiers across the L2 strength gamma, located by change points.

A classifier (any :class:`NetSpec`: ReLU / tanh MLPs, MSE or cross-entropy, biases on or
off) is swept over gamma with :func:`empirical.sweep_gamma`; this module turns the sweep
into accuracy regimes and lines them up with the curvature:

* :func:`classification_metrics` - accuracy and per-class accuracy of trained nets on any
  labelled set (training or test).  A net whose outputs tie (within ``tie_tol``) predicts
  the most frequent training class among the tied ones, so a collapsed net (theta -> 0,
  all outputs equal) is the constant majority-class predictor, and "chance" is the
  majority-class frequency, not the argmax of rounding noise.
* :func:`accuracy_regimes` - change points (on a log-gamma axis) of train and test accuracy,
  of R_E, R_L, L and ||theta||^2; how each accuracy change point lines up with the nearest
  curvature change point (distance in gamma and in log gamma, against the two intervals'
  half-widths); which classes drop out where (the gamma at which each class's accuracy
  first falls below one half); the jump/kink character of the order parameter's change
  points; the deep-linear prediction from the same training set's (A, beta, E||y||^2)
  (``theory.transitions``) and how far the detected transitions sit from it; and whether
  accuracy is at chance above the last transition.

Conventions (docs/conventions.md): (L = E + gamma sum_l ||W_l||_F^2, D hidden layers; with
``objective="cross_entropy"`` E is the mean softmax cross-entropy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from l2phase import theory

from ..transition_matching import PredictedTransition, detect_curve_change_points
from ..reporting import NO_CONVERGED_RUN
from ..verdicts import ORDER_PARAMETER, judge
from ..data import Dataset
from ..models import NetSpec, forward
from ..sweep import SweepResult
from l2phase.theory.checks import InputError

__all__ = ["classification_metrics", "accuracy_regimes", "CURVE_SIGNALS"]

#: Curves searched for change points: (column, label).
CURVE_SIGNALS = (
    ("train_accuracy", "training accuracy"),
    ("test_accuracy", "test accuracy"),
    ("R_E", "Ricci scalar of the error landscape R_E"),
    ("R_L", "Ricci scalar of the loss landscape R_L"),
    ("loss", "minimal loss L*"),
    ("param_norm_sq", "order parameter ||theta||^2"),
)


def _class_priority(train: Dataset, n_classes: int) -> np.ndarray:
    counts = np.bincount(train.labels, minlength=n_classes).astype(float)
    return counts + 1e-9 * (n_classes - np.arange(n_classes))  # ties: lower class index first


def classification_metrics(
    spec: NetSpec,
    thetas,
    data: Dataset,
    train: Dataset | None = None,
    *,
    tie_tol: float = 1e-4,
    chunk: int = 64,
) -> dict[str, np.ndarray]:
    """Accuracy and per-class accuracy of every net (row of ``thetas``) on ``data``.

    Parameters
    ----------
    spec : NetSpec
    thetas : (B, P) array or tensor of trained parameters
    data : Dataset with ``labels``
    train : Dataset, optional
        Training set whose class frequencies break ties (default ``data``).
    tie_tol : float
        Outputs within ``tie_tol * max(1, rms(Y))`` of a sample's largest output count as
        tied (a collapsed net, all outputs equal, is then the majority-class predictor).
        This is the resolution of a trained net's outputs: a net stopped at gradient norm g
        has output errors of order g (the collapsed minimiser's unpenalised bias sits within
        ~g of mean(Y)), so the default 1e-4 suits training to g <= ~1e-5; smaller output
        differences are rounding residue of the optimiser, not predictions.

    Returns
    -------
    dict with ``accuracy`` (B,), ``per_class`` (B, C), ``predictions`` (B, N) and
    ``chance`` (the majority-class frequency of ``data`` under the training priors).
    """
    if data.labels is None:
        raise InputError("data has no labels: classification metrics need a labelled set")
    train = train if train is not None else data
    C = spec.out_dim
    th = torch.as_tensor(np.asarray(thetas, dtype=float)) if not isinstance(thetas, torch.Tensor) else thetas
    if th.ndim != 2 or th.shape[1] != spec.n_params:
        raise InputError(f"thetas must be (B, {spec.n_params}), got {tuple(th.shape)}")
    X, Y = data.tensors()
    tol = tie_tol * max(1.0, float(np.sqrt(np.mean(train.Y ** 2))))
    prio = torch.as_tensor(_class_priority(train, C), dtype=torch.float64)
    preds = []
    with torch.no_grad():
        for lo in range(0, th.shape[0], chunk):
            f = forward(spec, th[lo:lo + chunk].to(torch.float64), X)  # (b, N, C)
            tied = f >= f.amax(-1, keepdim=True) - tol
            preds.append(torch.where(tied, prio, torch.full_like(f, -1.0)).argmax(-1).numpy())
    pred = np.concatenate(preds, 0) if preds else np.zeros((0, data.n_samples), dtype=np.int64)
    correct = pred == data.labels[None, :]
    per_class = np.full((pred.shape[0], C), np.nan)
    for c in range(C):
        m = data.labels == c
        if m.any():
            per_class[:, c] = correct[:, m].mean(1)
    majority = int(np.argmax(_class_priority(train, C)))
    return dict(accuracy=correct.mean(1), per_class=per_class, predictions=pred,
                chance=float(np.mean(data.labels == majority)))


def _interval_halfwidth(cp: dict) -> float:
    return 0.5 * (cp["high"] - cp["low"])


def _log_distance(a: float, b: float) -> float:
    return abs(np.log(a) - np.log(b)) if a > 0 and b > 0 else float("inf")


def accuracy_regimes(
    result: SweepResult,
    train: Dataset,
    test: Dataset | None = None,
    *,
    depth_for_theory: int | None = None,
    resolution: dict[str, float] | None = None,
    chance_atol: float = 0.02,
    dropout_level: float = 0.5,
    tie_tol: float = 1e-4,
    collapse_rtol: float = 1e-6,
    theory_rtol: float = 1e-3,
) -> dict[str, Any]:
    r"""Accuracy regimes of a classifier gamma sweep and how they line up with the curvature.

    Parameters
    ----------
    result : SweepResult of :func:`empirical.sweep_gamma` on ``train``
    train, test : Dataset
        The training set (the sweep's) and an optional held-out set, both labelled.
    depth_for_theory : int, optional
        Depth of the deep-linear prediction (default: the net's depth); None-like 0 skips it.
    resolution : dict, optional
        Change-point resolution per signal (fraction of the curve's range; defaults 0.02
        for accuracies, which move in steps of 1/N, and 1e-3 for the smooth curves).
    chance_atol : float
        Largest accepted |accuracy - chance| above the last transition.
    dropout_level : float
        A class has dropped out once its training accuracy is below this.
    tie_tol : float
        Output resolution of :func:`classification_metrics`.
    collapse_rtol : float
        ||theta||^2 has vanished where it is below collapse_rtol times its largest value;
        accuracy must be at chance above both the last change point of ||theta||^2 and the
        gamma from which it has vanished (``collapsed_from``).
    theory_rtol : float
        Location tolerance of the comparison with the deep-linear prediction, judged (with
        negative controls, :func:`empirical.verdicts.judge`) only where that prediction is
        exact: linear nets without bias under MSE; otherwise it is reported as not testable.
        Accuracy at chance above the last transition holds by construction (tie rule) and
        is reported, not judged.

    Returns
    -------
    dict (plain data) with ``table`` (per gamma: accuracies, per-class training accuracy,
    curvature, loss, norm), ``signals`` (change points per curve), ``alignment``,
    ``class_dropout``, ``order_character``, ``linear_theory`` (with its ``verdict``), ``chance``,
    ``checks`` (judged), ``reported`` (not judged, with the reason) and ``controls``.
    """
    spec = result.spec
    gamma = result.gamma
    # classifier sweeps stop at max_steps by design: points that did not reach the gradient
    # tolerance still carry an accuracy; they are used and counted (``n_converged``), diverged ones not
    ok = result.not_diverged()
    m_tr = classification_metrics(spec, result.thetas, train, tie_tol=tie_tol)
    m_te = classification_metrics(spec, result.thetas, test, train, tie_tol=tie_tol) if test is not None else None
    res_default = {"train_accuracy": 0.02, "test_accuracy": 0.02}
    res_default.update(resolution or {})
    table = []
    for i, rec in enumerate(result.records):
        row = dict(gamma=float(gamma[i]), train_accuracy=float(m_tr["accuracy"][i]),
                   test_accuracy=float(m_te["accuracy"][i]) if m_te is not None else float("nan"),
                   loss=rec["loss"], error=rec["error"], param_norm_sq=rec["param_norm_sq"],
                   R_L=rec["R_L"], R_E=rec["R_E"], R_L_se=rec["R_L_se"], R_E_se=rec["R_E_se"],
                   converged=rec["converged"], diverged=rec["diverged"], grad_norm=rec["grad_norm"])
        for c in range(spec.out_dim):
            row[f"train_acc_class_{c}"] = float(m_tr["per_class"][i, c])
        table.append(row)

    def col(name):
        return np.array([r[name] for r in table], dtype=float)

    signals = {}
    for name, label in CURVE_SIGNALS:
        y = col(name)
        fin = ok & np.isfinite(y)
        cps = []
        if fin.sum() >= 8:
            cps = [c.to_dict() for c in detect_curve_change_points(gamma[fin], y[fin], x_scale="log",
                                                                   resolution=res_default.get(name, 1e-3))]
        signals[name] = dict(label=label, change_points=cps)

    # accuracy change points vs the nearest curvature change point
    alignment = []
    for acc in ("train_accuracy", "test_accuracy"):
        for cp in signals[acc]["change_points"]:
            for curv in ("R_E", "R_L"):
                cands = signals[curv]["change_points"]
                if not cands:
                    alignment.append(dict(accuracy_signal=acc, accuracy_gamma=cp["gamma"], curvature_signal=curv,
                                          curvature_gamma=None, distance=None, log_distance=None,
                                          uncertainty=None, aligned=False))
                    continue
                near = min(cands, key=lambda c: _log_distance(c["gamma"], cp["gamma"]))
                dist = abs(near["gamma"] - cp["gamma"])
                unc = float(np.hypot(_interval_halfwidth(near), _interval_halfwidth(cp)))
                overlap = near["low"] <= cp["high"] and cp["low"] <= near["high"]
                alignment.append(dict(accuracy_signal=acc, accuracy_gamma=cp["gamma"], accuracy_kind=cp["kind"],
                                      curvature_signal=curv, curvature_gamma=near["gamma"], curvature_kind=near["kind"],
                                      distance=float(dist), log_distance=_log_distance(near["gamma"], cp["gamma"]),
                                      uncertainty=unc, aligned=bool(overlap or dist <= unc)))

    # which classes drop out where (training accuracy first below dropout_level, for good)
    dropout = []
    per_class = m_tr["per_class"]
    for c in range(spec.out_dim):
        pc = per_class[:, c]
        above = np.flatnonzero(ok & (pc >= dropout_level))
        if above.size == 0:
            dropout.append(dict(cls=c, gamma_last_learned=None, gamma_dropped=None))
            continue
        last = int(above.max())
        nxt = next((j for j in range(last + 1, len(gamma)) if ok[j]), None)
        dropout.append(dict(cls=c, gamma_last_learned=float(gamma[last]),
                            gamma_dropped=None if nxt is None else float(gamma[nxt])))
    for cp in signals["train_accuracy"]["change_points"]:
        cp["classes_dropping"] = [d["cls"] for d in dropout if d["gamma_dropped"] is not None
                                  and d["gamma_last_learned"] <= cp["high"] * (1 + 1e-12)
                                  and d["gamma_dropped"] >= cp["low"] * (1 - 1e-12)]

    # order-like character: kinds of the order parameter's and the loss's change points
    order_character = {name: [c["kind"] for c in signals[name]["change_points"]] for name in ("param_norm_sq", "loss")}

    # the last transition: the largest change point of the order parameter (collapse of theta),
    # and where ||theta||^2 has actually vanished (a coarse grid can put a curved tail's kink
    # below the last point that still learns)
    norm_cps = signals["param_norm_sq"]["change_points"]
    last = max(norm_cps, key=lambda c: c["gamma"]) if norm_cps else None
    pn = col("param_norm_sq")
    collapsed_from = None
    if ok.any():  # without a usable point nothing has vanished: there is no measurement
        vanished = ~ok | (pn <= collapse_rtol * np.max(pn[ok]))
        tail = np.flatnonzero(~vanished)
        first_zero = int(tail.max()) + 1 if tail.size else 0
        collapsed_from = float(gamma[first_zero]) if first_zero < len(gamma) else None
    chance_rows = []
    if last is not None and collapsed_from is not None:
        above = ok & (gamma > last["high"]) & (gamma >= collapsed_from)
        for name, m in (("train_accuracy", m_tr), ("test_accuracy", m_te)):
            if m is None:
                continue
            acc = m["accuracy"][above]
            chance_rows.append(dict(signal=name, chance=m["chance"], n_points=int(above.sum()),
                                    max_abs_deviation=float(np.max(np.abs(acc - m["chance"]))) if acc.size else None,
                                    at_chance=bool(acc.size and np.all(np.abs(acc - m["chance"]) <= chance_atol))))

    # the deep-linear prediction from the same training set
    D = spec.depth if depth_for_theory is None else int(depth_for_theory)
    linear = None
    if D >= 1:
        A, beta, ey2 = train.stats()
        try:
            preds = theory.transitions(A, beta, ey2, D)
        except theory.InputError as exc:  # inconsistent statistics (singular A is handled by the theory)
            linear = dict(depth=D, error=str(exc))
        else:
            # modes at rounding level (e.g. the all-ones direction removed by centring the
            # targets) have gamma_c ~ 1e-20: no transition
            top = max((float(t.gamma_c) for t in preds), default=0.0)
            pts = [dict(mode=int(t.mode), gamma_c=float(t.gamma_c), order=int(t.order), method=str(t.method),
                        accuracy=t.accuracy) for t in preds if t.gamma_c > 1e-9 * top]
            gmax = max((p["gamma_c"] for p in pts), default=None)
            compare = []
            for name in ("param_norm_sq", "R_E", "train_accuracy"):
                for c in signals[name]["change_points"]:
                    if not pts:
                        break
                    nearest = min(pts, key=lambda p: _log_distance(p["gamma_c"], c["gamma"]))
                    compare.append(dict(signal=name, gamma=c["gamma"], kind=c["kind"], nearest_mode=nearest["mode"],
                                        nearest_gamma_c=nearest["gamma_c"],
                                        relative_distance=abs(c["gamma"] - nearest["gamma_c"]) / nearest["gamma_c"],
                                        within_interval=bool(c["low"] <= nearest["gamma_c"] <= c["high"])))
            linear = dict(depth=D, objective=spec.objective, activation=spec.activation, predictions=pts,
                          largest_gamma_c=gmax, detected_collapse=None if last is None else last["gamma"],
                          collapse_ratio=(last["gamma"] / gmax) if (last is not None and gmax) else None,
                          comparisons=compare)

    verdict, controls = _linear_theory_verdict(spec, linear, result, theory_rtol)
    if linear is not None:
        linear["verdict"] = verdict
    n_div = int(sum(bool(r["diverged"]) for r in result.records))
    checks = [
        dict(name="no diverged gamma point", passed=n_div == 0, detail=f"{n_div} of {len(gamma)} diverged"),
        dict(name="a collapse of ||theta||^2 was detected", passed=last is not None and collapsed_from is not None,
             detail=(f"no usable point ({NO_CONVERGED_RUN})" if not ok.any() else
                     ("no change point" if last is None else f"last change point at gamma = {last['gamma']:.4g}")
                     + ("; ||theta||^2 never vanishes on the grid" if collapsed_from is None
                        else f"; ||theta||^2 vanished from gamma = {collapsed_from:.4g}"))),
    ]
    if verdict["status"] != "not testable":
        checks.append(dict(name=f"||theta||^2 change points match the deep-linear prediction (D = {D})",
                           passed=verdict["status"] == "pass", detail=verdict["reason"]))
    # Reported, not judged: these hold by construction or cannot be judged here.
    reported = [dict(name=f"{r['signal'].replace('_', ' ')} at chance ({r['chance']:.3f}) above the last transition",
                     holds=r["at_chance"], detail=f"{r['n_points']} points, max |acc - chance| = {r['max_abs_deviation']}",
                     why="holds by construction: a collapsed net's outputs tie and the tie rule predicts the majority "
                         "class, which is chance") for r in chance_rows]
    if verdict["status"] == "not testable":
        reported.append(dict(name="comparison with the deep-linear prediction", holds=None, detail=verdict["reason"],
                             why="not testable"))
    n_conv = int(sum(r["converged"] for r in table))
    return dict(table=table, signals=signals, alignment=alignment, class_dropout=dropout,
                order_character=order_character, linear_theory=linear, chance=chance_rows,
                last_transition=last, collapsed_from=collapsed_from, checks=checks, reported=reported, controls=controls,
                n_converged=n_conv, n_points=len(table), passed=all(c["passed"] for c in checks)
                and all(c["rejected"] for c in controls))


def _linear_theory_verdict(spec: NetSpec, linear: dict | None, result: SweepResult,
                           rtol: float) -> tuple[dict[str, Any], list[dict]]:
    """Judge the order parameter's change points against the deep-linear prediction, with controls,
    where that prediction is exact (a linear net without bias, MSE); otherwise "not testable"."""
    if linear is None or "error" in linear:
        why = "no deep-linear prediction" if linear is None else f"no deep-linear prediction: {linear['error']}"
        return dict(status="not testable", reason=why), []
    if spec.activation != "linear" or spec.bias or spec.objective != "mse":
        return dict(status="not testable", reason=(
            f"the deep-linear transitions are exact only for linear nets without bias under the MSE loss; this net "
            f"is {spec.activation}, bias {spec.bias}, {spec.objective}: the prediction is a reference scale")), []
    preds = [PredictedTransition(p["gamma_c"], p["order"], p["mode"], p["gamma_c"], "deep-linear")
             for p in linear["predictions"]]
    if not preds:
        return dict(status="not testable", reason="no transition predicted"), []
    ok = result.ok()
    cps = detect_curve_change_points(result.gamma[ok], result.column("param_norm_sq")[ok])
    v = judge({ORDER_PARAMETER.name: cps}, preds, [ORDER_PARAMETER], rtol=rtol)
    sv = v.signals[ORDER_PARAMETER.name]
    return dict(status=sv.status, reason=sv.reason, rtol=rtol, matches=[c.to_dict() for c in sv.checks]), \
        [c.to_dict() for c in v.controls]
