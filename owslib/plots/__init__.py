"""Figures, one module per subject: ``training`` (curves, qualitative panels, side-by-side maps),
``curves`` (PR / ROC curves, colourised anomaly maps), ``data`` (class histograms, composition,
sample grids), ``embeddings`` (PCA and norms of embedding samples), ``maps`` (several runs' maps
of the same images on one scale), ``inline`` (a figure as a notebook output with alt text)."""

from owslib.plots.curves import anomaly_map_rgb, curve_points, pr_curves, roc_curves
from owslib.plots.data import class_histogram, composition, sample_grid
from owslib.plots.embeddings import embedding_pca, norm_histograms
from owslib.plots.training import (
    colorize,
    map_grid,
    per_class_iou,
    qualitative_panel,
    save_figure,
    side_by_side,
    training_curves,
)

__all__ = [
    "anomaly_map_rgb",
    "class_histogram",
    "colorize",
    "composition",
    "curve_points",
    "embedding_pca",
    "map_grid",
    "norm_histograms",
    "per_class_iou",
    "pr_curves",
    "qualitative_panel",
    "roc_curves",
    "sample_grid",
    "save_figure",
    "side_by_side",
    "training_curves",
]
