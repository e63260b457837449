"""Known-class segmentation metrics: a streaming confusion matrix and its pure IoU reductions.

Convention (cityscapesScripts' ``evalPixelLevelSemanticLabeling``): one dataset-level confusion matrix
(rows = ground truth, columns = prediction). Per class ``IoU = TP / (TP + FP + FN)``; a class with
``TP + FP + FN = 0`` (absent from both ground truth and prediction) has IoU NaN and mIoU is the mean
over the non-NaN classes — so a class that is only predicted (never in the ground truth) counts with
IoU 0. Pixels whose target is ``ignore_index`` or an unknown class (targets ``>= num_classes``
encode unknowns in owslib, see :mod:`owslib.labels`) are skipped: they never count as false
positives of known classes, as cityscapesScripts skips ``ignoreInEval`` ground-truth rows.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from owslib.labels import IGNORE_INDEX


def iou_from_confusion(conf: Tensor) -> Tensor:
    """Per-class IoU (float64, NaN where TP + FP + FN = 0) of a ``(K, K)`` gt x pred matrix."""
    conf = conf.to(torch.float64)
    tp = conf.diagonal()
    denom = conf.sum(0) + conf.sum(1) - tp
    return torch.where(denom > 0, tp / denom.clamp_min(1), math.nan)


def miou_from_confusion(conf: Tensor) -> float:
    """Mean IoU over the classes present in ground truth or prediction (NaN if none)."""
    return float(iou_from_confusion(conf).nanmean())


def accuracy_from_confusion(conf: Tensor) -> tuple[float, float]:
    """Pixel accuracy and mean class accuracy (over classes present in the ground truth)."""
    conf = conf.to(torch.float64)
    total = conf.sum()
    acc = float(conf.trace() / total) if total > 0 else math.nan
    gt = conf.sum(1)
    per_class = torch.where(gt > 0, conf.diagonal() / gt.clamp_min(1), math.nan)
    return acc, float(per_class.nanmean())


class ConfusionMatrix:
    """Streaming ``(K, K)`` int64 confusion matrix (rows ground truth, columns prediction).

    ``update(pred, target)`` takes class indices of one shape (or logits with the class dim at 1,
    reduced by argmax), on any device: the matrix follows the inputs. ``mat`` is the state tensor;
    :meth:`merge` adds another matrix, :meth:`sync` all-reduces it across DDP ranks.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        if num_classes < 1:
            raise ValueError(f"ConfusionMatrix: num_classes must be >= 1, got {num_classes}")
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.mat = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def reset(self) -> None:
        """Zero the counts (keeping the device)."""
        self.mat.zero_()

    @torch.no_grad()
    def update(self, pred: Tensor | np.ndarray, target: Tensor | np.ndarray) -> None:
        """Count one batch; targets equal to ``ignore_index``, negative or ``>= K`` are skipped."""
        pred, target = torch.as_tensor(pred), torch.as_tensor(target)
        target = target.to(pred.device)
        if pred.is_floating_point() and pred.dim() == target.dim() + 1:
            pred = pred.max(dim=1).indices
        if pred.shape != target.shape:
            raise ValueError(
                f"ConfusionMatrix: pred {tuple(pred.shape)} vs target {tuple(target.shape)}"
            )
        if self.mat.device != pred.device:
            self.mat = self.mat.to(pred.device)
        k = self.num_classes
        pred, target = pred.reshape(-1).long(), target.reshape(-1).long()
        valid = (target >= 0) & (target < k) & (target != self.ignore_index)
        if pred.numel() and bool(((pred < 0) | (pred >= k)).logical_and_(valid).any()):
            bad = torch.unique(pred[valid & ((pred < 0) | (pred >= k))])[:10].tolist()
            raise ValueError(f"ConfusionMatrix: predictions {bad} outside 0..{k - 1}")
        # one bincount; skipped pixels land in a dump slot k*k that is dropped
        idx = torch.where(valid, target * k + pred, k * k)
        self.mat += torch.bincount(idx, minlength=k * k + 1)[: k * k].view(k, k)

    def compute(self) -> dict[str, float | Tensor]:
        """``miou``, ``iou`` (per class, NaN if absent from gt and pred), ``acc``, ``mean_acc``."""
        iou = iou_from_confusion(self.mat)
        acc, mean_acc = accuracy_from_confusion(self.mat)
        return {
            "miou": float(iou.nanmean()),
            "iou": iou.cpu(),
            "acc": acc,
            "mean_acc": mean_acc,
            "n_pixels": int(self.mat.sum()),
        }

    def merge(self, other: ConfusionMatrix) -> None:
        """Add the counts of ``other`` (same number of classes)."""
        if other.num_classes != self.num_classes:
            raise ValueError(
                f"ConfusionMatrix.merge: {other.num_classes} vs {self.num_classes} classes"
            )
        self.mat += other.mat.to(self.mat.device)

    def sync(self, group: dist.ProcessGroup | None = None) -> None:
        """Sum the matrix over a ``torch.distributed`` group (no-op when not initialised)."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.mat, group=group)
