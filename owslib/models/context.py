"""The context module between encoder and decoders: adaptive pyramid pooling, or none."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from owslib.models.layers import ConvBNAct

CONTEXT_MODULES = ("ppm", "none")
CONTEXT_UPSAMPLING = ("nearest", "bilinear")
CONTEXT_BIN_SCALING = ("scaled", "fixed")


class PyramidPoolingModule(nn.Module):
    """Adaptive pyramid pooling as ContMAV's reference code builds it (``appm-1-2-4-8``).

    After PSPNet (Zhao et al., CVPR 2017, §3.2, Fig. 3) and ESANet's ``AdaptivePyramidPoolingModule``
    (Seichter et al., ICRA 2021), which ContMAV (Sodano et al., CVPR 2024, §3.1) uses unchanged:
    for each bin b, adaptive average pooling of the input to ``(b·m_h, b·m_w)`` → 1×1 ConvBNAct to
    ``in_channels // len(bins)`` channels → upsampling back to the input size; the branches are
    concatenated with the input and fused by a 1×1 ConvBNAct to ``out_channels``.

    The bin multipliers relate the feature size ``h × w`` (stride 32) to the size the bins refer to,
    ``input_size = (H_c // 32, W_c // 32)`` of the *training crop* ``H_c × W_c``:
    ``m_h = int(h / (H_c // 32) + 0.5)``, likewise ``m_w`` (``bin_scaling="scaled"``, the reference).
    A model built for 512×1024 crops thus pools at 1-2-4-8 on crops and at 2-4-8-16 on 1024×2048
    images. Below half the construction size the reference's multiplier becomes 0 and it fails;
    here it is at least 1. ``bin_scaling="fixed"`` always pools at the bins themselves.

    ``upsampling="nearest"`` is what the reference uses with a learned decoder upsampling (the
    paper's setting: it switches the context module to nearest because its maps are not upscaled
    by 2); ``"bilinear"`` (``align_corners=False``) is what it uses with bilinear decoders.

    Note: with ``b = 1`` the branch's BatchNorm sees one value per channel and image, so training
    needs a batch of at least 2 (as in the reference).

    Shape: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bins: tuple[int, ...] = (1, 2, 4, 8),
        input_size: tuple[int, int] = (512, 1024),
        upsampling: str = "nearest",
        bin_scaling: str = "scaled",
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if not bins or any(b < 1 for b in bins):
            raise ValueError(f"pyramid pooling bins must be positive, got {bins!r}")
        if upsampling not in CONTEXT_UPSAMPLING:
            raise ValueError(
                f"model__context_upsampling={upsampling!r}; valid: {list(CONTEXT_UPSAMPLING)}"
            )
        if bin_scaling not in CONTEXT_BIN_SCALING:
            raise ValueError(
                f"model__context_bin_scaling={bin_scaling!r}; valid: {list(CONTEXT_BIN_SCALING)}"
            )
        if len(input_size) != 2 or min(input_size) < 32:
            raise ValueError(
                f"model__context_input_size must be (height, width) of at least 32 pixels, "
                f"got {tuple(input_size)!r}"
            )
        branch_channels = in_channels // len(bins)
        self.bins = tuple(bins)
        self.reference_size = (input_size[0] // 32, input_size[1] // 32)
        self.upsampling = upsampling
        self.bin_scaling = bin_scaling
        self.branches = nn.ModuleList(
            ConvBNAct(in_channels, branch_channels, 1, act_layer=act_layer) for _ in bins
        )
        self.fuse = ConvBNAct(
            in_channels + branch_channels * len(bins), out_channels, 1, act_layer=act_layer
        )

    def pooled_sizes(self, h: int, w: int) -> list[tuple[int, int]]:
        """The pooling output size of every bin for a ``h × w`` feature map."""
        if self.bin_scaling == "fixed":
            return [(b, b) for b in self.bins]
        mh = max(1, int(h / self.reference_size[0] + 0.5))
        mw = max(1, int(w / self.reference_size[1] + 0.5))
        return [(b * mh, b * mw) for b in self.bins]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        kwargs = {"align_corners": False} if self.upsampling == "bilinear" else {}
        pooled = [
            F.interpolate(
                branch(F.adaptive_avg_pool2d(x, size)), size=(h, w), mode=self.upsampling, **kwargs
            )
            for branch, size in zip(self.branches, self.pooled_sizes(h, w), strict=True)
        ]
        return self.fuse(torch.cat([x, *pooled], dim=1))


def build_context(
    mode: str,
    channels: int,
    bins: tuple[int, ...] = (1, 2, 4, 8),
    act_layer: type[nn.Module] = nn.ReLU,
    input_size: tuple[int, int] = (512, 1024),
    upsampling: str = "nearest",
    bin_scaling: str = "scaled",
) -> nn.Module:
    """The context module for ``mode`` in :data:`CONTEXT_MODULES`; it keeps ``channels`` channels."""
    if mode == "ppm":
        return PyramidPoolingModule(
            channels, channels, bins, input_size, upsampling, bin_scaling, act_layer=act_layer
        )
    if mode == "none":
        return nn.Identity()
    raise ValueError(f"unknown context module {mode!r}; valid: {list(CONTEXT_MODULES)}")
