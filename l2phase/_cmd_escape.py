"""``l2phase escape``: exact barrier vs the Arrhenius fit of noise-driven escape times.

Runs :func:`empirical.experiments.escape.run_escape` (overdamped Langevin of a full deep
linear net started in a metastable state, censored MLE of the mean escape time per
temperature, Arrhenius fit, string-method check of the barrier in a width-3 net, negative
controls) and writes to ``--out``: ``report.md``, ``results.json``, ``arrhenius.png``,
``survival.png``.  With ``--sgd`` also minibatch SGD escapes (``sgd.png``), with
``--grokking`` the sparse-sampling grokking task (``grokking.png``).

Exit status 0 when the fitted barrier agrees with the exact one within 5% over at least
2 decades of mean escape time and every negative control is rejected; 1 otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._options import prepare_out_dir

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
                   help="general data: .npz or .json with A (d x d), beta = E[x y^T] (d x k), ey2; the top mode "
                        "(a = u^T A u, c = its singular value) sets --a and --c (needs u an eigenvector of A)")
    p.add_argument("--sgd", action="store_true", help="also measure minibatch-SGD escapes")
    p.add_argument("--grokking", action="store_true", help="also run the sparse-sampling grokking task")
    p.add_argument("--quick", action="store_true", help="fewer replicas and steps (well under 2 minutes)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"report directory (default {DEFAULT_OUT}/)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.set_defaults(func=run)


def _stats_mode(path: str) -> tuple[float, float, dict]:
    import numpy as np

    from l2phase.theory.checks import InputError

    f = Path(path)
    if not f.is_file():
        raise InputError(f"--stats {path}: no such file")
    if f.suffix not in (".npz", ".json"):
        raise InputError(f"--stats {path}: expected a .npz or .json file")
    try:
        if f.suffix == ".npz":
            with np.load(f, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        else:
            data = json.loads(f.read_text())
    except Exception as exc:  # a damaged file is the user's input, never a crash
        raise InputError(f"--stats {path}: cannot be read ({type(exc).__name__}: {exc})") from None
    try:
        A = np.atleast_2d(np.asarray(data["A"], dtype=float))
        beta = np.asarray(data["beta"], dtype=float)
    except KeyError as exc:
        raise InputError(f"--stats {path}: missing key {exc}") from None
    beta = beta.reshape(A.shape[0], -1)
    U, s, Vt = np.linalg.svd(beta, full_matrices=False)
    u = U[:, 0]
    a = float(u @ A @ u)
    if np.linalg.norm(A @ u - a * u) > 1e-8 * max(1.0, np.abs(A).max()):
        raise InputError(f"--stats {path}: the top input direction of beta is not an eigenvector of A; the scalar "
                         "reduction (and so the exact barrier) does not apply")
    return a, float(s[0]), dict(file=str(f), singular_values=s.tolist(), a=a)


def run(args) -> int:
    from l2phase.empirical import RunStore, run_fingerprint
    from l2phase.empirical.experiments.escape import EscapeConfig, run_escape

    a, c, stats_info = args.a, args.c, None
    if args.stats:
        a, c, stats_info = _stats_mode(args.stats)
    kw = dict(depth=args.depth, a=a, c=c, gamma=args.gamma, start=args.start, width=args.width, seed=args.seed)
    cfg = EscapeConfig.quick(**kw) if args.quick else EscapeConfig(**kw)
    out = prepare_out_dir(args.out)
    fingerprint = run_fingerprint("escape", dict(kw, quick=args.quick, sgd=args.sgd, grokking=args.grokking))
    with RunStore.open(out, fingerprint=fingerprint, command="escape") as store:
        res = run_escape(cfg)
        if stats_info:
            res["stats"] = stats_info
        if args.sgd:
            from l2phase.empirical.experiments.escape import run_sgd_escape

            res["sgd"] = run_sgd_escape(depth=args.depth, quick=args.quick, seed=args.seed)
        if args.grokking:
            from l2phase.empirical.experiments.grokking import run_grokking

            res["grokking"] = run_grokking(quick=args.quick, seed=args.seed)
        _write_outputs(res, store)
    if args.json:
        keys = ("barrier_exact", "barrier_fit", "barrier_fit_se", "decades", "rel_error", "z_exact", "kappa",
                "gamma", "start", "metastable", "agree")
        summary = {k: res[k] for k in keys}
        summary["mep_rel_diff"] = res["mep"]["rel_diff_from_" + res["start"]]
        summary["checks"] = res["checks"]
        print(json.dumps(summary, default=_json_default))
    else:
        print(_table(res))
        print(f"report: {out / 'report.md'}")
    return 0 if res["agree"] else 1


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
        f"  barrier fitted  {res['barrier_fit']:.6g} +- {res['barrier_fit_se']:.2g}   (kappa = {res['kappa']:g}, "
        f"chi2/dof {res['chi2_dof']:.2f})",
        f"  relative error  {res['rel_error']:.3%}   z = {res['z_exact']:+.2f}   decades {res['decades']:.2f}",
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
        "Figures: arrhenius.png (fit vs exact), survival.png (Kaplan-Meier curves, dotted: exp(-t/tau)).",
    ]
    if "sgd" in res:
        s = res["sgd"]
        parts += ["", "## Minibatch SGD", "", s.get("summary", "")]
    if "grokking" in res:
        g = res["grokking"]
        parts += ["", "## Grokking (sparse sub-sampling)", "", g.get("summary", "")]
    return "\n".join(parts) + "\n"

