"""Figures, one module per subject: ``training`` (curves, qualitative panels, side-by-side maps)."""

from owslib.plots.training import (
    colorize,
    qualitative_panel,
    save_figure,
    side_by_side,
    training_curves,
)

__all__ = ["colorize", "qualitative_panel", "save_figure", "side_by_side", "training_curves"]
