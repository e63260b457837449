"""Files of an evaluation: per-image metrics, PR/ROC curves and figures, anomaly maps, and
:func:`write_evaluation`, which writes everything an :class:`~owslib.evaluation.Evaluation` holds.
Every file is written atomically."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from owslib.io import atomic_path, atomic_write_text
from owslib.plots import anomaly_map_rgb, pr_curves, roc_curves, save_figure
from owslib.report.tables import write_metrics


def write_evaluation(
    out_dir: str | Path, result: Any, dataset: str, split_preset: str
) -> dict[str, pd.DataFrame]:
    """Write an evaluation into ``out_dir``: ``metrics.json`` and its tables, ``per_image.csv``,
    ``curves.csv`` with ``pr_curves.png`` / ``roc_curves.png``, and ``anomaly_maps/``; the file
    names land in ``metrics["files"]``. Returns the tables."""
    out_dir = Path(out_dir)
    files: dict[str, str] = {}
    if getattr(result, "rows", None):
        write_per_image(out_dir / "per_image.csv", result.rows)
        files["per_image"] = "per_image.csv"
    pooled = {s: r["pooled"] for s, r in result.get("anomaly", {}).items()}
    files |= write_curves(out_dir, getattr(result, "curves", {}), pooled)
    for m in getattr(result, "maps", []):
        save_anomaly_maps(
            out_dir / "anomaly_maps",
            m["name"],
            m["image"],
            m["maps"],
            m["unknown_mask"],
            m["ranges"],
        )
        files["anomaly_maps"] = "anomaly_maps/"
    metrics = dict(result) | ({"files": files} if files else {})
    return write_metrics(out_dir, metrics, dataset, split_preset)


def write_per_image(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """The per-image metrics (one row per image) as CSV."""
    atomic_write_text(Path(path), pd.DataFrame(rows).to_csv(index=False))


def write_curves(
    out_dir: str | Path,
    curves: Mapping[str, Mapping[str, np.ndarray]],
    summary: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, str]:
    """``curves.csv`` (long format: scorer, threshold, tpr, fpr, precision) and the PR and ROC
    figures ``pr_curves.png`` / ``roc_curves.png``; returns the file names written."""
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    if not curves:
        return {}
    frames = [pd.DataFrame(dict(c)).assign(scorer=s) for s, c in curves.items()]
    long = pd.concat(frames, ignore_index=True)
    cols = ["scorer", "threshold", "tpr", "fpr", "precision"]
    atomic_write_text(out_dir / "curves.csv", long[cols].to_csv(index=False, float_format="%.6g"))
    labelled = {s: {**c, **(summary or {}).get(s, {})} for s, c in curves.items()}
    for name, plot in (("pr_curves", pr_curves), ("roc_curves", roc_curves)):
        fig = plot(labelled)
        save_figure(fig, out_dir / f"{name}.png")
        plt.close(fig)
    return {"curves": "curves.csv", "pr_curves": "pr_curves.png", "roc_curves": "roc_curves.png"}


def map_stem(name: str) -> str:
    """The file-name stem of an image's anomaly maps (``<stem>_<scorer>.png`` and
    ``<stem>_image.png``): its name, each run of characters other than letters, digits, ``.`` and
    ``-`` replaced by ``_``."""
    return re.sub(r"[^\w.-]+", "_", name)


def save_anomaly_maps(
    folder: str | Path,
    name: str,
    image: np.ndarray,
    maps: Mapping[str, np.ndarray],
    unknown_mask: np.ndarray,
    ranges: Mapping[str, tuple[float, float] | None],
) -> None:
    """One image's anomaly maps: ``<name>_<scorer>.png`` at native resolution (magma, over the
    scorer's value range: one scale for every run) and the input ``<name>_image.png``.
    ``unknown_mask`` is accepted for callers that outline unknowns; the files hold the raw maps."""
    from PIL import Image

    folder = Path(folder)
    safe = map_stem(name)
    arrays = {s: np.asarray(m, dtype=np.float32) for s, m in maps.items()}
    with atomic_path(folder / f"{safe}_image.png") as tmp:
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format="PNG")
    for scorer, arr in arrays.items():
        with atomic_path(folder / f"{safe}_{scorer}.png") as tmp:
            Image.fromarray(anomaly_map_rgb(arr, ranges.get(scorer))).save(tmp, format="PNG")
