"""``l2phase validate``: train real networks across gamma and test the theory's predictions.

Runs :func:`empirical.experiments.validation.run_validation` (defaults: synthetic whitened data with
two output modes, D = 1 and D = 2 deep linear nets) and writes to ``--out``:

* ``report.md``   - table: transition, predicted gamma_c and order, detected gamma and
  kind, agreement; every check with its tolerance; the verdict,
* ``results.json`` - every number of the report,
* ``sweep_D{D}.csv`` / ``hysteresis_D{D}.csv`` - per-gamma tables,
* ``free_energy.png``, ``param_norm.png``, ``ricci_loss.png``, ``ricci_error.png``,
  ``hysteresis.png`` - curves with the theory overlaid and change points marked,
* ``points/`` - one file per finished gamma point (what ``--resume`` reuses), and the run
  marker ``.l2phase-run.json`` (fingerprint: configuration, device, dtype, version; a
  resume with another one is refused).  A non-empty directory l2phase did not make is
  refused; only the run's own files are replaced (:class:`l2phase.empirical.RunStore`).

Exit status 0 when every prediction is confirmed, 1 otherwise (2 for invalid input).
"""

from __future__ import annotations

import numpy as np

from ._options import add_scheduler_argument, check_device, make_executor, parse_seed, prepare_out_dir, progress_bar
from l2phase.theory.checks import InputError
from l2phase.theory.formatting import format_number

DEFAULT_OUT = "l2phase-report"

# The files the command promises (tests check each one).
OUTPUT_FILES = (
    "report.md",
    "results.json",
    "free_energy.png",
    "param_norm.png",
    "ricci_loss.png",
    "ricci_error.png",
)


def register(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="train nets across gamma, measure curvature, find change points, compare with the exact theory",
        description=(
            "Train deep linear nets (D=1 and D=2) across the L2 strength gamma on synthetic data with two "
            "output modes, measure loss, weight norm and the Ricci curvature of the loss and error "
            "landscapes, detect change points, run a hysteresis loop (D=2), and compare location and "
            "order of every transition with the exact theory. Exit 0 iff every prediction is confirmed."
        ),
    )
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT}/)")
    p.add_argument("--resume", action="store_true", help="reuse finished gamma points in --out")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument("--quick", action="store_true", help="smaller run (coarser grids), about 30 s")
    p.add_argument("--seed", default="0", help="seed of the data and every initialisation")
    p.add_argument("--depths", default=None, help="comma-separated depths D >= 1 (default 1,2)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scheduler_argument(p)
    p.set_defaults(func=run)


# deep linear nets of D + 1 layers; the same bound as ValidationConfig's (kept here so that
# parsing the flags does not import torch)
MAX_VALIDATION_DEPTH = 32


def _parse_depths(text):
    if text is None:
        return (1, 2)
    try:
        ds = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"--depths must be comma-separated integers, got {text!r}") from None
    if not ds or any(not 1 <= d <= MAX_VALIDATION_DEPTH for d in ds):
        raise InputError(f"--depths must be integers in [1, {MAX_VALIDATION_DEPTH}], got {text!r}")
    return ds


def run(args) -> int:
    from l2phase.empirical import RunStore, run_fingerprint
    from l2phase.empirical.experiments.validation import ValidationConfig, run_validation

    depths = _parse_depths(args.depths)
    seed = parse_seed(args.seed)
    device = check_device(args.device)
    kw = dict(depths=depths, seed=seed, device=None if device == "cpu" else device)
    cfg = ValidationConfig.quick_config(**kw) if args.quick else ValidationConfig(**kw)
    out = prepare_out_dir(args.out)
    fingerprint = run_fingerprint("validate", cfg.to_dict(), device=device, dtype="float64")
    with RunStore.open(out, fingerprint=fingerprint, resume=args.resume, command="validate") as store, \
            make_executor(args.scheduler, "validate") as executor, \
            progress_bar(not args.no_progress, "l2phase validate") as bar:
        results, tables = run_validation(
            cfg, store,
            progress=(bar.update if bar is not None else None),
            log=(lambda s: bar.set_postfix_str(s, refresh=True)) if bar is not None else None,
            executor=executor,
        )
        write_outputs(results, tables, store)
    verdict = "CONFIRMED" if results["confirmed"] else "NOT CONFIRMED"
    ctrls = results.get("controls", [])
    print(f"l2phase validate: {verdict} ({sum(c['passed'] for c in results['checks'])}/{len(results['checks'])} "
          f"checks passed, {sum(c['rejected'] for c in ctrls)}/{len(ctrls)} negative controls rejected); "
          f"report: {out / 'report.md'}")
    return 0 if results["confirmed"] else 1


# ------------------------------------------------------------------------------ outputs
def _fmt(x, digits=6):
    return format_number(x, f".{digits}g")


def write_outputs(results: dict, tables: dict, store) -> None:
    """Write the CSV tables, results.json, the plots and report.md through the run's store."""
    for key, tab in tables.items():
        if key.startswith("sweep_"):
            store.write_csv(f"{key}.csv", tab.records)
        elif key.startswith("hysteresis_"):
            rows = []
            for u, d in zip(tab.up, tab.down):
                row = dict(gamma=u["gamma"])
                row.update({f"up_{k}": v for k, v in u.items() if k != "gamma"})
                row.update({f"down_{k}": v for k, v in d.items() if k != "gamma"})
                rows.append(row)
            store.write_csv(f"{key}.csv", rows)
    store.write_json("results.json", results)
    _plots(results, tables, store)
    store.write_text("report.md", _report(results))


def _status(s: str) -> str:
    return {"pass": "pass", "fail": "**FAIL**", "not testable": "not testable"}.get(s, s)


def _report(res: dict) -> str:
    cfg = res["config"]
    lines = ["# l2phase validate", ""]
    verdict = "**CONFIRMED**" if res["confirmed"] else "**NOT CONFIRMED**"
    ctrls = res.get("controls", [])
    lines += [f"Verdict: {verdict} - {sum(c['passed'] for c in res['checks'])} of {len(res['checks'])} checks passed, "
              f"{sum(c['rejected'] for c in ctrls)} of {len(ctrls)} negative controls rejected.", "",
              "CONFIRMED means: every judged signal matches every testable prediction (location and kind) with no "
              "unpredicted change point, every other check passes, **and** the same rules reject every negative "
              f"control (each prediction shifted by +-{cfg['control_factor']:g} x the tolerance, each order swapped). "
              "It fails when a transition sits elsewhere or has the other kind, a change point is not located to the "
              "tolerance, an extra change point appears, the trained minima miss the exact curves, or a control is "
              "accepted (the data cannot tell the prediction from a wrong one).", ""]
    d = res["data"]
    lines += [
        "Data: synthetic Gaussian inputs, exactly whitened sample (A = I), linear teacher with singular values "
        f"{cfg['singular_values']}, label noise {cfg['noise']}, N = {cfg['n_samples']}, d = {cfg['in_dim']}; "
        f"singular values of beta = E[x y^T] on the training set: {[round(s, 6) for s in d['beta_singular_values']]}, "
        f"E||y||^2 = {d['Ey2']:.6g}.",
        "Loss: L = E||f(x) - y||^2 + gamma sum_l ||W_l||_F^2 (no 1/2; D = hidden layers). "
        "Global minimum per gamma from several initialisations (small, large, spectral), float64, "
        f"gradient-norm convergence <= {cfg['train']['gtol']:g}; points that did not converge are excluded from "
        "every fit and listed under Diagnostics.",
        "",
        f"Tolerances: change points refined to {cfg['refine_rtol']:g} relative; a predicted gamma_c is matched when it "
        f"lies in the change point's own interval widened by {cfg['match_rtol']:g} x gamma_c and the change point is "
        f"located to {cfg['match_rtol']:g} x gamma; detector resolution {cfg['resolution']:g} of each curve's range. "
        "Expected kind: a transition of order n makes the n-th derivative of L* jump, so a signal that behaves like "
        "the m-th derivative of L* (L*: m = 0; ||theta||^2 = dL*/dgamma and the Ricci scalars at the minimiser: "
        "m = 1) must show a jump when n - m = 0 and a kink when n - m = 1; n - m >= 2 is not testable here (the "
        "detector separates level jumps from continuous changes only).",
        "",
        "## Transitions (curvature of the loss landscape R_L)",
        "",
        "| D | mode | predicted gamma_c | order | expected kind | detected gamma [interval] | kind | rel. error | agreement |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for D, dres in res["depths"].items():
        for m in dres["signals"]["R_L"]["matches"]:
            p, det = m["predicted"], m["detected"]
            dt = "none" if det is None else f"{_fmt(det['gamma'])} [{_fmt(det['low'])}, {_fmt(det['high'])}]"
            lines.append(
                f"| {D} | {p['mode']} | {_fmt(p['gamma_c'])} | {p['order']} | {p['kind']} | {dt} | "
                f"{'-' if det is None else det['kind']} | {_fmt(m['relative_error'], 3)} | "
                f"{'yes' if m['confirmed'] else 'NO'} |"
            )
    lines += ["", "## Verdict per signal", "",
              "| D | signal | expected kind per transition | detected change points (gamma, kind) | verdict | reason |",
              "|---|---|---|---|---|---|"]
    for D, dres in res["depths"].items():
        sigs = list(dres["signals"].values())
        if dres.get("hysteresis"):
            sigs.append(dres["hysteresis"]["verdict"])
        for s in sigs:
            exp = ", ".join(f"{_fmt(m['predicted']['gamma_c'])}: {m['expected_kind'] or 'not testable'}"
                            for m in s["matches"])
            cps = ", ".join(f"{_fmt(c['gamma'], 5)} {c['kind']}" for c in s["change_points"]) or "none"
            lines.append(f"| {D} | {s['label']} | {exp} | {cps} | {_status(s['status'])} | {s['reason']} |")
    lines += ["", "## Negative controls (each must be rejected)", "",
              "The same detected change points judged against wrong predictions. A control is rejected when a signal "
              "fails under it (or none passes).", "",
              "| D | on | control | signals that fail under it | rejected |", "|---|---|---|---|---|"]
    for c in ctrls:
        fails = ", ".join(k for k, v in c["by_signal"].items() if v == "fail") or "none"
        lines.append(f"| {c['depth']} | {c['on']} | {c['description']} | {fails} | {'yes' if c['rejected'] else '**NO**'} |")
    for D, dres in res["depths"].items():
        h = dres.get("hysteresis")
        if not h:
            continue
        lines += ["", f"## Hysteresis (D = {D})", "",
                  "| mode | gamma_c (theory) | gamma_s (theory) | measured window [detected gamma_c, up-sweep drop] | spinodal ok |",
                  "|---|---|---|---|---|"]
        for w in h["windows"]:
            mw = w["measured_window"]
            lines.append(f"| {w['mode']} | {_fmt(w['gamma_c'])} | {_fmt(w['spinodal'])} | [{_fmt(mw[0])}, {_fmt(mw[1])}] | "
                         f"{'yes' if w['spinodal_ok'] else 'NO'} |")
        lines += ["", f"Down-sweep from the origin stays trivial: {'yes' if h['down_stays_trivial'] else 'NO'}. "
                  f"Up/down branch losses cross at gamma = {_fmt(h['branch_crossing'])} "
                  f"(top mode gamma_c = {_fmt(h['top_mode_gamma_c'])})."]
    lines += ["", "## Which starts reached the kept minimum", "",
              "Per gamma, the start kinds whose final loss equals the lowest one (small and large: random; spectral-r: "
              "the top r modes of E[x y^T] of the same training set, theory-informed).", "",
              "| D | points | reached by each start kind | points reached only by spectral starts |", "|---|---|---|---|"]
    for D, dres in res["depths"].items():
        st = dres["starts"]
        only = st["only_theory_informed"]
        lines.append(f"| {D} | {st['n_points']} | {', '.join(f'{k}: {v}' for k, v in st['count'].items())} | "
                     f"{len(only)}{(' (gamma ' + ', '.join(_fmt(g, 4) for g in only[:12]) + (' ...' if len(only) > 12 else '') + ')') if only else ''} |")
    if any("ablation" in dres for dres in res["depths"].values()):
        lines += ["", "## Ablation: random starts only (information, not part of the verdict)", "",
                  f"The sweep rerun with the small and large random starts only, on {cfg['ablation_n_gamma']} gammas "
                  "refined like the main sweep; judged on R_L and ||theta||^2 without controls. 'missed' = usable "
                  "points whose loss is above the exact L* (the global minimum was not found).", "",
                  "| D | mode | gamma_c | order | still confirmed | points | missed the global minimum |",
                  "|---|---|---|---|---|---|---|"]
        for D, dres in res["depths"].items():
            ab = dres.get("ablation")
            if not ab:
                continue
            miss = ab["missed_global_minimum"]
            ms = "no exact curve" if miss is None else f"{len(miss)} of {ab['n_usable']}"
            for t in ab["transitions"]:
                lines.append(f"| {D} | {t['mode']} | {_fmt(t['gamma_c'])} | {t['order']} | "
                             f"{'yes' if t['confirmed'] else 'no'} | {ab['n_points']} | {ms} |")
    lines += ["", "## Checks", ""]
    for c in res["checks"]:
        lines.append(f"- [{'x' if c['passed'] else ' '}] {c['name']}" + (f" ({c['detail']})" if c.get("detail") else ""))
    lines += ["", "## Diagnostics", ""]
    for D, dres in res["depths"].items():
        ta = dres.get("theory_agreement") or {}
        nc = dres["not_converged_gammas"]
        lines.append(f"- D={D}: {dres['n_points']} gamma points, {dres['n_usable']} usable, {dres['n_diverged']} diverged, "
                     f"{dres['n_not_converged']} not converged{(' (excluded: gamma ' + ', '.join(_fmt(g, 5) for g in nc) + ')') if nc else ''}; "
                     f"max |L - L*| = {_fmt(ta.get('max_abs_loss_error'), 3)}, "
                     f"max | ||theta||^2 - theory | = {_fmt(ta.get('max_abs_norm_error'), 3)}; refinement rounds: "
                     f"{len(dres['refinement']['rounds'])}, located to rtol: {dres['refinement']['located_to_rtol']}.")
        zs = [r["z"] for r in dres["matrix_free_check"]]
        if zs:
            lines.append(f"  Matrix-free vs exact curvature: max |z| = {max(zs):.2f} over {len(zs)} values.")
    lines += ["", f"Elapsed: {res['elapsed_s']:.1f} s. Plots: free_energy.png, param_norm.png, ricci_loss.png, "
              "ricci_error.png, hysteresis.png.", ""]
    return "\n".join(lines)


def _plots(res: dict, tables: dict, store) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from l2phase.empirical.experiments.validation import theory_curves

    data = tables["data"]
    depths = list(res["depths"].keys())
    specs = [("free_energy.png", "loss", "L*(gamma)"), ("param_norm.png", "param_norm_sq", "||theta||^2"),
             ("ricci_loss.png", "R_L", "R_L (loss landscape)"), ("ricci_error.png", "R_E", "R_E (error landscape)")]
    for fname, col, ylabel in specs:
        fig, axes = plt.subplots(1, len(depths), figsize=(5.2 * len(depths), 4), squeeze=False)
        for ax, D in zip(axes[0], depths):
            sw = tables[f"sweep_D{D}"]
            ok = sw.ok()
            ax.plot(sw.gamma[ok], sw.column(col)[ok], "o", ms=3, label="trained nets")
            if col in ("loss", "param_norm_sq"):
                gg = np.linspace(sw.gamma.min(), sw.gamma.max(), 600)
                tc = theory_curves(data, int(D), gg)
                if tc is not None:
                    ax.plot(gg, tc[col], "-", lw=1, color="k", label="exact theory")
            dres = res["depths"][D]
            for i, p in enumerate(dres["predicted"]):
                ax.axvline(p["gamma_c"], color="C3", ls="--", lw=1, label="predicted gamma_c" if i == 0 else None)
            for i, c in enumerate(dres["signals"][col]["change_points"]):
                ax.axvspan(c["low"], c["high"], color="C2", alpha=0.3)
                ax.axvline(c["gamma"], color="C2", lw=1, label="detected change point" if i == 0 else None)
            ax.set_title(f"D = {D}")
            ax.set_xlabel("gamma")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize=7)
        fig.tight_layout()
        store.write_figure(fname, fig, dpi=110)
        plt.close(fig)
    hkeys = [k for k in tables if k.startswith("hysteresis_")]
    if hkeys:
        fig, axes = plt.subplots(1, len(hkeys), figsize=(5.2 * len(hkeys), 4), squeeze=False)
        for ax, key in zip(axes[0], hkeys):
            h = tables[key]
            D = key.split("D")[-1]
            ax.plot(h.gamma, h.column("up", "param_norm_sq"), "o-", ms=3, label="sweep up (warm, from large init)")
            ax.plot(h.gamma, h.column("down", "param_norm_sq"), "s-", ms=3, label="sweep down (warm, from origin)")
            gg = np.linspace(h.gamma.min(), h.gamma.max(), 600)
            tc = theory_curves(data, int(D), gg)
            if tc is not None:
                ax.plot(gg, tc["param_norm_sq"], "k-", lw=1, label="global minimum (theory)")
            for p in res["depths"][D]["predicted"]:
                ax.axvspan(p["gamma_c"], p["spinodal"], color="C3", alpha=0.15)
            ax.set_title(f"hysteresis, D = {D} (shaded: [gamma_c, gamma_s])")
            ax.set_xlabel("gamma")
            ax.set_ylabel("||theta||^2")
            ax.legend(fontsize=7)
        fig.tight_layout()
        store.write_figure("hysteresis.png", fig, dpi=110)
        plt.close(fig)
