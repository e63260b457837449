"""What an evaluation returns: the metrics dict (``metrics.json``) with its rows, curves and maps."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch.distributed as dist

from owslib.evaluation.protocol import CONVENTIONS, EvalOptions
from owslib.inference.discovery import parse_similarity_lookup
from owslib.inference.scorers import scorer_descriptions


class Evaluation(dict):
    """The metrics (a plain dict: every number with its convention, as ``metrics.json``), and

    * ``rows`` — one dict of per-image metrics per image, in the dataset's order;
    * ``curves`` — per scorer, PR/ROC points (``threshold``, ``tpr``, ``fpr``, ``precision``);
    * ``maps`` — the anomaly maps of the chosen images (``name``, ``image``, ``maps``, ``ranges``,
      ``unknown_mask``).

    Computed by :func:`owslib.evaluation.evaluate_model`; written by
    :func:`owslib.report.write_evaluation`.
    """

    def __init__(
        self,
        metrics: dict[str, Any],
        *,
        rows: list[dict[str, Any]] | None = None,
        curves: dict[str, dict[str, np.ndarray]] | None = None,
        maps: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(metrics)
        self.rows = rows or []
        self.curves = curves or {}
        self.maps = maps or []


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def result_metrics(run: Any, opts: EvalOptions, protocol, n_images: int) -> dict[str, Any]:
    """The metrics dict of a finished evaluation pass (``run``: its accumulators)."""
    result: dict[str, Any] = {
        "protocol": {
            "target_kind": opts.target_kind,
            "resolution": "native (no resizing at evaluation)",
            "image_sizes": sorted(f"{h}x{w}" for h, w in run.sizes),
            **(protocol or {}),
            "options": asdict(opts),
        },
        "conventions": CONVENTIONS
        | {"scorers": {s: scorer_descriptions()[s] for s in opts.scorers}},
        "n_images": n_images,
    }
    if run.conf is not None:
        cm = run.conf.compute()
        names = run.gt_names[: run.k]
        result |= {
            "miou": float(cm["miou"]),
            "pixel_acc": float(cm["acc"]),
            "mean_acc": float(cm["mean_acc"]),
            "iou": {n: float(v) for n, v in zip(names, cm["iou"].tolist(), strict=True)},
        }
    anomaly = _anomaly(run, opts)
    if anomaly:
        result["anomaly"] = anomaly
    if run.out_of_range:
        result["out_of_range_batches"] = dict(run.out_of_range)
    if run.open_world:
        result |= _open_world(run, opts)
    return result


def _anomaly(run: Any, opts: EvalOptions) -> dict[str, Any]:
    anomaly = {}
    for s in opts.scorers:
        pooled = run.pooled[s].compute()
        if pooled.get("n_anomaly", 0) <= 0:
            continue
        anomaly[s] = {
            "pooled": pooled | {"convention": CONVENTIONS["pooled"]},
            "per_image": run.per_image[s].compute() | {"convention": CONVENTIONS["per_image"]},
        }
        if s in run.smiyc:
            anomaly[s]["smiyc"] = run.smiyc[s].compute() | {"convention": CONVENTIONS["smiyc"]}
        elif opts.curve == "smiyc":
            anomaly[s]["smiyc"] = {"skipped": "not computed under DDP: evaluate in one process"}
    return anomaly


def _open_world(run: Any, opts: EvalOptions) -> dict[str, Any]:
    lookup = parse_similarity_lookup(opts.similarity_lookup)
    out: dict[str, Any] = {
        "similarity": run.similarity.compute(run.gt_names, lookup)
        | {"lookup": opts.similarity_lookup, "convention": CONVENTIONS["similarity"]}
    }
    if _distributed():
        out["discovery"] = {
            "skipped": "not run under DDP: discovery is sequential over the whole set; "
            "evaluate the checkpoint in one process (python -m owslib evaluate) to run it"
        }
    else:
        out["discovery"] = {
            "pipeline": run.discovery.compute(run.gt_names, run.k),
            "oracle": run.oracle.compute(run.gt_names, run.k),
            "space": opts.discovery_space,
            "eta": opts.eta,
            "convention": CONVENTIONS["discovery"],
        }
    return out
