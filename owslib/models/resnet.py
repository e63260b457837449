"""The ResNet encoder (torchvision layout) with BasicBlock or NonBottleneck-1D residual blocks."""

from __future__ import annotations

import torch
from torch import nn

from owslib.models.layers import NonBottleneck1D, downsample_projection, init_weights, make_act

ENCODER_LAYERS: dict[str, tuple[int, ...]] = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}
STAGE_CHANNELS = (64, 128, 256, 512)
STAGE_STRIDES = (4, 8, 16, 32)


class BasicBlock(nn.Module):
    """The ResNet basic block (He et al., CVPR 2016, Fig. 2 left), named like torchvision's.

    ``out = act(bn2(conv2(act(bn1(conv1(x))))) + downsample(x))`` with 3×3 convs without bias; the
    projection ``downsample`` (1×1 conv + BN) is built when the stride or the channel count changes.
    Parameter names (``conv1, bn1, conv2, bn2, downsample.0/1``) match torchvision, so its
    resnet18/34 state dicts load unchanged.

    Shape: ``(B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act = make_act(act_layer)
        self.downsample = (
            downsample_projection(in_channels, out_channels, stride)
            if stride != 1 or in_channels != out_channels
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.act(out + identity)


BLOCKS: dict[str, type[nn.Module]] = {"basicblock": BasicBlock, "nonbottleneck1d": NonBottleneck1D}


class ResNetEncoder(nn.Module):
    """ResNet-18/34 feature extractor without the classifier (He et al., CVPR 2016, Table 1).

    Stem ``conv1`` (7×7, stride 2, no bias) → ``bn1`` → act → 3×3 max-pool (stride 2), then
    ``layer1..layer4`` of ``layers[i]`` blocks with 64/128/256/512 channels at strides 4/8/16/32.
    With ``block="nonbottleneck1d"`` this is ESANet's ResNet-NBt1D (Seichter et al., ICRA 2021), the
    ContMAV encoder (Sodano et al., CVPR 2024, §3.1); module names follow torchvision throughout.

    ``forward(x)`` returns a tuple ``(c1, c2, c3, c4)`` of the four stage outputs with
    ``self.out_channels`` channels at ``self.strides`` (input sides must be multiples of 32 for the
    stages to align exactly with the decoder's ×2 upsamplings).
    """

    def __init__(
        self,
        layers: tuple[int, ...] = ENCODER_LAYERS["resnet34"],
        block: str = "nonbottleneck1d",
        act_layer: type[nn.Module] = nn.ReLU,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"unknown encoder block {block!r}; valid: {sorted(BLOCKS)}")
        if len(layers) != 4 or any(n < 1 for n in layers):
            raise ValueError(f"encoder layers must be four positive counts, got {layers!r}")
        block_type = BLOCKS[block]
        self.block = block
        self.out_channels: tuple[int, ...] = STAGE_CHANNELS
        self.strides: tuple[int, ...] = STAGE_STRIDES
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.act = make_act(act_layer)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        prev = 64
        for i, (n, ch) in enumerate(zip(layers, STAGE_CHANNELS, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = [block_type(prev, ch, stride=stride, act_layer=act_layer)]
            blocks += [block_type(ch, ch, act_layer=act_layer) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            prev = ch
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        init_weights(self)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(self.act(self.bn1(self.conv1(x))))
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return c1, c2, c3, c4
