"""empirical: trained torch networks measured against the exact theory.

Conventions (docs/conventions.md): depth D = number of hidden layers; loss
L = E||f(x) - y||^2 + gamma sum_l ||W_l||_F^2 (no 1/2, biases not penalised);
networks are stacks of flat parameter vectors, one row per run (:mod:`empirical.models`).
"""

# Names resolve on first use (PEP 562): the torch-free parts (data loading and
# preprocessing, the point store) load without torch, so `l2phase theory --data NAME`
# and the store stay light; everything else imports torch when first touched.
import sys as _sys
from importlib import import_module as _import_module
from types import ModuleType as _ModuleType

_SUBMODULE_OF = {
    "CURVE_SIGNALS": "experiments.accuracy_regimes",
    "accuracy_regimes": "experiments.accuracy_regimes",
    "classification_metrics": "experiments.accuracy_regimes",
    "table_verdicts": "curve_verdict",
    "ModuleSpec": "scan",
    "ScanResult": "scan",
    "load_model_factory": "scan",
    "scan": "scan",
    "scan_checkpoints": "scan",
    "write_scan_outputs": "scan",
    "KIND_OF_ORDER": "transition_matching",
    "PredictedTransition": "transition_matching",
    "TransitionMatch": "transition_matching",
    "detect_curve_change_points": "transition_matching",
    "match_transitions": "transition_matching",
    "predicted_transitions": "transition_matching",
    "refine_sweep": "transition_matching",
    "CurvatureResult": "hessian_curvature",
    "curvature_exact": "hessian_curvature",
    "curvature_matrix_free": "hessian_curvature",
    "error_grad_hessian": "hessian_curvature",
    "hessian_extreme_eigenvalues": "hessian_curvature",
    "hutchinson_moments": "hessian_curvature",
    "hvp_error": "hessian_curvature",
    "loss_grad_hessian": "hessian_curvature",
    "penalty_grad_hessian": "hessian_curvature",
    "MNIST_ENV": "data",
    "MNIST_SOURCES": "data",
    "RAW_SOURCES": "data",
    "Dataset": "data",
    "Preprocessing": "data",
    "classification_split": "data",
    "data_stats": "data",
    "download_mnist": "data",
    "load_digits_dataset": "data",
    "load_mnist": "data",
    "load_raw": "data",
    "read_idx": "data",
    "resolve_mnist_path": "data",
    "synthetic_autoencoder": "data",
    "synthetic_teacher": "data",
    "LinearLandscape": "linear_landscape",
    "MinimumEnergyPath": "string_method",
    "string_method": "string_method",
    "FirstPassage": "langevin",
    "langevin_escape": "langevin",
    "sgd_escape": "langevin",
    "sgd_noise_temperature": "langevin",
    "EscapeConfig": "experiments.escape",
    "KramersLanger": "experiments.escape",
    "arrhenius_verdict": "experiments.escape",
    "escape_design": "experiments.escape",
    "kramers_langer": "experiments.escape",
    "minimum_energy_path_check": "experiments.escape",
    "run_escape": "experiments.escape",
    "HysteresisResult": "experiments.hysteresis",
    "branch_drops": "experiments.hysteresis",
    "hysteresis_loop": "experiments.hysteresis",
    "InitDiagramConfig": "experiments.init_diagram",
    "InitDiagramResult": "experiments.init_diagram",
    "boundary_crossing": "experiments.init_diagram",
    "consistency_checks": "experiments.init_diagram",
    "fit_rd_slope": "experiments.init_diagram",
    "run_init_diagram": "experiments.init_diagram",
    "plot_condensation_scatter": "experiments.init_plots",
    "plot_init_heatmap": "experiments.init_plots",
    "plot_neff_trend": "experiments.init_plots",
    "plot_rd_vs_width": "experiments.init_plots",
    "plot_slope_rows": "experiments.init_plots",
    "plot_theory_diagram": "experiments.init_plots",
    "TWO_LAYER_DATASETS": "two_layer",
    "TwoLayerData": "two_layer",
    "TwoLayerRun": "two_layer",
    "angle_amplitude": "two_layer",
    "condensation_metrics": "two_layer",
    "cosine_similarity_matrix": "two_layer",
    "effective_orientations": "two_layer",
    "initial_draws": "two_layer",
    "train_normalised": "two_layer",
    "train_plain": "two_layer",
    "two_layer_dataset": "two_layer",
    "ACTIVATIONS": "models",
    "OBJECTIVES": "models",
    "NetSpec": "models",
    "end_to_end_matrix": "models",
    "error": "models",
    "forward": "models",
    "loss": "models",
    "penalty": "models",
    "CLUSTER_INSTALL_HINT": "executors",
    "DaskExecutor": "executors",
    "Executor": "executors",
    "InProcessExecutor": "executors",
    "make_executor": "executors",
    "RECORD_FIELDS": "sweep",
    "assemble_result": "sweep",
    "collect_points": "sweep",
    "pending_points": "sweep",
    "plan_chunks": "sweep",
    "point_check": "sweep",
    "run_work_unit": "sweep",
    "InitSpec": "sweep",
    "SweepConfig": "sweep",
    "SweepResult": "sweep",
    "default_inits": "sweep",
    "initial_parameters": "sweep",
    "point_seed": "sweep",
    "sweep_fingerprint": "sweep",
    "sweep_gamma": "sweep",
    "LOCK_NAME": "store",
    "MARKER_NAME": "store",
    "RunStore": "store",
    "StoredPoint": "store",
    "atomic_write": "store",
    "check_plain_name": "store",
    "json_ready": "store",
    "point_file_stem": "store",
    "run_fingerprint": "store",
    "tf32_disabled": "torch_state",
    "torch_threads": "torch_state",
    "OPTIMIZERS": "training",
    "TrainConfig": "training",
    "TrainResult": "training",
    "train_batched": "training",
    "VAE_ACTIVATIONS": "experiments.vae",
    "VAESpec": "experiments.vae",
    "VAESweepConfig": "experiments.vae",
    "collapse_analysis": "experiments.vae",
    "collapse_checks": "experiments.vae",
    "sweep_beta": "experiments.vae",
    "theory_collapse_thresholds": "experiments.vae",
    "SIGNALS": "experiments.validation",
    "ValidationConfig": "experiments.validation",
    "run_validation": "experiments.validation",
    "theory_curves": "experiments.validation",
    "PredictionCheck": "verdicts",
    "SignalRule": "verdicts",
    "SignalVerdict": "verdicts",
    "Verdict": "verdicts",
    "expected_kind": "verdicts",
    "judge": "verdicts",
    "judge_signal": "verdicts",
    "rule_for_column": "verdicts",
}


def __getattr__(name: str):
    if name in _SUBMODULE_OF:
        value = getattr(_import_module(f".{_SUBMODULE_OF[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# Two public functions share their module's name (scan, string_method).  Importing such a
# module binds the module to that name in this package; an eager ``from .scan import scan``
# used to rebind it, but a lazy package may see the module imported first (by the CLI, a
# test, a Dask worker), so the binding is redirected to the function here.
_FUNCTION_NAMED_LIKE_ITS_MODULE = frozenset({"scan", "string_method"})


class _Package(_ModuleType):
    def __setattr__(self, name: str, value) -> None:
        if name in _FUNCTION_NAMED_LIKE_ITS_MODULE and isinstance(value, _ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package

__all__ = [
    "table_verdicts",
    "ModuleSpec", "ScanResult", "scan", "scan_checkpoints", "load_model_factory", "write_scan_outputs",
    "CURVE_SIGNALS", "accuracy_regimes", "classification_metrics", "classification_split", "MNIST_ENV",
    "resolve_mnist_path", "synthetic_autoencoder", "VAE_ACTIVATIONS", "VAESpec", "VAESweepConfig", "collapse_analysis", "collapse_checks", "sweep_beta",
    "theory_collapse_thresholds", "assemble_result", "collect_points", "pending_points", "run_work_unit",
    "plan_chunks", "point_check", "sweep_fingerprint",
    # the point store
    "LOCK_NAME", "MARKER_NAME", "RunStore", "StoredPoint", "atomic_write", "check_plain_name", "json_ready",
    "point_file_stem", "run_fingerprint",
    "penalty_grad_hessian",
    "CLUSTER_INSTALL_HINT",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "make_executor",
    "ACTIVATIONS", "OBJECTIVES", "CurvatureResult", "Dataset", "HysteresisResult", "InitSpec", "KIND_OF_ORDER",
    "MNIST_SOURCES", "NetSpec", "OPTIMIZERS", "PredictedTransition", "RECORD_FIELDS", "SIGNALS",
    "SweepConfig", "SweepResult", "TrainConfig", "TrainResult", "TransitionMatch", "ValidationConfig",
    "branch_drops", "curvature_exact", "curvature_matrix_free", "data_stats",
    "default_inits", "detect_curve_change_points", "download_mnist", "end_to_end_matrix", "error",
    "error_grad_hessian", "forward", "hessian_extreme_eigenvalues", "hutchinson_moments", "hvp_error",
    "hysteresis_loop", "initial_parameters", "load_digits_dataset", "load_mnist", "loss",
    "loss_grad_hessian", "match_transitions", "penalty", "point_seed", "predicted_transitions",
    "read_idx", "refine_sweep", "run_validation", "sweep_gamma", "synthetic_teacher", "theory_curves",
    "train_batched", "tf32_disabled", "torch_threads",
    # verdicts with negative controls
    "SignalRule", "SignalVerdict", "Verdict", "expected_kind", "judge", "judge_signal", "PredictionCheck",
    "rule_for_column",
    "RAW_SOURCES", "Preprocessing", "load_raw",
    # metastability and escape
    "LinearLandscape", "MinimumEnergyPath", "string_method", "FirstPassage", "langevin_escape", "sgd_escape",
    "sgd_noise_temperature", "EscapeConfig", "KramersLanger", "kramers_langer", "minimum_energy_path_check",
    "run_escape",
    "arrhenius_verdict", "escape_design",
    # two-layer ReLU initialisation phase diagram (Luo et al., arXiv:2007.07497)
    "InitDiagramConfig",
    "InitDiagramResult",
    "boundary_crossing",
    "consistency_checks",
    "fit_rd_slope",
    "run_init_diagram",
    "plot_condensation_scatter",
    "plot_init_heatmap",
    "plot_neff_trend",
    "plot_rd_vs_width",
    "plot_slope_rows",
    "plot_theory_diagram",
    "TWO_LAYER_DATASETS",
    "TwoLayerData",
    "TwoLayerRun",
    "angle_amplitude",
    "condensation_metrics",
    "cosine_similarity_matrix",
    "effective_orientations",
    "initial_draws",
    "train_normalised",
    "train_plain",
    "two_layer_dataset",
]
