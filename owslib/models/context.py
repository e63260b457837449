"""The context module between encoder and decoders: adaptive pyramid pooling, or none."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from owslib.models.layers import ConvBNAct

CONTEXT_MODULES = ("ppm", "none")


class PyramidPoolingModule(nn.Module):
    """Pyramid pooling (Zhao et al., "PSPNet", CVPR 2017, §3.2, Fig. 3), as in ESANet / ContMAV (code).

    For each bin size b: adaptive average pooling to b×b → 1×1 ConvBNAct to
    ``in_channels // len(bins)`` channels → bilinear upsampling (``align_corners=False``) back to the
    input size. The branches are concatenated with the input and fused by a 1×1 ConvBNAct to
    ``out_channels``. Adaptive pooling makes it work at any input size.

    Note: with ``b = 1`` the branch's BatchNorm sees one value per channel and image, so training
    needs a batch of at least 2 (as in the reference).

    Shape: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bins: tuple[int, ...] = (1, 2, 4, 8),
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if not bins or any(b < 1 for b in bins):
            raise ValueError(f"pyramid pooling bins must be positive, got {bins!r}")
        branch_channels = in_channels // len(bins)
        self.bins = tuple(bins)
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(b),
                ConvBNAct(in_channels, branch_channels, 1, act_layer=act_layer),
            )
            for b in bins
        )
        self.fuse = ConvBNAct(
            in_channels + branch_channels * len(bins), out_channels, 1, act_layer=act_layer
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = [
            F.interpolate(branch(x), size=size, mode="bilinear", align_corners=False)
            for branch in self.branches
        ]
        return self.fuse(torch.cat([x, *pooled], dim=1))


def build_context(
    mode: str,
    channels: int,
    bins: tuple[int, ...] = (1, 2, 4, 8),
    act_layer: type[nn.Module] = nn.ReLU,
) -> nn.Module:
    """The context module for ``mode`` in :data:`CONTEXT_MODULES`; it keeps ``channels`` channels."""
    if mode == "ppm":
        return PyramidPoolingModule(channels, channels, bins, act_layer=act_layer)
    if mode == "none":
        return nn.Identity()
    raise ValueError(f"unknown context module {mode!r}; valid: {list(CONTEXT_MODULES)}")
