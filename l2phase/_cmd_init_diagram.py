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
* ``points/`` and ``neurons/`` - one file per finished (grid point, width), reused by ``--resume``.

Exit status 0 when S_w has the theory's sign at every point at least 0.1 from the boundary
and every run converged, 1 otherwise, 2 for invalid input.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from ._options import add_scheduler_argument, check_device, make_executor

DEFAULT_OUT = "l2phase-init-diagram"
OUTPUT_FILES = ("report.md", "results.json", "points.csv", "runs.csv", "boundary.csv", "condensation.csv",
                "heatmap.png", "slopes.png", "rd_vs_width.png", "neff_trend.png")

_GRIDS = {
    "cut": ((0.5, 0.75, 1.0, 1.25, 1.5, 1.75), (0.0,)),
    "full": ((0.5, 0.75, 1.0, 1.25, 1.5, 1.75), (-0.4, -0.2, 0.0, 0.2, 0.4)),
}
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
        raise ValueError(f"--{name} must be a number, got {text!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"--{name} must be finite, got {text!r}")
    return v


def run_regime(args) -> int:
    from l2phase.theory import init_scaling as ts

    exps = (args.alpha_exp, args.beta1_exp, args.beta2_exp)
    vals = (args.alpha, args.beta1, args.beta2, args.width)
    coords = (args.gamma_energy, args.gamma_dynamic)
    modes = [args.init is not None, any(e is not None for e in exps), any(v is not None for v in vals),
             any(c is not None for c in coords)]
    if sum(modes) != 1:
        raise ValueError("give exactly one of --init, --alpha-exp/--beta1-exp/--beta2-exp, "
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
            raise ValueError("--alpha-exp, --beta1-exp and --beta2-exp are all needed")
        s = ts.InitScaling(*(_num(e, n) for e, n in zip(exps, ("alpha-exp", "beta1-exp", "beta2-exp"))))
        row = dict(source="exponents", alpha_exp=s.alpha_exp, beta1_exp=s.beta1_exp, beta2_exp=s.beta2_exp)
        row.update(s.coordinates.as_dict())
        out.append(row)
    elif modes[2]:
        if any(v is None for v in vals):
            raise ValueError("--alpha, --beta1, --beta2 and --width are all needed")
        al, b1, b2, m = (_num(v, n) for v, n in zip(vals, ("alpha", "beta1", "beta2", "width")))
        c = ts.init_coordinates_finite_m(al, b1, b2, m)
        row = dict(source="finite-width values", alpha=al, beta1=b1, beta2=b2, width=m,
                   caveat="finite-m estimate: constant prefactors bias each coordinate by O(1/log m)")
        row.update(c.as_dict())
        out.append(row)
    else:
        if any(c is None for c in coords):
            raise ValueError("--gamma-energy and --gamma-dynamic are both needed")
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
            raise ValueError(f"--grid: {name} range must be a:b:n, got {text!r}")
        a, b = _num(parts[0], "grid"), _num(parts[1], "grid")
        try:
            n = int(parts[2])
        except ValueError:
            raise ValueError(f"--grid: {name} range count must be an integer, got {parts[2]!r}") from None
        if n < 1:
            raise ValueError(f"--grid: {name} range count must be >= 1")
        return tuple(round(float(v), 6) for v in np.linspace(a, b, n))
    vals = tuple(_num(v, "grid") for v in text.split(",") if v.strip())
    if not vals:
        raise ValueError(f"--grid: empty {name} list")
    return vals


def parse_grid(text: str | None, device: str) -> tuple[tuple, tuple]:
    """--grid value -> (gammas_energy, gammas_dynamic)."""
    if text is None:
        text = "full" if device.startswith("cuda") else "cut"
    key = text.strip().lower()
    if key in _GRIDS:
        return _GRIDS[key]
    if "x" not in key:
        raise ValueError(f"--grid must be 'cut', 'full' or 'G x GP', got {text!r}")
    g, gp = key.split("x", 1)
    return _parse_axis(g, "gamma_energy"), _parse_axis(gp, "gamma_dynamic")


def _parse_widths(text, device):
    if text is None:
        return _GPU_WIDTHS if device.startswith("cuda") else _CPU_WIDTHS
    try:
        ws = tuple(int(float(v)) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"--widths must be comma-separated integers, got {text!r}") from None
    if len(set(ws)) < 2 or min(ws) < 2:
        raise ValueError(f"--widths needs at least two distinct widths >= 2, got {text!r}")
    return ws


def _parse_seeds(text):
    try:
        if "," in text:
            seeds = tuple(int(v) for v in text.split(",") if v.strip())
        else:
            n = int(text)
            if n < 1:
                raise ValueError
            seeds = tuple(range(n))
    except ValueError:
        raise ValueError(f"--seeds must be a positive count or a comma list of integers, got {text!r}") from None
    if not seeds:
        raise ValueError("--seeds is empty")
    return seeds


def run(args) -> int:
    from l2phase.empirical.experiments.init_diagram import InitDiagramConfig, run_init_diagram

    device = check_device(args.device)
    gammas, gammas_p = parse_grid(args.grid, device)
    widths = _parse_widths(args.widths, device)
    seeds = _parse_seeds(args.seeds)
    if args.tol is None or not (args.tol > 0 and math.isfinite(args.tol)):
        raise ValueError(f"--tol must be > 0, got {args.tol}")
    if args.max_steps < 1:
        raise ValueError(f"--max-steps must be >= 1, got {args.max_steps}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    cfg = InitDiagramConfig(
        gammas_energy=gammas, gammas_dynamic=gammas_p, widths=widths, seeds=seeds, data=args.data,
        n_samples=args.n_samples, asi=None if args.asi == "auto" else args.asi == "on", tol=args.tol,
        max_steps=args.max_steps, refine=args.refine, device=device, dtype=args.dtype,
    )
    cfg.load_data()  # fail early on a bad --data
    out.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        import shutil

        for sub in ("points", "neurons"):
            if (out / sub).exists():
                shutil.rmtree(out / sub)
    log = None if args.no_progress else (lambda s: print(f"l2phase init-diagram: {s}", file=sys.stderr, flush=True))
    with make_executor(args.scheduler, "init-diagram") as executor:
        res = run_init_diagram(cfg, out, resume=args.resume, progress=log, executor=executor)
    ok = write_outputs(res, out)
    n_pts = len(res.points)
    print(f"l2phase init-diagram: {'CONSISTENT' if ok else 'NOT CONSISTENT'} with the theory "
          f"({n_pts} points, {res.seconds:.1f} s); report: {out / 'report.md'}")
    return 0 if ok else 1


# ------------------------------------------------------------------------------ outputs
def _f(x, spec=".3g"):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


def write_outputs(res, out: Path) -> bool:
    """Write report.md, results.json, the CSV tables and the PNGs; return the overall verdict."""
    from l2phase.empirical.experiments.init_diagram import _json_safe, consistency_checks
    from l2phase.empirical.sweep import atomic_write_text, write_csv

    checks = consistency_checks(res.points)
    ok = all(c["passed"] for c in checks)
    write_csv(res.runs, out / "runs.csv")
    write_csv([{k: v for k, v in p.items() if not isinstance(v, list)} for p in res.points], out / "points.csv")
    write_csv([{k: v for k, v in b.items() if k != "bracket"} for b in res.boundary], out / "boundary.csv")
    write_csv(res.condensation, out / "condensation.csv")
    results = dict(config=res.config, points=res.points, boundary=res.boundary, condensation=res.condensation,
                   checks=checks, consistent=ok, seconds=res.seconds, paper_fig3=_PAPER_FIG3)
    atomic_write_text(out / "results.json", json.dumps(_json_safe(results), indent=1, allow_nan=False))
    _plots(res, out)
    atomic_write_text(out / "report.md", _report(res, checks, ok))
    return ok


# Paper Fig. 3 (gamma_dynamic = 0, widths 1e3..4e4, one seed): slopes read from the legend.
_PAPER_FIG3 = {0.5: -0.506, 1.0: 0.007, 1.75: 0.372}


def _plots(res, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from l2phase.empirical.experiments.init_plots import (plot_condensation_scatter, plot_init_heatmap, plot_neff_trend,
                                      plot_rd_vs_width, plot_slope_rows)

    for name, fn in (("heatmap.png", plot_init_heatmap), ("slopes.png", plot_slope_rows),
                     ("rd_vs_width.png", plot_rd_vs_width), ("neff_trend.png", plot_neff_trend)):
        fig, ax = plt.subplots(figsize=(7, 5) if name == "heatmap.png" else (6.5, 4.3))
        try:
            fn(res, ax=ax)
        except ValueError as exc:  # e.g. nothing finite to draw
            ax.text(0.5, 0.5, str(exc), ha="center", transform=ax.transAxes)
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
    if res.neurons:
        axes = plot_condensation_scatter(res)
        fig = axes[0].figure
        fig.tight_layout()
        fig.savefig(out / "condensation_scatter.png", dpi=110)
        plt.close(fig)


def _report(res, checks, ok) -> str:
    cfg = res.config
    L = ["# l2phase init-diagram", ""]
    L += [f"Verdict: **{'CONSISTENT' if ok else 'NOT CONSISTENT'}** with the theory - "
          f"{sum(c['passed'] for c in checks)} of {len(checks)} checks passed.", ""]
    L += [
        "Model: f(x) = (1/alpha) sum_k a_k ReLU(w_k . x + b_k), a ~ N(0, beta1^2), (w, b) ~ N(0, beta2^2) "
        "(bias counted in the input weights), simulated as the normalised model with kappa = m^-gamma_energy, "
        "kappa' = m^-gamma_dynamic (exactly GD on any (alpha, beta1, beta2) with those kappas). "
        "gamma_energy, gamma_dynamic are the paper's (gamma, gamma') - initialisation exponents, not the L2 strength.",
        f"Data: {cfg['data']} (n = {cfg['n_samples_used']}, d = {cfg['in_dim']}); ASI {'on' if cfg['asi_used'] else 'off'}; "
        f"full-batch GD on R_S = (1/2n) sum (f - y)^2 until R_S < {cfg['tol']:g} (cap {cfg['max_steps']} steps), "
        "step eta = c/(lambda_GN + lambda_res) with c halved and the step undone whenever the loss rises.",
        f"Widths {list(cfg['widths'])}, seeds {list(cfg['seeds'])}, device {cfg['device']}; wall time {res.seconds:.1f} s.",
        "S_w = slope of log RD(theta_w) on log m (paper's sign: < 0 linear, > 0 condensed); one least-squares fit per "
        "seed, mean +- standard error over seeds. RD over the first copy of (w, b), as the authors' code.",
        "",
        "## Slopes",
        "",
        "| gamma_energy | gamma_dynamic | S_w | +- | S_w from running max RD | theory regime | distance to boundary | "
        "heuristic slope | RD at widths (mean over seeds) | not converged |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in sorted(res.points, key=lambda p: (p["gamma_dynamic"], p["gamma_energy"])):
        rd = ", ".join(_f(v, ".3g") for v in p["rd_mean"])
        L.append(f"| {p['gamma_energy']:g} | {p['gamma_dynamic']:g} | {_f(p['slope'], '+.4f')} | {_f(p['slope_err'], '.4f')} | "
                 f"{_f(p['slope_rd_max'], '+.4f')} | {p['theory_regime']} | {p['distance_to_boundary']:.3g} | "
                 f"{p['heuristic_slope']:+.3f} | {rd} | {p['n_not_converged']} |")
    L += ["", "## Boundary: zero crossing of S_w per gamma_dynamic row (linear interpolation, delta-method error)", "",
          "| gamma_dynamic | theory gamma_energy | measured gamma_energy | +- | difference | sign changes |",
          "|---|---|---|---|---|---|"]
    for b in res.boundary:
        L.append(f"| {b['gamma_dynamic']:g} | {b['theory_gamma_energy']:g} | {_f(b['measured_gamma_energy'], '.4f')} | "
                 f"{_f(b['error'], '.4f')} | {_f(b['difference'], '+.4f')} | {b['n_crossings']} |")
    zero = [p for p in res.points if abs(p["gamma_dynamic"]) < 1e-9]
    if zero and cfg["data"] == "quadratic4":
        L += ["", "## Against the paper's Fig. 3 (gamma_dynamic = 0; one seed, widths 1e3..4e4)", "",
              "| gamma_energy | paper S_w | measured S_w |", "|---|---|---|"]
        for g, s in _PAPER_FIG3.items():
            mp = [p for p in zero if abs(p["gamma_energy"] - g) < 1e-9]
            L.append(f"| {g:g} | {s:+.3f} | {_f(mp[0]['slope'], '+.4f') + ' +- ' + _f(mp[0]['slope_err'], '.4f') if mp else 'not on grid'} |")
    if res.condensation:
        L += ["", "## Condensation (first copy of the neurons; mean over seeds)", "",
              "N_eff = exp(entropy) of the amplitude-weighted orientation histogram (90 bins; angle atan2(b, w) for "
              "1-D inputs, projection on the all-ones direction otherwise); top-4 = mass of the 4 heaviest bins; "
              "erank = effective rank of the amplitude-weighted second moment of the unit input weights.", "",
              "| gamma_energy | gamma_dynamic | width | N_eff init -> final | top-4 init -> final | erank init -> final |",
              "|---|---|---|---|---|---|"]
        for c in sorted(res.condensation, key=lambda c: (c["gamma_dynamic"], c["gamma_energy"], c["width"])):
            L.append(f"| {c['gamma_energy']:g} | {c['gamma_dynamic']:g} | {c['width']} | {_f(c['neff_init'], '.3g')} -> "
                     f"{_f(c['neff_final'], '.3g')} | {_f(c['top4_init'], '.2f')} -> {_f(c['top4_final'], '.2f')} | "
                     f"{_f(c['erank_init'], '.3g')} -> {_f(c['erank_final'], '.3g')} |")
    L += ["", "## Checks", ""]
    for c in checks:
        L.append(f"- [{'x' if c['passed'] else ' '}] {c['name']}: {c['detail']}")
    L += ["", "Figures: heatmap.png, slopes.png, rd_vs_width.png, neff_trend.png, condensation_scatter.png.", ""]
    return "\n".join(L)
