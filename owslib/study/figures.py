"""Comparison figures of a seeded study: paired Δ to the baseline, variants' anomaly maps side by
side on the same images (one colour scale per scorer), overlaid training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from PIL import Image

from owslib import comparison
from owslib.labels import IGNORE_INDEX
from owslib.metrics import anomaly_metrics
from owslib.plots.maps import map_rows
from owslib.study.results import short_label


def delta_figure(
    long: pd.DataFrame, labels: Sequence[str], baseline: str = "baseline", confidence: float = 0.95
) -> plt.Figure:
    """Per metric label (e.g. ``"aupr/fused/pooled"``) a panel: for each variant the paired Δ to
    the baseline (dot: mean; bar: Student-t interval; small points: the per-seed differences)."""
    summary = comparison.summarise(long, baseline=baseline, confidence=confidence)
    pairs = comparison.paired_differences(long, baseline=baseline)
    keyed = summary.assign(
        label=[
            comparison.metric_label(m, s, a)
            for m, s, a in summary[["metric", "scorer", "aggregation"]].itertuples(index=False)
        ]
    )
    pairs = pairs.assign(
        label=[
            comparison.metric_label(m, s, a)
            for m, s, a in pairs[["metric", "scorer", "aggregation"]].itertuples(index=False)
        ]
    )
    variants = [v for v in dict.fromkeys(summary["variant"]) if v != baseline]
    fig, axes = plt.subplots(
        1,
        len(labels),
        figsize=(3.6 * len(labels), 0.45 * len(variants) + 1.6),
        squeeze=False,
        sharey=True,
    )
    for ax, label in zip(axes[0], labels, strict=True):
        rows = keyed[(keyed["label"] == label) & (keyed["variant"] != baseline)].set_index(
            "variant"
        )
        for y, v in enumerate(variants):
            if v not in rows.index:
                continue
            r = rows.loc[v]
            ax.errorbar(
                r["delta"],
                y,
                xerr=[[r["delta"] - r["delta_lo"]], [r["delta_hi"] - r["delta"]]],
                fmt="o",
                color="black",
                capsize=3,
            )
            pts = pairs[(pairs["label"] == label) & (pairs["variant"] == v)]["diff"]
            ax.scatter(pts, np.full(len(pts), y + 0.18), s=12, color="tab:orange", zorder=3)
        ax.axvline(0.0, color="0.5", linewidth=0.8)
        better = (
            "lower" if comparison.better_direction(label.split("/")[0]) == "lower" else "higher"
        )
        ax.set_title(short_label(label), fontsize=10)
        ax.set_xlabel(f"Δ ({better} is better)", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, symmetric=False))
        ax.tick_params(labelsize=8)
        ax.set_yticks(range(len(variants)), variants)
    axes[0, 0].invert_yaxis()
    fig.suptitle(
        f"Paired difference to {baseline} (Δ = variant − {baseline}, same seeds): mean, "
        f"{confidence:.0%} t-interval, per-seed points (orange)",
        fontsize=9,
    )
    fig.tight_layout(w_pad=2.5)
    return fig


def variant_map_figure(
    records: Mapping[str, Sequence[Mapping[str, Any]] | None],
    scorer: str,
    value_range: tuple[float, float] | None = (0.0, 1.0),
    *,
    n_images: int = 4,
    run_dirs: Mapping[str, Path] | None = None,
    data_root: Path | None = None,
) -> plt.Figure | None:
    """Rows: test images; columns: the image with the unknown objects outlined, then each
    variant's ``scorer`` map of it, all on ``value_range`` (None: one range from the maps shown),
    each with its per-image AUPR; one colourbar. ``records`` maps a variant to its run's explorer
    record (:func:`owslib.report.explorer_record.load_explorer_record`), None where the run has
    none: then its saved map (``anomaly_maps/<image>_<scorer>.png`` in ``run_dirs``) is shown as it
    is, without AUPR (coloured over a bounded scorer's fixed range, so on the same scale; an
    unbounded scorer's saved map has its own). None when no image has a map."""
    by_name = {v: {ex["name"]: ex for ex in rec or ()} for v, rec in records.items()}
    dirs = dict(run_dirs or {})
    names = next((list(d) for d in by_name.values() if d), None)
    if names is None:  # no record: the images whose maps the first run saved
        first = next(iter(dirs.values()), None)
        found = (first / "anomaly_maps").glob(f"*_{scorer}.png") if first else ()
        names = sorted(p.name.removesuffix(f"_{scorer}.png") for p in found)
    rows, notes = [], {}
    for name in names[:n_images]:
        known = next((d[name] for d in by_name.values() if name in d), None)
        image = known["image"] if known is not None else _image_of(dirs, name, data_root)
        maps = {}
        for v in records:
            ex = by_name[v].get(name)
            if ex is not None and scorer in ex["maps"]:
                maps[v] = ex["maps"][scorer]
                notes[len(rows), v] = f"AUPR {format_score(image_aupr(maps[v], ex))}"
            elif v in dirs and (dirs[v] / "anomaly_maps" / f"{name}_{scorer}.png").is_file():
                maps[v] = np.asarray(Image.open(dirs[v] / "anomaly_maps" / f"{name}_{scorer}.png"))
        if image is None or not maps:
            continue
        rows.append(
            {
                "name": name,
                "image": image,
                "maps": maps,
                "unknown_mask": None if known is None else known["unknown_mask"],
                "target_kind": "classes" if known is None else known.get("target_kind"),
            }
        )
    if not rows:
        return None
    return map_rows(rows, list(records), scorer=scorer, value_range=value_range, notes=notes)


def image_aupr(score: np.ndarray, example: Mapping[str, Any]) -> float:
    """One image's AUPR of ``score``: its unknown pixels (``example["unknown_mask"]``) positive,
    the other valid pixels negative, void (``IGNORE_INDEX`` in ``example["target"]``) left out;
    exact (:func:`owslib.metrics.anomaly_metrics`); NaN without an unknown pixel."""
    labels = np.where(
        np.asarray(example["target"]) == IGNORE_INDEX,
        IGNORE_INDEX,
        np.asarray(example["unknown_mask"]).astype(np.uint8),
    )
    return float(
        anomaly_metrics(np.asarray(score, dtype=np.float64), labels.astype(np.int64))["aupr"]
    )


def format_score(x: float, d: int = 3) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{d}f}"


def _image_of(
    run_dirs: Mapping[str, Path], name: str, data_root: Path | None = None
) -> np.ndarray | None:
    """The input image a run saved beside its maps (``<name>_image.png``), else the dataset's
    ``<name>_leftImg8bit.png`` under ``data_root``, else None."""
    for run in run_dirs.values():
        path = run / "anomaly_maps" / f"{name}_image.png"
        if path.is_file():
            return np.asarray(Image.open(path).convert("RGB"))
    path = (
        next(Path(data_root).glob(f"leftImg8bit/*/*/{name}_leftImg8bit.*"), None)
        if data_root
        else None
    )
    return np.asarray(Image.open(path).convert("RGB")) if path is not None else None


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
    ax.set(
        yscale="log" if log_scale else "linear",
        xlabel="epoch",
        ylabel=f"train {term} (epoch mean)",
        title=f"training curves: {term}, seed 0",
    )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:  # no finished run has the term yet
        ax.text(
            0.5,
            0.5,
            f"no finished run records train_{term} yet",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=8,
        )
    fig.tight_layout()
    return fig


def forest_figure(
    table: pd.DataFrame, diffs: Mapping[str, Sequence[float]] | None = None
) -> plt.Figure | None:
    """The confirmatory effects: per question the mean paired difference with its (1 − α)
    interval (thin bar: the difference test) and its (1 − 2α) interval (thick bar: TOST shows
    equivalence when it lies inside the band), over the equivalence band ±margin (grey), and,
    given ``diffs`` (per notebook, the fresh seeds' paired differences), each seed's difference as
    a tick below the bars; None while no question is analysed (every planned seed done; an
    interim effect is not drawn)."""
    rows = table[table["status"].isin(["analysed", "holm_waits"])]
    if rows.empty:
        return None
    alpha = (
        float(rows["alpha"].iloc[0]) if "alpha" in rows and rows["alpha"].notna().any() else 0.05
    )
    fig, axes = plt.subplots(len(rows), 1, figsize=(7.5, 1.3 * len(rows) + 0.6), squeeze=False)
    ticked = False
    for ax, (_, r) in zip(axes[:, 0], rows.iterrows(), strict=True):
        verdict = r["verdict"] if r["status"] == "analysed" else "no verdict until Holm has all"
        ax.axvspan(-r["margin"], r["margin"], color="0.9", label="equivalence margin")
        ax.axvline(0, color="0.5", lw=0.8)
        ax.errorbar(
            [r["mean"]],
            [0],
            xerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]],
            fmt="o",
            color="C0",
            capsize=4,
            lw=1,
        )
        if pd.notna(r.get("tost_lo")) and pd.notna(r.get("tost_hi")):
            ax.plot(
                [r["tost_lo"], r["tost_hi"]],
                [0, 0],
                color="C0",
                lw=4,
                alpha=0.6,
                solid_capstyle="butt",
            )
        seeds = (diffs or {}).get(r.get("notebook"), [])
        if len(seeds):  # one tick per fresh seed: the spread the interval summarises
            ax.plot(seeds, np.full(len(seeds), -0.5), "|", color="0.25", ms=9, mew=1.2, gid="seeds")
            ax.set_ylim(-0.9, 0.5)
            ticked = True
        ax.set_yticks([])
        ax.set_title(
            f"{r['question']}\n{r['arm']} − {r['comparator']}, {r['endpoint']}, "
            f"n = {r['n_pairs']}: {verdict}",
            fontsize=8.5,
            loc="left",
        )
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel(
        f"paired difference: thin bar {100 * (1 - alpha):g} % interval, thick "
        f"bar {100 * (1 - 2 * alpha):g} % interval (TOST), grey: ±margin"
        + (", ticks below: each seed" if ticked else ""),
        fontsize=8.5,
    )
    fig.tight_layout()
    return fig


def domains_forest_figure(
    embedded: pd.DataFrame, real: pd.DataFrame, n_planned: int
) -> plt.Figure | None:
    """Each question's effect in both domains, one panel a question: the embedded confirmation's
    (``embedded``: :func:`~owslib.study.answers.confirmatory_answers`, matched on ``notebook``)
    above the real-scene replication's (``real``: :func:`~owslib.study.real_scenes.
    replication_answers`, on ``question``), each with its 95 % interval (thin) and 90 % interval
    (thick, TOST) over the band ±margin; a real-scene effect is drawn only once its ``n_planned``
    seeds are all in (no interim look), else the panel says how many are. None without questions."""
    if real.empty:
        return None
    fig, axes = plt.subplots(len(real), 1, figsize=(7.5, 1.25 * len(real) + 0.7), squeeze=False)
    by_notebook = embedded.set_index("notebook") if "notebook" in embedded else pd.DataFrame()
    for ax, r in zip(axes[:, 0], real.to_dict("records"), strict=True):
        ax.axvspan(-r["margin"], r["margin"], color="0.9")
        ax.axvline(0, color="0.5", lw=0.8)
        done = r["n_seeds"] == n_planned > 0 and bool(r["complete"])
        rows = [("real scenes", r, "C1", done)]
        if r["question"] in by_notebook.index:
            e = by_notebook.loc[r["question"]]
            rows.append(("generated scenes", e, "C0", e.get("status") == "analysed"))
        for y, (label, row, colour, drawn) in enumerate(rows):
            if not drawn:
                ax.text(0, y, f"{label}: not answered yet", ha="center", va="center", fontsize=8)
                continue
            lo, hi, mean = row["lo"], row["hi"], row["mean"]
            ax.errorbar(
                [mean], [y], xerr=[[mean - lo], [hi - mean]], fmt="o", color=colour, capsize=4, lw=1
            )
            ax.plot(
                [row["tost_lo"], row["tost_hi"]],
                [y, y],
                color=colour,
                lw=4,
                alpha=0.6,
                solid_capstyle="butt",
            )
            ax.annotate(
                f"{label}: {row['verdict']}",
                (hi, y),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_yticks([])
        ax.set_title(
            f"{r['question']}: {r['arm']} − {r['comparator']} "
            f"(real: {r['endpoint']}; margin ±{r['margin']:g}) — {r['outcome'] if done else 'pending'}",
            fontsize=8.5,
            loc="left",
        )
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel(
        "paired difference: thin bar 95 % interval, thick bar 90 % interval (TOST), grey: ±margin; "
        "blue: generated scenes (fused pooled AUPR or mIoU, fresh seeds), orange: real scenes",
        fontsize=8,
    )
    fig.tight_layout()
    return fig
