"""What the study notebooks show inline: figure files and matplotlib figures with alt text (line
plots as PNG, panels of photographs as JPEG), markdown tables, a run's figures, and the anomaly
explorer of a run (live with a model, else drawn from its explorer record)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from owslib.evaluation.anomaly_sets import anomaly_set_dataset, parse_anomaly_sets
from owslib.labels import get_split
from owslib.notebook.widgets import AnomalyExplorer, FigureBox
from owslib.paths import resolve
from owslib.plots.inline import figure_bundle, image_bundle, to_jpeg
from owslib.report.explorer_record import load_explorer_record, record_path
from owslib.report.tables import markdown_table
from owslib.runs.run import RunResult


def show_image(path: str | Path, *, photo: bool = False, quality: int = 85, alt: str = "") -> None:
    """Display a figure file inline with ``alt`` text (default: its file name). ``photo=True``
    (panels of camera images and maps) shows it as a JPEG of ``quality``: about a fifth of the
    PNG's bytes in the rendered notebook, the file on disk unchanged; line plots stay PNG."""
    from IPython.display import display

    path = resolve(path)
    data = path.read_bytes()
    alt = alt or f"Figure {path.stem.replace('_', ' ')}"
    bundle, metadata = (
        image_bundle(to_jpeg(data, quality), alt, "jpeg")
        if photo
        else (image_bundle(data, alt, "png"))
    )
    display(bundle, metadata=metadata, raw=True)


#: Alt text of a run's figures (:data:`owslib.runs.run.FIGURES`), as notebook 01 shows them.
RUN_FIGURE_ALT = {
    "training_curves": "Training curves: the per-epoch mean of every loss term on a log axis, the "
    "statistics warm-up shaded; the learning rate and the validation metrics beside.",
    "pr_curves": "Precision-recall curves of every anomaly scorer over the test pixels.",
    "roc_curves": "ROC curves of every anomaly scorer over the test pixels, with the diagonal of "
    "a random scorer.",
    "per_class_iou": "Horizontal bars: the IoU of each known class on the test split.",
    "qualitative": "Qualitative examples, one row per test image: the image, the ground truth with "
    "the unknown objects outlined, the closed-set prediction and the anomaly score.",
    "scorers_side_by_side": "One test image and every scorer's anomaly map of it, each with its "
    "colour bar, the unknown objects outlined.",
}


def show_run_figure(run: RunResult, name: str, *, photo: bool = False) -> None:
    """A figure the run wrote (``<name>.png`` in its folder), shown with its alt text."""
    who = f" Run {run.info.get('variant', run.run_dir.parent.name)}, {run.run_dir.name}."
    show_image(run.run_dir / f"{name}.png", photo=photo, alt=RUN_FIGURE_ALT.get(name, name) + who)


def show_figure(fig: plt.Figure, alt: str, *, photo: bool = False) -> None:
    """Display a matplotlib figure inline with ``alt`` text, then close it."""
    from IPython.display import display

    bundle, metadata = figure_bundle(fig, alt, photo=photo)
    plt.close(fig)
    display(bundle, metadata=metadata, raw=True)


#: What an empty cell shows: a column holding only these says nothing and is left out.
EMPTY = {"", "—", "nan", "None", "<NA>"}


def drop_empty_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` without a column that is empty in every row (e.g. a Δ to a baseline where there
    is only the baseline); :func:`~owslib.report.tables.markdown_table` gives the short headers."""
    if not len(table):
        return table
    empty = [
        c for c in table.columns if all(pd.isna(v) or str(v).strip() in EMPTY for v in table[c])
    ]
    out = table.drop(columns=empty) if len(empty) < len(table.columns) else table
    out.attrs = dict(table.attrs)
    return out


def show_table(
    table: pd.DataFrame, note: str = "", decimals: int = 4, *, compact: bool = False
) -> None:
    """Display a table as markdown (:func:`owslib.report.tables.markdown_table`): no index column,
    ``decimals`` decimals, integer counts, each convention once as a numbered note, then ``note``;
    an empty table reads "none". Columns empty in every row are left out and headers read as
    words (:func:`drop_empty_columns`, :func:`owslib.report.tables.header`). ``compact``: a column holding one value in every row is left
    out and its value said once, above the table."""
    from IPython.display import Markdown, display

    table = drop_empty_columns(table)
    above = ""
    if compact and len(table) > 1:
        same = [c for c in table.columns if table[c].astype(str).nunique() == 1]
        if same and len(same) < len(table.columns):
            above = (
                "In every row: " + "; ".join(f"{c} `{table[c].iloc[0]}`" for c in same) + ".\n\n"
            )
            table = table.drop(columns=same)
    display(Markdown(above + markdown_table(table, note, decimals)))


def explorer(run: RunResult, anomaly_set: str = "") -> FigureBox | None:
    """The anomaly explorer of a run, as one output (the live widget in JupyterLab with a kernel;
    in a rendered copy a picture of it): every test image through the model when one is loaded,
    else the images of the run's explorer record (no checkpoint needed). A run with neither (it
    predates explorer records, and checkpoints are not committed) is said so in one line.
    ``anomaly_set`` (one of the run's ``eval__anomaly_sets``, e.g. ``"road_anomaly"``): that set's
    frames instead (each through a loaded model when the set's data is here, else the set's
    record), the anomaly mask as the ground truth; the set has no class labels, so the
    prediction is shown, not scored."""
    variant = run.info.get("variant", run.run_dir.parent.name)
    seed = run.info.get("seed", run.run_dir.name.removeprefix("seed"))
    roots = parse_anomaly_sets(run.cfg.eval.anomaly_sets)
    here = anomaly_set in roots and roots[anomaly_set].is_dir()  # the set's data, to browse
    if run.exp is not None and (not anomaly_set or here):
        if not anomaly_set:
            return AnomalyExplorer(run.exp, run.exp.test_loader.dataset).widget
        frames = anomaly_set_dataset(run.cfg, anomaly_set, roots[anomaly_set])
        return AnomalyExplorer(run.exp, frames, target_kind="anomaly").widget
    path = record_path(run.run_dir, anomaly_set)
    if path.is_file():
        examples = load_explorer_record(path)
        palette = get_split(run.cfg.data.split_preset).palette
        recorded = f"the explorer record of `{variant}` seed {seed}: its {len(examples)} recorded"
        source = (
            f"{recorded} {anomaly_set} frames (no model loaded; with one, every frame of the set)"
            if anomaly_set
            else f"{recorded} test images (no model loaded; with one, every test image)"
        )
        return AnomalyExplorer.from_record(
            examples, palette, delta=run.cfg.eval.delta, source=source
        ).widget
    if anomaly_set and anomaly_set not in roots:
        say(
            f"This run (`{variant}` seed {seed}) was not evaluated on `{anomaly_set}` (its "
            f"eval__anomaly_sets: {', '.join(roots) or 'none'}), so there is nothing to explore."
        )
        return None
    which = f"explorer records of `{anomaly_set}`" if anomaly_set else "explorer records"
    say(
        f"This run (`{variant}` seed {seed}) predates {which} and has no checkpoint, so there is "
        f"nothing to explore; `python -m owslib study --run {variant}/seed{seed} --profile "
        f"{run.cfg.profile} --results scratch` retrains it into scratch/ without touching the "
        "committed results."
    )
    return None


def say(text: str) -> None:
    """Display ``text`` as markdown."""
    from IPython.display import Markdown, display

    display(Markdown(text))
