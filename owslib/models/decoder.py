"""The SwiftNet-style decoder used (twice) by ContMAV: three upsampling modules, then a head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from owslib.models.layers import ConvBNAct, NonBottleneck1D, init_weights, make_upsample


class DecoderModule(nn.Module):
    """3×3 ConvBNAct → ``blocks`` NonBottleneck-1D → ×2 upsampling → add the encoder skip.

    Reference: ESANet decoder module (Seichter et al., ICRA 2021, Fig. 2), after SwiftNet
    (Oršić et al., CVPR 2019); ContMAV (Sodano et al., CVPR 2024, §3.1) uses it unchanged (code).
    The reference's per-module ``side_output`` 1×1 heads feed no loss and are left out.

    Shape: ``(B, in_channels, H, W), skip (B, channels, 2H, 2W) -> (B, channels, 2H, 2W)``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        blocks: int = 3,
        upsampling: str = "learned-3x3-zeropad",
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv = ConvBNAct(in_channels, channels, 3, act_layer=act_layer)
        self.blocks = nn.Sequential(
            *(NonBottleneck1D(channels, channels, act_layer=act_layer) for _ in range(blocks))
        )
        self.upsample = make_upsample(upsampling, channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        out = self.upsample(self.blocks(self.conv(x)))
        return out + skip


class Decoder(nn.Module):
    """Three :class:`DecoderModule` (1/32 → 1/16 → 1/8 → 1/4), a 3×3 conv (with bias) to
    ``out_channels`` at 1/4 resolution, and two ×2 upsamplings to the input resolution.

    Reference: ContMAV (Sodano et al., CVPR 2024, §3.1, Fig. 2): the semantic decoder produces the
    logits f_p, the contrastive decoder the embedding f_p^d; both have this structure (code).
    The projected encoder skips are computed once by the model and passed to ``forward``.

    Shape: ``x (B, channels_in, H/32, W/32)``, ``skips`` = features with ``channels[0..2]``
    channels at 1/16, 1/8, 1/4 → ``(B, out_channels, H, W)``.
    """

    def __init__(
        self,
        channels_in: int,
        out_channels: int,
        channels: Sequence[int] = (512, 256, 128),
        blocks: Sequence[int] = (3, 3, 3),
        upsampling: str = "learned-3x3-zeropad",
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if len(channels) != 3 or len(blocks) != 3:
            raise ValueError(
                f"decoder needs three channel counts and three block counts, "
                f"got channels={tuple(channels)!r}, blocks={tuple(blocks)!r}"
            )
        ins = (channels_in, *channels[:-1])
        self.stages = nn.ModuleList(
            DecoderModule(c_in, c, n, upsampling=upsampling, act_layer=act_layer)
            for c_in, c, n in zip(ins, channels, blocks, strict=True)
        )
        self.conv_out = nn.Conv2d(channels[-1], out_channels, 3, padding=1)
        self.upsample1 = make_upsample(upsampling, out_channels)
        self.upsample2 = make_upsample(upsampling, out_channels)
        init_weights(self)
        # A small output layer (std 0.01, as common segmentation heads): logits start near uniform
        # and embedding norms near 0, instead of the ~10² squared norms a Kaiming-initialised head
        # gives, whose unbounded objectosphere gradient swamps the shared encoder early on.
        nn.init.normal_(self.conv_out.weight, std=0.01)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, skips: Sequence[torch.Tensor]) -> torch.Tensor:
        """``skips`` ordered deepest first: (1/16, 1/8, 1/4)."""
        if len(skips) != len(self.stages):
            raise ValueError(f"decoder expects {len(self.stages)} skips, got {len(skips)}")
        for stage, skip in zip(self.stages, skips, strict=True):
            x = stage(x, skip)
        return self.upsample2(self.upsample1(self.conv_out(x)))
