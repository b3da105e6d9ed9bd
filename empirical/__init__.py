"""empirical: trained torch networks measured against the exact theory.

Conventions (docs/conventions.md): depth D = number of hidden layers; loss
L = E||f(x) - y||^2 + gamma sum_l ||W_l||_F^2 (no 1/2, biases not penalised);
networks are stacks of flat parameter vectors, one row per run (:mod:`empirical.models`).
"""

from .experiments.accuracy_regimes import CURVE_SIGNALS, accuracy_regimes, classification_metrics
from .curve_verdict import table_verdicts
from .scan import ModuleSpec, ScanResult, load_model_factory, scan, scan_checkpoints, write_scan_outputs
from .transition_matching import (
    KIND_OF_ORDER,
    PredictedTransition,
    TransitionMatch,
    detect_curve_change_points,
    match_transitions,
    predicted_transitions,
    refine_sweep,
)
from .hessian_curvature import (
    CurvatureResult,
    curvature_exact,
    curvature_matrix_free,
    error_grad_hessian,
    hessian_extreme_eigenvalues,
    hutchinson_moments,
    hvp_error,
    loss_grad_hessian,
    penalty_grad_hessian,
)
from .data import (
    MNIST_ENV,
    MNIST_SOURCES,
    RAW_SOURCES,
    Dataset,
    Preprocessing,
    classification_split,
    data_stats,
    download_mnist,
    load_digits_dataset,
    load_mnist,
    load_raw,
    read_idx,
    resolve_mnist_path,
    synthetic_autoencoder,
    synthetic_teacher,
)
from .linear_landscape import LinearLandscape
from .string_method import MinimumEnergyPath, string_method
from .langevin import FirstPassage, langevin_escape, sgd_escape, sgd_noise_temperature
from .experiments.escape import (
    EscapeConfig,
    KramersLanger,
    arrhenius_verdict,
    escape_design,
    kramers_langer,
    minimum_energy_path_check,
    run_escape,
)
from .experiments.hysteresis import HysteresisResult, branch_drops, hysteresis_loop
from .experiments.init_diagram import (
    InitDiagramConfig,
    InitDiagramResult,
    boundary_crossing,
    consistency_checks,
    fit_rd_slope,
    run_init_diagram,
)
from .experiments.init_plots import (
    plot_condensation_scatter,
    plot_init_heatmap,
    plot_neff_trend,
    plot_rd_vs_width,
    plot_slope_rows,
    plot_theory_diagram,
)
from .two_layer import (
    TWO_LAYER_DATASETS,
    TwoLayerData,
    TwoLayerRun,
    angle_amplitude,
    condensation_metrics,
    cosine_similarity_matrix,
    effective_orientations,
    initial_draws,
    train_normalised,
    train_plain,
    two_layer_dataset,
)
from .models import ACTIVATIONS, OBJECTIVES, NetSpec, end_to_end_matrix, error, forward, loss, penalty
from .executors import CLUSTER_INSTALL_HINT, DaskExecutor, Executor, InProcessExecutor, make_executor
from .sweep import (
    RECORD_FIELDS,
    assemble_result,
    collect_points,
    pending_points,
    plan_chunks,
    point_check,
    run_work_unit,
    InitSpec,
    SweepConfig,
    SweepResult,
    default_inits,
    initial_parameters,
    point_seed,
    sweep_fingerprint,
    sweep_gamma,
)
from .store import (
    LOCK_NAME,
    MARKER_NAME,
    RunStore,
    StoredPoint,
    atomic_write,
    check_plain_name,
    json_ready,
    point_file_stem,
    run_fingerprint,
)
from .torch_state import tf32_disabled, torch_threads
from .training import OPTIMIZERS, TrainConfig, TrainResult, train_batched
from .experiments.vae import (VAE_ACTIVATIONS, VAESpec, VAESweepConfig, collapse_analysis, collapse_checks, sweep_beta,
                              theory_collapse_thresholds)
from .experiments.validation import SIGNALS, ValidationConfig, run_validation, theory_curves
from .verdicts import (PredictionCheck, SignalRule, SignalVerdict, Verdict, expected_kind, judge, judge_signal,
                       rule_for_column)

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
