"""Plots of the initialisation phase diagram (functions of the tables of :mod:`empirical.experiments.init_diagram`).

Axes: gamma_energy (the paper's gamma) horizontal, gamma_dynamic (gamma') vertical; colours
diverging (RdBu: red = S_w < 0 linear, blue = S_w > 0 condensed, white at zero), as the paper's
Fig. 4.  None of these computes anything that is not in the result tables.
"""

from __future__ import annotations

import numpy as np

from l2phase.theory.init_scaling import NAMED_INITS

from ..reporting import NO_CONVERGED_RUN, no_data, pyplot

__all__ = [
    "plot_condensation_scatter",
    "plot_init_heatmap",
    "plot_neff_trend",
    "plot_rd_vs_width",
    "plot_slope_rows",
    "plot_theory_diagram",
]


def _plt():
    return pyplot()


def _boundary_line(ax, g_lo, g_hi, gp_lo, gp_hi, **kw):
    kw = dict(color="k", lw=1.5, label="theory boundary") | kw
    top = max(gp_hi, 0.0)
    ax.plot([1, 1], [min(gp_lo, 0.0), 0], **kw)
    kw.pop("label", None)
    ax.plot([1, 1 + top], [0, top], **kw)


def _named_inits(ax, g_range, gp_range, annotate=True):
    seen = {}
    for name, ni in NAMED_INITS.items():
        c = ni.coordinates
        seen.setdefault((c.gamma_energy, c.gamma_dynamic), []).append(name)
    for (g, gp), names in seen.items():
        inside = g_range[0] - 0.3 <= g <= g_range[1] + 0.3 and gp_range[0] - 0.3 <= gp <= gp_range[1] + 0.3
        if not inside:
            continue
        ax.plot(g, gp, marker="D", ms=6, mfc="gold", mec="k", ls="none", zorder=5)
        if annotate:
            ax.annotate("/".join(names), (g, gp), textcoords="offset points", xytext=(5, 4), fontsize=7, zorder=6)


def plot_theory_diagram(ax=None, g_range=(0.0, 2.0), gp_range=(-1.0, 1.2)):
    """The theoretical diagram: linear / condensed regions, the critical boundary, the named initialisations."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    gg, pp = np.meshgrid(np.linspace(*g_range, 300), np.linspace(*gp_range, 300))
    cond = (gg > 1) & (pp < gg - 1)
    ax.contourf(gg, pp, cond.astype(float), levels=[-0.5, 0.5, 1.5], colors=["#f4c7c3", "#c6dbef"], alpha=0.8)
    _boundary_line(ax, *g_range, *gp_range)
    _named_inits(ax, g_range, gp_range)
    ax.text(0.25, gp_range[0] + 0.15, "linear", fontsize=11)
    ax.text(1.45, gp_range[0] + 0.15, "condensed", fontsize=11)
    ax.set_xlim(*g_range)
    ax.set_ylim(*gp_range)
    ax.set_xlabel("gamma_energy  (paper's gamma)")
    ax.set_ylabel("gamma_dynamic  (paper's gamma')")
    ax.set_title("two-layer ReLU init diagram (theory)")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_init_heatmap(result, ax=None, vmax: float | None = None):
    """Measured S_w as cells centred on the grid points (non-uniform columns per row, like Fig. 4),
    the theoretical boundary, the measured zero crossings with error bars, the named inits."""
    from matplotlib.colors import TwoSlopeNorm

    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    pts = [p for p in result.points if p["slope"] is not None and np.isfinite(p["slope"])]
    rows = sorted({p["gamma_dynamic"] for p in result.points})
    if not pts:
        no_data(ax, f"no finite slope S_w ({NO_CONVERGED_RUN} at two widths)")
        return ax
    vmax = vmax or max(0.05, max(abs(p["slope"]) for p in pts))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    dy = np.diff(rows).min() if len(rows) > 1 else 0.2
    mesh = None
    for gp in rows:
        rp = sorted((p for p in pts if p["gamma_dynamic"] == gp), key=lambda p: p["gamma_energy"])
        if not rp:
            continue
        g = np.array([p["gamma_energy"] for p in rp])
        s = np.array([p["slope"] for p in rp])
        if g.size > 1:
            mid = (g[1:] + g[:-1]) / 2
            edges = np.concatenate([[g[0] - (mid[0] - g[0])], mid, [g[-1] + (g[-1] - mid[-1])]])
        else:
            edges = np.array([g[0] - 0.1, g[0] + 0.1])
        mesh = ax.pcolormesh(edges, [gp - dy / 2, gp + dy / 2], s[None, :], cmap="RdBu", norm=norm, shading="flat")
        for gi, si in zip(g, s):
            ax.text(gi, gp, f"{si:+.2f}", ha="center", va="center", fontsize=6)
    allg = [p["gamma_energy"] for p in result.points]
    g_range = (min(allg) - 0.1, max(allg) + 0.1)
    gp_range = (rows[0] - dy / 2, rows[-1] + dy / 2)
    _boundary_line(ax, *g_range, *gp_range)
    bx = [b for b in result.boundary if b.get("found")]
    if bx:
        ax.errorbar([b["measured_gamma_energy"] for b in bx], [b["gamma_dynamic"] for b in bx],
                    xerr=[b["error"] or 0 for b in bx], fmt="*", ms=11, color="gold", mec="k", ecolor="k",
                    label="measured zero crossing", zorder=6)
    _named_inits(ax, g_range, gp_range)
    ax.set_xlim(*g_range)
    ax.set_ylim(*gp_range)
    ax.set_xlabel("gamma_energy  (paper's gamma)")
    ax.set_ylabel("gamma_dynamic  (paper's gamma')")
    ax.set_title("S_w = d log RD(theta_w) / d log m  (red < 0 linear, blue > 0 condensed)")
    if mesh is not None:
        plt.colorbar(mesh, ax=ax, label="S_w")
    ax.legend(loc="lower right", fontsize=7)
    return ax


def plot_slope_rows(result, ax=None):
    """S_w against gamma_energy with error bars, one curve per gamma_dynamic row, and the theory boundary."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    rows = sorted({p["gamma_dynamic"] for p in result.points})
    for gp in rows:
        rp = sorted((p for p in result.points if p["gamma_dynamic"] == gp), key=lambda p: p["gamma_energy"])
        line = ax.errorbar([p["gamma_energy"] for p in rp], [p["slope"] for p in rp],
                           yerr=[p["slope_err"] if p["slope_err"] is not None and np.isfinite(p["slope_err"]) else 0 for p in rp],
                           marker="o", ms=4, capsize=3, label=f"gamma_dynamic = {gp:g}")
        ax.axvline(1 + max(gp, 0), color=line[0].get_color(), ls=":", lw=1)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("gamma_energy")
    ax.set_ylabel("S_w")
    ax.set_title("slope of log RD against log m (dotted: theory boundary)")
    ax.legend(fontsize=7)
    return ax


def plot_rd_vs_width(result, gamma_dynamic: float | None = None, ax=None):
    """log-log RD(theta_w) against width for every point of one gamma_dynamic row (default the first)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    rows = sorted({p["gamma_dynamic"] for p in result.points})
    gp = rows[0] if gamma_dynamic is None else gamma_dynamic
    for p in sorted((p for p in result.points if p["gamma_dynamic"] == gp), key=lambda p: p["gamma_energy"]):
        rd = [np.nan if v is None else v for v in p["rd_mean"]]
        ax.loglog(p["widths"], rd, marker="o", ms=4, label=f"gamma_energy={p['gamma_energy']:g}: S_w={p['slope']:+.3f}")
    ax.set_xlabel("width m")
    ax.set_ylabel("RD(theta_w) (mean over seeds)")
    ax.set_title(f"gamma_dynamic = {gp:g}")
    ax.legend(fontsize=7)
    return ax


def plot_condensation_scatter(result, points=None, width: int | None = None, axes=None):
    """Orientation vs amplitude |a| ||(w, b)|| (max-normalised), initial (cyan) and final (red), for
    the first seed at ``width`` (default the largest kept) of each (gamma_energy, gamma_dynamic) in ``points``."""
    plt = _plt()
    keys = sorted(result.neurons)
    if not keys:
        raise ValueError("the result holds no neurons (keep_neurons = 0)")
    if points is None:
        gps = sorted({k[1] for k in keys})
        gp0 = 0.0 if 0.0 in gps else gps[0]
        gs = sorted({k[0] for k in keys if k[1] == gp0})
        points = [(g, gp0) for g in (gs[0], gs[len(gs) // 2], gs[-1])]
    if axes is None:
        _, axes = plt.subplots(1, len(points), figsize=(4 * len(points), 3.4), squeeze=False)
        axes = axes[0]
    one_d = result.config.get("in_dim", 1) == 1
    for ax, (g, gp) in zip(axes, points):
        ws = sorted(k[2] for k in keys if abs(k[0] - g) < 1e-6 and abs(k[1] - gp) < 1e-6)
        if not ws:
            ax.set_title(f"({g:g}, {gp:g}): no neurons kept")
            continue
        m = width if width in ws else ws[-1]
        nr = result.neurons[(round(g, 6), round(gp, 6), m)]
        for when, col in (("init", "c"), ("final", "r")):
            A = np.asarray(nr[f"amplitude_{when}"])
            ax.scatter(nr[f"orientation_{when}"], A / A.max(), s=4, c=col, label=when, alpha=0.7)
        ax.set_xlabel("angle atan2(b, w)" if one_d else "projection w_hat . p")
        ax.set_ylabel("amplitude / max")
        ax.set_title(f"gamma_energy={g:g}, gamma_dynamic={gp:g}, m={m}", fontsize=9)
        ax.legend(fontsize=7)
    return axes


def plot_neff_trend(result, gamma_dynamic: float | None = None, ax=None):
    """Effective number of orientations N_eff (final; dashed: initial) against width, per gamma_energy."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    rows = sorted({c["gamma_dynamic"] for c in result.condensation})
    if not rows:
        no_data(ax)
        return ax
    gp = (0.0 if 0.0 in rows else rows[0]) if gamma_dynamic is None else gamma_dynamic
    gs = sorted({c["gamma_energy"] for c in result.condensation if c["gamma_dynamic"] == gp})
    for g in gs:
        cs = sorted((c for c in result.condensation if c["gamma_dynamic"] == gp and c["gamma_energy"] == g),
                    key=lambda c: c["width"])
        line = ax.semilogx([c["width"] for c in cs], [c["neff_final"] for c in cs], marker="o", ms=4,
                           label=f"gamma_energy={g:g}")
        ax.semilogx([c["width"] for c in cs], [c["neff_init"] for c in cs], ls="--", lw=0.8, color=line[0].get_color())
    ax.set_xlabel("width m")
    ax.set_ylabel("N_eff (exp entropy of orientation histogram)")
    ax.set_title(f"condensation vs width, gamma_dynamic = {gp:g} (dashed: initial)")
    ax.legend(fontsize=7)
    return ax
