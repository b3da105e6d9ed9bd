r"""Report of an ``l2phase sweep`` experiment: report.md, results.json, sweep.csv and the plots.

Functions of the plain data that :func:`l2phase.sweep_runner.run_experiment` returns
(``results``, JSON-ready, and ``tables``, the sweep result); nothing is computed only in a
plot.  Classifier (accuracy regimes across the L2 strength gamma): ``accuracy.png``,
``per_class.png``, ``curvature.png``, ``order_parameter.png``; VAE (posterior collapse
across the KL weight beta): ``kl.png``, ``elbo.png``, ``curvature.png``.  Every file is
written through the run's :class:`empirical.RunStore`.
"""

from __future__ import annotations

import math

import numpy as np

from ..reporting import checks_markdown, format_number, mark_change_points, pyplot, symlog_or_log
from ..store import RunStore

__all__ = ["SWEEP_OUTPUT_FILES", "write_sweep_report"]

#: The files each experiment's report consists of.
SWEEP_OUTPUT_FILES = {
    "classifier": ("report.md", "results.json", "sweep.csv", "accuracy.png", "per_class.png", "curvature.png",
                   "order_parameter.png"),
    "vae": ("report.md", "results.json", "sweep.csv", "kl.png", "elbo.png", "curvature.png"),
}


def _f(x, digits=4):
    return format_number(x, f".{digits}g")


def _where(det: dict | None, digits: int = 4) -> str:
    """A detected change point as "gamma [low, high]" ("none" when there is none)."""
    return "none" if det is None else f"{_f(det['gamma'], digits)} [{_f(det['low'], digits)}, {_f(det['high'], digits)}]"


def write_sweep_report(results: dict, tables: dict, store: RunStore) -> None:
    """Write report.md, results.json, sweep.csv and the plots of one experiment into ``store``."""
    exp = results["config"]["experiment"]
    rows = results["analysis"]["table"] if exp == "classifier" else tables["sweep"].records
    store.write_csv("sweep.csv", rows)
    store.write_json("results.json", results)
    if exp == "classifier":
        _classifier_plots(results, tables, store)
        store.write_text("report.md", _classifier_report(results))
    else:
        _vae_plots(results, tables, store)
        store.write_text("report.md", _vae_report(results))


def _header(res: dict, title: str) -> list[str]:
    cfg = res["config"]
    n_pass = sum(c["passed"] for c in res["checks"])
    lines = [f"# l2phase sweep: {cfg['name']}", "", cfg.get("description") or title, "",
             f"Verdict: **{'PASSED' if res['passed'] else 'FAILED'}** - {n_pass} of {len(res['checks'])} checks passed, "
             + ("negative controls not run (no usable point)." if res.get("no_usable_point") else
                f"{sum(c['rejected'] for c in res.get('controls', []))} of {len(res.get('controls', []))} negative "
                "controls rejected."),
             ""]
    if res.get("no_usable_point"):
        lines += [f"**No usable point**: {res['no_usable_point']}. Nothing below is a measurement: every "
                  "value in the tables and plots comes from a diverged or unconverged run.", ""]
    return lines


def _checks(res: dict) -> list[str]:
    """Checks, then the negative controls (each must be rejected), then what is only reported."""
    lines = checks_markdown(res["checks"])
    ctrls = res.get("controls", [])
    if ctrls:
        lines += ["", "## Negative controls (each must be rejected)", "",
                  "The same detected change points judged against wrong predictions (shifted by +-3 x the tolerance, "
                  "or with the other order).", "", "| signal | control | rejected |", "|---|---|---|"]
        for c in ctrls:
            lines.append(f"| {c.get('signal', ', '.join(c['by_signal']))} | {c['description']} | "
                         f"{'yes' if c['rejected'] else '**NO**'} |")
    if res.get("reported"):
        lines += ["", "## Reported, not judged", ""]
        for r in res["reported"]:
            lines.append(f"- {r['name']}: {r['detail']} ({r['why']})")
    return lines


def _cp_list(cps) -> str:
    return ", ".join(f"{_f(c['gamma'])} {c['kind']} [{_f(c['low'])}, {_f(c['high'])}]" for c in cps) or "none"


def _classifier_report(res: dict) -> str:
    cfg, an, d, m = res["config"], res["analysis"], res["data"], res["model"]
    L = _header(res, "Accuracy regimes of a classifier across the L2 strength gamma.")
    L += [
        f"Data: {d['name']} ({d['n_train']} training / {d['n_test']} test samples, {d['in_dim']} inputs after PCA"
        f"{' and whitening' if cfg['data']['whiten'] else ''}, {d['n_classes']} classes; preprocessing fitted on the "
        "training set).",
        f"Model: {m['activation']} MLP, D = {m['depth']} hidden layer(s) of width {m['width']}, bias {m['bias']}, "
        f"error {m['objective']}, P = {res['n_params']}; L = E + gamma sum_l ||W_l||_F^2 (no 1/2, biases not penalised; "
        "torch weight_decay lam is gamma = lam/2, divided further by the number of outputs for MSELoss(mean)).",
        f"Sweep: {res['n_points']} gammas ({cfg['sweep']['spacing']} spacing, {cfg['sweep']['min']:g}..{cfg['sweep']['max']:g}), "
        f"best of {len(cfg['sweep']['inits'])} random starts per gamma, {cfg['train']['optimizer']} to ||grad L|| <= "
        f"{cfg['train']['gtol']:g} ({res['n_converged']} of {res['n_points']} reached it; the rest stopped at "
        f"{cfg['train']['max_steps']} steps and are reported as not converged), curvature {cfg['curvature']['method']}.",
        "Accuracy of a net whose outputs tie (a collapsed net) is that of the majority-class predictor (chance).",
        "",
        "## Change points (log-gamma axis)", "",
        "| curve | change points: gamma, kind [interval] |", "|---|---|",
    ]
    for name, s in an["signals"].items():
        L.append(f"| {s['label']} | {_cp_list(s['change_points'])} |")
    L += ["", "## Accuracy change points vs the nearest curvature change point", "",
          "| accuracy curve | gamma | kind | curvature | gamma | kind | distance | log-distance | uncertainty | aligned |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for a in an["alignment"]:
        L.append(f"| {a['accuracy_signal']} | {_f(a['accuracy_gamma'])} | {a.get('accuracy_kind', '-')} | "
                 f"{a['curvature_signal']} | {_f(a['curvature_gamma'])} | {a.get('curvature_kind', '-')} | "
                 f"{_f(a['distance'])} | {_f(a['log_distance'], 3)} | {_f(a['uncertainty'])} | "
                 f"{'yes' if a['aligned'] else 'no'} |")
    L += ["", "## Which classes drop out where", "",
          "A class has dropped out once its training accuracy stays below "
          f"{cfg['analysis']['dropout_level']:g}; '-' = never (the class the collapsed net predicts).", "",
          "| class | last gamma learned | dropped at gamma |", "|---|---|---|"]
    for c in an["class_dropout"]:
        L.append(f"| {c['cls']} | {_f(c['gamma_last_learned'])} | {_f(c['gamma_dropped'])} |")
    for cp in an["signals"]["train_accuracy"]["change_points"]:
        L.append(f"\nTraining-accuracy change point at gamma = {_f(cp['gamma'])} ({cp['kind']}): classes dropping "
                 f"in its interval: {cp.get('classes_dropping') or 'none'}.")
    oc = an["order_character"]
    L += ["", "## Order-like character", "",
          f"Change points of the order parameter ||theta||^2: {', '.join(oc['param_norm_sq']) or 'none'}; of L*: "
          f"{', '.join(oc['loss']) or 'none'} (a jump of ||theta||^2 = dL*/dgamma is first-order-like, a kink "
          "second-order-like; deep linear nets: D = 1 second order, D >= 2 first order)."]
    lt = an["linear_theory"]
    if lt and "error" not in lt:
        L += ["", f"## The deep-linear prediction (D = {lt['depth']}) from the training set's A, beta, E||y||^2", "",
              f"Predicted transitions gamma_c (one per mode of beta = E[x y^T]): "
              f"{', '.join(_f(p['gamma_c']) for p in lt['predictions']) or 'none'}; the largest is "
              f"{_f(lt['largest_gamma_c'])}. Detected collapse of ||theta||^2 at {_f(lt['detected_collapse'])}: "
              f"ratio detected / predicted = {_f(lt['collapse_ratio'], 3)}. Method: "
              f"{', '.join(sorted({str(p.get('method')) for p in lt['predictions']})) or '-'}."
              + ("" if m["objective"] == "mse" else " (The prediction is for the MSE loss; with cross-entropy it "
                 "is only a reference scale.)"), "",
              "| curve | detected gamma | kind | nearest predicted gamma_c (mode) | relative distance | inside interval |",
              "|---|---|---|---|---|---|"]
        for c in lt["comparisons"]:
            L.append(f"| {c['signal']} | {_f(c['gamma'])} | {c['kind']} | {_f(c['nearest_gamma_c'])} ({c['nearest_mode']}) | "
                     f"{_f(c['relative_distance'], 3)} | {'yes' if c['within_interval'] else 'no'} |")
    elif lt:
        L += ["", f"Deep-linear prediction not available: {lt['error']}"]
    L += ["", "## Accuracy at chance above the last transition", "",
          (f"||theta||^2 has vanished (below 1e-6 of its largest value) from gamma = {_f(an['collapsed_from'])}; "
           "the check uses the points above both that gamma and the last change point of ||theta||^2."
           if an["collapsed_from"] is not None else
           "||theta||^2 does not vanish on the usable points of the grid (or there is none): nothing to check."), ""]
    for r in an["chance"]:
        L.append(f"- {r['signal']}: chance {r['chance']:.4f}, {r['n_points']} points above, max |acc - chance| = "
                 f"{_f(r['max_abs_deviation'])}")
    L += _checks(res)
    L += ["", f"Elapsed: {res['elapsed_s']:.1f} s on {res['device']}. Plots: accuracy.png, per_class.png, curvature.png, "
          "order_parameter.png.", ""]
    return "\n".join(L)


def _thresholds(an: dict) -> list[float]:
    """Measured collapse threshold per mode: the collapse kink, else the first inactive beta."""
    return [mo["detected"]["gamma"] if mo["detected"] else mo["inactive_from"] for mo in an["modes"]
            if mo["detected"] or mo["inactive_from"]]


def _vae_report(res: dict) -> str:
    cfg, an, d, m = res["config"], res["analysis"], res["data"], res["model"]
    L = _header(res, "Posterior collapse of a VAE across the KL weight beta.")
    kind = "linear VAE (exact expectation)" if m["hidden"] == 0 else \
        f"MLP VAE ({m['activation']}, hidden width {m['hidden']}, {m['n_noise']} fixed noise draws per sample)"
    L += [
        f"Data: {d['name']} ({d['n_train']} samples, {d['in_dim']} dimensions; autoencoder y = x).",
        f"Model: {kind}, latent dimension {m['latent_dim']}, decoder noise eta_dec = {m['eta_dec']:g}, learnable "
        f"encoder variance, P = {res['n_params']}. Loss L_beta = E||y - g(z)||^2 / (2 eta_dec^2) + beta KL(q || N(0, I)) "
        "(the negative ELBO without its constant).",
        f"Sweep: {res['n_points']} betas ({cfg['sweep']['min']:g}..{cfg['sweep']['max']:g}, {cfg['sweep']['spacing']}), "
        f"best of {len(cfg['sweep']['inits'])} starts, {cfg['train']['optimizer']}"
        f"{' + Newton polish' if cfg['train']['polish'] == 'newton' else ''} to ||grad|| <= {cfg['train']['gtol']:g} "
        f"({res['n_converged']} of {res['n_points']} reached it); a latent dimension is active when its KL exceeds "
        f"{cfg['analysis']['active_threshold']:g} nats.",
        "",
        "## Collapse thresholds (change points of the sorted KL_i against log beta)", "",
    ]
    if m["hidden"] == 0:
        L += ["Theory (linear VAE, Wang & Ziyin 2022): mode i collapses at beta_i = zeta_i^2 / eta_dec^2, zeta_i the "
              "singular values of E[y x~^T] (x~ whitened inputs), continuously (KL_i = 1/2 log(beta_i/beta): a kink, "
              f"second order). Matched when beta_i lies in the detection interval widened by {cfg['analysis']['rtol']:g} "
              "beta_i.", "",
              "| mode | zeta | predicted beta_c | detected beta [interval] | kind | rel. error | agreement |",
              "|---|---|---|---|---|---|---|"]
        for mo in an["modes"]:
            det = mo["detected"]
            rel = mo["match"]["relative_error"] if mo.get("match") else None
            where = _where(det, 6)
            L.append(f"| {mo['mode']} | {_f(mo.get('zeta'), 6)} | {_f(mo.get('predicted_beta_c'), 6)} | {where} | "
                     f"{'-' if det is None else det['kind']} | {_f(rel, 3)} | {'yes' if mo.get('confirmed') else 'NO'} |")
    else:
        L += ["No exact theory for the MLP VAE: measured thresholds only. 'inactive from' is the first grid beta from "
              f"which KL_i stays below {cfg['analysis']['active_threshold']:g} nats (bracket: the grid point before); "
              "'collapse kink' the change point of KL_i (log-beta axis) where that happens.", "",
              "| mode | inactive from beta [bracket] | collapse kink [interval] | all change points of KL_i |",
              "|---|---|---|---|"]
        for mo in an["modes"]:
            det = mo["detected"]
            where = _where(det)
            br = mo["inactive_bracket"]
            ina = "never" if mo["inactive_from"] is None else (
                _f(mo["inactive_from"]) + (f" [{_f(br[0])}, {_f(br[1])}]" if br else " (from the first point)"))
            L.append(f"| {mo['mode']} | {ina} | {where} | {_cp_list(mo['change_points'])} |")
    L += ["", "## Curvature change points beside the thresholds", "",
          "| curve | change points: beta, kind [interval] |", "|---|---|"]
    labels = {"R_L": "Ricci scalar of the loss landscape R_L", "R_E": "Ricci scalar of the reconstruction landscape R_E"}
    for sig, cps in an["curvature"].items():
        L.append(f"| {labels.get(sig, sig)} | {_cp_list(cps)} |")
    thr = _thresholds(an)
    if thr:
        near = []
        for sig, cps in an["curvature"].items():
            for t in thr:
                if cps:
                    c = min(cps, key=lambda c: abs(math.log(c["gamma"] / t)))
                    near.append(f"{sig}: threshold {_f(t)} <-> {_f(c['gamma'])} (log-distance {abs(math.log(c['gamma'] / t)):.3f})")
        if near:
            L += ["", "Nearest curvature change point to each detected threshold: " + "; ".join(near) + "."]
    changes = []
    prev = None
    for b, n in an["n_active"]:
        n = "none (diverged)" if n is None else n
        if n != prev:
            changes.append(f"{n} from beta = {_f(b)}")
            prev = n
    L += ["", "Active latent dimensions: " + ", ".join(changes) + "."]
    L += _checks(res)
    L += ["", f"Elapsed: {res['elapsed_s']:.1f} s on {res['device']}. Plots: kl.png, elbo.png, curvature.png.", ""]
    return "\n".join(L)


def _classifier_plots(res: dict, tables: dict, store: RunStore) -> None:
    plt = pyplot()
    an = res["analysis"]
    tab = an["table"]
    g_all = np.array([r["gamma"] for r in tab])
    # a diverged run is not a measurement: left out of the curves, its gamma marked in grey
    diverged = np.array([bool(r.get("diverged", False)) for r in tab], dtype=bool)
    tab = [r for r, d in zip(tab, diverged) if not d]
    g = g_all[~diverged]
    lt = an["linear_theory"] if an["linear_theory"] and "error" not in an["linear_theory"] else None

    def theory_lines(ax):
        if lt:
            for i, p in enumerate(lt["predictions"]):
                ax.axvline(p["gamma_c"], color="C3", ls=":", lw=0.8, label="deep-linear gamma_c" if i == 0 else None)
        for i, x in enumerate(g_all[diverged]):
            ax.axvline(x, color="0.75", lw=0.8, label="diverged run (left out)" if i == 0 else None)

    def finish(ax, xlabel, ylabel):
        theory_lines(ax)
        ax.set_xlim(g_all.min() / 1.15, g_all.max() * 1.15)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)

    fig, ax = plt.subplots(figsize=(7, 4.3))
    ax.semilogx(g, [r["train_accuracy"] for r in tab], "o-", ms=3, label="training accuracy")
    ax.semilogx(g, [r["test_accuracy"] for r in tab], "s-", ms=3, label="test accuracy")
    for r in an["chance"][:1]:
        ax.axhline(r["chance"], color="grey", ls="--", lw=1, label="chance (majority class)")
    mark_change_points(ax, an["signals"]["train_accuracy"]["change_points"], label="accuracy change point")
    finish(ax, "gamma (L2 strength)", "accuracy")
    fig.tight_layout()
    store.write_figure("accuracy.png", fig, dpi=110)
    plt.close(fig)

    C = res["data"]["n_classes"]
    M = np.full((C, len(g_all)), np.nan)  # diverged columns stay blank
    M[:, ~diverged] = [[r[f"train_acc_class_{c}"] for r in tab] for c in range(C)]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    im = ax.pcolormesh(np.arange(len(g_all) + 1), np.arange(C + 1), np.ma.masked_invalid(M), vmin=0, vmax=1,
                       cmap="viridis")
    step = max(1, len(g_all) // 8)
    ax.set_xticks(np.arange(0, len(g_all), step) + 0.5)
    ax.set_xticklabels([f"{x:.3g}" for x in g_all[::step]], fontsize=7)
    ax.set_yticks(np.arange(C) + 0.5)
    ax.set_yticklabels([str(c) for c in range(C)])
    ax.set_xlabel("gamma")
    ax.set_ylabel("class")
    ax.set_title("training accuracy per class")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    store.write_figure("per_class.png", fig, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "R_E", "R_E (error landscape)"), (axes[1], "R_L", "R_L (loss landscape)")):
        y = np.array([r[key] for r in tab], dtype=float)
        se = np.array([r[f"{key}_se"] for r in tab], dtype=float)
        ax.errorbar(g, y, yerr=np.where(np.isfinite(se), se, 0), fmt="o", ms=3, label="trained nets")
        ax.set_xscale("log")
        symlog_or_log(ax, y)
        mark_change_points(ax, an["signals"][key]["change_points"], label="curvature change point")
        mark_change_points(ax, an["signals"]["train_accuracy"]["change_points"], color="C1", label="accuracy change point")
        finish(ax, "gamma", label)
    fig.tight_layout()
    store.write_figure("curvature.png", fig, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((axes[0], "param_norm_sq", "||theta||^2 (order parameter)"), (axes[1], "loss", "L*(gamma)")):
        ax.semilogx(g, [r[key] for r in tab], "o-", ms=3)
        mark_change_points(ax, an["signals"][key]["change_points"])
        finish(ax, "gamma", label)
    fig.tight_layout()
    store.write_figure("order_parameter.png", fig, dpi=110)
    plt.close(fig)


def _vae_plots(res: dict, tables: dict, store: RunStore) -> None:
    plt = pyplot()
    an = res["analysis"]
    sw = tables["sweep"]
    b = sw.values
    k = res["model"]["latent_dim"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for j in range(k):
        ax.semilogx(b, sw.column(f"kl_{j + 1}"), "o-", ms=3, label=f"KL_{j + 1} (sorted)")
        mo = an["modes"][j]
        if "predicted_beta_c" in mo:
            bb = np.geomspace(b.min(), b.max(), 400)
            ax.semilogx(bb, np.maximum(0.0, 0.5 * np.log(mo["predicted_beta_c"] / bb)), "k-", lw=0.8,
                        label="theory 1/2 log(beta_i/beta)" if j == 0 else None)
            ax.axvline(mo["predicted_beta_c"], color="C3", ls=":", lw=0.8, label="predicted beta_i" if j == 0 else None)
        if mo["detected"]:
            ax.axvline(mo["detected"]["gamma"], color="C2", lw=1, label="detected collapse" if j == 0 else None)
    ax.set_xlabel("beta (KL weight)")
    ax.set_ylabel("KL per latent dimension (nats)")
    ax.legend(fontsize=7)
    axes[1].semilogx(b, sw.column("n_active"), "o-", ms=3)
    axes[1].set_xlabel("beta")
    axes[1].set_ylabel("active latent dimensions")
    fig.tight_layout()
    store.write_figure("kl.png", fig, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.3))
    for key, label in (("loss", "L_beta (negative ELBO - const)"), ("nll", "reconstruction term"),
                       ("kl", "KL term"), ("recon_mse", "reconstruction error E||y - g(z)||^2")):
        ax.semilogx(b, sw.column(key), "o-", ms=3, label=label)
    ax.set_xlabel("beta")
    ax.legend(fontsize=7)
    fig.tight_layout()
    store.write_figure("elbo.png", fig, dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    thr = _thresholds(an)
    for ax, key, label in ((axes[0], "R_L", "R_L (loss landscape)"), (axes[1], "R_E", "R_E (reconstruction landscape)")):
        ax.semilogx(b, sw.column(key), "o", ms=3, label="trained VAEs")
        symlog_or_log(ax, sw.column(key))
        mark_change_points(ax, an["curvature"].get(key, []), label="curvature change point")
        for i, t in enumerate(thr):
            ax.axvline(t, color="C1", ls="--", lw=1, label="collapse threshold" if i == 0 else None)
        ax.set_xlabel("beta")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    fig.tight_layout()
    store.write_figure("curvature.png", fig, dpi=110)
    plt.close(fig)
