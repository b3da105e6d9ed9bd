"""Pieces shared by the experiments' reports: one number formatter, the checks list, a
headless pyplot, change-point marks, "no converged run" panels.

Numbers in tables go through :func:`format_number` ("-" for missing or non-finite values);
JSON goes through :func:`json_ready`.  Both live in :mod:`l2phase.theory.formatting`
(torch-free, shared with ``l2phase theory``) and are re-exported here.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from l2phase.theory.formatting import format_number, json_ready  # noqa: F401  (re-exported)

__all__ = ["NO_CONVERGED_RUN", "checks_markdown", "format_number", "json_ready", "mark_change_points", "no_data", "pyplot",
           "symlog_or_log"]

#: What a table cell, a plot or a verdict says where no run converged.
NO_CONVERGED_RUN = "no converged run"


def checks_markdown(checks: Sequence[dict]) -> list[str]:
    """``## Checks`` section: one ``- [x] name: detail`` line per check (``[ ]`` when failed)."""
    lines = ["", "## Checks", ""]
    for c in checks:
        detail = f": {c['detail']}" if c.get("detail") else ""
        lines.append(f"- [{'x' if c['passed'] else ' '}] {c['name']}{detail}")
    return lines


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (unless an inline/file backend is set)."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline", "pdf", "svg"):
        try:
            matplotlib.use("Agg")
        except Exception:  # pragma: no cover - backend already fixed by the user
            pass
    import matplotlib.pyplot as plt

    return plt


def no_data(ax, message: str = NO_CONVERGED_RUN) -> None:
    """Write ``message`` across an empty panel."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=11, color="0.3")
    ax.set_xticks([])
    ax.set_yticks([])


def mark_change_points(ax, cps: Sequence[dict], color: str = "C2", label: str = "change point") -> None:
    """Shade each change point's interval and draw its location (dicts with gamma, low, high)."""
    for i, c in enumerate(cps):
        ax.axvspan(c["low"], c["high"], color=color, alpha=0.2)
        ax.axvline(c["gamma"], color=color, lw=1, label=label if i == 0 else None)


def symlog_or_log(ax, y) -> None:
    """log y axis for positive curves, symlog (linear near zero) for curves that change sign."""
    y = np.asarray(y, dtype=float)
    y = y[np.isfinite(y)]
    if y.size and np.all(y > 0):
        ax.set_yscale("log")
    elif y.size:
        ax.set_yscale("symlog", linthresh=max(1e-12, float(np.median(np.abs(y))) / 100))
