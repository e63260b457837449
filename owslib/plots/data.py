"""Dataset figures: per-class pixel histograms, known/unknown composition, sample grids."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import to_rgb
from matplotlib.patches import Patch

from owslib.data.summary import DatasetSummary
from owslib.labels import IGNORE_INDEX

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
    axes[1].barh(
        labels,
        df["images_with_unknown"],
        color=ROLE_COLOURS["unknown"],
        label="with an unknown class",
    )
    axes[1].invert_yaxis()
    axes[1].set_yticklabels([])
    axes[1].set_xlabel("images")
    axes[1].legend(loc="lower right", fontsize=8)
    axes[1].set_title("images holding an unknown class")
    fig.tight_layout()
    return fig


def _class_key(summary: DatasetSummary, values: np.ndarray) -> list[tuple[int, str, str]]:
    """``(label value, class name, role)`` of ``values``, from the summary's pixel table; a value it
    lacks is named by its id, its role taken from the split (unknown ids, ignore 255, else known)."""
    df = summary.pixels.drop_duplicates("label") if len(summary.pixels) else None
    table = (
        {}
        if df is None
        else {
            int(v): (str(c), str(r))
            for v, c, r in zip(df["label"], df["class"], df["role"], strict=True)
        }
    )
    out = []
    for v in (int(x) for x in values):
        default = (
            "unknown" if v in summary.unknown_ids else "ignore" if v == IGNORE_INDEX else "known"
        )
        name, role = table.get(v, (f"id {v}", default))
        out.append((v, str(name), str(role)))
    return out


def _palette_legend(fig: plt.Figure, palette: np.ndarray, key: list[tuple[int, str, str]]) -> None:
    """A colour key beside the grid: one patch per class shown, unknown ones marked and edged in
    the yellow of their outline."""
    handles = [
        Patch(
            facecolor=palette[v] / 255.0,
            edgecolor="yellow" if role == "unknown" else "0.6",
            linewidth=1.5 if role == "unknown" else 0.5,
            label=f"{name} (unknown)" if role == "unknown" else name,
        )
        for v, name, role in key
    ]
    per_column = max(4, int(fig.get_figheight() / 0.22))
    fig.legend(
        handles=handles,
        loc="outside right upper",
        fontsize=7,
        title="label colours",
        title_fontsize=8,
        ncols=-(-len(handles) // per_column),
    )


def sample_grid(
    summary: DatasetSummary, n: int = 4, *, splits: list[str] | None = None
) -> plt.Figure:
    """``n`` samples of each split, one row each: the image, its label in the dataset's palette
    (Cityscapes trainIds, or known grey / anomaly orange; ignore black; unknown classes outlined in
    yellow) and its known/unknown mask (colours of :data:`ROLE_COLOURS`). Every panel is titled with
    its split, file name and what it shows; a key beside the grid names the colours of the classes
    present in the labels shown, unknown ones marked."""
    splits = [s for s in (splits or list(summary.samples)) if summary.samples.get(s)]
    cells = [(sp, i) for sp in splits for i in range(min(n, len(summary.samples[sp])))]
    rows = max(1, len(cells))
    fig, axes = plt.subplots(
        rows, 3, figsize=(11.0, 2.0 * rows + 0.6), squeeze=False, layout="constrained"
    )
    palette = summary.palette()
    roles_rgb = {role: np.array(to_rgb(c)) for role, c in ROLE_COLOURS.items()}
    loaded = [summary.load_sample(split, i) for split, i in cells]
    present = np.unique(
        np.concatenate([lab.ravel() for _, lab in loaded if lab is not None] or [[]])
    )
    key = _class_key(summary, present.astype(np.int64))
    role_lut = np.tile(roles_rgb["ignore"], (256, 1))
    for v, _, role in key:
        role_lut[v] = roles_rgb[role]
    for (split, i), (rgb, label), (ax_img, ax_lab, ax_mask) in zip(
        cells, loaded, axes, strict=False
    ):
        where = f"{split} / {summary.samples[split][i][0].name}"
        ax_img.imshow(rgb)
        ax_img.set_title(f"{where}\nimage", fontsize=6)
        if label is None:
            for ax, what in ((ax_lab, "labels"), (ax_mask, "known/unknown mask")):
                ax.text(0.5, 0.5, "no usable label", ha="center", va="center", fontsize=8)
                ax.set_title(f"{where}\n{what}: none (split not labelled)", fontsize=6)
            continue
        ax_lab.imshow(palette[label])
        unknown = np.isin(label, summary.unknown_ids)
        if unknown.any():
            ax_lab.contour(unknown, levels=[0.5], colors="yellow", linewidths=0.8)
        ax_lab.set_title(f"{where}\nlabels (unknown outlined yellow)", fontsize=6)
        ax_mask.imshow(role_lut[label])
        ax_mask.set_title(
            f"{where}\nknown/unknown mask (blue known, red unknown, grey ignore)", fontsize=6
        )
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if not cells:
        axes[0, 0].text(0.5, 0.5, "no samples", ha="center", va="center", fontsize=8)
    if key:
        _palette_legend(fig, palette, key)
    scheme = "Cityscapes palette" if summary.split_preset else "known grey, anomaly orange"
    fig.suptitle(
        f"{summary.name}: samples per split (labels in the {scheme}; ignore black)", fontsize=9
    )
    return fig
