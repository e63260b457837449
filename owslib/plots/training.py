"""Training and prediction figures: loss curves, per-class IoU, qualitative panels, anomaly-map grids."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from owslib.io import atomic_path
from owslib.labels import IGNORE_INDEX, PAD_INDEX
from owslib.losses.terms import TERMS

#: Full names of the logged loss terms (others are shown by their key).
TERM_NAMES = {
    "loss": "total (weighted sum)",
    "sem": "L_sem (Eq. 2)",
    "sem_ce": "CE part",
    "sem_focal": "focal part",
    "sem_dice": "Dice part",
    "feat": "L_feat (Eq. 5)",
    "cont": "L_cont (Eq. 8)",
    "obj": "L_obj (Eq. 9)",
    "cont_mlp": "L_cont, second decoder",
    "obj_mlp": "L_obj, second decoder",
    "conf": "confidence MSE",
    "infonce": "InfoNCE",
}


def colorize(mask: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Class-index mask (H, W) → RGB (H, W, 3) with ``palette[i]``; ignore and out-of-range → black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[: len(palette)] = palette
    lut[IGNORE_INDEX] = lut[PAD_INDEX] = 0
    return lut[np.asarray(mask, dtype=np.uint8)]


def row_label(name: str, width: int = 16) -> str:
    """An image name as a row label, whole (``falkenried_000000_000019``), broken after an
    underscore into lines of at most about ``width`` characters so a narrow row keeps it."""
    lines, line = [], ""
    for part in name.split("_"):
        piece = f"{line}_{part}" if line else part
        if line and len(piece) > width:
            lines.append(line + "_")
            piece = part
        line = piece
    return "\n".join([*lines, line])


#: Metadata that would differ at every save, left out.
_NO_DATE = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}


def save_figure(
    fig: plt.Figure, path: str | Path, dpi: int = 120, *, formats: Sequence[str] = ("png",)
) -> Path:
    """Save a figure atomically in each of ``formats`` (``png``, ``svg``, …) as ``path`` with
    that suffix; returns the first (the PNG by default). The same figure gives the same bytes
    (no save date, fixed SVG ids), so a figure rendered again unchanged is no change in git."""
    path = Path(path)
    out = [path.with_suffix(f".{fmt}") for fmt in formats]
    for p, fmt in zip(out, formats, strict=True):
        with atomic_path(p) as tmp, plt.rc_context({"svg.hashsalt": "owslib"}):
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt, metadata=_NO_DATE.get(fmt))
    return out[0]


def logged_terms(df: pd.DataFrame) -> list[str]:
    """The loss terms a history logged (``train_<term>`` columns), the total first; a term's
    diagnostics (``train_<term>_<part>``, see :func:`logged_diagnostics`) are not among them."""
    parts = set(logged_diagnostics(df, counts=True))
    terms = [c.removeprefix("train_") for c in df.columns if c.startswith("train_")]
    return sorted((t for t in terms if t not in parts), key=lambda t: (t != "loss", t))


def logged_diagnostics(df: pd.DataFrame, counts: bool = False) -> list[str]:
    """The parts a registered objective term logs beside its value (``<term>_<part>``, e.g.
    ``infonce_hardest_similarity``); sample counts (``<term>_n_…``) only with ``counts``."""
    names = [c.removeprefix("train_") for c in df.columns if c.startswith("train_")]
    out = []
    for t in names:  # a term's own value (e.g. cont_mlp, a term of its own) is not a diagnostic
        owner = max((n for n in TERMS if t.startswith(f"{n}_")), key=len, default=None)
        if t not in TERMS and owner is not None:
            part = t.removeprefix(f"{owner}_")
            if counts or not part.startswith("n_"):
                out.append(t)
    return out


def training_curves(
    history: Sequence[dict[str, Any]], *, warmup_epochs: int | None = None
) -> plt.Figure:
    """Per-epoch means of every logged loss term (log axis, zero-valued epochs left out), the
    learning rate, and validation metrics when evaluated; the warm-up of the statistics-based
    terms is marked."""
    df = pd.DataFrame(list(history))
    diagnostics = logged_diagnostics(df)
    fig, axes = plt.subplots(1, 3 if diagnostics else 2, figsize=(16 if diagnostics else 11, 3.8))
    ax = axes[0]
    for t in logged_terms(df):
        y = df[f"train_{t}"].where(df[f"train_{t}"] > 0)  # 0 during warm-up: no point on a log axis
        style = {"color": "black", "linewidth": 2.2} if t == "loss" else {"linewidth": 1.2}
        ax.plot(df["epoch"], y, marker="o", markersize=2.5, label=TERM_NAMES.get(t, t), **style)
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="epoch mean", title="training loss terms")
    if warmup_epochs:
        ax.axvspan(-0.5, warmup_epochs - 0.5, color="0.9", zorder=0, label="statistics warm-up")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[1].plot(df["epoch"], df["lr"], color="tab:gray", label="learning rate")
    axes[1].set(xlabel="epoch", ylabel="learning rate", title="schedule and validation")
    extra = [c for c in ("val_miou", "val_auroc") if c in df]
    if extra:
        ax2 = axes[1].twinx()
        for c in extra:
            ax2.plot(df["epoch"], df[c], marker="o", label=c.replace("val_", "validation "))
        ax2.set(ylim=(0, 1), ylabel="validation metric")
        ax2.legend(loc="lower right", fontsize=8)
    if diagnostics:  # what a term reports about itself (e.g. how hard its negatives are)
        for t in diagnostics:
            axes[2].plot(
                df["epoch"], df[f"train_{t}"], marker="o", markersize=2.5, label=t.replace("_", " ")
            )
        axes[2].set(xlabel="epoch", ylabel="epoch mean", title="term diagnostics")
        axes[2].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def per_class_iou(table: pd.DataFrame) -> plt.Figure:
    """Horizontal bars of the known-class IoU (a ``per_class`` table: ``class``, ``iou``)."""
    fig, ax = plt.subplots(figsize=(6, 0.28 * len(table) + 1.0))
    ax.barh(table["class"], table["iou"], color="tab:blue")
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="IoU (test split)", title="per-class IoU, known classes")
    fig.tight_layout()
    return fig


def _legend_handles(names: Sequence[str], palette: np.ndarray) -> list[Patch]:
    return [Patch(color=np.asarray(c) / 255, label=n) for n, c in zip(names, palette, strict=False)]


def qualitative_panel(
    examples: Sequence[dict[str, Any]],
    palette: np.ndarray,
    *,
    score_name: str = "",
    class_names: Sequence[str] = (),
    value_range: tuple[float, float] = (0.0, 1.0),
) -> plt.Figure:
    """One row per example: image, ground truth (unknown objects outlined), closed-set prediction,
    anomaly map (one colour scale, with a labelled colourbar); a class-colour legend below.

    Each example holds ``image`` (H, W, 3 uint8), ``target`` and ``pred`` (class indices; unknown
    classes ≥ K keep their own colours in the ground truth), ``score`` (H, W float) and ``name``.
    """
    n = len(examples)
    score_name = score_name or examples[0].get("score_name", "anomaly score")
    fig, axes = plt.subplots(n, 4, figsize=(13, 2.0 * n + 1.2), squeeze=False)
    titles = ("image", "ground truth (unknowns outlined)", "prediction", f"anomaly: {score_name}")
    for r, ex in enumerate(examples):
        panels = (ex["image"], colorize(ex["target"], palette), colorize(ex["pred"], palette))
        for c, img in enumerate(panels):
            axes[r, c].imshow(img)
        if ex.get("unknown_mask") is not None and ex["unknown_mask"].any():
            for c in (1, 3):
                axes[r, c].contour(
                    ex["unknown_mask"], levels=[0.5], colors="yellow", linewidths=0.8
                )
        im = axes[r, 3].imshow(ex["score"], cmap="magma", vmin=value_range[0], vmax=value_range[1])
        axes[r, 0].set_ylabel(row_label(ex.get("name", "")), fontsize=8)
        for c in range(4):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(titles[c], fontsize=9)
    bar = fig.colorbar(im, ax=axes[:, 3].tolist(), fraction=0.03)
    bar.set_label(f"{score_name} (higher = more anomalous)", fontsize=8)
    if class_names:
        fig.legend(
            handles=_legend_handles(class_names, palette),
            loc="lower center",
            ncol=min(10, len(class_names)),
            fontsize=7,
            frameon=False,
        )
    return fig


def map_grid(
    image: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    unknown_mask: np.ndarray | None = None,
    ranges: Mapping[str, tuple[float, float] | None] | None = None,
    columns: int = 4,
) -> plt.Figure:
    """An image and several anomaly maps of it in a grid (readable at print width: every cell
    3.4 in wide, titles 9 pt, colourbar ticks 8 pt, whatever the number of columns), each map with
    its own colourbar: the fixed range in ``ranges`` (e.g. one per scorer, shared across variants)
    or the map's 1st-99th percentiles; unknown objects outlined in yellow on the image and on
    every map."""
    cells = 1 + len(maps)
    cols = min(columns, cells)
    rows = math.ceil(cells / cols)
    h, w = np.asarray(image).shape[:2]
    size = (3.4 * cols, rows * (3.4 * h / w + 0.5))
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    flat = axes.ravel()
    flat[0].imshow(image)
    outlined = unknown_mask is not None and bool(np.asarray(unknown_mask).any())
    flat[0].set_title("image", fontsize=9)
    if outlined:
        flat[0].set_xlabel("unknown objects outlined (yellow)", fontsize=8)
    for ax, (name, m) in zip(flat[1:], maps.items(), strict=False):
        lo, hi = (ranges or {}).get(name) or tuple(np.nanpercentile(m, [1, 99]))
        im = ax.imshow(m, cmap="magma", vmin=lo, vmax=hi if hi > lo else lo + 1e-6)
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=8)
    for ax in flat[:cells]:
        if outlined:
            ax.contour(unknown_mask, levels=[0.5], colors="yellow", linewidths=0.7)
    for ax in flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in flat[cells:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def side_by_side(
    image: np.ndarray,
    maps: dict[str, np.ndarray],
    *,
    unknown_mask: np.ndarray | None = None,
    ranges: Mapping[str, tuple[float, float] | None] | None = None,
) -> plt.Figure:
    """One image and several anomaly maps of it (e.g. one per scorer), as :func:`map_grid`."""
    return map_grid(image, maps, unknown_mask=unknown_mask, ranges=ranges)
