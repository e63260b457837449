"""Evaluation of a trained model: known-class mIoU and anomaly metrics for every scorer.

Conventions (stated in every ``metrics.json``): mIoU over the K known classes from one
dataset-level confusion matrix at the dataset's native resolution; anomaly metrics with anomaly
(unknown-class pixels) as the positive class, void pixels ignored, pooled over all pixels of the
split (SegmentMeIfYouCan / RbA style).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from owslib.engine.loop import autocast
from owslib.inference import SCORERS, anomaly_scores
from owslib.labels import IGNORE_INDEX
from owslib.losses.class_stats import ClassStatistics
from owslib.metrics import AnomalyMetric, ConfusionMatrix

if TYPE_CHECKING:
    from owslib.experiment import Experiment

CONVENTIONS = {
    "miou": "known classes only; one dataset-level confusion matrix; native resolution; "
    "classes with neither ground truth nor prediction are left out of the mean",
    "anomaly": "positive = unknown-class pixels; void/ignore pixels excluded; pooled over all "
    "pixels of the split; AUPR = step-wise average precision (sklearn); FPR95 = FPR at the "
    "first threshold with TPR >= 0.95; AUROC = trapezoidal ROC area",
    "scores": "higher = more anomalous; fused = mean of Gaussian (Eq. 12) and contrastive "
    "(Eq. 13) unknown scores (Eq. 14)",
}


def anomaly_labels(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """1 for unknown-class pixels (``K ≤ t < 255``), 0 for known ones, ``IGNORE_INDEX`` for void."""
    lab = (target >= num_classes).to(torch.uint8)
    return lab.masked_fill(target == IGNORE_INDEX, IGNORE_INDEX)


def score_range(scorer: str, num_classes: int) -> tuple[float, float] | None:
    """The value range of a scorer, for the streaming histograms (None: open-ended)."""
    if scorer == "entropy":
        return (0.0, math.log(num_classes))
    if scorer == "max_logit":
        return None
    return (0.0, 1.0)


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    stats: ClassStatistics,
    loader: DataLoader,
    *,
    num_classes: int,
    class_names: tuple[str, ...],
    device: torch.device,
    xi: float = 1.0,
    min_std: float = 1e-3,
    amp: bool = False,
    bins: int = 100_000,
    scorers: tuple[str, ...] = SCORERS,
) -> dict[str, Any]:
    """Run the model over ``loader``; return mIoU, per-class IoU and anomaly metrics per scorer."""
    model.eval()
    conf = ConfusionMatrix(num_classes, ignore_index=IGNORE_INDEX)
    metrics = {s: AnomalyMetric(bins=bins, range=score_range(s, num_classes)) for s in scorers}
    n_images = 0
    for image, target in loader:
        image, target = image.to(device), target.to(device)
        with autocast(device, amp):
            outputs = model(image)
        outputs = {k: v.float() for k, v in outputs.items()}
        conf.update(outputs["sem_logits"].argmax(dim=1), target)
        labels = anomaly_labels(target, num_classes)
        maps = anomaly_scores(outputs, stats, xi=xi, min_std=min_std, scorers=scorers)
        for s, m in metrics.items():
            m.update(maps[s], labels)
        n_images += image.shape[0]
    # Under DDP each rank saw its shard of the loader: sum the counts (no-op otherwise).
    conf.sync()
    for m in metrics.values():
        m.sync()
    cm = conf.compute()
    result: dict[str, Any] = {
        "miou": float(cm["miou"]),
        "pixel_acc": float(cm["acc"]),
        "iou": {name: float(v) for name, v in zip(class_names, cm["iou"].tolist(), strict=True)},
        "n_images": n_images,
        "conventions": CONVENTIONS,
    }
    anomaly = {}
    for s, m in metrics.items():
        values = m.compute()
        if values.get("n_anomaly", 0) > 0:
            anomaly[s] = {k: _plain(v) for k, v in values.items()}
    if anomaly:
        result["anomaly"] = anomaly
    return result


def evaluate(
    exp: Experiment, loader: DataLoader, *, scorers: tuple[str, ...] = SCORERS
) -> dict[str, Any]:
    """:func:`evaluate_model` with everything taken from an :class:`~owslib.experiment.Experiment`."""
    cfg = exp.cfg
    return evaluate_model(
        exp.bare_model,
        exp.stats,
        loader,
        num_classes=exp.split.num_known,
        class_names=exp.split.known_names,
        device=exp.device,
        xi=cfg.loss.xi,
        min_std=cfg.loss.min_std,
        amp=cfg.eval.amp,
        bins=cfg.eval.histogram_bins,
        scorers=scorers,
    )


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.item() if v.numel() == 1 else v.tolist()
    return v
