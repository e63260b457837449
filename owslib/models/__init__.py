"""Models: ``build_model(cfg, num_classes)`` turns a :class:`~owslib.config.ModelConfig` into a network."""

from __future__ import annotations

from torch import nn

from owslib.config import ModelConfig
from owslib.models.context import CONTEXT_BIN_SCALING, CONTEXT_MODULES, CONTEXT_UPSAMPLING
from owslib.models.contmav import ContMAV
from owslib.models.heads import EXTRA_DECODERS, register_extra_decoder
from owslib.models.layers import UPSAMPLING_MODES
from owslib.models.pretrained import load_encoder_weights
from owslib.models.resnet import BLOCKS, ENCODER_LAYERS, ResNetEncoder

__all__ = [
    "EXTRA_DECODERS",
    "ContMAV",
    "ResNetEncoder",
    "build_model",
    "count_parameters",
    "load_encoder_weights",
    "register_extra_decoder",
]

_CHOICES: dict[str, tuple[str, ...]] = {
    "encoder": tuple(ENCODER_LAYERS),
    "encoder_block": tuple(BLOCKS),
    "context": CONTEXT_MODULES,
    "context_upsampling": CONTEXT_UPSAMPLING,
    "context_bin_scaling": CONTEXT_BIN_SCALING,
    "upsampling": UPSAMPLING_MODES,
}


def build_model(cfg: ModelConfig, num_classes: int) -> ContMAV:
    """ContMAV for ``num_classes`` known classes as described by ``cfg``.

    Unknown option strings raise ``ValueError`` naming the config key (flat form ``model__<field>``)
    and the valid choices. When ``cfg.pretrained_path`` is set the encoder's ImageNet weights are
    loaded from it (:func:`~owslib.models.pretrained.load_encoder_weights`).
    """
    for key, choices in _CHOICES.items():
        value = getattr(cfg, key)
        if value not in choices:
            raise ValueError(f"model__{key}: unknown value {value!r}; valid: {list(choices)}")
    for key in ("decoder_channels", "decoder_blocks"):
        value = tuple(getattr(cfg, key))
        minimum = 1 if key == "decoder_channels" else 0
        if len(value) != 3 or any(v < minimum for v in value):
            raise ValueError(f"model__{key}: expected three integers >= {minimum}, got {value!r}")
    model = ContMAV(
        num_classes=num_classes,
        embedding_dim=cfg.embedding_dim,
        encoder_layers=ENCODER_LAYERS[cfg.encoder],
        encoder_block=cfg.encoder_block,
        context=cfg.context,
        context_bins=tuple(cfg.context_bins),
        context_input_size=tuple(cfg.context_input_size),
        context_upsampling=cfg.context_upsampling,
        context_bin_scaling=cfg.context_bin_scaling,
        decoder_channels=tuple(cfg.decoder_channels),
        decoder_blocks=tuple(cfg.decoder_blocks),
        upsampling=cfg.upsampling,
    )
    if cfg.extra_decoder not in EXTRA_DECODERS:
        raise ValueError(
            f"model__extra_decoder: unknown value {cfg.extra_decoder!r}; "
            f"valid: {list(EXTRA_DECODERS)}"
        )
    builder = EXTRA_DECODERS[cfg.extra_decoder]
    if builder is not None:
        model.extra_head = builder(model, cfg)
    if cfg.pretrained_path:
        load_encoder_weights(model.encoder, cfg.pretrained_path)
    return model


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (all of them, or only those that require grad)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
