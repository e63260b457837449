"""ContMAV: a shared ResNet encoder with a semantic and a contrastive decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from owslib.models.context import build_context
from owslib.models.decoder import Decoder
from owslib.models.layers import ConvBNAct, init_weights
from owslib.models.outputs import EMBEDDING, SEM_LOGITS
from owslib.models.resnet import ENCODER_LAYERS, ResNetEncoder

PAD_MODES = ("replicate", "constant")


class ContMAV(nn.Module):
    """Open-world segmentation network of Sodano et al., CVPR 2024, §3.1 and Fig. 2.

    ``encoder`` (ResNet, NonBottleneck-1D blocks) → ``context`` (pyramid pooling) → two decoders of
    identical structure, ``sem_decoder`` (K logits f_p, Eq. 2) and ``cont_decoder`` (embedding f_p^d,
    Eqs. 7–9, 13). The 1×1 skip projections ``skips`` (ConvBNAct, identity when the channel counts
    agree) are shared by both decoders, as in the reference code; ``skips[i]`` projects encoder
    stage ``i+1`` (strides 4, 8, 16).

    Inputs whose sides are not multiples of 32 are padded at the bottom/right (``pad_mode``:
    ``"replicate"`` or ``"constant"`` zeros) before the encoder; outputs are cropped back.

    ``forward(x)`` returns ``{SEM_LOGITS: (B, K, H, W), EMBEDDING: (B, D, H, W)}``
    (:mod:`owslib.models.outputs`), plus what an extra head adds (``extra_head``, see
    :mod:`owslib.models.heads`: built from the model and its config, it reads the encoder stages
    and the outputs so far and adds or replaces outputs). :attr:`output_keys` lists the keys.
    """

    output_stride = 32

    def __init__(
        self,
        num_classes: int,
        embedding_dim: int = 0,
        encoder_layers: tuple[int, ...] = ENCODER_LAYERS["resnet34"],
        encoder_block: str = "nonbottleneck1d",
        context: str = "ppm",
        context_bins: tuple[int, ...] = (1, 2, 4, 8),
        context_input_size: tuple[int, int] = (512, 1024),
        context_upsampling: str = "nearest",
        context_bin_scaling: str = "scaled",
        decoder_channels: Sequence[int] = (512, 256, 128),
        decoder_blocks: Sequence[int] = (3, 3, 3),
        upsampling: str = "learned-3x3-zeropad",
        act_layer: type[nn.Module] = nn.ReLU,
        pad_mode: str = "replicate",
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if embedding_dim < 0:
            raise ValueError(f"embedding_dim must be >= 0 (0 = num_classes), got {embedding_dim}")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"unknown pad_mode {pad_mode!r}; valid: {list(PAD_MODES)}")
        self.num_classes = num_classes
        self.embedding_dim = embedding_dim or num_classes
        self.pad_mode = pad_mode
        self.encoder = ResNetEncoder(encoder_layers, encoder_block, act_layer=act_layer)
        c1, c2, c3, c4 = self.encoder.out_channels
        self.context = build_context(
            context,
            c4,
            context_bins,
            act_layer=act_layer,
            input_size=tuple(context_input_size),
            upsampling=context_upsampling,
            bin_scaling=context_bin_scaling,
        )
        dec = tuple(decoder_channels)
        self.skips = nn.ModuleList(
            _projection(c_enc, c_dec, act_layer)
            for c_enc, c_dec in zip((c1, c2, c3), dec[::-1], strict=True)
        )
        kwargs = dict(channels=dec, blocks=tuple(decoder_blocks), upsampling=upsampling)
        self.sem_decoder = Decoder(c4, num_classes, act_layer=act_layer, **kwargs)
        self.cont_decoder = Decoder(c4, self.embedding_dim, act_layer=act_layer, **kwargs)
        init_weights(self.context)
        init_weights(self.skips)
        self.extra_head: nn.Module | None = None

    @property
    def output_keys(self) -> tuple[str, ...]:
        """The keys of :meth:`forward`'s dict."""
        extra = tuple(getattr(self.extra_head, "output_keys", ()))
        return tuple(dict.fromkeys((SEM_LOGITS, EMBEDDING, *extra)))

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` padded at the bottom/right so that both sides are multiples of 32."""
        h, w = x.shape[-2:]
        ph, pw = -h % self.output_stride, -w % self.output_stride
        if ph == 0 and pw == 0:
            return x
        return F.pad(x, (0, pw, 0, ph), mode=self.pad_mode)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Encoder stage outputs ``(c1, c2, c3, c4)`` (strides 4/8/16/32) of the padded input."""
        return self.encoder(self.pad(x))

    def forward_heads(self, feats: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Both decoders (and the extra head) on encoder features; outputs at the padded size."""
        c1, c2, c3, c4 = feats
        ctx = self.context(c4)
        skips = [proj(c) for proj, c in zip(self.skips, (c1, c2, c3), strict=True)][::-1]
        out = {
            SEM_LOGITS: self.sem_decoder(ctx, skips),
            EMBEDDING: self.cont_decoder(ctx, skips),
        }
        if self.extra_head is not None:
            out |= self.extra_head(feats, out, tuple(out[SEM_LOGITS].shape[-2:]))
        return out

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h, w = x.shape[-2:]
        out = self.forward_heads(self.features(x))
        return {k: v[..., :h, :w].contiguous() for k, v in out.items()}


def _projection(in_channels: int, out_channels: int, act_layer: type[nn.Module]) -> nn.Module:
    if in_channels == out_channels:
        return nn.Identity()
    return ConvBNAct(in_channels, out_channels, 1, act_layer=act_layer)
