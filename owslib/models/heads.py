"""Extra heads beside ContMAV's two decoders, chosen by ``model__extra_decoder``: a registry.

A head is built once from ``(model, cfg)`` and called as ``head(feats, outputs, size)`` with the
encoder stages of the padded input, the outputs so far (at the padded size) and that size; it
returns the outputs it adds or replaces. Register a new one with :func:`register_extra_decoder`.

Built in: ``mlp`` — TruFor's SegFormer-style all-MLP decoder (:class:`~owslib.models.mlp_decoder.
MLPDecoder`) met with the model's own output by ``model__fusion`` (:mod:`owslib.models.fusion`),
into ``model__fusion_target`` (``embedding`` or ``semantic``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from owslib.models.fusion import FUSIONS, build_fusion
from owslib.models.mlp_decoder import MLPDecoder
from owslib.models.outputs import CONFIDENCE, EMBEDDING, EMBEDDING_MLP, SEM_LOGITS

HeadBuilder = Callable[[nn.Module, Any], nn.Module]
EXTRA_DECODERS: dict[str, HeadBuilder | None] = {"none": None}
FUSION_TARGETS = {"embedding": EMBEDDING, "semantic": SEM_LOGITS}


def register_extra_decoder(name: str, builder: HeadBuilder, *, replace: bool = False) -> None:
    """Make ``builder(model, model_cfg) -> head`` available as ``model__extra_decoder=name``."""
    if name in EXTRA_DECODERS and not replace:
        raise ValueError(f"extra decoder {name!r} is registered already")
    EXTRA_DECODERS[name] = builder


class MLPHead(nn.Module):
    """The all-MLP decoder and its fusion with the model's output (TruFor, Guillaro et al., CVPR
    2023, §3; the fusions of :mod:`owslib.models.fusion`).

    * ``sum`` / ``normalized_sum`` / ``concat_conv``: the fused tensor replaces the target output;
    * ``separate``: the head's embedding is a second output, :data:`EMBEDDING_MLP`, trained by its
      own objectosphere and contrastive terms and scored on its own;
    * ``confidence``: a one-channel head, :data:`CONFIDENCE`, trained to predict the semantic
      decoder's true-class probability (TruFor's confidence map). With
      ``model__confidence_detach`` it reads detached encoder features, so its loss trains the
      head alone, as TruFor's phase 3 trains its confidence head with the rest frozen.
    """

    def __init__(self, model: nn.Module, cfg: Any) -> None:
        super().__init__()
        if cfg.fusion not in FUSIONS:
            raise ValueError(f"model__fusion={cfg.fusion!r}; valid: {sorted(FUSIONS)}")
        if cfg.fusion_target not in FUSION_TARGETS:
            raise ValueError(
                f"model__fusion_target={cfg.fusion_target!r}; valid: {sorted(FUSION_TARGETS)}"
            )
        self.fusion_name = cfg.fusion
        self.target = FUSION_TARGETS[cfg.fusion_target]
        if cfg.fusion == "confidence":
            out, self.key = 1, CONFIDENCE
        elif cfg.fusion == "separate":
            out, self.key = model.embedding_dim, EMBEDDING_MLP
        else:
            out = model.num_classes if self.target == SEM_LOGITS else model.embedding_dim
            self.key = self.target
        self.decoder = MLPDecoder(model.encoder.out_channels, out, embed_dim=cfg.mlp_dim)
        self.fusion = build_fusion(cfg.fusion, out)
        self.detach = bool(getattr(cfg, "confidence_detach", False)) and cfg.fusion == "confidence"

    def forward(
        self, feats: Sequence[torch.Tensor], outputs: dict[str, torch.Tensor], size: tuple[int, int]
    ) -> dict[str, torch.Tensor]:
        if self.detach:  # no gradient of the confidence loss reaches the shared encoder
            feats = [f.detach() for f in feats]
        b = self.decoder(feats, size=size)
        if self.key == self.target:
            return {self.target: self.fusion(outputs[self.target], b)}
        return {self.key: b}

    @property
    def output_keys(self) -> tuple[str, ...]:
        return (self.key,)


EXTRA_DECODERS["mlp"] = MLPHead
