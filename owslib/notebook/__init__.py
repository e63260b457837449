"""The one setup call of the study notebooks, and what a comparison notebook does with its runs.

``nb = notebook.setup(globals(), "03_loss_ablations")`` reads the notebook's parameters
(``profile``, ``results_dir``, ``study_file``), finds its variants in the study file and its output
folder ``results/<notebook>/<profile>/``. ``nb.ensure_runs()`` trains what is missing and reuses
the rest (one run per variant and seed, shared between notebooks); then ``nb.table()``,
``nb.delta_figure()``, ``nb.map_figure()`` and ``nb.curves_figure()`` give the comparison with the
baseline, paired by seed, and write it into the output folder (CSV, markdown, every figure as
PNG and SVG); each figure is shown inline with alt text. ``nb.side_by_side()`` and
:func:`explorer` are the widgets, drawn from the runs' explorer records (no checkpoint needed);
with ``anomaly_set="road_anomaly"`` they (and ``nb.map_figure``) show the frames of a run's
anomaly set instead of its test images.

Its modules, by what a notebook does: ``run`` (set up a run: :func:`setup`, :class:`NotebookRun`),
``tables`` and ``figures`` (show results, each written beside the rendered notebook), ``compare``
(the comparison with the baseline; 06's :func:`answers`), ``display`` (what is shown inline) and
``widgets`` (the explorer and the side-by-side view). The study's own names the notebooks call as
``notebook.X`` (README, 06, 07 among them) are offered here too.
"""

import pandas as pd  # notebook.pd: an empty table in notebook 01

from owslib.evaluation.embeddings import space_finding
from owslib.notebook.compare import RunComparison, answers
from owslib.notebook.display import (
    RUN_FIGURE_ALT,
    drop_empty_columns,
    explorer,
    say,
    show_figure,
    show_image,
    show_run_figure,
    show_table,
)
from owslib.notebook.figures import RunFigures
from owslib.notebook.run import READ_LOGGERS, NotebookRun, setup
from owslib.notebook.tables import RunTables
from owslib.notebook.widgets import AnomalyExplorer, FigureBox, RunWidgets, SideBySide
from owslib.study.answers import exploratory_top
from owslib.study.results import (
    COMPARED,
    HEADLINE,
    contrast_findings,
    error_bounds,
    findings,
    format_pm,
    format_sigma,
    long_rows,
    present_labels,
    read_metrics,
    reader_table,
    run_fingerprint,
    scorer_table,
    setup_note,
    setup_row,
    short_label,
)
from owslib.study.studyfile import STUDY_FILE
from owslib.study.summary import (
    noise_floor_table,
    study_overview,
    summary_intro,
    summary_sections,
)

__all__ = [
    "COMPARED",
    "HEADLINE",
    "READ_LOGGERS",
    "RUN_FIGURE_ALT",
    "STUDY_FILE",
    "AnomalyExplorer",
    "FigureBox",
    "NotebookRun",
    "RunComparison",
    "RunFigures",
    "RunTables",
    "RunWidgets",
    "SideBySide",
    "answers",
    "contrast_findings",
    "drop_empty_columns",
    "error_bounds",
    "exploratory_top",
    "explorer",
    "findings",
    "format_pm",
    "format_sigma",
    "long_rows",
    "noise_floor_table",
    "pd",
    "present_labels",
    "read_metrics",
    "reader_table",
    "run_fingerprint",
    "say",
    "scorer_table",
    "setup",
    "setup_note",
    "setup_row",
    "short_label",
    "show_figure",
    "show_image",
    "show_run_figure",
    "show_table",
    "space_finding",
    "study_overview",
    "summary_intro",
    "summary_sections",
]
