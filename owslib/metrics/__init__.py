"""Evaluation metrics: known-class IoU (confusion matrix) and pixel anomaly metrics (exact, streamed)."""

from owslib.metrics.anomaly import AnomalyMetric, anomaly_metrics
from owslib.metrics.confusion import (
    ConfusionMatrix,
    accuracy_from_confusion,
    iou_from_confusion,
    miou_from_confusion,
)
from owslib.metrics.ranking import curve_metrics, exact_counts, quantisation_error_bounds

__all__ = [
    "AnomalyMetric",
    "ConfusionMatrix",
    "accuracy_from_confusion",
    "anomaly_metrics",
    "curve_metrics",
    "exact_counts",
    "iou_from_confusion",
    "miou_from_confusion",
    "quantisation_error_bounds",
]
