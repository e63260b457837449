"""The objectosphere loss on the contrastive embedding norm (Eq. 9, Dhamija et al. 2018)."""

from __future__ import annotations

import torch
from torch import nn

from owslib.labels import IGNORE_INDEX
from owslib.losses._common import masked_mean


class ObjectosphereLoss(nn.Module):
    """Known pixels: ``max(ξ − ‖f^d_p‖², 0)``; unknown pixels: ``‖f^d_p‖²``.

    Known pixels carry a class index ``< K``; unknown pixels are the void/unlabelled ones
    (``void_index`` = 255), and only those: crop padding (``PAD_INDEX``) and unknown-class
    indices ``≥ K`` (absent from training images by protocol) take no part. Each group is averaged
    separately and the two means are added, as in the reference code; ``unknown_scale`` multiplies the unknown term (the reference code uses 10,
    the paper 1).

    Shape: ``embedding`` (B, D, H, W), ``target`` (B, H, W) → scalar.
    Reference: Sodano et al., CVPR 2024, Eq. 9; Dhamija et al., NeurIPS 2018.
    """

    def __init__(
        self,
        num_classes: int,
        xi: float = 1.0,
        unknown_scale: float = 1.0,
        void_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.void_index = void_index
        self.xi = xi
        self.unknown_scale = unknown_scale

    def forward(self, embedding: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        sq = embedding.float().square().sum(dim=1)  # (B, H, W)
        known = target < self.num_classes
        void = target == self.void_index
        # Masked means (an empty group adds a zero still attached to the graph): no host sync.
        known_term = masked_mean((self.xi - sq).clamp(min=0), known)
        return known_term + self.unknown_scale * masked_mean(sq, void)
