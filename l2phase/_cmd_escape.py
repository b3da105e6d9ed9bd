"""``l2phase escape``: exact barrier vs the Arrhenius fit of noise-driven escape times.

Runs :func:`empirical.experiments.escape.run_escape` (overdamped Langevin of a full deep
linear net started in a metastable state, censored MLE of the mean escape time per
temperature, Arrhenius fit, string-method check of the barrier in a width-3 net, negative
controls) and writes to ``--out``: ``report.md``, ``results.json``, ``arrhenius.png``,
``survival.png``.  With ``--sgd`` also minibatch SGD escapes (``sgd.png``), with
``--grokking`` the sparse-sampling grokking task (``grokking.png``).

Each temperature is one work unit (and the SGD and grokking parts one each), saved in
``--out``'s point store as it finishes: ``--resume`` reuses them (a killed run resumed gives
the same numbers), ``--scheduler`` runs the temperatures on Dask.  ``--data NAME`` (as in
``l2phase theory``) or ``--stats FILE`` take a and c from the top mode of a data set's
statistics when the scalar reduction applies (its input direction an eigenvector of A), and
refuse with an input error otherwise.

Exit status 0 when the fitted barrier agrees with the exact one within 5% over at least
2 decades of mean escape time and every negative control is rejected; 1 otherwise.
"""

from __future__ import annotations

import argparse
import json

from ._options import (add_data_arguments, add_scheduler_argument, data_statistics, make_executor, parse_seed,
                       prepare_out_dir, progress_bar)

DEFAULT_OUT = "l2phase-escape"
OUTPUT_FILES = ("report.md", "results.json", "arrhenius.png", "survival.png")


def register(sub) -> None:
    p = sub.add_parser(
        "escape",
        help="noise-driven escape from a metastable state: exact barrier vs Arrhenius fit of Langevin escape times",
        description=(
            "Start a deep linear net (D >= 2) in a metastable state (the origin below gamma_c, the learning minimum "
            "between gamma_c and the spinodal), run overdamped Langevin dynamics at several temperatures, estimate "
            "the mean escape times with censoring, fit log tau against 1/T and compare the fitted barrier with the "
            "exact one. Exit 0 iff they agree within 5%% over >= 2 decades and the negative controls are rejected."
        ),
    )
    p.add_argument("--depth", type=int, default=2, help="hidden layers D >= 2 (default 2)")
    p.add_argument("--a", type=float, default=1.0, help="input second moment a along the data mode (default 1)")
    p.add_argument("--c", type=float, default=1.0, help="|E[x y]| of the data mode (default 1)")
    p.add_argument("--gamma", type=float, default=None,
                   help="L2 strength (default: 0.75 gamma_c from trivial, mid-window from learned)")
    p.add_argument("--from", dest="start", choices=("trivial", "learned"), default="trivial",
                   help="metastable state to start in (default trivial)")
    p.add_argument("--width", type=int, default=1, help="hidden width of the Langevin nets (default 1)")
    p.add_argument("--stats", default=None, metavar="FILE",
                   help="general data: a statistics file (.json as 'l2phase theory --stats-schema' prints, or .npz with "
                        "the same arrays); the top mode "
                        "(a = u^T A u, c = its singular value) sets --a and --c (needs u an eigenvector of A)")
    add_data_arguments(p, search=False)  # the top mode of the data statistics sets --a and --c
    p.add_argument("--sgd", action="store_true", help="also measure minibatch-SGD escapes")
    p.add_argument("--grokking", action="store_true", help="also run the sparse-sampling grokking task")
    p.add_argument("--quick", action="store_true",
                   help="a smaller Langevin step budget (50M steps, ~1 minute of CPU on 2 cores; 300M without)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"report directory (default {DEFAULT_OUT}/)")
    p.add_argument("--seed", default="0", help="seed of every random draw")
    p.add_argument("--resume", action="store_true", help="reuse the finished temperatures (and SGD, grokking parts) "
                   "in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_scheduler_argument(p)
    # tests: a tiny total Langevin step budget (hidden)
    p.add_argument("--steps", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _stats_mode(path: str) -> tuple[float, float, dict]:
    """--stats: the statistics file every command reads (:func:`l2phase.theory.read_data_stats`)."""
    import numpy as np

    from l2phase.theory import read_data_stats

    A, beta, _ = read_data_stats(path, argument="--stats")
    A = np.atleast_2d(A)
    a, c, info = _top_mode(A, beta.reshape(A.shape[0], -1), f"--stats {path}")
    return a, c, dict(info, file=str(path))


def _data_mode(args) -> tuple[float, float, dict]:
    """--data: statistics of a data set (the loaders and preprocessing of ``l2phase theory --data``)."""
    A, beta, _, source = data_statistics(args)
    hint = "" if args.whiten else " (try --components N --whiten, which makes A = I)"
    a, c, mode = _top_mode(A, beta, f"--data {args.data}", hint)
    described = ("preprocessing", "preprocessing_options", "n_samples", "in_dim", "n_outputs")
    return a, c, dict(mode, source={k: v for k, v in source.items() if k not in described},
                      **{k: source[k] for k in described if k != "preprocessing_options"})


def _top_mode(A, beta, where: str, hint: str = "") -> tuple[float, float, dict]:
    """(a, c) of the top mode of beta = E[x y^T] when the scalar reduction applies, else InputError.

    The reduction to one scalar chain (and so the exact barrier) needs the top input direction
    u of beta to be an eigenvector of A; then a = u^T A u and c = the top singular value.
    """
    import numpy as np

    from l2phase.theory.checks import InputError

    U, s, _ = np.linalg.svd(beta, full_matrices=False)
    if s.size == 0 or not s[0] > 0:
        raise InputError(f"{where}: E[x y^T] vanishes; there is nothing to learn and no barrier")
    u = U[:, 0]
    a = float(u @ A @ u)
    off = float(np.linalg.norm(A @ u - a * u))
    if off > 1e-8 * max(1.0, float(np.abs(A).max())):
        raise InputError(f"{where}: the top input direction of E[x y^T] is not an eigenvector of A = E[x x^T] "
                         f"(|A u - (u^T A u) u| = {off:.3g}); the scalar reduction, and so the exact barrier, does not "
                         f"apply{hint}")
    if s.size > 1 and s[1] > (1 - 1e-9) * s[0]:
        raise InputError(f"{where}: the two largest singular values of E[x y^T] are equal ({s[0]:.6g}); the top "
                         "mode is not unique")
    return a, float(s[0]), dict(singular_values=s.tolist(), a=a, c=float(s[0]))


def run(args) -> int:
    from l2phase.empirical import RunStore, run_fingerprint
    from l2phase.empirical.experiments.escape import EscapeConfig, run_escape
    from l2phase.theory.checks import InputError

    seed = parse_seed(args.seed)
    if args.stats and args.data:
        raise InputError("give either --stats FILE or --data NAME, not both")
    a, c, stats_info = args.a, args.c, None
    if args.stats:
        a, c, stats_info = _stats_mode(args.stats)
    elif args.data:
        a, c, stats_info = _data_mode(args)
    kw = dict(depth=args.depth, a=a, c=c, gamma=args.gamma, start=args.start, width=args.width, seed=seed)
    if args.steps is not None:
        kw["steps"] = args.steps
    cfg = EscapeConfig.quick(**kw) if args.quick else EscapeConfig(**kw)
    out = prepare_out_dir(args.out)
    fingerprint = run_fingerprint("escape", dict(cfg.to_dict(), quick=args.quick, sgd=args.sgd,
                                                 grokking=args.grokking))
    n_units = 1 + len(cfg.inverse_temperatures) + int(args.sgd) + int(args.grokking)
    with RunStore.open(out, fingerprint=fingerprint, resume=args.resume, command="escape") as store, \
            make_executor(args.scheduler, "escape") as executor, \
            progress_bar(not args.no_progress, "l2phase escape", total=n_units, unit="unit") as bar:
        progress = bar.update if bar is not None else None
        # no --scheduler: the temperatures run here, in one thread per core
        res = run_escape(cfg, store=store, executor=executor if args.scheduler else None, progress=progress)
        if stats_info:
            res["stats"] = stats_info
        if args.sgd:
            from l2phase.empirical.experiments.escape import run_sgd_escape

            res["sgd"] = _stored_part(store, "sgd", lambda: run_sgd_escape(depth=args.depth, quick=args.quick,
                                                                          seed=seed), progress)
        if args.grokking:
            from l2phase.empirical.experiments.grokking import run_grokking

            res["grokking"] = _stored_part(store, "grokking", lambda: run_grokking(quick=args.quick, seed=seed),
                                           progress)
        _write_outputs(res, store)
    if args.json:
        keys = ("barrier_exact", "barrier_fit", "barrier_fit_se", "decades", "rel_error", "z_exact", "kappa",
                "finite_t", "plain_fit", "gamma", "start", "metastable", "agree")
        summary = {k: res[k] for k in keys}
        summary["mep_rel_diff"] = res["mep"]["rel_diff_from_" + res["start"]]
        summary["checks"] = res["checks"]
        print(json.dumps(summary, default=_json_default))
    else:
        print(_table(res))
        print(f"report: {out / 'report.md'}")
    return 0 if res["agree"] else 1


def _stored_part(store, group: str, compute, progress=None) -> dict:
    """One whole part (SGD, grokking) as one stored point: reused on --resume, else computed and saved."""
    pt = store.load_point(group, 0)
    if pt is not None:
        rec = pt.record
    else:
        rec = store.save_point(group, 0, compute())
    if progress is not None:
        progress(1)
    return rec


def _write_outputs(res: dict, store) -> None:
    """results.json, report.md and the plots, each written atomically by the run store."""
    from l2phase.empirical.experiments.escape import plot_arrhenius, plot_survival

    store.write_text("results.json", json.dumps(res, indent=1, default=_json_default))
    store.write_bytes("arrhenius.png", lambda f: plot_arrhenius(res, f))
    store.write_bytes("survival.png", lambda f: plot_survival(res, f))
    if "sgd" in res:
        from l2phase.empirical.experiments.escape import plot_sgd

        store.write_bytes("sgd.png", lambda f: plot_sgd(res["sgd"], f))
    if "grokking" in res:
        from l2phase.empirical.experiments.grokking import plot_grokking

        store.write_bytes("grokking.png", lambda f: plot_grokking(res["grokking"], f))
    store.write_text("report.md", _report(res))


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _table(res) -> str:
    lines = [
        f"l2phase escape: D={res['config']['depth']}, gamma={res['gamma']:.6g}, from {res['start']} "
        f"(metastable: {res['metastable']})",
        f"  barrier exact   {res['barrier_exact']:.6g}",
        f"  barrier fitted  {res['barrier_fit']:.6g} +- {res['barrier_fit_se']:.2g}   (Kramers-Langer prefactor, "
        f"kappa = {res['kappa']:g}, finite-T term c1 T with c1 = {res['finite_t']:.3g}; chi2/dof {res['chi2_dof']:.2f})",
        f"  relative error  {res['rel_error']:.3%}   z = {res['z_exact']:+.2f}   decades {res['decades']:.2f}",
        f"  (straight line in 1/T, free prefactor: {res['plain_fit']['barrier']:.6g} +- "
        f"{res['plain_fit']['barrier_se']:.2g}, relative error {res['plain_fit']['rel_error']:.2%})",
        f"  string method   {res['mep']['barrier_path_from_' + res['start']]:.6g} "
        f"(rel diff {res['mep']['rel_diff_from_' + res['start']]:.1e})",
    ]
    for ch in res["checks"]:
        lines.append(f"  [{'ok' if ch['passed'] else 'FAIL'}] {ch['name']} ({ch['value']:.4g})")
    lines.append(f"  verdict: {'AGREE' if res['agree'] else 'DISAGREE'}")
    return "\n".join(lines)


def _report(res) -> str:
    rows = "\n".join(
        f"| {r['temperature']:.5g} | {r['barrier_over_T']:.2f} | {r['tau']:.5g} | {r['log_tau_se']:.3f} | "
        f"{r['events']} | {r['censored']} | {r['tau_kramers_langer']:.5g} |" for r in res["rows"])
    parts = [
        "# l2phase escape", "", "```", _table(res), "```", "",
        "Mean escape time per temperature (exponential MLE with censoring; se of log tau = 1/sqrt(events)):", "",
        "| T | barrier/T | tau | se(log tau) | escaped | censored | tau Kramers-Langer |",
        "|---|---|---|---|---|---|---|", rows, "",
        "Fit: log tau = log tau_KL0 + kappa log T + barrier / T + c1 T, the prefactor tau_KL0 from the Hessians at "
        "the minimum and the saddle (Kramers-Langer), barrier and the first-order finite-temperature correction c1 "
        "fitted; the prefactor of the measured escape drifts with T (compare the columns tau and tau Kramers-Langer), which a free "
        "straight line in 1/T would absorb into its slope.", "",
        "Figures: arrhenius.png (fit vs exact), survival.png (Kaplan-Meier curves, dotted: exp(-t/tau)).",
    ]
    if "sgd" in res:
        s = res["sgd"]
        parts += ["", "## Minibatch SGD", "", s.get("summary", "")]
    if "grokking" in res:
        g = res["grokking"]
        parts += ["", "## Grokking (sparse sub-sampling)", "", g.get("summary", "")]
    return "\n".join(parts) + "\n"

