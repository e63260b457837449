"""Open-world inference: class Gaussians and distances (ContMAV Eqs. 11–14, :mod:`.gaussian`), the
registry of anomaly scorers (:mod:`.scorers`), novel-class discovery and class similarity
(:mod:`.discovery`)."""

from owslib.inference.discovery import ClassSimilarity, NovelClassDiscovery
from owslib.inference.gaussian import (
    class_distances,
    class_similarity,
    contrastive_unknown_score,
    fused_unknown_score,
    gaussian_class_scores,
    mahalanobis_sq,
    nearest_class,
    open_world_prediction,
    semantic_unknown_score,
    similar_class,
)
from owslib.inference.scorers import (
    SCORERS,
    Scorer,
    anomaly_scores,
    available_scorers,
    get_scorer,
    register_scorer,
)

__all__ = [
    "SCORERS",
    "ClassSimilarity",
    "NovelClassDiscovery",
    "Scorer",
    "anomaly_scores",
    "available_scorers",
    "class_distances",
    "class_similarity",
    "contrastive_unknown_score",
    "fused_unknown_score",
    "gaussian_class_scores",
    "get_scorer",
    "mahalanobis_sq",
    "nearest_class",
    "open_world_prediction",
    "register_scorer",
    "semantic_unknown_score",
    "similar_class",
]
