"""Building blocks shared by the encoder and the decoders: conv-BN-act, NonBottleneck-1D, upsampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

UPSAMPLING_MODES = ("learned-3x3-zeropad", "learned-3x3", "bilinear")


def make_act(act_layer: type[nn.Module]) -> nn.Module:
    """Instantiate an activation type, in place where the type supports it (``nn.ReLU`` does)."""
    try:
        return act_layer(inplace=True)
    except TypeError:
        return act_layer()


class ConvBNAct(nn.Sequential):
    """Conv (no bias) → BatchNorm → activation; padding keeps the spatial size at stride 1.

    Submodules are named ``conv``, ``bn``, ``act`` (as in ESANet, Seichter et al., ICRA 2021).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = make_act(act_layer)


def downsample_projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """The residual projection ``1×1 conv (no bias, stride) + BN`` (torchvision's ``downsample``)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class NonBottleneck1D(nn.Module):
    """Residual block whose 3×3 convs are factorised into 3×1 → act → 1×3.

    Reference: Romera et al., "ERFNet", T-ITS 2018, Fig. 2 (non-bottleneck-1D); used as the ResNet
    block by ESANet (Seichter et al., ICRA 2021, §III, encoder) and ContMAV (Sodano et al., CVPR 2024, §3.1).
    ``out = act(bn2(c1x3_2(act(c3x1_2(act(bn1(c1x3_1(act(c3x1_1(x))))))))) + skip(x))``; the
    factorised convs carry a bias, the BatchNorms inside the block use ``bn_eps`` (1e-3 as in ERFNet).
    The projection ``downsample`` (1×1 conv + BN, default eps as in torchvision/ESANet's ResNet) is
    built when the stride or the channel count changes.

    Shape: ``(B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        act_layer: type[nn.Module] = nn.ReLU,
        bn_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.conv3x1_1 = nn.Conv2d(
            in_channels, out_channels, (3, 1), stride=(stride, 1), padding=(1, 0)
        )
        self.conv1x3_1 = nn.Conv2d(
            out_channels, out_channels, (1, 3), stride=(1, stride), padding=(0, 1)
        )
        self.bn1 = nn.BatchNorm2d(out_channels, eps=bn_eps)
        self.conv3x1_2 = nn.Conv2d(
            out_channels, out_channels, (3, 1), padding=(dilation, 0), dilation=(dilation, 1)
        )
        self.conv1x3_2 = nn.Conv2d(
            out_channels, out_channels, (1, 3), padding=(0, dilation), dilation=(1, dilation)
        )
        self.bn2 = nn.BatchNorm2d(out_channels, eps=bn_eps)
        self.act = make_act(act_layer)
        if downsample is None and (stride != 1 or in_channels != out_channels):
            downsample = downsample_projection(in_channels, out_channels, stride)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.conv3x1_1(x))
        out = self.act(self.bn1(self.conv1x3_1(out)))
        out = self.act(self.conv3x1_2(out))
        out = self.bn2(self.conv1x3_2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.act(out + identity)


def bilinear_kernel_3x3() -> torch.Tensor:
    """The 3×3 kernel ``[[1,2,1],[2,4,2],[1,2,1]] / 16``."""
    k = torch.tensor([1.0, 2.0, 1.0])
    return torch.outer(k, k) / 16.0


class LearnedUpsample(nn.Module):
    """×2 upsampling: nearest neighbour, then a learned depthwise 3×3 conv (with bias).

    Reference: ESANet (Seichter et al., ICRA 2021, §III, decoder: "learned upsampling"), used by ContMAV's
    decoders (Sodano et al., CVPR 2024, §3.1). The conv starts as the bilinear kernel
    ``[[1,2,1],[2,4,2],[1,2,1]]/16`` with zero bias, so at initialisation the output equals bilinear
    interpolation (``align_corners=False``) away from the border. ``padding="zeros"`` is the
    reference's ``learned-3x3-zeropad`` (the border is darkened); ``"replicate"`` is ``learned-3x3``.

    Shape: ``(B, C, H, W) -> (B, C, 2H, 2W)``.
    """

    def __init__(self, channels: int, padding: str = "zeros") -> None:
        super().__init__()
        if padding not in ("zeros", "replicate"):
            raise ValueError(f"LearnedUpsample padding {padding!r}; valid: ['zeros', 'replicate']")
        self.padding = padding
        self.conv = nn.Conv2d(
            channels, channels, 3, padding=1 if padding == "zeros" else 0, groups=channels
        )
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        self.conv.weight.copy_(bilinear_kernel_3x3().expand_as(self.conv.weight))
        self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if self.padding == "replicate":
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return self.conv(x)


class BilinearUpsample(nn.Module):
    """Parameter-free ×2 bilinear upsampling (``align_corners=False``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def make_upsample(mode: str, channels: int) -> nn.Module:
    """A ×2 upsampling module for ``mode`` in :data:`UPSAMPLING_MODES`."""
    if mode == "learned-3x3-zeropad":
        return LearnedUpsample(channels, padding="zeros")
    if mode == "learned-3x3":
        return LearnedUpsample(channels, padding="replicate")
    if mode == "bilinear":
        return BilinearUpsample()
    raise ValueError(f"unknown upsampling {mode!r}; valid: {list(UPSAMPLING_MODES)}")


@torch.no_grad()
def init_weights(module: nn.Module) -> None:
    """Kaiming-normal (fan-out) convs with zero bias, BatchNorm ``(1, 0)``; learned upsampling
    layers are reset to their bilinear kernel afterwards (as torchvision's ResNet / ESANet)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, LearnedUpsample):
            m.reset_parameters()
