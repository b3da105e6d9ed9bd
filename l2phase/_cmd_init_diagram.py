"""``l2phase init-diagram`` and ``l2phase init-regime``: the two-layer ReLU initialisation phase diagram.

The diagram's coordinates are the initialisation exponents gamma_energy and gamma_dynamic
(the paper's gamma and gamma'; Luo, Xu, Ma & Zhang 2021) - not the L2 strength gamma of the
other commands.

``init-regime`` prints the coordinates and the regime of an initialisation given by
exponents (``--alpha-exp --beta1-exp --beta2-exp``), by name (``--init he``), by coordinates
(``--gamma-energy --gamma-dynamic``) or by finite-width values (``--alpha --beta1 --beta2
--width``, with an O(1/log m) bias).

``init-diagram`` trains wide two-layer ReLU nets over a grid of (gamma_energy, gamma_dynamic),
widths and seeds and writes to ``--out``:

* ``report.md`` - slopes S_w with error bars vs the theory, measured vs theoretical boundary,
  condensation, checks and timings;
* ``results.json`` - every number of the report; ``points.csv``, ``runs.csv``, ``boundary.csv``,
  ``condensation.csv`` - the tables;
* ``heatmap.png``, ``slopes.png``, ``rd_vs_width.png``, ``condensation_scatter.png``,
  ``neff_trend.png``;
* ``points/diagram/`` - one file per finished (grid point, width) (+ the first seed's neurons as
  ``.npz``), reused by ``--resume``; the run marker ``.l2phase-run.json`` (fingerprint).
  A non-empty directory l2phase did not make is refused; only the run's own files are
  replaced (:class:`l2phase.empirical.RunStore`).  The report is made by
  :mod:`l2phase.empirical.experiments.init_report`.

Exit status 0 when S_w has the theory's sign at every point at least 0.1 from the boundary
and every run converged, 1 otherwise, 2 for invalid input.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from l2phase.theory.checks import SEED_MAX, check_memory

from ._options import add_scheduler_argument, check_device, device_memory_bytes, make_executor, prepare_out_dir
from l2phase.theory.checks import InputError

DEFAULT_OUT = "l2phase-init-diagram"

_GRIDS = {
    "cut": ((0.5, 0.75, 1.0, 1.25, 1.5, 1.75), (0.0,)),
    "full": ((0.5, 0.75, 1.0, 1.25, 1.5, 1.75), (-0.4, -0.2, 0.0, 0.2, 0.4)),
}
_MAX_GRID_POINTS = 1000
_MAX_SEEDS = 1000
_MAX_WIDTH = 10**8  # = InitDiagramConfig's bound (kept here: parsing the flags imports no torch)
MAX_STEPS = 10**9
MAX_SAMPLES = 10**5
_CPU_WIDTHS = (1000, 2000, 5000, 10000, 20000)
_GPU_WIDTHS = (1000, 10000, 100000, 1000000)


def register(sub) -> None:
    p = sub.add_parser(
        "init-diagram",
        help="measure the two-layer ReLU initialisation phase diagram (linear / critical / condensed)",
        description=(
            "Train wide two-layer ReLU nets f = (1/alpha) sum a_k ReLU(w_k.x + b_k) by full-batch GD to a loss "
            "tolerance over a grid of initialisation exponents (gamma_energy, gamma_dynamic) = the paper's "
            "(gamma, gamma'), fit the slope S_w of log RD(theta_w) against log width, locate the boundary, "
            "quantify condensation, and write a report directory."
        ),
    )
    p.add_argument("--grid", default=None,
                   help="'cut' (gamma_dynamic = 0; default on CPU), 'full' (gamma_energy 0.5..1.75 x gamma_dynamic "
                        "-0.4..0.4; default on CUDA), or 'G x GP' with G, GP comma lists or a:b:n ranges, "
                        "e.g. '0.5,1,1.5 x 0' or '0.6:1.4:9 x -0.4:0.4:9'")
    p.add_argument("--widths", default=None,
                   help=f"comma-separated widths (default {','.join(map(str, _CPU_WIDTHS))} on CPU, "
                        f"{','.join(map(str, _GPU_WIDTHS))} on CUDA)")
    p.add_argument("--seeds", default="3", help="number of seeds N (seeds 0..N-1) or a comma list (default 3)")
    p.add_argument("--data", default="quadratic4",
                   help="quadratic4 (the paper's 4 points, default), quadratic1d, sin1d, teacher2d, digits, "
                        "or mnist:PATH (local MNIST files)")
    p.add_argument("--n-samples", type=int, default=None, help="number of samples for data sets that take one")
    p.add_argument("--asi", choices=("auto", "on", "off"), default="auto",
                   help="antisymmetric initialisation (auto: on for 1-D inputs)")
    p.add_argument("--tol", type=float, default=5e-7, help="stop at R_S = (1/2n) sum (f-y)^2 < tol (default 5e-7)")
    p.add_argument("--max-steps", type=int, default=200_000, help="step cap; runs reaching it are reported")
    p.add_argument("--refine", type=int, default=1, help="rounds of adaptive refinement near the zero crossing")
    p.add_argument("--device", default="cpu", help="torch device (cpu: float64; cuda: float32, TF32 off)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None, help="override the dtype")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT}/)")
    p.add_argument("--resume", action="store_true", help="reuse finished (point, width) files in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress messages")
    add_scheduler_argument(p)
    p.set_defaults(func=run)

    q = sub.add_parser(
        "init-regime",
        help="coordinates (gamma_energy, gamma_dynamic) and regime of a two-layer ReLU initialisation",
        description=(
            "Place an initialisation of f = (1/alpha) sum a_k ReLU(w_k.x), a ~ N(0, beta1^2), w ~ N(0, beta2^2) "
            "on the phase diagram: gamma_energy = lim -log(beta1 beta2/alpha)/log m, gamma_dynamic = "
            "lim -log(beta1/beta2)/log m (the paper's gamma, gamma'; not the L2 strength)."
        ),
    )
    q.add_argument("--init", default=None, help="a named initialisation (lecun, he, xavier, ntk, mean_field, "
                                                "e_et_al, pytorch_default) or 'all'")
    q.add_argument("--alpha-exp", default=None, help="alpha ~ m^ALPHA_EXP")
    q.add_argument("--beta1-exp", default=None, help="beta1 (std of output weights) ~ m^BETA1_EXP")
    q.add_argument("--beta2-exp", default=None, help="beta2 (std of input weights and biases) ~ m^BETA2_EXP")
    q.add_argument("--gamma-energy", default=None, help="the coordinate gamma_energy directly")
    q.add_argument("--gamma-dynamic", default=None, help="the coordinate gamma_dynamic directly")
    q.add_argument("--alpha", default=None, help="finite-width value of alpha (with --beta1 --beta2 --width)")
    q.add_argument("--beta1", default=None)
    q.add_argument("--beta2", default=None)
    q.add_argument("--width", default=None, help="hidden width m of the finite-width values")
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.set_defaults(func=run_regime)


# ------------------------------------------------------------------------ init-regime
def _num(text, name):
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise InputError(f"--{name} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise InputError(f"--{name} must be finite, got {text!r}")
    return v


def run_regime(args) -> int:
    from l2phase.theory import init_scaling as ts

    exps = (args.alpha_exp, args.beta1_exp, args.beta2_exp)
    vals = (args.alpha, args.beta1, args.beta2, args.width)
    coords = (args.gamma_energy, args.gamma_dynamic)
    modes = [args.init is not None, any(e is not None for e in exps), any(v is not None for v in vals),
             any(c is not None for c in coords)]
    if sum(modes) != 1:
        raise InputError("give exactly one of --init, --alpha-exp/--beta1-exp/--beta2-exp, "
                         "--alpha/--beta1/--beta2/--width, --gamma-energy/--gamma-dynamic")
    out = []
    if args.init is not None:
        names = sorted(ts.NAMED_INITS) if args.init.strip().lower() == "all" else [args.init]
        for name in names:
            ni = ts.named_init(name)
            row = dict(source="named", name=ni.name, alpha_exp=ni.scaling.alpha_exp, beta1_exp=ni.scaling.beta1_exp,
                       beta2_exp=ni.scaling.beta2_exp, description=ni.description)
            row.update(ni.coordinates.as_dict())
            out.append(row)
    elif modes[1]:
        if any(e is None for e in exps):
            raise InputError("--alpha-exp, --beta1-exp and --beta2-exp are all needed")
        s = ts.InitScaling(*(_num(e, n) for e, n in zip(exps, ("alpha-exp", "beta1-exp", "beta2-exp"))))
        row = dict(source="exponents", alpha_exp=s.alpha_exp, beta1_exp=s.beta1_exp, beta2_exp=s.beta2_exp)
        row.update(s.coordinates.as_dict())
        out.append(row)
    elif modes[2]:
        if any(v is None for v in vals):
            raise InputError("--alpha, --beta1, --beta2 and --width are all needed")
        al, b1, b2, m = (_num(v, n) for v, n in zip(vals, ("alpha", "beta1", "beta2", "width")))
        c = ts.init_coordinates_finite_m(al, b1, b2, m)
        row = dict(source="finite-width values", alpha=al, beta1=b1, beta2=b2, width=m,
                   caveat="finite-m estimate: constant prefactors bias each coordinate by O(1/log m)")
        row.update(c.as_dict())
        out.append(row)
    else:
        if any(c is None for c in coords):
            raise InputError("--gamma-energy and --gamma-dynamic are both needed")
        c = ts.InitCoordinates(_num(coords[0], "gamma-energy"), _num(coords[1], "gamma-dynamic"))
        row = dict(source="coordinates")
        row.update(c.as_dict())
        out.append(row)
    for row in out:
        row["boundary_gamma_energy"] = ts.boundary_gamma_energy(row["gamma_dynamic"])
    if args.json:
        print(json.dumps(out[0] if len(out) == 1 else {"inits": out}))
    else:
        for row in out:
            label = row.get("name", row["source"])
            print(f"{label:>16s}: gamma_energy = {row['gamma_energy']:.6g}, gamma_dynamic = {row['gamma_dynamic']:.6g}"
                  f"  ->  {row['regime']} (distance to boundary {row['distance_to_boundary']:.3g})")
            if "caveat" in row:
                print(f"{'':>16s}  ({row['caveat']})")
    return 0


# ----------------------------------------------------------------------- init-diagram
def _parse_axis(text: str, name: str) -> tuple:
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise InputError(f"--grid: {name} range must be a:b:n, got {text!r}")
        a, b = _num(parts[0], "grid"), _num(parts[1], "grid")
        try:
            n = int(parts[2])
        except ValueError:
            raise InputError(f"--grid: {name} range count must be an integer, got {parts[2]!r}") from None
        if not 1 <= n <= _MAX_GRID_POINTS:
            raise InputError(f"--grid: {name} range count must be in [1, {_MAX_GRID_POINTS}], got {n}")
        return tuple(round(float(v), 6) for v in np.linspace(a, b, n))
    items = text.split(",")
    if not text or any(not v.strip() for v in items):
        raise InputError(f"--grid: empty entry in the {name} list {text!r}")
    return tuple(_num(v, "grid") for v in items)


def parse_grid(text: str | None, device: str) -> tuple[tuple, tuple]:
    """--grid value -> (gammas_energy, gammas_dynamic)."""
    if text is None:
        text = "full" if device.startswith("cuda") else "cut"
    key = text.strip().lower()
    if key in _GRIDS:
        return _GRIDS[key]
    if "x" not in key:
        raise InputError(f"--grid must be 'cut', 'full' or 'G x GP', got {text!r}")
    if key.count("x") != 1:
        raise InputError(f"--grid must be 'cut', 'full' or 'G x GP' with one 'x', got {text!r}")
    g, gp = key.split("x", 1)
    return _parse_axis(g, "gamma_energy"), _parse_axis(gp, "gamma_dynamic")


def _parse_widths(text, device):
    if text is None:
        return _GPU_WIDTHS if device.startswith("cuda") else _CPU_WIDTHS
    ws = []
    for v in text.split(","):
        try:
            w = float(v)  # '1e4' is accepted
        except ValueError:
            w = math.nan
        if not (math.isfinite(w) and w == int(w) and 2 <= w <= _MAX_WIDTH):
            raise InputError(f"--widths must be comma-separated integers in [2, {_MAX_WIDTH:.0e}], got {text!r}")
        ws.append(int(w))
    if len(set(ws)) < 2:
        raise InputError(f"--widths needs at least two distinct widths, got {text!r}")
    return tuple(ws)


def _parse_seeds(text):
    try:
        if "," in text:
            seeds = tuple(int(v) for v in text.split(","))
        else:
            n = int(text)
            if not 1 <= n <= _MAX_SEEDS:
                raise ValueError
            seeds = tuple(range(n))
    except ValueError:
        raise InputError(f"--seeds must be a count in [1, {_MAX_SEEDS}] or a comma list of seeds, got {text!r}") from None
    if len(seeds) > _MAX_SEEDS or any(not 0 <= s <= SEED_MAX for s in seeds) or len(set(seeds)) != len(seeds):
        raise InputError(f"--seeds must list at most {_MAX_SEEDS} distinct seeds in [0, {SEED_MAX}], got {text!r}")
    return seeds


def run(args) -> int:
    from l2phase.empirical import RunStore
    from l2phase.empirical.experiments.init_diagram import InitDiagramConfig, run_init_diagram
    from l2phase.empirical.experiments.init_report import write_init_diagram_report

    device = check_device(args.device)
    gammas, gammas_p = parse_grid(args.grid, device)
    widths = _parse_widths(args.widths, device)
    seeds = _parse_seeds(args.seeds)
    if args.tol is None or not (args.tol > 0 and math.isfinite(args.tol)):
        raise InputError(f"--tol must be > 0, got {args.tol}")
    if not 1 <= args.max_steps <= MAX_STEPS:
        raise InputError(f"--max-steps must be in [1, {MAX_STEPS}], got {args.max_steps}")
    if not 0 <= args.refine <= 20:
        raise InputError(f"--refine must be in [0, 20], got {args.refine}")
    if args.n_samples is not None and not 1 <= args.n_samples <= MAX_SAMPLES:
        raise InputError(f"--n-samples must be in [1, {MAX_SAMPLES}], got {args.n_samples}")
    try:
        cfg = InitDiagramConfig(
        gammas_energy=gammas, gammas_dynamic=gammas_p, widths=widths, seeds=seeds, data=args.data,
        n_samples=args.n_samples, asi=None if args.asi == "auto" else args.asi == "on", tol=args.tol,
        max_steps=args.max_steps, refine=args.refine, device=device, dtype=args.dtype,
        )
    except InputError as exc:  # name the flag: the grid's range depends on the widths
        if "gammas_" in str(exc):
            raise InputError(f"--grid/--widths: {exc}") from None
        raise
    data = cfg.load_data()  # fail early on a bad --data
    check_memory(cfg.memory_estimate(data.n_samples, data.in_dim),
                 f"--widths up to {max(widths)} on --data {args.data} (n = {data.n_samples})",
                 limit=device_memory_bytes(device), where=f"--device {device}")
    out = prepare_out_dir(args.out)
    log = None if args.no_progress else (lambda s: print(f"l2phase init-diagram: {s}", file=sys.stderr, flush=True))
    with RunStore.open(out, fingerprint=cfg.fingerprint(), resume=args.resume, command="init-diagram") as store, \
            make_executor(args.scheduler, "init-diagram") as executor:
        res = run_init_diagram(cfg, store, progress=log, executor=executor)
        ok = write_init_diagram_report(res, store)
    n_pts = len(res.points)
    print(f"l2phase init-diagram: {'CONSISTENT' if ok else 'NOT CONSISTENT'} with the theory "
          f"({n_pts} points, {res.seconds:.1f} s); report: {out / 'report.md'}")
    return 0 if ok else 1


