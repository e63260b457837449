"""Losses: semantic CE, class statistics, feature, contrastive, objectosphere, and the objective."""

from owslib.losses.class_stats import ClassStatistics
from owslib.losses.contrastive import ContrastiveLoss
from owslib.losses.feature import FeatureLoss
from owslib.losses.objective import ContMAVObjective, build_semantic_loss
from owslib.losses.objectosphere import ObjectosphereLoss
from owslib.losses.segmentation import WeightedCrossEntropy

__all__ = [
    "ClassStatistics",
    "ContMAVObjective",
    "ContrastiveLoss",
    "FeatureLoss",
    "ObjectosphereLoss",
    "WeightedCrossEntropy",
    "build_semantic_loss",
]
