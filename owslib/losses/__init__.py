"""Losses: L_sem (CE, focal, Dice), class statistics, feature, contrastive, objectosphere, InfoNCE,
SynCo hard negatives, and the objective that composes them from a registry of terms."""

from owslib.losses.class_stats import ClassStatistics
from owslib.losses.contrastive import ContrastiveLoss
from owslib.losses.dice import DiceLoss, dice_loss
from owslib.losses.feature import FeatureLoss
from owslib.losses.focal import FocalLoss, focal_loss
from owslib.losses.objective import ContMAVObjective
from owslib.losses.objectosphere import ObjectosphereLoss
from owslib.losses.segmentation import WeightedCrossEntropy
from owslib.losses.semantic import SEMANTIC_LOSSES, build_semantic_loss
from owslib.losses.terms import TERMS, TermSpec, register_term

__all__ = [
    "SEMANTIC_LOSSES",
    "TERMS",
    "ClassStatistics",
    "ContMAVObjective",
    "ContrastiveLoss",
    "DiceLoss",
    "FeatureLoss",
    "FocalLoss",
    "ObjectosphereLoss",
    "TermSpec",
    "WeightedCrossEntropy",
    "build_semantic_loss",
    "dice_loss",
    "focal_loss",
    "register_term",
]
