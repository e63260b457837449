"""Per-class statistics of true-positive semantic logits, accumulated over an epoch (ContMAV Eqs. 3–4).

During epoch e the statistics of epoch e−1 are used (by the feature loss, the contrastive loss and
the Gaussian anomaly score); the running sums of epoch e become the statistics at its end.
Everything lives in registered buffers, so ``.to()``, ``state_dict()`` and checkpoints carry it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class ClassStatistics(nn.Module):
    """Mean μ_k and variance σ_k² of the semantic logits of true-positive pixels, per class.

    Buffers: ``mean`` (K, D), ``var`` (K, D), ``count`` (K) and ``valid`` (K, bool) hold the
    previous epoch's statistics; ``acc_sum``, ``acc_sqsum`` (float64) and ``acc_count`` accumulate
    the current epoch. A class without true positives in an epoch keeps its previous statistics
    (``keep_stale=True``); the reference code instead drops it until it has true positives again
    (``keep_stale=False``, option ``loss__stale_class_stats="drop"``).

    Reference: Sodano et al., CVPR 2024, Eqs. 3–4.
    """

    def __init__(self, num_classes: int, dim: int | None = None, keep_stale: bool = True) -> None:
        super().__init__()
        d = num_classes if dim is None else dim
        self.num_classes = num_classes
        self.keep_stale = keep_stale
        self.register_buffer("mean", torch.zeros(num_classes, d))
        self.register_buffer("var", torch.ones(num_classes, d))
        self.register_buffer("count", torch.zeros(num_classes, dtype=torch.float64))
        self.register_buffer("valid", torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer("acc_sum", torch.zeros(num_classes, d, dtype=torch.float64))
        self.register_buffer("acc_sqsum", torch.zeros(num_classes, d, dtype=torch.float64))
        self.register_buffer("acc_count", torch.zeros(num_classes, dtype=torch.float64))

    @property
    def ready(self) -> bool:
        """Whether any class has statistics from a finished epoch."""
        return bool(self.valid.any())

    @torch.no_grad()
    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """Accumulate the logits of true-positive pixels (prediction == known ground truth)."""
        pred = logits.max(dim=1).indices  # = argmax (first maximum); ~7x faster on CPU for NCHW
        tp = (pred == target) & (target < self.num_classes)
        # Every pixel is added, into slot K (discarded) unless it is a true positive: no boolean
        # gather, whose data-dependent size would make the host wait for the device. Per image
        # and dimension, in the logits' own (B, D, H·W) layout: no per-pixel transpose.
        k = self.num_classes
        slot = torch.where(tp, target, k).flatten(1)  # (B, P)
        x = logits.to(torch.float64, memory_format=torch.contiguous_format).flatten(2)  # (B, D, P)
        index = slot.unsqueeze(1).expand_as(x)
        sums = x.new_zeros(*x.shape[:2], k + 1).scatter_add_(2, index, x)  # (B, D, K+1)
        sqsums = torch.zeros_like(sums).scatter_add_(2, index, x * x)
        counts = x.new_zeros(slot.shape[0], k + 1).scatter_add_(1, slot, torch.ones_like(x[:, 0]))
        self.acc_sum += sums.sum(dim=0).T[:k]
        self.acc_sqsum += sqsums.sum(dim=0).T[:k]
        self.acc_count += counts.sum(dim=0)[:k]

    @torch.no_grad()
    def end_epoch(self, all_reduce: Callable[[torch.Tensor], None] | None = None) -> None:
        """Turn this epoch's sums into the statistics used next epoch, then reset the sums.

        ``all_reduce`` (e.g. ``torch.distributed.all_reduce``) sums the accumulators across
        processes first, so every DDP rank ends the epoch with identical statistics.
        """
        if all_reduce is not None:
            for t in (self.acc_sum, self.acc_sqsum, self.acc_count):
                all_reduce(t)
        seen = self.acc_count > 0
        n = self.acc_count.clamp(min=1).unsqueeze(1)
        mean = self.acc_sum / n
        var = (self.acc_sqsum / n - mean * mean).clamp(min=0)
        # torch.where, not mask assignment: no host sync (the buffers keep their dtypes)
        rows = seen.unsqueeze(1)
        if self.keep_stale:
            self.mean.copy_(torch.where(rows, mean.to(self.mean.dtype), self.mean))
            self.var.copy_(torch.where(rows, var.to(self.var.dtype), self.var))
            self.count.copy_(torch.where(seen, self.acc_count, self.count))
            self.valid |= seen
        else:  # the reference: a class without true positives this epoch has no statistics
            self.mean.copy_(torch.where(rows, mean.to(self.mean.dtype), 0.0))
            self.var.copy_(torch.where(rows, var.to(self.var.dtype), 1.0))
            self.count.copy_(torch.where(seen, self.acc_count, 0.0))
            self.valid.copy_(seen)
        self.acc_sum.zero_()
        self.acc_sqsum.zero_()
        self.acc_count.zero_()

    def std(self, min_std: float = 1e-3) -> torch.Tensor:
        """σ_k per class and dimension, floored at ``min_std`` (a class may have zero variance)."""
        return self.var.sqrt().clamp(min=min_std)
