"""The SegFormer all-MLP decode head, as TruFor uses it for its localization and confidence maps."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from owslib.models.layers import init_weights, make_act


class MLPDecoder(nn.Module):
    """Per-stage linear projection to ``E`` channels, upsample to 1/4, concat, fuse, predict.

    Reference: Xie et al., "SegFormer", NeurIPS 2021, §3.2, Eqs. 1–4; used unchanged for both heads
    of Guillaro et al., "TruFor", CVPR 2023, §3. With encoder stages ``F_i`` (strides 4/8/16/32):

    - Eq. 1: ``F̂_i = Linear(C_i, E)(F_i)`` — a 1×1 conv with bias here, the same map (and the same
      parameter count) as the per-token ``nn.Linear`` of the reference code;
    - Eq. 2: ``F̂_i = Upsample(H/4 × W/4)(F̂_i)``, bilinear, ``align_corners=False``;
    - Eq. 3: ``F = Linear(4E, E)(Concat(F̂_i))`` — concatenated deepest first ``[F̂_4, F̂_3, F̂_2,
      F̂_1]`` as the reference code does, then 1×1 conv (no bias) → BatchNorm → ``act_layer``;
    - Eq. 4: ``M = Linear(E, out)(F)``, after channel-wise dropout (``nn.Dropout2d``, p = 0.1 in
      SegFormer and TruFor).

    BatchNorm and activation after the fusing conv come from the reference code, not Eq. 3. The
    fusing conv has no bias, as SegFormer's ``ConvModule`` (bias dropped before a norm layer);
    TruFor's copy keeps one, which BatchNorm cancels (512 more parameters at E = 512). Convs are
    initialised like the rest of owslib (:func:`~owslib.models.layers.init_weights`, Kaiming fan-out;
    TruFor uses Kaiming fan-in), the prediction conv small (below).

    Shape: ``feats`` = 4 tensors ``(B, in_channels[i], H/2^(i+2), W/2^(i+2))`` →
    ``(B, out_channels, H/4, W/4)``, or ``(B, out_channels, *size)`` when ``size`` is given.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        embed_dim: int = 512,
        dropout: float = 0.1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        in_channels = tuple(in_channels)
        if len(in_channels) != 4:
            raise ValueError(
                f"MLPDecoder needs four encoder stages (strides 4/8/16/32), got {in_channels!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLPDecoder dropout must lie in [0, 1), got {dropout}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.embed_dim = embed_dim
        self.proj = nn.ModuleList(nn.Conv2d(c, embed_dim, 1) for c in in_channels)
        self.fuse = nn.Sequential(
            nn.Conv2d(4 * embed_dim, embed_dim, 1, bias=False),
            nn.BatchNorm2d(embed_dim),
            make_act(act_layer),
        )
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.pred = nn.Conv2d(embed_dim, out_channels, 1)
        init_weights(self)
        # A small output layer (std 0.01, as the ContMAV decoders here): outputs start near zero —
        # near-uniform logits, embedding norms near 0 — instead of the large values a Kaiming-
        # initialised head gives, whose unbounded objectosphere gradient swamps the shared encoder
        # early on (and which, once fused, would drown the other head's output).
        nn.init.normal_(self.pred.weight, std=0.01)
        nn.init.zeros_(self.pred.bias)

    def forward(
        self, feats: Sequence[torch.Tensor], size: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """``feats`` ordered shallowest first (strides 4, 8, 16, 32); ``size`` = output ``(H, W)``."""
        if len(feats) != len(self.proj):
            raise ValueError(f"MLPDecoder expects {len(self.proj)} feature maps, got {len(feats)}")
        for i, (f, c) in enumerate(zip(feats, self.in_channels, strict=True)):
            if f.dim() != 4 or f.shape[1] != c:
                raise ValueError(
                    f"MLPDecoder feature {i}: expected (B, {c}, H, W), got {tuple(f.shape)}"
                )
        target = feats[0].shape[-2:]
        projected = []
        for proj, f in zip(self.proj, feats, strict=True):
            y = proj(f)
            if y.shape[-2:] != target:
                y = F.interpolate(y, size=target, mode="bilinear", align_corners=False)
            projected.append(y)
        x = self.fuse(torch.cat(projected[::-1], dim=1))  # deepest first, as SegFormer/TruFor
        x = self.pred(self.dropout(x))
        if size is not None and tuple(x.shape[-2:]) != tuple(size):
            x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
        return x
