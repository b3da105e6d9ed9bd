"""Wide two-layer ReLU networks from a scaled initialisation (Luo et al. arXiv:2007.07497):
data sets and draws (:mod:`.data`), condensation metrics (:mod:`.metrics`) and the trainers
(:mod:`.training`)."""

from .data import TWO_LAYER_DATASETS, TwoLayerData, initial_draws, two_layer_dataset
from .metrics import angle_amplitude, condensation_metrics, cosine_similarity_matrix, effective_orientations
from .training import TwoLayerRun, train_normalised, train_plain

__all__ = [
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
