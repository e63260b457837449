"""Run reports: metrics tables (CSV + markdown) with conventions, paper numbers, qualitative examples."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from owslib.inference import anomaly_scores
from owslib.io import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from owslib.experiment import Experiment

#: The paper's numbers (Sodano et al., CVPR 2024), keyed by (dataset, split preset, metric).
#: They appear beside ours only when dataset, split and convention match.
PAPER_RESULTS: dict[tuple[str, str, str], tuple[float, str]] = {
    ("cityscapes", "cityscapes", "miou"): (0.708, "Table 1, open-world model, Cityscapes val"),
    ("bdd_anomaly", "bdd_anomaly3", "miou"): (0.628, "Table 2, open-world model"),
    ("bdd_anomaly", "bdd_anomaly3", "aupr"): (0.961, "Table 2; per-image aggregation likely"),
    ("bdd_anomaly", "bdd_anomaly3", "fpr95"): (0.069, "Table 2; per-image aggregation likely"),
}

ANOMALY_COLUMNS = ("aupr", "fpr95", "auroc")


def metrics_tables(
    metrics: dict[str, Any], dataset: str, split_preset: str
) -> dict[str, pd.DataFrame]:
    """``summary`` (one row per metric, with convention and the paper's value where comparable),
    ``anomaly`` (one row per scorer) and ``per_class`` (IoU per known class)."""
    rows = [
        {"metric": "mIoU (known classes)", "key": "miou", "value": metrics["miou"]},
        {"metric": "pixel accuracy", "key": "pixel_acc", "value": metrics["pixel_acc"]},
    ]
    fused = metrics.get("anomaly", {}).get("fused", {})
    for k in ANOMALY_COLUMNS:
        if k in fused:
            rows.append({"metric": f"{k.upper()} (fused, pooled)", "key": k, "value": fused[k]})
    summary = pd.DataFrame(rows)
    conv = metrics["conventions"]
    summary["convention"] = [
        conv["miou"] if r["key"] in ("miou", "pixel_acc") else conv["anomaly"] for r in rows
    ]
    paper = [PAPER_RESULTS.get((dataset, split_preset, r["key"])) for r in rows]
    if any(p is not None for p in paper):
        summary["paper"] = [p[0] if p else np.nan for p in paper]
        summary["paper_source"] = [p[1] if p else "" for p in paper]
    anomaly = pd.DataFrame(
        [
            {"scorer": s, **{k: v.get(k, np.nan) for k in ANOMALY_COLUMNS}}
            for s, v in metrics.get("anomaly", {}).items()
        ]
    )
    per_class = pd.DataFrame({"class": list(metrics["iou"]), "iou": list(metrics["iou"].values())})
    return {"summary": summary.drop(columns="key"), "anomaly": anomaly, "per_class": per_class}


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
        md.append(f"## {name}\n\n{df.to_markdown(index=False, floatfmt='.4f')}\n")
    atomic_write_text(run_dir / "metrics.md", "\n".join(md))
    return tables


@torch.no_grad()
def collect_examples(
    exp: Experiment, dataset, n: int, *, score: str = "fused"
) -> list[dict[str, Any]]:
    """Predictions and anomaly maps for ``n`` images, preferring images with unknown objects."""
    from owslib.data import denormalize

    k = exp.split.num_known
    order = list(range(len(dataset)))
    if len(dataset) <= 2000:  # images with the most unknown pixels first (labels only, no decoding)
        unknown = [int(((t >= k) & (t != 255)).sum()) for t in map(dataset.load_target, order)]
        order.sort(key=lambda i: -unknown[i])
    exp.bare_model.eval()
    out = []
    for i in sorted(order[:n]):
        image, target = dataset[i]
        outputs = exp.bare_model(image.unsqueeze(0).to(exp.device))
        maps = anomaly_scores(
            outputs, exp.stats, xi=exp.cfg.loss.xi, min_std=exp.cfg.loss.min_std, scorers=(score,)
        )
        t = target.numpy()
        out.append(
            {
                "name": dataset.names[i] if hasattr(dataset, "names") else str(i),
                "image": denormalize(image),
                "target": t,
                "pred": outputs["sem_logits"].argmax(1)[0].cpu().numpy(),
                "score": maps[score][0].cpu().numpy(),
                "unknown_mask": (t >= k) & (t != 255),
            }
        )
    return out
