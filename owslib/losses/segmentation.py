"""Semantic (closed-set) losses on the known classes: class-weighted cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from owslib.labels import IGNORE_INDEX
from owslib.losses._common import class_weight_vector


class WeightedCrossEntropy(nn.Module):
    """Cross-entropy over the K known classes, weighted per class (ContMAV Eq. 2).

    ``L_sem = Σ_p ω_{y_p} CE(f_p, y_p) / Σ_p ω_{y_p}`` over labelled known pixels, i.e. the
    weighted mean (as PyTorch's ``reduction="mean"`` and the reference code's
    ``CrossEntropyLoss2d``). Targets ``≥ K`` (unknown classes) and ``ignore_index`` are skipped.

    Shape: ``logits`` (B, K, H, W), ``target`` (B, H, W) int64 → scalar.
    Reference: Sodano et al., CVPR 2024, Eq. 2.
    """

    def __init__(
        self,
        num_classes: int,
        weight: torch.Tensor | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.register_buffer("weight", class_weight_vector(weight, num_classes, "class weight"))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = logits.float()
        w = self.weight.to(x.dtype)
        t = torch.where(target < self.num_classes, target, self.ignore_index)
        # Σ of the labelled pixels' weights, gathered without a host sync (ignored pixels: 0)
        k = self.num_classes
        denom = torch.cat([w, w.new_zeros(1)])[torch.where(t == self.ignore_index, k, t)].sum()
        loss = F.cross_entropy(x, t, weight=w, ignore_index=self.ignore_index, reduction="sum")
        # all ignored: the sum is an attached zero, divided by 1
        return loss / torch.where(denom > 0, denom, torch.ones_like(denom))
