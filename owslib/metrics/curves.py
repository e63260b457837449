"""PR and ROC curve points of a streamed pooled anomaly metric (for tables and figures)."""

from __future__ import annotations

import numpy as np

from owslib.metrics.anomaly import AnomalyMetric


def curve_points(metric: AnomalyMetric, max_points: int = 1000) -> dict[str, np.ndarray]:
    """PR and ROC curve points of a pooled :class:`AnomalyMetric`, from high threshold to low.

    One point per occupied histogram bin (a bin's lower edge is its threshold: anomaly if
    ``score >= threshold``), thinned to at most about ``max_points`` points spread evenly in
    TPR and in FPR; ``(fpr, tpr) = (0, 0)`` is prepended. Keys: ``threshold``, ``tpr`` (= recall),
    ``fpr``, ``precision``.
    """
    if metric.aggregation != "pooled":
        raise ValueError("curve_points needs a pooled AnomalyMetric")
    counts = metric.hist.flip(-1).double().cpu()
    edges = metric.edges().flip(0).cpu()  # the thresholds the metrics themselves use
    occupied = counts.sum(0) > 0
    pos, neg, thr = counts[1][occupied], counts[0][occupied], edges[occupied]
    tp, fp = pos.cumsum(0).numpy(), neg.cumsum(0).numpy()
    n_pos, n_neg = (tp[-1], fp[-1]) if tp.size else (0.0, 0.0)
    tpr = tp / n_pos if n_pos else np.zeros_like(tp)
    fpr = fp / n_neg if n_neg else np.zeros_like(fp)
    precision = np.divide(tp, tp + fp, out=np.ones_like(tp), where=(tp + fp) > 0)
    if tp.size > max_points:
        grid = np.linspace(0.0, 1.0, max_points // 2)
        keep = np.unique(
            np.concatenate(
                [
                    np.searchsorted(tpr, grid).clip(0, tp.size - 1),
                    np.searchsorted(fpr, grid).clip(0, tp.size - 1),
                    [0, tp.size - 1],
                ]
            )
        )
        tpr, fpr, precision, thr = tpr[keep], fpr[keep], precision[keep], thr.numpy()[keep]
    else:
        thr = thr.numpy()
    return {
        "threshold": np.concatenate([[np.inf], thr]),
        "tpr": np.concatenate([[0.0], tpr]),
        "fpr": np.concatenate([[0.0], fpr]),
        "precision": np.concatenate([[1.0], precision]),
    }
