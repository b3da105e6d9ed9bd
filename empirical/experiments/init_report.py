r"""Report of ``l2phase init-diagram``: the checks, report.md, results.json, the CSV tables, the plots.

Functions of the tables of :class:`empirical.InitDiagramResult`, written through the run's
:class:`empirical.RunStore`.  The verdict: S_w has the theory's sign at every grid point
at least :data:`SIGN_CHECK_DISTANCE` from the boundary, and every run reached the loss
tolerance.  A diagram where no run converged still gets its full report: tables and plots
say "no converged run" where there is nothing to show, and so does the verdict.
"""

from __future__ import annotations

import math

from ..reporting import NO_CONVERGED_RUN, checks_markdown, format_number, no_data, pyplot
from ..store import RunStore
from .init_diagram import SIGN_CHECK_DISTANCE, InitDiagramResult, consistency_checks
from .init_plots import plot_condensation_scatter, plot_init_heatmap, plot_neff_trend, plot_rd_vs_width, plot_slope_rows

__all__ = ["INIT_OUTPUT_FILES", "SIGN_CHECK_DISTANCE", "init_diagram_checks", "write_init_diagram_report"]

#: The files of the report (``condensation_scatter.png`` too when neurons were kept).
INIT_OUTPUT_FILES = ("report.md", "results.json", "points.csv", "runs.csv", "boundary.csv", "condensation.csv",
                     "heatmap.png", "slopes.png", "rd_vs_width.png", "neff_trend.png")
#: Sign checks only at grid points at least this far from the theoretical boundary.


def _f(x, spec=".3g"):
    return format_number(x, spec)


def init_diagram_checks(res: InitDiagramResult) -> list[dict]:
    """Pass/fail checks: at least one converged run at all, then
    :func:`~l2phase.empirical.experiments.init_diagram.consistency_checks` (the sign of S_w at
    every point far enough from the boundary, at least one such point, every run converged).
    Each: dict(name, passed, detail)."""
    checks = []
    if not any(r.get("converged") for r in res.runs):
        checks.append(dict(name="at least one run reached the loss tolerance", passed=False,
                           detail=f"{NO_CONVERGED_RUN}: no slope S_w can be measured"))
    return checks + consistency_checks(res.points)


def _slope_cell(p: dict, spec: str) -> str:
    """S_w of a point, or "no converged run" when none of its runs converged."""
    if p["slope"] is None or not math.isfinite(p["slope"]):
        return NO_CONVERGED_RUN if p.get("n_converged", 1) == 0 else "-"
    return format_number(p["slope"], spec)


def write_init_diagram_report(res: InitDiagramResult, store: RunStore) -> bool:
    """Write report.md, results.json, the CSV tables and the PNGs into ``store``; return the verdict.

    Written in full whatever the runs did (none converged included)."""
    checks = init_diagram_checks(res)
    ok = all(c["passed"] for c in checks)
    store.write_csv("runs.csv", res.runs)
    store.write_csv("points.csv", [{k: v for k, v in p.items() if not isinstance(v, list)} for p in res.points])
    store.write_csv("boundary.csv", [{k: v for k, v in b.items() if k != "bracket"} for b in res.boundary])
    store.write_csv("condensation.csv", res.condensation,
                    fields=None if res.condensation else ("gamma_energy", "gamma_dynamic", "width"))
    results = dict(config=res.config, points=res.points, boundary=res.boundary, condensation=res.condensation,
                   checks=checks, consistent=ok, seconds=res.seconds, paper_fig3=_PAPER_FIG3)
    store.write_json("results.json", results)
    _plots(res, store)
    store.write_text("report.md", _report(res, checks, ok))
    return ok


# Paper Fig. 3 (gamma_dynamic = 0, widths 1e3..4e4, one seed): slopes read from the legend.
_PAPER_FIG3 = {0.5: -0.506, 1.0: 0.007, 1.75: 0.372}


def _plots(res: InitDiagramResult, store: RunStore) -> None:
    plt = pyplot()
    any_converged = any(r.get("converged") for r in res.runs)
    for name, fn in (("heatmap.png", plot_init_heatmap), ("slopes.png", plot_slope_rows),
                     ("rd_vs_width.png", plot_rd_vs_width), ("neff_trend.png", plot_neff_trend)):
        fig, ax = plt.subplots(figsize=(7, 5) if name == "heatmap.png" else (6.5, 4.3))
        if any_converged:
            fn(res, ax=ax)
        else:
            no_data(ax)
            ax.set_title(name.removesuffix(".png").replace("_", " "))
        fig.tight_layout()
        store.write_figure(name, fig, dpi=110)
        plt.close(fig)
    if res.neurons:
        axes = plot_condensation_scatter(res)
        fig = axes[0].figure
        fig.tight_layout()
        store.write_figure("condensation_scatter.png", fig, dpi=110)
        plt.close(fig)


def _report(res, checks, ok) -> str:
    cfg = res.config
    L = ["# l2phase init-diagram", ""]
    none = not any(r.get("converged") for r in res.runs)
    L += [f"Verdict: **{'CONSISTENT' if ok else 'NOT CONSISTENT'}** with the theory - "
          f"{sum(c['passed'] for c in checks)} of {len(checks)} checks passed"
          + (f" ({NO_CONVERGED_RUN}: no run reached R_S < {cfg['tol']:g} within {cfg['max_steps']} steps, so no "
             "slope, boundary or condensation could be measured; raise --max-steps or --tol)." if none else "."), ""]
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
        L.append(f"| {p['gamma_energy']:g} | {p['gamma_dynamic']:g} | {_slope_cell(p, '+.4f')} | {_f(p['slope_err'], '.4f')} | "
                 f"{_f(p['slope_rd_max'], '+.4f')} | {p['theory_regime']} | {p['distance_to_boundary']:.3g} | "
                 f"{p['heuristic_slope']:+.3f} | {rd} | {p['n_not_converged']} |")
    L += ["", "## Boundary: zero crossing of S_w per gamma_dynamic row (linear interpolation, delta-method error)", "",
          "| gamma_dynamic | theory gamma_energy | measured gamma_energy | +- | difference | sign changes |",
          "|---|---|---|---|---|---|"]
    for b in res.boundary:
        meas = _f(b["measured_gamma_energy"], ".4f") if not none else NO_CONVERGED_RUN
        L.append(f"| {b['gamma_dynamic']:g} | {b['theory_gamma_energy']:g} | {meas} | "
                 f"{_f(b['error'], '.4f')} | {_f(b['difference'], '+.4f')} | {b['n_crossings']} |")
    zero = [p for p in res.points if abs(p["gamma_dynamic"]) < 1e-9]
    if zero and cfg["data"] == "quadratic4":
        L += ["", "## Against the paper's Fig. 3 (gamma_dynamic = 0; one seed, widths 1e3..4e4)", "",
              "| gamma_energy | paper S_w | measured S_w |", "|---|---|---|"]
        for g, s in _PAPER_FIG3.items():
            mp = [p for p in zero if abs(p["gamma_energy"] - g) < 1e-9]
            L.append(f"| {g:g} | {s:+.3f} | {_slope_cell(mp[0], '+.4f') + ' +- ' + _f(mp[0]['slope_err'], '.4f') if mp else 'not on grid'} |")
    if not res.condensation:
        L += ["", "## Condensation", "", f"{NO_CONVERGED_RUN}: no condensation metrics."]
    else:
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
    L += checks_markdown(checks)
    L += ["", "Figures: heatmap.png, slopes.png, rd_vs_width.png, neff_trend.png, condensation_scatter.png.", ""]
    return "\n".join(L)
