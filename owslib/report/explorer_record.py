"""A run's explorer record: what the explorer and the side-by-side view show for a few test images,
small enough to commit (``explorer.npz``), so both work on a fresh clone without a checkpoint.

Per image: the image and ground truth (uint8), the prediction (uint8 train ids), the unknown mask
and every scorer's map quantised to 8 bits over its own range (``lo + q · (hi − lo) / 255``:
enough to see, and to rank pixels for a per-image AUPR to about 1/255 of the range).

The test split's record is ``<run>/explorer.npz``; an anomaly set's (``eval__anomaly_sets``)
``<run>/anomaly_sets/<name>/explorer.npz`` (:func:`record_path`). A record says what its ground
truth is (``target_kind``): ``classes`` (class indices, unknown classes from ``K``) or ``anomaly``
(0 known / 1 anomaly / 255 void, a SegmentMeIfYouCan-layout set: no semantic labels, the
prediction is not scored); a record without the key (older runs) holds classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from owslib.io import atomic_path

RECORD_FILE = "explorer.npz"
TARGET_KINDS = ("classes", "anomaly")


def record_path(run_dir: str | Path, anomaly_set: str = "") -> Path:
    """The explorer record of a run's test split, or of its anomaly set ``anomaly_set``."""
    run_dir = Path(run_dir)
    return (run_dir / "anomaly_sets" / anomaly_set if anomaly_set else run_dir) / RECORD_FILE


def write_explorer_record(path: str | Path, examples: list[dict[str, Any]]) -> Path:
    """Write ``examples`` (:func:`owslib.report.collect_examples`) as one compressed ``.npz``;
    their ``target_kind`` (default ``classes``) is the record's, one for all."""
    kinds = {ex.get("target_kind", "classes") for ex in examples}
    if len(kinds) != 1 or not kinds <= set(TARGET_KINDS):
        raise ValueError(f"{path}: examples of target kinds {sorted(kinds)}; one of {TARGET_KINDS}")
    scorers = sorted(examples[0]["maps"])
    arrays: dict[str, np.ndarray] = {
        "names": np.array([ex["name"] for ex in examples]),
        "scorers": np.array(scorers),
        "target_kind": np.array(kinds.pop()),
        "image": np.stack([ex["image"] for ex in examples]).astype(np.uint8),
        "target": np.stack([ex["target"] for ex in examples]).astype(np.uint8),
        "pred": np.stack([ex["pred"] for ex in examples]).astype(np.uint8),
        "unknown": np.stack([ex["unknown_mask"] for ex in examples]),
    }
    for s in scorers:
        maps = np.stack([np.nan_to_num(ex["maps"][s].astype(np.float64)) for ex in examples])
        lo, hi = maps.min(axis=(1, 2)), maps.max(axis=(1, 2))
        span = np.where(hi > lo, hi - lo, 1.0)[:, None, None]
        arrays[f"map_{s}"] = np.round((maps - lo[:, None, None]) / span * 255).astype(np.uint8)
        arrays[f"range_{s}"] = np.stack([lo, hi], axis=1)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def load_explorer_record(path: str | Path) -> list[dict[str, Any]]:
    """The examples of a record, with ``maps`` back in each scorer's units (float32) and the
    record's ``target_kind``."""
    with np.load(path, allow_pickle=False) as z:
        scorers = [str(s) for s in z["scorers"]]
        kind = str(z["target_kind"]) if "target_kind" in z.files else "classes"
        out = []
        for i, name in enumerate(z["names"]):
            maps = {}
            for s in scorers:
                lo, hi = z[f"range_{s}"][i]
                maps[s] = (lo + z[f"map_{s}"][i].astype(np.float32) * (hi - lo) / 255).astype(
                    np.float32
                )
            out.append(
                {
                    "name": str(name),
                    "image": z["image"][i],
                    "target": z["target"][i],
                    "pred": z["pred"][i],
                    "unknown_mask": z["unknown"][i],
                    "maps": maps,
                    "target_kind": kind,
                }
            )
    return out
