"""``l2phase changepoints FILE``: change points of every column of a table logged elsewhere.

The table (CSV with a header, or JSON) holds one row per x (gamma, weight decay, ...);
each chosen column is analysed against ``--x`` with the default change-point detector
(:func:`l2phase.numerics.table_change_points`).  Prints a table, or with ``--json`` one
object ``{column: [{"x", "low", "high", "kind", "size"}, ...]}``; ``--plot out.png``
draws every curve with its change points.  With ``--theory STATS.json --depth D`` (or
``--data NAME|FILE --depth D``: the statistics computed from a data set, as ``theory --data``) the
change points of every analysed column are judged against the exact transitions of a
deep linear net for those data statistics by validate's verdict
(:func:`l2phase.empirical.judge` through :func:`l2phase.empirical.table_verdicts`: same
location, kind and located-to-``--rtol`` rules, the same negative controls); a column
named ``loss`` is L* (a kink at a first-order transition), ``accuracy`` is not judged,
any other column is a smooth function of the minimiser (jump at first order, kink at
second).  Exit 0 only when the verdict is CONFIRMED (no column fails, one passes, every
control rejected; choose the columns with ``--y``), else 1.  Invalid input: one line,
exit status 2.
"""

from __future__ import annotations

import json
import sys

from ._options import add_data_arguments, data_statistics


def register(sub) -> None:
    p = sub.add_parser(
        "changepoints",
        help="change points (jump/kink, with intervals) of every column of a CSV/JSON table against --x",
        description=(
            "Find the change points of curves measured elsewhere: every column of a CSV (header row) or "
            "JSON table against the x column. Kinks mark second-order transitions, jumps first-order "
            "ones; each comes with a 95%% bootstrap interval. Unsorted x is sorted (rows move together); "
            "duplicate x values are refused."
        ),
    )
    p.add_argument("file", help="CSV (header row) or JSON table (list of rows or object of columns)")
    p.add_argument("--x", required=True, help="the x column (e.g. gamma or weight_decay)")
    p.add_argument("--y", default=None, help="comma-separated columns to analyse (default: every other column)")
    p.add_argument("--log-x", action="store_true", help="fit segments in log(x) (default: chosen from the grid)")
    p.add_argument("--json", action="store_true", help="print {column: [{x, low, high, kind, size}, ...]}")
    p.add_argument("--plot", default=None, metavar="PNG", help="draw the curves and their change points")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    p.add_argument("--theory", default=None, metavar="STATS.json",
                   help="judge the change points against the exact transitions of a deep linear net for these data "
                        "statistics {A, beta, ey2} with validate's rules and negative controls (needs --depth; "
                        "column 'loss' is L*, 'accuracy' is not judged, any other column behaves like ||theta||^2)")
    p.add_argument("--depth", type=int, default=None,
                   help="hidden layers D >= 1 of the deep linear net (with --theory or --data)")
    p.add_argument("--rtol", type=float, default=1e-2, help="relative location tolerance: gamma_c within the interval widened by rtol * gamma_c, "
                        "and the interval no wider than rtol * gamma (default 0.01)")
    p.add_argument("--x-per-gamma", type=float, default=1.0,
                   help="x = this * gamma (a torch weight decay with MSELoss() over k outputs: 2/k; default 1)")
    add_data_arguments(p, search=False)
    p.set_defaults(func=run)


def run(args) -> int:
    from l2phase.numerics import change_points_json, read_curve_table, table_change_points

    import numpy as np

    cols = [c.strip() for c in args.y.split(",") if c.strip()] if args.y else None
    skipped: list[str] = []
    table = read_curve_table(args.file, required=[args.x] + (cols or []), skipped=skipped)
    xs = np.asarray(table.get(args.x, []), dtype=float)
    xs = xs[np.isfinite(xs)]
    if xs.size > 1 and np.any(np.diff(xs) < 0):
        print(f"l2phase changepoints: note: {args.file}: rows sorted by {args.x!r}", file=sys.stderr)
    res = table_change_points(table, args.x, cols, log_x=True if args.log_x else None, seed=args.seed,
                              source=str(args.file), skipped=skipped)
    if skipped:  # say which columns could not make a curve, so nothing is silently lost
        print(f"l2phase changepoints: note: {args.file}: columns left out: {', '.join(skipped)} "
              "(name them with --y to see why)", file=sys.stderr)
    out = change_points_json(res)
    verdicts = None
    if args.theory is not None or args.data is not None:
        from l2phase.theory.checks import InputError

        if args.theory is not None and args.data is not None:
            raise InputError("give either --theory STATS.json or --data NAME, not both")
        option = "--theory" if args.theory is not None else "--data"
        if args.depth is None:
            raise InputError(f"{option} needs --depth D")
        from l2phase.empirical import table_verdicts
        from l2phase.theory import read_data_stats

        stats = (read_data_stats(args.theory, argument="--theory") if args.theory is not None
                 else data_statistics(args)[:3])
        verdicts = table_verdicts(res, stats, args.depth, rtol=args.rtol,
                                  x_per_gamma=args.x_per_gamma)
    if args.json:
        json.dump(out if verdicts is None else dict(change_points=out, theory=verdicts), sys.stdout, indent=1)
        print()
    else:
        print(f"{'column':<20} {'kind':<5} {args.x:>12} {'[low, high]':>27} {'size':>12}")
        for c, cps in out.items():
            if not cps:
                print(f"{c:<20} {'-':<5} {'(none)':>12}")
            for cp in cps:
                print(f"{c:<20} {cp['kind']:<5} {cp['x']:>12.6g} [{cp['low']:>12.6g}, {cp['high']:>12.6g}] "
                      f"{cp['size']:>12.4g}")
        if verdicts is not None:
            print(f"predicted (D={verdicts['depth']}): "
                  + ", ".join(f"gamma_c={p['gamma_c']:.6g} order {p['order']}" for p in verdicts["predicted"]))
            for c, v in verdicts["signals"].items():
                print(f"{c:<20} {v['status']}: {v['reason']}")
            ctrls = verdicts["controls"]
            print(f"negative controls rejected: {sum(k['rejected'] for k in ctrls)}/{len(ctrls)}"
                  + "".join(f"\n  NOT rejected: {k['description']}" for k in ctrls if not k["rejected"]))
            print(f"verdict: {verdicts['verdict']}")
    if args.plot:
        _plot(table, args.x, list(out), out, args.plot, log_x=args.log_x)
    return 0 if verdicts is None or verdicts["verdict"] == "CONFIRMED" else 1


def _plot(table, x, cols, out, path, *, log_x):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(cols), 1, figsize=(6, 2.4 * len(cols)), squeeze=False, sharex=True)
    for ax, c in zip(axes[:, 0], cols):
        xs, ys = np.asarray(table[x]), np.asarray(table[c])
        o = np.argsort(xs)
        ax.plot(xs[o], ys[o], ".-", ms=3, lw=0.8)
        for cp in out[c]:
            ax.axvspan(cp["low"], cp["high"], color="C3", alpha=0.2)
            ax.axvline(cp["x"], color="C3", ls="--" if cp["kind"] == "kink" else "-", lw=1)
        ax.set_ylabel(c)
        if log_x or (np.all(xs[np.isfinite(xs)] > 0) and np.nanmax(xs) / np.nanmin(xs) > 100):
            ax.set_xscale("log")
    axes[-1, 0].set_xlabel(x)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
