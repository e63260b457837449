"""Anomaly-detection figures: PR and ROC curves from streaming histograms, colourised anomaly maps."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from owslib.metrics import AnomalyMetric


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
    edges = metric._edges().flip(0).cpu()  # the thresholds the metrics themselves use
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


def pr_curves(curves: Mapping[str, Mapping[str, np.ndarray]], title: str = "") -> plt.Figure:
    """Precision-recall curves, one line per scorer (pooled pixels), AUPR in the legend if given."""
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    for name, c in curves.items():
        label = f"{name} (AP {c['aupr']:.3f})" if "aupr" in c else name
        ax.step(c["tpr"], c["precision"], where="post", label=label)
    ax.set(xlabel="recall (TPR)", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(title or "PR curves (pooled pixels, anomaly = positive)", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def roc_curves(curves: Mapping[str, Mapping[str, np.ndarray]], title: str = "") -> plt.Figure:
    """ROC curves, one line per scorer, with the TPR = 0.95 line FPR95 is read at."""
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    for name, c in curves.items():
        label = f"{name} (FPR95 {c['fpr95']:.3f})" if "fpr95" in c else name
        ax.plot(c["fpr"], c["tpr"], label=label)
    ax.axhline(0.95, color="gray", lw=0.7, ls="--")
    ax.plot([0, 1], [0, 1], color="lightgray", lw=0.7)
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(title or "ROC curves (pooled pixels)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def anomaly_map_rgb(
    score: np.ndarray, value_range: tuple[float, float] | None = None, cmap: str = "magma"
) -> np.ndarray:
    """An anomaly map (H, W) as RGB uint8 (H, W, 3); ``value_range`` None uses the 1st-99th
    percentiles of the map (open-ended scorers such as MaxLogit)."""
    s = np.asarray(score, dtype=np.float64)
    lo, hi = value_range if value_range is not None else np.nanpercentile(s, [1, 99])
    x = np.clip((s - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    rgba = matplotlib.colormaps[cmap](np.nan_to_num(x), bytes=True)
    return np.ascontiguousarray(rgba[..., :3])
