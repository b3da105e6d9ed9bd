"""``l2phase sweep --config FILE``: accuracy regimes of classifiers and VAE posterior collapse.

Runs the experiment of a TOML configuration (:mod:`l2phase.sweep_config`; shipped examples
with ``--list``) and writes to ``--out`` (default ``l2phase-sweep/<name>``):

* ``report.md`` - the tables (change points, alignment with the curvature, class drop-out,
  deep-linear prediction; or collapse thresholds measured vs predicted) and the checks;
* ``results.json`` - every number of the report and the effective configuration;
* ``sweep.csv`` - one row per swept value;
* plots: classifier ``accuracy.png``, ``per_class.png``, ``curvature.png``, ``order_parameter.png``;
  VAE ``kl.png``, ``elbo.png``, ``curvature.png``;
* ``points/`` - one file per finished point (what ``--resume`` reuses), and the run marker
  ``.l2phase-run.json`` with the run's fingerprint (configuration, device, dtype, version):
  a resume with another configuration is refused, naming the fields that differ.

The directory is an :class:`l2phase.empirical.RunStore`: a non-empty directory that l2phase
did not make is refused, and only the run's own files are ever replaced.  The report is
made by :mod:`l2phase.empirical.experiments.sweep_report`.

Exit status 0 when every check passes, 1 otherwise (the failed checks are printed, and why
there is nothing to analyse when no point is usable, e.g. every point diverged), 2 for
invalid input.
"""

from __future__ import annotations

from pathlib import Path

from l2phase.theory.checks import InputError, check_memory

from ._options import (add_scheduler_argument, check_device, device_memory_bytes, make_executor, prepare_out_dir,
                       progress_bar)

DEFAULT_OUT = "l2phase-sweep"


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a configured sweep: classifier accuracy regimes across gamma, or VAE posterior collapse across beta",
        description=(
            "Run the experiment of a TOML configuration: a classifier (ReLU/tanh MLP, MSE or cross-entropy, digits "
            "or MNIST) swept over the L2 strength gamma, or a linear/MLP VAE swept over the KL weight beta; detect "
            "the change points of accuracy / KL and of the Ricci curvature at the trained weights, compare with the "
            "exact theory where one exists, and write a report directory."
        ),
    )
    p.add_argument("--config", default=None, help="TOML file, or the name of a shipped example (see --list)")
    p.add_argument("--list", action="store_true", help="list the shipped example configurations and exit")
    p.add_argument("--out", default=None, help=f"output directory (default {DEFAULT_OUT}/<name>)")
    p.add_argument("--resume", action="store_true", help="reuse finished points in --out (same configuration)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_scheduler_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .sweep_runner import run_experiment
    from .sweep_config import example_configs, load_config

    if args.list:
        from .sweep_config import CONFIG_DIR

        for name in example_configs():
            cfg = load_config(CONFIG_DIR / f"{name}.toml")
            print(f"{name:32s} {cfg.experiment:10s} {cfg.description}")
        return 0
    if not args.config:
        raise InputError("--config FILE is required (or --list for the shipped examples)")
    from l2phase.empirical import RunStore
    from l2phase.empirical.experiments.sweep_report import write_sweep_report

    cfg = load_config(args.config)
    device = check_device(args.device)
    if device.startswith("cuda"):
        n_bytes, detail = cfg.memory_estimate()
        check_memory(n_bytes, f"{args.config}: {detail}", limit=device_memory_bytes(device), where=f"--device {device}")
    out = prepare_out_dir(Path(args.out) if args.out else Path(DEFAULT_OUT) / cfg.name)
    with RunStore.open(out, fingerprint=cfg.fingerprint(device), resume=args.resume, command="sweep") as store, \
            make_executor(args.scheduler, "sweep") as executor, \
            progress_bar(not args.no_progress, f"l2phase sweep {cfg.name}", total=cfg["sweep"]["points"]) as bar:
        results, tables = run_experiment(cfg, store, device=None if device == "cpu" else device,
                                         progress=bar.update if bar is not None else None, executor=executor)
        write_sweep_report(results, tables, store)
    verdict = "PASSED" if results["passed"] else "FAILED"
    ctrls = results.get("controls", [])
    controls = ("negative controls not run" if results.get("no_usable_point") else
                f"{sum(c['rejected'] for c in ctrls)}/{len(ctrls)} negative controls rejected")
    print(f"l2phase sweep {cfg.name}: {verdict} ({sum(c['passed'] for c in results['checks'])}/{len(results['checks'])} "
          f"checks, {controls}); report: {out / 'report.md'}")
    if results.get("no_usable_point"):
        print(f"l2phase sweep {cfg.name}: {results['no_usable_point']}")
    failed = [f"{c['name']} ({c['detail']})" if c.get("detail") else c["name"] for c in results["checks"]
              if not c["passed"]]
    if failed:
        print("failed checks: " + "; ".join(failed))
    return 0 if results["passed"] else 1


