"""Training and prediction figures: loss curves, qualitative panels, side-by-side anomaly maps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from owslib.io import atomic_path
from owslib.labels import IGNORE_INDEX

LOSS_TERMS = ("loss", "sem", "feat", "cont", "obj")


def colorize(mask: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Class-index mask (H, W) → RGB (H, W, 3) with ``palette[i]``; ignore and out-of-range → black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[: len(palette)] = palette
    lut[IGNORE_INDEX] = 0
    return lut[np.asarray(mask, dtype=np.uint8)]


def save_figure(fig: plt.Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save a figure as PNG atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    return path


def training_curves(history: Sequence[dict[str, Any]]) -> plt.Figure:
    """Per-epoch means of every loss term (log scale) and the learning rate."""
    df = pd.DataFrame(list(history))
    terms = [f"train_{t}" for t in LOSS_TERMS if f"train_{t}" in df]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    long = df.melt(id_vars="epoch", value_vars=terms, var_name="term", value_name="value")
    long["term"] = long["term"].str.removeprefix("train_")
    sns.lineplot(data=long, x="epoch", y="value", hue="term", ax=axes[0], marker="o", markersize=3)
    axes[0].set_yscale("symlog", linthresh=1e-2)  # terms are 0 in the first epoch (no statistics)
    axes[0].set_ylim(bottom=0)
    axes[0].set_title("training loss terms (epoch means)")
    axes[1].plot(df["epoch"], df["lr"], color="tab:gray")
    axes[1].set_title("learning rate (start of epoch)")
    axes[1].set_xlabel("epoch")
    extra = [c for c in ("val_miou", "val_auroc") if c in df]
    if extra:
        ax2 = axes[1].twinx()
        for c in extra:
            ax2.plot(df["epoch"], df[c], marker="o", label=c)
        ax2.legend(loc="center right")
        ax2.set_ylim(0, 1)
    fig.tight_layout()
    return fig


def qualitative_panel(
    examples: Sequence[dict[str, Any]], palette: np.ndarray, *, score_name: str = "fused"
) -> plt.Figure:
    """One row per example: image, ground truth, closed-set prediction, anomaly map.

    Each example holds ``image`` (H, W, 3 uint8), ``target`` and ``pred`` (class indices; unknown
    classes ≥ K keep their own colours in the ground truth), ``score`` (H, W float) and ``name``.
    """
    n = len(examples)
    fig, axes = plt.subplots(n, 4, figsize=(13, 2.1 * n + 0.4), squeeze=False)
    titles = (
        "image",
        "ground truth (unknowns outlined)",
        "prediction",
        f"anomaly score: {score_name}",
    )
    for r, ex in enumerate(examples):
        panels = (ex["image"], colorize(ex["target"], palette), colorize(ex["pred"], palette))
        for c, img in enumerate(panels):
            axes[r, c].imshow(img)
        if ex.get("unknown_mask") is not None and ex["unknown_mask"].any():
            axes[r, 1].contour(ex["unknown_mask"], levels=[0.5], colors="yellow", linewidths=0.8)
        im = axes[r, 3].imshow(ex["score"], cmap="magma", vmin=0.0, vmax=1.0)
        axes[r, 0].set_ylabel(ex.get("name", ""), fontsize=7)
        for c in range(4):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=9)
    fig.colorbar(im, ax=axes[:, 3].tolist(), fraction=0.03)
    return fig


def side_by_side(
    image: np.ndarray, maps: dict[str, np.ndarray], *, unknown_mask: np.ndarray | None = None
) -> plt.Figure:
    """One image and several anomaly maps of it next to each other (e.g. one per scorer or model)."""
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(3.2 * (len(maps) + 1), 2.2))
    axes[0].imshow(image)
    if unknown_mask is not None and unknown_mask.any():
        axes[0].contour(unknown_mask, levels=[0.5], colors="yellow", linewidths=0.8)
    axes[0].set_title("image", fontsize=9)
    for ax, (name, m) in zip(axes[1:], maps.items(), strict=True):
        lo, hi = np.nanpercentile(m, [1, 99])
        ax.imshow(m, cmap="magma", vmin=lo, vmax=hi if hi > lo else lo + 1e-6)
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
