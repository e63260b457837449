"""Anomaly maps of several runs compared on one colour scale: a row per test image, its first
column the image with the unknown objects outlined, then a column per run."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from owslib.plots.training import row_label

#: Width of one cell in inches: titles and labels keep their size whatever the number of columns.
CELL_IN = 2.6
#: Width in inches a page shows a figure at without scaling it down (about 1080 px at the 120 dpi
#: of saved figures): a wider grid has its text enlarged by as much as the page will shrink it, so
#: labels stay legible at 100 % zoom.
PAGE_IN = 9.0
OUTLINE = "yellow"


def map_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    scorer: str,
    value_range: tuple[float, float] | None = None,
    notes: Mapping[tuple[int, str], str] | None = None,
) -> plt.Figure:
    """Rows of ``{"name", "image", "unknown_mask" (or None), "maps": {column: map}}`` (and
    ``"target_kind": "anomaly"`` for an anomaly set's frames, whose mask is the anomalies); a map is an
    (H, W) array of ``scorer`` values drawn with magma on ``value_range`` (None: the 1st-99th
    percentiles of every map shown, pooled), or an (H, W, 3) picture already coloured (a run's
    saved PNG), or missing. Unknown objects are outlined on the image and on every map;
    ``notes[(row, column)]`` is written under a cell (e.g. its per-image AUPR), the image's name
    under the image. Text of at least 8 pt, larger on a grid wider than a page (:data:`PAGE_IN`)
    so it keeps 11 px at 100 % zoom; names kept whole; one colourbar for all."""
    arrays = [m for r in rows for m in r["maps"].values() if m is not None and np.ndim(m) == 2]
    lo, hi = value_range or shared_range(arrays)
    norm = matplotlib.colors.Normalize(lo, hi if hi > lo else lo + 1e-6)
    h, w = np.asarray(rows[0]["image"]).shape[:2]
    cols = 1 + len(columns)
    width = CELL_IN * cols + 1.0
    # text as large as the page shrinks a wider figure: at least 11 px at 100 % zoom
    small = max(8.0, 6.7 * width / PAGE_IN)
    head = small + 1
    chars = max(12, int(CELL_IN * 72 / (0.6 * small)))  # characters that fit a cell's width
    title_chars = max(12, int(0.8 * CELL_IN * 72 / (0.6 * head)))  # a title's: the axes' width
    below = 2 * small / 72 * 1.3  # two lines under each row: the image name, a map's note
    height = len(rows) * (CELL_IN * h / w + below) + 2 * head / 72 * 1.3 + 0.4
    fig, axes = plt.subplots(len(rows), cols, figsize=(width, height), squeeze=False)
    for r, row in enumerate(rows):
        mask = row.get("unknown_mask")
        outlined = mask is not None and bool(np.asarray(mask).any())
        axes[r, 0].imshow(row["image"])
        axes[r, 0].set_xlabel(fit(row["name"], chars), fontsize=small)
        for c, column in enumerate(columns, 1):
            m = row["maps"].get(column)
            if m is None:
                axes[r, c].text(
                    0.5,
                    0.5,
                    "no map",
                    ha="center",
                    va="center",
                    fontsize=small,
                    transform=axes[r, c].transAxes,
                )
            elif np.ndim(m) == 2:
                axes[r, c].imshow(m, cmap="magma", norm=norm)
            else:
                axes[r, c].imshow(m)
            if (r, column) in (notes or {}):
                axes[r, c].set_xlabel(notes[r, column], fontsize=small)
        if outlined:
            for ax in axes[r]:
                ax.contour(mask, levels=[0.5], colors=OUTLINE, linewidths=0.8)
    masks = [r.get("unknown_mask") for r in rows]
    outlined = any(m is not None and bool(np.asarray(m).any()) for m in masks)
    what = "anomalies" if any(r.get("target_kind") == "anomaly" for r in rows) else "unknown"
    titles = [f"image, {what} outlined" if outlined else "image", *columns]
    for c, title in enumerate(titles):
        axes[0, c].set_title(fit(title, title_chars), fontsize=head)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    one_row = len(rows) == 1  # a bar as tall as one row would not hold its label: below it
    bar = fig.colorbar(
        matplotlib.cm.ScalarMappable(norm=norm, cmap="magma"),
        ax=axes.ravel().tolist(),
        fraction=0.06 if one_row else 0.025,
        pad=0.12 if one_row else 0.02,
        orientation="horizontal" if one_row else "vertical",
        aspect=50,
    )
    bar.set_label(f"{scorer}: one scale for every map (higher = more anomalous)", fontsize=small)
    bar.ax.tick_params(labelsize=small)
    return fig


def fit(text: str, width: int) -> str:
    """``text`` broken into lines of at most about ``width`` characters: at spaces, else after
    underscores (an image or variant name stays whole, :func:`row_label`)."""
    return textwrap.fill(text, width) if " " in text else row_label(text, width)


def shared_range(maps: Sequence[np.ndarray]) -> tuple[float, float]:
    """One colour range for several maps: the 1st-99th percentiles of their pooled values."""
    values = np.concatenate([np.ravel(m) for m in maps]) if maps else np.zeros(1)
    lo, hi = (float(v) for v in np.nanpercentile(values, [1, 99]))
    return lo, hi if hi > lo else lo + 1e-6
