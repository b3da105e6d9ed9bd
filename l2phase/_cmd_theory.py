"""``l2phase theory``: exact critical points from the command line.

Contract (other tools rely on it):

* ``l2phase theory --depth D --a A --c C --json`` prints one JSON object with at least
  depth, gamma_c, order, spinodal, b_c, latent_heat, origin.
* ``l2phase theory --depth D --stats FILE --json`` (FILE: JSON with ``A``, ``beta``,
  ``Ey2``, schema in ``l2phase.theory.STATS_SCHEMA``) prints ``{"transitions": [...], "statistics": {...}}``
  sorted by gamma_c; ``--noise SIGMA2 --width W`` applies stochastic neurons.
* ``l2phase theory --depth D --data NAME`` computes the statistics from a data set
  (digits, mnist, synthetic, a ``.npz`` / ``.csv`` file) with the preprocessing of the
  empirical sweeps (:class:`l2phase.empirical.Preprocessing`), stated in the output.
* Without ``--json`` a readable table; ``--latex`` prints the closed forms.
* Bad input exits with status 2 and one line naming the problem.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


from l2phase import theory

from l2phase.theory.checks import InputError
from l2phase.theory.formatting import format_number, json_ready

from ._options import add_data_arguments, data_statistics, parse_int
from .cli import CLIError

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "theory",
        help="exact gamma_c, order, spinodal of a deep linear net (scalar mode or data statistics)",
        description="Exact L2 transitions of a deep linear network (loss without 1/2, "
        "one gamma on every layer, D = number of hidden layers).",
    )
    p.add_argument("--depth", default=None, help="number of hidden layers D (non-negative integer; required)")
    p.add_argument("--a", default=None, help="a = n^T A n > 0 (scalar mode)")
    p.add_argument("--c", default=None, help="c = |E[x y]| >= 0 (scalar mode)")
    p.add_argument("--ey2", default=None, help="E[y^2] (default c^2/a, a noise-free teacher)")
    p.add_argument("--stats", default=None, help="JSON file with A (d x d, symmetric PSD), beta (d or d x k), Ey2 "
                   "(see 'l2phase theory --stats-schema')")
    p.add_argument("--stats-schema", action="store_true", help="print the --stats file format and exit")
    add_data_arguments(p, search=True)
    p.add_argument("--noise", default=None, help="variance sigma^2 of mean-1 multiplicative neuron noise")
    p.add_argument("--width", default=None, help="hidden width (needed with --noise)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--latex", action="store_true", help="print the closed forms in LaTeX")
    p.set_defaults(func=run)


def _parse_depth(text: str) -> int:
    return parse_int(text, "--depth", 0)


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


def run(args: argparse.Namespace) -> int:
    if args.stats_schema:  # a format description needs no depth
        print(theory.STATS_SCHEMA, end="")
        return 0
    if args.depth is None:
        raise CLIError("--depth is required (the number of hidden layers D)")
    depth = _parse_depth(args.depth)
    if args.latex:
        from l2phase.theory.derivation import SYMBOLIC_MAX_DEPTH

        if depth > SYMBOLIC_MAX_DEPTH:
            raise CLIError(f"--latex derives the closed forms with sympy, limited to --depth <= {SYMBOLIC_MAX_DEPTH}, "
                           f"got {depth} (drop --latex: the numbers hold for any depth)")
    noise = _parse_float(args.noise, "--noise", required=False) or 0.0
    width = None if args.width is None else parse_int(args.width, "--width", 1)
    if noise > 0 and width is None:
        raise CLIError("--noise needs --width (the hidden width d in (1 + sigma^2/d)^D)")
    if noise > 0:
        try:
            theory.noise_factor(noise, width, depth)
        except InputError as exc:
            raise CLIError(f"--noise {args.noise} with --width {args.width} and --depth {args.depth}: the factor "
                           "(1 + sigma^2/width)^depth multiplying A is out of floating-point range") from exc

    if args.stats is not None or args.data is not None:
        if args.a is not None or args.c is not None:
            raise CLIError("give either --stats FILE / --data NAME or --a/--c, not both")
        if args.stats is not None and args.data is not None:
            raise CLIError("give either --stats FILE or --data NAME, not both")
        if args.stats is not None:
            A, beta, ey2 = theory.read_data_stats(args.stats, argument="--stats")
            source = {"stats_file": args.stats}
        else:
            A, beta, ey2, source = data_statistics(args)
        try:
            rep = theory.data_transitions(A, beta, ey2, depth, noise_sigma2=noise, width=width,
                                          n_starts=parse_int(args.starts, "--starts"),
                                          seed=parse_int(args.seed, "--seed", 0))
        except InputError as exc:  # name where the statistics came from
            where = f"--stats file {args.stats}" if args.stats is not None else f"--data {args.data}"
            raise CLIError(f"{where}: {exc}") from None
        stats = rep.to_dict()
        trans = stats.pop("transitions")
        stats["top_singular_values_B"] = stats.pop("singular_values_B")[:10]
        out = {
            "depth": depth,
            "n_outputs": rep.n_outputs,
            "noise_sigma2": noise,
            "width": width,
            "data": source,
            "statistics": stats,
            "transitions": trans,
        }
        out = json_ready(out)
        if args.json:
            print(json.dumps(out))
        else:
            _print_transitions(out)
        return 0

    a = _parse_float(args.a, "--a", positive=True)
    c = _parse_float(args.c, "--c")
    ey2 = _parse_float(args.ey2, "--ey2", required=False)
    c2_over_a = c * c / a if math.isfinite(c * c) else c * (c / a)
    if not math.isfinite(c2_over_a):
        raise CLIError(f"--c {args.c} with --a {args.a} is out of floating-point range (c^2/a overflows); "
                       "rescale the data")
    if ey2 is None:
        ey2 = c2_over_a
    if noise > 0:
        a = a * theory.noise_factor(noise, width, depth)
        if not math.isfinite(a):
            raise CLIError(f"--a {args.a} times the noise factor of --noise {args.noise} is out of floating-point range")
        ey2 = max(ey2, c * c / a)
    try:
        cp = theory.critical_point(depth, a, c, ey2)
    except InputError as exc:  # name the flags, not the function's arguments
        raise CLIError(f"--depth {args.depth} --a {args.a} --c {args.c}"
                       + (f" --ey2 {args.ey2}" if args.ey2 is not None else "") + f": {exc}") from None
    out = json_ready(cp.to_dict())
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
    """A value of the text output: floats to 6 decimals, "-" for missing (the shared formatter)."""
    return format_number(v, ".6f" if isinstance(v, float) else "g")


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


def _print_statistics(out: dict) -> None:
    src, st = out.get("data") or {}, out.get("statistics") or {}
    if "stats_file" in src:
        print(f"statistics from {src['stats_file']}")
    elif src:
        print(f"data: {src.get('source')} ({src.get('inputs')}), N = {src['n_samples']}, "
              f"d = {src['in_dim']}, k = {src['n_outputs']}")
        print(f"preprocessing: {src['preprocessing']}")
    if st:
        sv = ", ".join(f"{v:.4g}" for v in st["top_singular_values_B"][:5])
        print(f"A: {st['in_dim']} x {st['in_dim']}, rank {st['rank_A']} ({st['dropped_directions']} direction(s) "
              f"with eigenvalue <= {st['threshold']:.2g} dropped); B = E[x y^T]: {st['in_dim']} x {st['n_outputs']}, "
              f"top singular values {sv}; E||y||^2 = {st['ey2']:.6g}")


def _print_transitions(out: dict) -> None:
    _print_statistics(out)
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
            + (f"  [{_certificate_text(t)}]" if t.get("certificate") else "")
        )


def _certificate_text(t: dict) -> str:
    c = t["certificate"]
    parts = []
    if "starts" in c:
        parts.append(f"{c['starts']} starts")
    if "kkt_residual" in c:
        parts.append(f"KKT residual {c['kkt_residual']:.1e}")
    if c.get("gap_next_branch") is not None and "gap_next_branch" in c:
        parts.append(f"gap to next branch {c['gap_next_branch']:.3g}")
    if "exact" in c:
        parts.append(f"exact: {c['exact']}")
    if t.get("accuracy") is not None:
        parts.append(f"rel. accuracy {t['accuracy']:.0e}")
    return ", ".join(parts)
