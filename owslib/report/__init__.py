"""Run reports: tables with conventions, evaluation files and figures, qualitative examples."""

from owslib.report.examples import collect_examples, pick_examples, predict_example
from owslib.report.files import (
    save_anomaly_maps,
    write_curves,
    write_evaluation,
    write_per_image,
)
from owslib.report.tables import ANOMALY_COLUMNS, PAPER_RESULTS, metrics_tables, write_metrics

__all__ = [
    "ANOMALY_COLUMNS",
    "PAPER_RESULTS",
    "collect_examples",
    "metrics_tables",
    "pick_examples",
    "predict_example",
    "save_anomaly_maps",
    "write_curves",
    "write_evaluation",
    "write_metrics",
    "write_per_image",
]
