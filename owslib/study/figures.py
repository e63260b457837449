"""Comparison figures of a seeded study: paired Δ to the baseline, variants' anomaly maps side by
side on the same images (one colour scale per scorer), overlaid training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from owslib import comparison


def delta_figure(long: pd.DataFrame, labels: Sequence[str], baseline: str = "baseline",
                 confidence: float = 0.95) -> plt.Figure:  # fmt: skip
    """Per metric label (e.g. ``"aupr/fused/pooled"``) a panel: for each variant the paired Δ to
    the baseline (dot: mean; bar: Student-t interval; small points: the per-seed differences)."""
    summary = comparison.summarise(long, baseline=baseline, confidence=confidence)
    pairs = comparison.paired_differences(long, baseline=baseline)
    keyed = summary.assign(label=[comparison.metric_label(m, s, a) for m, s, a in
                                  summary[["metric", "scorer", "aggregation"]].itertuples(index=False)])  # fmt: skip
    pairs = pairs.assign(label=[comparison.metric_label(m, s, a) for m, s, a in
                                pairs[["metric", "scorer", "aggregation"]].itertuples(index=False)])  # fmt: skip
    variants = [v for v in dict.fromkeys(summary["variant"]) if v != baseline]
    fig, axes = plt.subplots(1, len(labels), figsize=(3.6 * len(labels), 0.45 * len(variants) + 1.6),
                             squeeze=False, sharey=True)  # fmt: skip
    for ax, label in zip(axes[0], labels, strict=True):
        rows = keyed[(keyed["label"] == label) & (keyed["variant"] != baseline)].set_index(
            "variant"
        )
        for y, v in enumerate(variants):
            if v not in rows.index:
                continue
            r = rows.loc[v]
            ax.errorbar(r["delta"], y, xerr=[[r["delta"] - r["delta_lo"]], [r["delta_hi"] - r["delta"]]],
                        fmt="o", color="black", capsize=3)  # fmt: skip
            pts = pairs[(pairs["label"] == label) & (pairs["variant"] == v)]["diff"]
            ax.scatter(pts, np.full(len(pts), y + 0.18), s=12, color="tab:orange", zorder=3)
        ax.axvline(0.0, color="0.5", linewidth=0.8)
        better = (
            "lower" if comparison.better_direction(label.split("/")[0]) == "lower" else "higher"
        )
        ax.set(title=label, xlabel=f"Δ vs {baseline} ({better} is better)")
        ax.set_yticks(range(len(variants)), variants)
    axes[0, 0].invert_yaxis()
    fig.suptitle(f"paired difference to {baseline}: mean, {confidence:.0%} t-interval, per-seed "
                 "points (orange)", fontsize=9)  # fmt: skip
    fig.tight_layout()
    return fig


def variant_map_figure(
    run_dirs: Mapping[str, Path], images: Sequence[str], scorer: str,
    value_range: tuple[float, float] = (0.0, 1.0), data_root: Path | None = None,
) -> plt.Figure:  # fmt: skip
    """Rows: test images; columns: the image, then each variant's ``scorer`` map of it (the maps
    each run wrote, all on the scorer's fixed ``value_range``, magma), with one colourbar."""
    cols = 1 + len(run_dirs)
    first = next(iter(run_dirs.values()))
    sample = np.asarray(Image.open(first / "anomaly_maps" / f"{images[0]}_{scorer}.png"))
    h, w = sample.shape[:2]
    fig, axes = plt.subplots(len(images), cols, figsize=(2.6 * cols, len(images) * 2.6 * h / w + 0.8),
                             squeeze=False)  # fmt: skip
    for r, name in enumerate(images):
        rgb = _image_of(first, name, data_root)
        axes[r, 0].imshow(rgb if rgb is not None else np.zeros_like(sample))
        axes[r, 0].set_ylabel(name[-18:], fontsize=7)
        for c, (variant, d) in enumerate(run_dirs.items(), 1):
            path = d / "anomaly_maps" / f"{name}_{scorer}.png"
            if path.is_file():
                axes[r, c].imshow(np.asarray(Image.open(path)))
            if r == 0:
                axes[r, c].set_title(variant, fontsize=8)
        if r == 0:
            axes[r, 0].set_title("image", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    norm = matplotlib.colors.Normalize(*value_range)
    bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap="magma"), ax=axes.ravel().tolist(),
                       fraction=0.02)  # fmt: skip
    bar.set_label(f"{scorer} (one scale for every variant)", fontsize=8)
    return fig


def _image_of(run: Path, name: str, data_root: Path | None = None) -> np.ndarray | None:
    """The input image the run saved beside its maps (``<name>_image.png``), else the dataset's
    ``<name>_leftImg8bit.png`` under ``data_root``, else None."""
    path = run / "anomaly_maps" / f"{name}_image.png"
    if not path.is_file() and data_root is not None:
        path = next(Path(data_root).glob(f"leftImg8bit/*/*/{name}_leftImg8bit.*"), path)
    return np.asarray(Image.open(path).convert("RGB")) if path.is_file() else None


def curves_figure(
    histories: Mapping[str, pd.DataFrame], term: str = "loss", *, log_scale: bool = True
) -> plt.Figure:
    """The variants' training curves (``train_<term>`` per epoch, seed 0) overlaid; a log axis
    (non-positive values left out) unless ``log_scale`` is False."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for variant, df in histories.items():
        col = f"train_{term}"
        if col in df:
            y = df[col].where(df[col] > 0) if log_scale else df[col]
            ax.plot(df["epoch"], y, marker="o", markersize=2.5, label=variant)
    ax.set(yscale="log" if log_scale else "linear", xlabel="epoch", ylabel=f"train {term} (epoch mean)",
           title=f"training curves: {term}, seed 0")  # fmt: skip
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
