"""The real-scene study's numbers: CamVid's known-class mIoU and RoadAnomaly's real anomalies, per run,
beside the published results that give them context (``07_real_scenes``).

Every number is read back from a run's ``metrics.json`` (CamVid's test split at the top level,
RoadAnomaly under ``anomaly_sets/road_anomaly``); nothing here computes a metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from owslib.io import read_json
from owslib.study.studyfile import Study, run_dir

ANOMALY_SET = "road_anomaly"
#: Published numbers for context (other training data, resolution and backbones: not targets).
PUBLISHED = (
    (
        "CamVid test mIoU (11 classes)",
        "SegNet (Badrinarayanan et al. 2017), as reported by ENet",
        0.556,
    ),
    ("CamVid test mIoU (11 classes)", "ENet (Paszke et al. 2016)", 0.513),
    ("RoadAnomaly pixel AP", "RbA (Nayal et al., ICCV 2023, Swin-L)", 0.9028),
    ("RoadAnomaly FPR95", "RbA (Nayal et al., ICCV 2023, Swin-L)", 0.0492),
    ("RoadAnomaly pixel AP", "Mask2Anomaly (Rai et al., ICCV 2023)", 0.7970),
    ("RoadAnomaly FPR95", "Mask2Anomaly (Rai et al., ICCV 2023)", 0.1345),
)
#: The columns of :func:`run_rows`: CamVid's mIoU, then the scorer's RoadAnomaly numbers.
COLUMNS = (
    "variant",
    "seed",
    "camvid_miou",
    "ap",
    "fpr95",
    "auroc",
    "ap_per_frame",
    "siou",
    "ppv",
    "mean_f1",
)


def run_numbers(metrics: dict[str, Any], scorer: str = "fused") -> dict[str, float]:
    """One run's headline numbers (NaN where a section is missing)."""
    nan = float("nan")
    ra = metrics.get("anomaly_sets", {}).get(ANOMALY_SET, {})
    pooled = ra.get("anomaly", {}).get(scorer, {}).get("pooled", {})
    per_image = ra.get("anomaly", {}).get(scorer, {}).get("per_image", {})
    comp = ra.get("components", {}).get(scorer, {})
    return {
        "camvid_miou": metrics.get("miou", nan),
        "ap": pooled.get("aupr", nan),
        "fpr95": pooled.get("fpr95", nan),
        "auroc": pooled.get("auroc", nan),
        "ap_per_frame": per_image.get("aupr", nan),
        "siou": comp.get("siou", nan),
        "ppv": comp.get("ppv", nan),
        "mean_f1": comp.get("mean_f1", nan),
    }


def run_rows(study: Study, results: str | Path, scorer: str = "fused") -> pd.DataFrame:
    """A row per finished run of the study (variant, seed, :data:`COLUMNS`' numbers)."""
    rows = []
    for variant in study.variants:
        for seed in study.seeds:
            metrics = read_json(run_dir(results, study.profile, variant, seed) / "metrics.json")
            if metrics is not None:
                rows.append({"variant": variant, "seed": seed} | run_numbers(metrics, scorer))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def baseline_beside_published(rows: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """The baseline's mean ± SD over its seeds beside each published number of the same metric."""
    base = rows[rows["variant"] == baseline]
    ours = {
        "CamVid test mIoU (11 classes)": base["camvid_miou"],
        "RoadAnomaly pixel AP": base["ap"],
        "RoadAnomaly FPR95": base["fpr95"],
    }
    out = []
    for metric, values in ours.items():
        n = int(values.notna().sum())
        mean, sd = values.mean(), values.std(ddof=1) if n > 1 else float("nan")
        out.append(
            {
                "metric": metric,
                "method": f"ContMAV here ({baseline}, {n} seeds)",
                "value": mean,
                "sd": sd,
            }
        )
        out += [
            {"metric": m, "method": who, "value": v, "sd": float("nan")}
            for m, who, v in PUBLISHED
            if m == metric
        ]
    return pd.DataFrame(out, columns=["metric", "method", "value", "sd"])
