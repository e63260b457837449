"""Dataset figures: per-class pixel histograms, known/unknown composition, sample grids."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from owslib.data.summary import DatasetSummary

ROLE_COLOURS = {"known": "tab:blue", "unknown": "tab:red", "ignore": "tab:gray"}


def class_histogram(summary: DatasetSummary) -> plt.Figure:
    """Pixels per class and split (log scale); class names are coloured by role."""
    df = summary.pixels
    n_classes = df["class"].nunique() if len(df) else 0
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * n_classes + 2), 3.8))
    if df.empty:
        ax.text(0.5, 0.5, "no labelled split", ha="center", va="center")
        ax.set_axis_off()
        return fig
    nonzero = df.assign(pixels=df["pixels"].where(df["pixels"] > 0))  # log scale: absent = no bar
    sns.barplot(data=nonzero, x="class", y="pixels", hue="split", ax=ax)
    ax.set_yscale("log")
    roles = dict(zip(df["class"], df["role"], strict=False))
    for tick in ax.get_xticklabels():
        tick.set_rotation(60)
        tick.set_ha("right")
        tick.set_color(ROLE_COLOURS[roles[tick.get_text()]])
    ax.set_xlabel("class (blue known, red unknown, grey ignore)")
    ax.set_ylabel("pixels (log)")
    ax.set_title(f"{summary.name}: pixels per class ({summary.split_preset or 'anomaly labels'})")
    fig.tight_layout()
    return fig


def composition(summaries: list[DatasetSummary]) -> plt.Figure:
    """Per dataset and split: pixel shares of known / unknown / ignore, and images with an unknown."""
    rows = [c | {"dataset": s.name} for s in summaries for c in s.composition.to_dict("records")]
    df = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.5 * max(1, len(df)) + 1.8))
    if df.empty:
        for ax in axes:
            ax.set_axis_off()
        return fig
    labels = df["dataset"] + " / " + df["split"]
    left = np.zeros(len(df))
    for role, colour in ROLE_COLOURS.items():
        share = df[f"{role}_share"].to_numpy()
        axes[0].barh(labels, share, left=left, color=colour, label=role)
        left += share
    axes[0].set_xlim(0, 1)
    axes[0].invert_yaxis()
    axes[0].set_xlabel("share of pixels")
    axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set_title("pixel composition")
    axes[1].barh(labels, df["images"], color="lightgray", label="images")
    axes[1].barh(labels, df["images_with_unknown"], color=ROLE_COLOURS["unknown"],
                 label="with an unknown class")  # fmt: skip
    axes[1].invert_yaxis()
    axes[1].set_yticklabels([])
    axes[1].set_xlabel("images")
    axes[1].legend(loc="lower right", fontsize=8)
    axes[1].set_title("images holding an unknown class")
    fig.tight_layout()
    return fig


def sample_grid(
    summary: DatasetSummary, n: int = 4, *, splits: list[str] | None = None
) -> plt.Figure:
    """``n`` samples of each split: image and label colourised in the Cityscapes palette (ignore
    black), unknown classes outlined in yellow."""
    splits = [s for s in (splits or list(summary.samples)) if summary.samples.get(s)]
    cells = [(sp, i) for sp in splits for i in range(min(n, len(summary.samples[sp])))]
    cols = 4
    rows = max(1, -(-len(cells) // (cols // 2)))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 1.9 * rows + 0.3), squeeze=False)
    palette = summary.palette()
    for k, (split, i) in enumerate(cells):
        rgb, label = summary.load_sample(split, i)
        ax_img, ax_lab = axes[k // 2, 2 * (k % 2)], axes[k // 2, 2 * (k % 2) + 1]
        ax_img.imshow(rgb)
        ax_img.set_title(f"{split}: {summary.samples[split][i][0].name}", fontsize=6)
        if label is None:
            ax_lab.text(0.5, 0.5, "no usable label", ha="center", va="center", fontsize=8)
        else:
            ax_lab.imshow(palette[label])
            unknown = np.isin(label, summary.unknown_ids)
            if unknown.any():
                ax_lab.contour(unknown, levels=[0.5], colors="yellow", linewidths=0.8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{summary.name}: samples (labels in the Cityscapes palette)", fontsize=9)
    fig.tight_layout()
    return fig
