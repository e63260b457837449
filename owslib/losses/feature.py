"""The feature loss: pull semantic logits towards their class mean of the previous epoch (Eq. 5)."""

from __future__ import annotations

import torch
from torch import nn

from owslib.losses._common import known_mask, masked_mean, pixels_last
from owslib.losses.class_stats import ClassStatistics

FEATURE_DISTANCES = ("norm_over_std", "l1_over_var")


class FeatureLoss(nn.Module):
    """``L_feat = 1/|Ω| Σ_k Σ_{p∈Ω_k} ‖(f_p − μ_k) / σ_k‖``, zero until statistics exist.

    ``distance="norm_over_std"`` reads Eq. 5 with element-wise division by the per-dimension
    standard deviation, then the L2 norm (a diagonal Mahalanobis distance, consistent with the
    Gaussian of Eq. 11), averaged over all pixels (1/|Ω|). ``"l1_over_var"`` is the reference
    code's form and reduction: element-wise ``|f − μ_k| / σ_k²``, averaged over the pixels of each
    class and the dimensions, then *summed* over the classes present in the batch
    (``Σ_k mean_{Ω_k, j} |f_j − μ_kj| / σ_kj²``; σ² floored at ``min_std²``, the code adds 1e-8).
    Ω are the labelled known pixels of classes that have statistics; unlike the reference code,
    every present class counts (it skipped the last class of a crop without void).

    Shape: ``logits`` (B, K, H, W), ``target`` (B, H, W) → scalar.
    Reference: Sodano et al., CVPR 2024, Eq. 5.
    """

    def __init__(
        self, stats: ClassStatistics, distance: str = "norm_over_std", min_std: float = 1e-3
    ) -> None:
        super().__init__()
        if distance not in FEATURE_DISTANCES:
            raise ValueError(
                f"loss__feature_distance={distance!r}; choose one of {FEATURE_DISTANCES}"
            )
        # Shared with the objective, which owns (and checkpoints) it: not registered here, so the
        # statistics appear once in a state dict and checkpoints load across loss settings.
        object.__setattr__(self, "stats", stats)
        self.distance = distance
        self.min_std = min_std

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Every pixel is computed and the uncounted ones masked out of the reductions (no data-
        # dependent shapes, hence no host sync); they read the statistics of a stand-in class
        # (clamped index), whose σ ≥ min_std keeps them finite. Without statistics (before the
        # first epoch's end) no class is valid and the loss is a zero attached to the graph.
        k = self.stats.num_classes
        cls = target.clamp(max=k - 1)
        mask = known_mask(target, k) & self.stats.valid[cls]  # Ω: (B, H, W)
        # μ − f, whose norm and magnitudes are those of f − μ: with the gathered (contiguous) means
        # first, the result is contiguous in (B, H, W, D) whatever the logits' memory format, and
        # the reductions over D below run over contiguous memory (~2x faster on a CPU).
        diff = self.stats.mean[cls] - pixels_last(logits).float()  # (B, H, W, D)
        if self.distance == "norm_over_std":
            dist = (diff / self.stats.std(self.min_std)[cls]).norm(dim=-1)
            return masked_mean(dist, mask)
        var = self.stats.var.clamp(min=self.min_std**2)
        per_pixel = (diff.abs() / var[cls]).mean(dim=-1).flatten()
        # per-class sums and counts over Ω; index K collects the pixels outside it
        slot = torch.where(mask, cls, k).flatten()
        sums = per_pixel.new_zeros(k + 1).index_add_(0, slot, per_pixel)[:k]
        counts = torch.zeros(k + 1, dtype=torch.long, device=slot.device)
        counts.index_add_(0, slot, torch.ones_like(slot))
        return (sums / counts[:k].clamp_min(1)).sum()  # classes absent from Ω add 0
