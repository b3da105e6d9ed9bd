"""``l2phase theory``: exact critical points from the command line.

Contract (other tools rely on it):

* ``l2phase theory --depth D --a A --c C --json`` prints one JSON object with at least
  depth, gamma_c, order, spinodal, b_c, latent_heat, origin.
* ``l2phase theory --depth D --stats FILE --json`` (FILE: JSON with ``A``, ``beta``,
  ``Ey2``) prints ``{"transitions": [...]}`` sorted by gamma_c; ``--noise SIGMA2 --width W``
  applies stochastic neurons.
* Without ``--json`` a readable table; ``--latex`` prints the closed forms.
* Bad input exits with status 2 and one line naming the problem.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from l2phase import theory

from .cli import CLIError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "theory",
        help="exact gamma_c, order, spinodal of a deep linear net (scalar mode or data statistics)",
        description="Exact L2 transitions of a deep linear network (loss without 1/2, "
        "one gamma on every layer, D = number of hidden layers).",
    )
    p.add_argument("--depth", required=True, help="number of hidden layers D (non-negative integer)")
    p.add_argument("--a", default=None, help="a = n^T A n > 0 (scalar mode)")
    p.add_argument("--c", default=None, help="c = |E[x y]| >= 0 (scalar mode)")
    p.add_argument("--ey2", default=None, help="E[y^2] (default c^2/a, a noise-free teacher)")
    p.add_argument("--stats", default=None, help="JSON file with A (matrix), beta (vector or d x k matrix), Ey2")
    p.add_argument("--noise", default=None, help="variance sigma^2 of mean-1 multiplicative neuron noise")
    p.add_argument("--width", default=None, help="hidden width (needed with --noise)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--latex", action="store_true", help="print the closed forms in LaTeX")
    p.set_defaults(func=run)


def _parse_depth(text: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise CLIError(f"--depth must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise CLIError(f"--depth must be a non-negative integer, got {text!r}")
    return value


def _parse_float(text: str | None, name: str, *, positive: bool = False, required: bool = True) -> float | None:
    if text is None:
        if required:
            raise CLIError(f"{name} is required (or give --stats FILE)")
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise CLIError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise CLIError(f"{name} must be finite, got {text!r}")
    if value < 0 or (positive and value == 0):
        raise CLIError(f"{name} must be {'> 0' if positive else '>= 0'}, got {text!r}")
    return value


def _load_stats(path: str) -> tuple[np.ndarray, np.ndarray, float]:
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"--stats file not found: {path}")
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"--stats file {path} is not valid JSON ({exc.__class__.__name__}: line {getattr(exc, 'lineno', '?')})") from None
    if not isinstance(data, dict):
        raise CLIError(f"--stats file {path} must hold a JSON object with keys A, beta, Ey2")
    missing = [k for k in ("A", "beta", "Ey2") if k not in data]
    if missing:
        raise CLIError(f"--stats file {path} lacks key(s): {', '.join(missing)}")
    unknown = sorted(set(data) - {"A", "beta", "Ey2"})
    if unknown:
        raise CLIError(f"--stats file {path} has unknown key(s): {', '.join(unknown)}")
    try:
        A = np.asarray(data["A"], dtype=float)
        beta = np.asarray(data["beta"], dtype=float)
        ey2 = float(data["Ey2"])
    except (TypeError, ValueError):
        raise CLIError(f"--stats file {path}: A, beta and Ey2 must be numbers / nested lists of numbers") from None
    return A, beta, ey2


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(args: argparse.Namespace) -> int:
    depth = _parse_depth(args.depth)
    noise = _parse_float(args.noise, "--noise", required=False) or 0.0
    width = None
    if args.width is not None:
        try:
            width = int(args.width)
        except ValueError:
            raise CLIError(f"--width must be a positive integer, got {args.width!r}") from None
        if width < 1:
            raise CLIError(f"--width must be a positive integer, got {args.width!r}")
    if noise > 0 and width is None:
        raise CLIError("--noise needs --width (the hidden width d in (1 + sigma^2/d)^D)")

    if args.stats is not None:
        if args.a is not None or args.c is not None:
            raise CLIError("give either --stats FILE or --a/--c, not both")
        A, beta, ey2 = _load_stats(args.stats)
        trans = theory.transitions(A, beta, ey2, depth, noise_sigma2=noise, width=width)
        out = {
            "depth": depth,
            "n_outputs": 1 if np.ndim(beta) == 1 else int(np.shape(beta)[1]),
            "noise_sigma2": noise,
            "width": width,
            "transitions": [{k: _clean(v) for k, v in t.to_dict().items()} for t in trans],
        }
        if args.json:
            print(json.dumps(out))
        else:
            _print_transitions(out)
        return 0

    a = _parse_float(args.a, "--a", positive=True)
    c = _parse_float(args.c, "--c")
    ey2 = _parse_float(args.ey2, "--ey2", required=False)
    if ey2 is None:
        ey2 = c * c / a
    if noise > 0:
        a = a * theory.noise_factor(noise, width, depth)
        ey2 = max(ey2, c * c / a)
    cp = theory.critical_point(depth, a, c, ey2)
    out = {k: _clean(v) for k, v in cp.to_dict().items()}
    out["noise_sigma2"] = noise
    if args.latex:
        out["latex"] = cp.latex()
    if args.json:
        print(json.dumps(out))
        return 0
    _print_critical_point(out)
    if args.latex:
        print(cp.latex())
    return 0


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def _print_critical_point(out: dict) -> None:
    if not out["transition"]:
        print(f"depth D={out['depth']}: no transition (ridge regression learns at every gamma)")
        return
    order_word = {1: "first order (jump)", 2: "second order (kink)"}.get(out["order"], str(out["order"]))
    rows = [
        ("depth D (hidden layers)", out["depth"]),
        ("a, c", f"{out['a']:g}, {out['c']:g}"),
        ("gamma_c", out["gamma_c"]),
        ("order", order_word),
        ("spinodal gamma_s", out["spinodal"]),
        ("b_c (layer norm at gamma_c)", out["b_c"]),
        ("||w||_c (end-to-end)", out["norm_c"]),
        ("latent heat (jump of dL*/dgamma)", out["latent_heat"]),
        ("origin below gamma_c", out["origin"]),
        ("exponent of b*^2", out["exponent"]),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {_fmt(value)}")


def _print_transitions(out: dict) -> None:
    trans = out["transitions"]
    if not trans:
        print(f"depth D={out['depth']}: no transition")
        return
    print(f"depth D={out['depth']}, {out['n_outputs']} output(s): {len(trans)} transition(s) as gamma increases")
    header = f"{'mode':>4}  {'gamma_c':>12}  {'order':>5}  {'spinodal':>12}  {'c (sing. val.)':>14}  method"
    print(header)
    for t in trans:
        print(
            f"{t['mode']:>4}  {_fmt(t['gamma_c']):>12}  {t['order']:>5}  {_fmt(t['spinodal']):>12}  "
            f"{_fmt(t['c']):>14}  {t['method']}"
            + (f" (scalar lower bound {_fmt(t['lower_bound'])})" if t.get("lower_bound") is not None else "")
        )
