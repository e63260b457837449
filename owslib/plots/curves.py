"""Anomaly-detection figures: PR and ROC curves from streaming histograms, colourised anomaly maps."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from owslib.metrics.curves import curve_points  # noqa: F401  (re-exported)


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
