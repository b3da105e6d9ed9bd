"""Run an ``l2phase sweep`` experiment from a checked configuration.

:func:`run_experiment` builds the data, the model and the sweep settings of an
:class:`l2phase.sweep_config.ExperimentConfig`, runs the batched sweep (in this process or
on Dask, every finished point saved in the run's point store) and the analysis, and
returns plain data: ``(results, tables)``.  The report, CSV and plots are made from them
by :mod:`l2phase.empirical.experiments.sweep_report`; nothing is computed only inside a plot.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .sweep_config import ExperimentConfig
from l2phase.theory.checks import InputError

__all__ = ["run_experiment", "build_data", "no_usable_point_reason"]


def no_usable_point_reason(n_diverged: int, n_points: int, train: dict) -> str:
    """Why a sweep without a single usable point (converged, not diverged) has nothing to
    analyse, and which ``[train]`` setting to change."""
    if n_diverged == n_points:
        return (f"every point diverged ({n_diverged} of {n_points}): the training blew up; lower [train] lr "
                f"(now {train['lr']:g})")
    return (f"no point converged: {n_diverged} of {n_points} diverged, the others stopped at [train] max_steps = "
            f"{train['max_steps']} before the gradient tolerance gtol = {train['gtol']:g}; raise max_steps or "
            "change lr")


def _train_config(sec: dict):
    from l2phase.empirical import TrainConfig

    return TrainConfig(optimizer=sec["optimizer"], lr=sec["lr"], max_steps=sec["max_steps"], gtol=sec["gtol"],
                       switch_tol=sec["switch_tol"], polish=None if sec["polish"] == "none" else "newton",
                       max_polish=sec["max_polish"])


def _curvature(sec: dict):
    return None if sec["method"] == "none" else sec["method"]


def build_data(cfg: ExperimentConfig):
    """The experiment's data: (train, test) for a classifier, the autoencoder set for a VAE."""
    from l2phase import empirical

    d = cfg["data"]
    path = d["path"] or None
    if cfg.experiment == "classifier":
        return empirical.classification_split(
            d["source"], d["n_train"], d["n_test"], n_components=d["n_components"], whiten=d["whiten"],
            center_targets=cfg["model"]["objective"] == "mse", path=path, seed=cfg.seed)
    if d["source"] == "synthetic":
        return empirical.synthetic_autoencoder(d["n_train"], d["spectrum"], seed=cfg.seed)
    if d["source"] == "digits":
        if d["n_train"] > 1797:
            raise InputError(f"[data] n_train must be <= 1797 for digits, got {d['n_train']}")
        base = empirical.load_digits_dataset(d["n_train"], n_components=d["n_components"], whiten=d["whiten"],
                                             seed=cfg.seed)
    else:
        base = empirical.load_mnist(path, "train", n_samples=d["n_train"], n_components=d["n_components"],
                                    whiten=d["whiten"], seed=cfg.seed)
    return empirical.Dataset(base.X, base.X.copy(), name=f"{base.name}-autoencoder", labels=base.labels,
                             meta=dict(base.meta, autoencoder=True))


def run_experiment(
    cfg: ExperimentConfig,
    out=None,
    *,
    device: str | None = None,
    progress: Callable[[int], None] | None = None,
    executor=None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the sweep and the analysis of ``cfg``; returns (results, tables).

    ``out`` is the run's :class:`l2phase.empirical.RunStore` (or None: nothing written); the
    points it holds (a resumed run) are reused.

    ``results`` is JSON-ready (configuration, data summary, analysis, checks, verdict);
    ``tables`` holds the objects the plots and CSVs need (the sweep result and the data).
    """
    from l2phase import empirical

    t0 = time.perf_counter()
    grid = cfg.grid()
    sw, cv = cfg["sweep"], cfg["curvature"]
    results: dict[str, Any] = dict(config=cfg.to_dict(), fingerprint=None if out is None else out.fingerprint_id,
                                   device=device or "cpu")
    if cfg.experiment == "classifier":
        train, test = build_data(cfg)
        m = cfg["model"]
        spec = empirical.NetSpec(train.in_dim, train.out_dim, m["depth"], m["width"], m["activation"], m["bias"],
                                 m["objective"])
        scfg = empirical.SweepConfig(
            inits=[empirical.InitSpec("random", float(s), name=f"scale-{s:g}") for s in sw["inits"]],
            train=_train_config(cfg["train"]), curvature=_curvature(cv), n_probes=cv["n_probes"],
            exact_max_params=cv["exact_max_params"], chunk_size=sw["chunk_size"], seed=cfg.seed)
        res = empirical.sweep_gamma(spec, train, grid, scfg, out_dir=out, tag="classifier",
                                    device=device, progress=progress, executor=executor)
        an = cfg["analysis"]
        analysis = empirical.accuracy_regimes(
            res, train, test, chance_atol=an["chance_atol"], dropout_level=an["dropout_level"],
            resolution={"train_accuracy": an["accuracy_resolution"], "test_accuracy": an["accuracy_resolution"],
                        "R_E": an["curve_resolution"], "R_L": an["curve_resolution"], "loss": an["curve_resolution"],
                        "param_norm_sq": an["curve_resolution"]})
        results.update(
            data=dict(name=train.name, n_train=train.n_samples, n_test=test.n_samples, in_dim=train.in_dim,
                      n_classes=train.out_dim, beta_singular_values=np.linalg.svd(train.stats()[1], compute_uv=False).tolist()),
            model=spec.to_dict(), n_params=spec.n_params, analysis=analysis, checks=analysis["checks"])
        tables = dict(sweep=res, train=train, test=test)
    else:
        data = build_data(cfg)
        m = cfg["model"]
        spec = empirical.VAESpec(data.in_dim, m["latent_dim"], m["hidden"], m["activation"], m["eta_dec"],
                                 n_noise=m["n_noise"], noise_seed=cfg.seed)
        an = cfg["analysis"]
        vcfg = empirical.VAESweepConfig(
            init_scales=tuple(sw["inits"]), train=_train_config(cfg["train"]), curvature=_curvature(cv),
            n_probes=cv["n_probes"], exact_max_params=cv["exact_max_params"], chunk_size=sw["chunk_size"],
            seed=cfg.seed, active_threshold=an["active_threshold"])
        res = empirical.sweep_beta(spec, data, grid, vcfg, out_dir=out, tag="vae", device=device,
                                   progress=progress, executor=executor)
        analysis = empirical.collapse_analysis(res, data, rtol=an["rtol"], resolution=an["resolution"],
                                               active_threshold=an["active_threshold"])
        checks = empirical.collapse_checks(res, analysis)
        results.update(
            data=dict(name=data.name, n_train=data.n_samples, in_dim=data.in_dim,
                      input_spectrum=np.linalg.eigvalsh(data.stats()[0])[::-1].tolist()),
            model=spec.to_dict(), n_params=spec.n_params, analysis=analysis, checks=checks)
        tables = dict(sweep=res, data=data)
    results["n_converged"] = int(sum(r["converged"] for r in res.records))
    results["n_points"] = len(res.records)
    results["n_diverged"] = int(sum(bool(r["diverged"]) for r in res.records))
    if not res.ok().any():
        results["no_usable_point"] = no_usable_point_reason(results["n_diverged"], len(res.records), cfg["train"])
    results.setdefault("controls", results["analysis"].get("controls", []))
    if results.get("no_usable_point"):  # nothing detected, so every control is rejected vacuously: not a check
        results["controls"] = []
    results.setdefault("reported", results["analysis"].get("reported", []))
    results["controls_rejected"] = all(c["rejected"] for c in results["controls"])
    results["passed"] = all(c["passed"] for c in results["checks"]) and results["controls_rejected"]
    results["elapsed_s"] = time.perf_counter() - t0
    return results, tables
