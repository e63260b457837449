"""Ranking-curve reductions: AUPR, AUROC, FPR95, best F1 and quantisation error bounds from counts.

Pure functions of counts per threshold group (sorted from the highest score to the lowest), batched
over leading dims. Fed by exact sorting (:func:`exact_counts`) or by score histograms
(:class:`owslib.metrics.anomaly.AnomalyMetric`); conventions are documented in
:mod:`owslib.metrics.anomaly`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

METRIC_KEYS = ("aupr", "auroc", "fpr95", "best_f1", "best_f1_threshold")
ERROR_KEYS = ("aupr_max_error", "auroc_max_error", "fpr95_max_error", "best_f1_max_error")
IMAGE_KEYS = METRIC_KEYS + ERROR_KEYS
COUNT_KEYS = ("n_images", "n_skipped", "n_pixels", "n_anomaly")


def curve_metrics(pos: Tensor, neg: Tensor, thresholds: Tensor) -> dict[str, Tensor]:
    """AUPR, AUROC, FPR95, best F1 (+ threshold) from counts per threshold group.

    ``pos`` / ``neg`` (``(..., T)``, integer) count the anomaly / known pixels whose score falls in
    group ``t``, groups ordered from the highest score to the lowest; ``thresholds`` (``(..., T)`` or
    ``(T,)``) is the score at which each group starts. Leading dims are batched (one row per image).
    Every result has shape ``(...)``, float64, NaN where undefined (see the module docstring).
    """
    posd, negd = pos.to(torch.float64), neg.to(torch.float64)
    tp, fp = posd.cumsum(-1), negd.cumsum(-1)
    n_pos, n_neg = tp[..., -1], fp[..., -1]
    predicted = tp + fp
    precision = torch.where(predicted > 0, tp / predicted.clamp_min(1), 0.0)
    aupr = (posd * precision).sum(-1) / n_pos  # 0/0 -> NaN without anomalies
    auroc = (negd * (tp - 0.5 * posd)).sum(-1) / (n_pos * n_neg)
    both = (n_pos > 0) & (n_neg > 0)
    first95 = (tp / n_pos[..., None] >= 0.95).to(torch.uint8).argmax(-1, keepdim=True)
    fpr95 = fp.gather(-1, first95).squeeze(-1) / n_neg
    f1 = 2 * tp / (tp + fp + n_pos[..., None]).clamp_min(1)
    best_f1, best = f1.max(-1, keepdim=True)
    thresholds = thresholds.to(torch.float64).expand_as(f1)
    nan = torch.full_like(n_pos, math.nan)
    has_pos = n_pos > 0
    return {
        "aupr": aupr,
        "auroc": torch.where(both, auroc, nan),
        "fpr95": torch.where(both, fpr95, nan),
        "best_f1": torch.where(has_pos, best_f1.squeeze(-1), nan),
        "best_f1_threshold": torch.where(has_pos, thresholds.gather(-1, best).squeeze(-1), nan),
    }


def quantisation_error_bounds(pos: Tensor, neg: Tensor) -> dict[str, Tensor]:
    """Worst-case |histogram metric - exact metric| when each group merges unknown distinct scores.

    Same inputs as :func:`curve_metrics`. Inside group ``b`` (``T0``/``F0`` anomalies/known above it,
    ``t``/``f`` inside) an exact curve point has ``T0 <= tp <= T0 + t`` and ``F0 <= fp <= F0 + f``:
    the precision where a positive is added lies in ``[(T0+1)/(N0+1+f), (T0+t)/(N0+t)]``
    (``N0 = T0 + F0``), pairs inside the group are the only ones AUROC may misorder, FPR95 lies between
    the FPRs at the group's ends, and F1 stays below ``2(T0+t)/(T0+t+F0+P)``.
    """
    t, f = pos.to(torch.float64), neg.to(torch.float64)
    tp, fp = t.cumsum(-1), f.cumsum(-1)
    n_pos, n_neg = tp[..., -1:], fp[..., -1:]
    t0, f0 = tp - t, fp - f
    p_end = tp / (tp + fp).clamp_min(1)
    p_max = tp / (t0 + f0 + t).clamp_min(1)
    p_min = (t0 + 1) / (t0 + f0 + 1 + f)
    spread = torch.where(t > 0, torch.maximum(p_max - p_end, p_end - p_min), 0.0)
    first95 = (tp / n_pos >= 0.95).to(torch.uint8).argmax(-1, keepdim=True)
    f1 = 2 * tp / (tp + fp + n_pos).clamp_min(1)
    f1_upper = 2 * tp / (tp + f0 + n_pos).clamp_min(1)
    return {
        "aupr_max_error": (t * spread).sum(-1) / n_pos[..., 0],
        "auroc_max_error": 0.5 * (t * f).sum(-1) / (n_pos * n_neg)[..., 0],
        "fpr95_max_error": (f.gather(-1, first95) / n_neg)[..., 0],
        "best_f1_max_error": f1_upper.amax(-1) - f1.amax(-1),
    }


def exact_counts(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Sort 1-D scores (float64, descending) and group ties: ``(pos, neg, thresholds)`` per group."""
    ordered, order = torch.sort(scores.to(torch.float64), descending=True)
    thresholds, inverse, counts = torch.unique_consecutive(
        ordered, return_inverse=True, return_counts=True
    )
    pos = torch.zeros_like(counts).index_add_(0, inverse, labels[order].to(counts.dtype))
    return pos, counts - pos, thresholds


def exact_image_metrics(scores: Tensor, labels: Tensor, ignore_index: int) -> dict[str, Tensor]:
    """Exact metrics (0-dim tensors) of 1-D scores and labels, with zero error bounds and counts."""
    valid = labels != ignore_index
    pos, neg, thresholds = exact_counts(scores[valid], labels[valid] == 1)
    if pos.numel() == 0:  # no valid pixel: one empty group gives NaN everywhere
        pos = neg = thresholds = torch.zeros(1, dtype=torch.int64, device=scores.device)
    out = curve_metrics(pos, neg, thresholds)
    out |= {k: torch.zeros((), dtype=torch.float64, device=scores.device) for k in ERROR_KEYS}
    return out | {"n_pixels": pos.sum() + neg.sum(), "n_anomaly": pos.sum()}


def image_totals(res: dict[str, Tensor], n_pix: Tensor, n_pos: Tensor) -> tuple[Tensor, Tensor]:
    """Sums of per-image metrics over the images holding both classes, and the image/pixel counts."""
    used = (n_pos > 0) & (n_pos < n_pix)
    sums = torch.stack([torch.where(used, res[k], 0.0).sum() for k in IMAGE_KEYS])
    counts = torch.stack([used.sum(), (~used).sum(), n_pix.sum(), n_pos.sum()]).to(torch.int64)
    return sums, counts


def image_means(sums: Tensor, counts: Tensor) -> dict[str, float]:
    """Per-image means from :func:`image_totals` (NaN when no image holds both classes)."""
    n = counts.tolist()
    means = (sums / n[0]).tolist() if n[0] else [math.nan] * len(IMAGE_KEYS)
    return dict(zip(IMAGE_KEYS, means, strict=True)) | dict(zip(COUNT_KEYS, n, strict=True))


def exact_metrics(
    scores: Tensor, labels: Tensor, ignore_index: int, per_image: bool
) -> dict[str, float | int]:
    """Exact metrics of validated inputs: pooled, or the mean over images (first dim) with both
    classes; keys as :func:`owslib.metrics.anomaly.anomaly_metrics`."""
    if not per_image:
        res = exact_image_metrics(scores.reshape(-1), labels.reshape(-1), ignore_index)
        return {k: float(v) if v.is_floating_point() else int(v) for k, v in res.items()}
    images = [
        exact_image_metrics(s.reshape(-1), y.reshape(-1), ignore_index)
        for s, y in zip(scores, labels, strict=True)
    ]
    if not images:
        return image_means(torch.zeros(len(IMAGE_KEYS)), torch.zeros(4, dtype=torch.int64))
    res = {k: torch.stack([r[k] for r in images]) for k in images[0]}
    return image_means(*image_totals(res, res["n_pixels"], res["n_anomaly"]))
