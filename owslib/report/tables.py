"""Metrics tables of one run (CSV + markdown), each number with its convention and the paper's value
where dataset, split and convention match. Every file is written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from owslib.inference.scorers import main_scorer
from owslib.io import atomic_write_json, atomic_write_text

_SMIYC = "paper, SMIYC RoadAnomaly21 hidden test set (ours: public validation frames)"
#: The paper's numbers (Sodano et al., CVPR 2024), keyed by (dataset, split preset, summary key).
#: They appear beside ours only when dataset, split and convention (aggregation) match.
PAPER_RESULTS: dict[tuple[str, str, str], tuple[float, str]] = {
    ("cityscapes", "cityscapes", "miou"): (0.708, "Table 1, open-world model, Cityscapes val"),
    ("bdd_anomaly", "bdd_anomaly3", "miou"): (0.628, "Table 2, open-world model"),
    ("bdd_anomaly", "bdd_anomaly3", "aupr/fused/per_image"): (
        0.961,
        "Table 2; aggregation not stated, per-image likely",
    ),
    ("bdd_anomaly", "bdd_anomaly3", "fpr95/fused/per_image"): (
        0.069,
        "Table 2; aggregation not stated, per-image likely",
    ),
    ("bdd_anomaly", "bdd_anomaly3", "novel_iou/train"): (0.624, "paper, novel-class IoU"),
    ("bdd_anomaly", "bdd_anomaly3", "novel_iou/motorcycle"): (0.622, "paper, novel-class IoU"),
    ("bdd_anomaly", "bdd_anomaly3", "novel_iou/bicycle"): (0.568, "paper, novel-class IoU"),
    ("bdd_anomaly", "bdd_anomaly2", "similarity/motorcycle"): (
        0.589,
        "paper, class similarity on BDD-Anomaly*",
    ),
    ("bdd_anomaly", "bdd_anomaly2", "similarity/train"): (
        0.499,
        "paper, class similarity on BDD-Anomaly*",
    ),
    ("road_anomaly21", "cityscapes", "aupr/fused/pooled"): (
        0.902,
        _SMIYC,
    ),
    ("road_anomaly21", "cityscapes", "fpr95/fused/pooled"): (
        0.038,
        _SMIYC,
    ),
    ("road_anomaly21", "cityscapes", "siou/fused"): (
        0.545,
        _SMIYC,
    ),
    ("road_anomaly21", "cityscapes", "ppv/fused"): (
        0.619,
        _SMIYC,
    ),
    ("road_anomaly21", "cityscapes", "mean_f1/fused"): (
        0.636,
        _SMIYC,
    ),
}

ANOMALY_COLUMNS = ("aupr", "fpr95", "auroc", "best_f1")
#: A streamed metric's error bound is shown beside it when larger than this.
BOUND_SHOWN = 1e-3


def _row(label: str, key: str, value: Any, convention: str) -> dict[str, Any]:
    return {"metric": label, "key": key, "value": value, "convention": convention}


def _summary_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    conv = metrics["conventions"]
    rows = []
    if "miou" in metrics:
        rows.append(_row("mIoU (known classes)", "miou", metrics["miou"], conv["miou"]))
        rows.append(_row("pixel accuracy", "pixel_acc", metrics["pixel_acc"], conv["miou"]))
    anomaly = metrics.get("anomaly", {})
    main = main_scorer(tuple(anomaly)) if anomaly else None
    for agg, res in (anomaly.get(main) or {}).items():
        for k in ("aupr", "fpr95", "auroc"):
            label = f"{k.upper()} ({main}, {agg})"
            rows.append(_row(label, f"{k}/{main}/{agg}", res[k], f"{conv[agg]}; {conv['anomaly']}"))
    for scorer, res in metrics.get("components", {}).items():
        for k, name in (("siou", "sIoU (gt)"), ("ppv", "PPV"), ("mean_f1", "mean F1")):
            rows.append(_row(f"{name} ({scorer})", f"{k}/{scorer}", res[k], conv["components"]))
    discovery = metrics.get("discovery", {})
    for variant in ("pipeline", "oracle"):
        key = "novel_iou" if variant == "pipeline" else "novel_iou_oracle"
        for name, v in discovery.get(variant, {}).get("per_class", {}).items():
            label = f"novel-class IoU: {name} ({variant})"
            rows.append(_row(label, f"{key}/{name}", v["iou"], conv["discovery"]))
    for name, v in metrics.get("similarity", {}).get("per_class", {}).items():
        if "accuracy" not in v:
            continue
        target = "|".join(v["targets"])
        for variant, key in (("pipeline", "similarity"), ("oracle", "similarity_oracle")):
            value = v["accuracy" if variant == "pipeline" else "accuracy_oracle"]
            label = f"class similarity: {name} -> {target} ({variant})"
            rows.append(_row(label, f"{key}/{name}", value, conv["similarity"]))
    return rows


def metrics_tables(
    metrics: dict[str, Any], dataset: str, split_preset: str
) -> dict[str, pd.DataFrame]:
    """The tables of one evaluation, each number with its convention.

    ``summary`` (one row per headline number, with the paper's value where dataset, split preset
    and aggregation match), ``anomaly`` (one row per scorer × aggregation), and where evaluated
    ``per_class`` (IoU per known class), ``components``, ``discovery``, ``similarity``.
    """
    rows = _summary_rows(metrics)
    summary = pd.DataFrame(rows, columns=["metric", "key", "value", "convention"])
    paper = [PAPER_RESULTS.get((dataset, split_preset, r["key"])) for r in rows]
    if any(p is not None for p in paper):
        summary["paper"] = [p[0] if p else np.nan for p in paper]
        summary["paper_source"] = [p[1] if p else "" for p in paper]
    tables = {"summary": summary.drop(columns="key"), "anomaly": _anomaly_table(metrics)}
    if "iou" in metrics:
        iou = metrics["iou"]
        tables["per_class"] = pd.DataFrame({"class": list(iou), "iou": list(iou.values())})
    if "components" in metrics:
        tables["components"] = _components_table(metrics["components"])
    if "discovery" in metrics:
        tables["discovery"] = _discovery_table(metrics["discovery"])
    if "similarity" in metrics:
        tables["similarity"] = _similarity_table(metrics["similarity"])
    return tables


def _anomaly_table(metrics: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for scorer, by_agg in metrics.get("anomaly", {}).items():
        for agg, res in by_agg.items():
            used = res.get("n_images", np.nan) if agg == "per_image" else np.nan
            rows.append(
                {
                    "scorer": scorer,
                    "aggregation": agg,
                    **{k: res.get(k, np.nan) for k in ANOMALY_COLUMNS},
                    **{f"{k} bound": res.get(f"{k}_max_error", 0.0) for k in ANOMALY_COLUMNS},
                    "images_used": used,
                    "images_skipped": res.get("n_skipped", np.nan),
                    "convention": metrics["conventions"][agg],
                }
            )
    # a streamed metric's error bound (histogram quantisation) is a column where it exceeds 1e-3
    table = pd.DataFrame(rows)
    shown = [
        f"{k} bound"
        for k in ANOMALY_COLUMNS
        if f"{k} bound" in table and (table[f"{k} bound"] > BOUND_SHOWN).any()
    ]
    cols = ["scorer", "aggregation"]
    for k in ANOMALY_COLUMNS:
        cols += [k, f"{k} bound"] if f"{k} bound" in shown else [k]
    table = table.reindex(columns=[*cols, "images_used", "images_skipped", "convention"])
    for c in ("images_used", "images_skipped"):  # counts, NaN for the pooled rows
        table[c] = pd.to_numeric(table[c]).round().astype("Int64")
    return table


def _components_table(components: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for scorer, r in components.items():
        f1 = {f"f1@{t}": r["f1"][t] for t in ("0.25", "0.50", "0.75") if t in r["f1"]}
        rows.append(
            {
                "scorer": scorer,
                "threshold": r["threshold"],
                "siou": r["siou"],
                "ppv": r["ppv"],
                "mean_f1": r["mean_f1"],
                **f1,
                "gt_components": r["n_gt_components"],
                "pred_components": r["n_pred_components"],
                "track": f"{r['track']} ({r['min_pred_size']}/{r['min_gt_size']} px)",
            }
        )
    return pd.DataFrame(rows)


def _discovery_table(discovery: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for variant in ("pipeline", "oracle"):
        res = discovery.get(variant, {})
        for name, v in res.get("per_class", {}).items():
            rows.append(
                {
                    "variant": variant,
                    "class": name,
                    "iou": v["iou"],
                    "discovered_class": v["discovered_class"],
                    "gt_pixels": v["gt_pixels"],
                    "classes_discovered": res["n_discovered"],
                    "space": discovery.get("space"),
                    "eta": discovery.get("eta"),
                }
            )
    return pd.DataFrame(rows)


def _similarity_table(similarity: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for name, v in similarity.get("per_class", {}).items():
        rows.append(
            {
                "class": name,
                "lookup": "|".join(v.get("targets", [])),
                "accuracy": v.get("accuracy", np.nan),
                "accuracy_oracle": v.get("accuracy_oracle", np.nan),
                "most_similar": v["most_similar"],
                "pixels_predicted_unknown": v["pixels"],
                "pixels": v["pixels_oracle"],
            }
        )
    return pd.DataFrame(rows)


def write_metrics(
    run_dir: str | Path, metrics: dict[str, Any], dataset: str, split_preset: str
) -> dict[str, pd.DataFrame]:
    """Write ``metrics.json`` and every table as ``<name>.csv`` and ``<name>.md``; return the tables."""
    run_dir = Path(run_dir)
    atomic_write_json(run_dir / "metrics.json", metrics)
    tables = metrics_tables(metrics, dataset, split_preset)
    md = []
    for name, df in tables.items():
        atomic_write_text(run_dir / f"{name}.csv", df.to_csv(index=False))
        md.append(f"## {name}\n\n{markdown_table(df)}\n")
    atomic_write_text(run_dir / "metrics.md", "\n".join(md))
    return tables


#: Reader-facing headers of columns that tables carry under their data names (the CSV files keep
#: those); any other name has its underscores read as spaces.
HEADERS = {
    "train_s": "train s",
    "eval_s": "eval s",
    "sd_diff": "SD of Δ",
    "q_bh": "q (BH)",
    "n_pairs": "pairs",
    "margin_in_sd": "margin / SD",
    "power_at_margin": "power at margin",
    "seeds_for_power": "seeds for power",
    "seeds_for_tost": "seeds for TOST",
    "tost_power": "TOST power",
    "gt_pixels": "GT pixels",
    "gt_components": "GT components",
    "pred_components": "predicted components",
    "pixels_predicted_unknown": "pixels flagged unknown",
    "best_f1": "best F1",
    "mean_f1": "mean F1",
    "infonce_hardest_similarity": "hardest similarity",
    "infonce_synthetic_hardest_share": "synthetic hardest share",
}


def header(name: Any) -> Any:
    """A column's reader-facing header (:data:`HEADERS`, else its underscores as spaces)."""
    return HEADERS.get(name, name.replace("_", " ")) if isinstance(name, str) else name


def markdown_table(table: pd.DataFrame, note: str = "", decimals: int = 4) -> str:
    """A table as markdown for readers: no index column, headers as words (:func:`header`),
    ``decimals`` decimals, counts as integers, each convention once — a ``convention`` column becomes numbered notes under the table —, then
    ``note``; an empty table reads "none"."""
    t = table.copy()
    notes = []
    if "convention" in t:
        conv = t.pop("convention").fillna("")
        marks = {c: f"[{i + 1}]" for i, c in enumerate(c for c in dict.fromkeys(conv) if c)}
        t["note"] = [marks.get(c, "") for c in conv]
        notes = [f"{m} {c}" for c, m in marks.items()]
    for col in t.columns:
        counts = str(col).startswith(("n_", "images_"))
        if counts and (pd.api.types.is_float_dtype(t[col]) or str(t[col].dtype) == "Int64"):
            ints = t[col].round().astype("Int64")  # counts as integers, "—" where not counted
            t[col] = [("—" if pd.isna(v) else str(int(v))) for v in ints]
    t = t.rename(columns=header)
    body = "none" if t.empty else t.to_markdown(index=False, floatfmt=f".{decimals}f")
    notes += [note] if note else []
    notes += [table.attrs["note"]] if table.attrs.get("note") else []
    return body + ("\n\n" + "<br>".join(notes) if notes else "")
