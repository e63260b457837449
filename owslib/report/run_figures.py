"""A finished run's figures drawn again from its committed files (``history.csv``, ``metrics.json``,
``curves.csv``, ``explorer.npz``), so a notebook can save them as PNG and SVG beside itself
without the model: the runs wrote PNG only, and their checkpoints are not committed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from owslib import plots
from owslib.inference.scorers import SCORER_REGISTRY, get_scorer, main_scorer
from owslib.labels import get_split
from owslib.report.explorer_record import RECORD_FILE, load_explorer_record


def redraw_run_figure(
    run_dir: Path, cfg: Any, metrics: dict, tables: dict, history: list, name: str
) -> plt.Figure | None:
    """The run's figure ``name`` (:data:`owslib.runs.run.FIGURES`) from its files; None when
    they do not hold what it shows. The photographs come from the explorer record (maps stored
    at 8 bits: the same images as the run's PNG, to within a 1/255 step of the colour scale)."""
    if name == "training_curves" and history:
        warmup = getattr(cfg.loss, "stats_warmup_epochs", 0) or None
        return plots.training_curves(history, warmup_epochs=warmup)
    if name == "per_class_iou" and "per_class" in tables:
        return plots.per_class_iou(tables["per_class"])
    if name in ("pr_curves", "roc_curves") and (run_dir / "curves.csv").is_file():
        long = pd.read_csv(run_dir / "curves.csv")
        pooled = {s: r.get("pooled", {}) for s, r in metrics.get("anomaly", {}).items()}
        curves = {
            s: {
                **{c: g[c].to_numpy() for c in ("threshold", "tpr", "fpr", "precision")},
                **pooled.get(s, {}),
            }
            for s, g in long.groupby("scorer", sort=False)
        }
        return (plots.pr_curves if name == "pr_curves" else plots.roc_curves)(curves)
    if name in ("qualitative", "scorers_side_by_side") and (run_dir / RECORD_FILE).is_file():
        return _photo_figure(load_explorer_record(run_dir / RECORD_FILE), cfg, name)
    return None


def _photo_figure(examples: list[dict], cfg: Any, name: str) -> plt.Figure:
    split = get_split(cfg.data.split_preset)
    k = split.num_known

    def value_range(s: str) -> tuple[float, float] | None:
        return get_scorer(s).range(k) if s in SCORER_REGISTRY else None

    if name == "scorers_side_by_side":
        ex = examples[0]
        ranges = {s: value_range(s) for s in ex["maps"]}
        return plots.map_grid(
            ex["image"], ex["maps"], unknown_mask=ex["unknown_mask"], ranges=ranges
        )
    score = main_scorer(tuple(examples[0]["maps"]))
    shown = [{**ex, "score": ex["maps"][score], "score_name": score} for ex in examples]
    names = (*split.known_names, *split.unknown_names)
    return plots.qualitative_panel(
        shown, split.palette, class_names=names, value_range=value_range(score) or (0.0, 1.0)
    )
