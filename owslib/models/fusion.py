"""Fusions of a ContMAV output with an MLP-head output, and the TruFor-style confidence head's math."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Fusion(nn.Module):
    """Base class: ``forward(a, b)`` with ``a`` the ContMAV tensor (contrastive embedding or
    semantic logits) and ``b`` the MLP head's output, both ``(B, C, H, W)``.

    ``fuses`` says whether the result depends on ``b``; where it is ``False`` the model keeps ``b``
    as its own output, trained and scored separately.
    """

    fuses: bool = True

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def _check(self, a: torch.Tensor, b: torch.Tensor) -> None:
        if a.dim() != 4 or a.shape != b.shape or a.shape[1] != self.channels:
            raise ValueError(
                f"{type(self).__name__}: expected two (B, {self.channels}, H, W) tensors of the "
                f"same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
            )


class NormalizedSum(Fusion):
    """``F.normalize(a, dim=1) + F.normalize(b, dim=1)`` — the student project's fusion, kept to
    show its effect.

    For unit vectors at angle θ the sum has norm ``sqrt(2 + 2 cos θ) = 2 cos(θ/2) ≤ 2``: it depends
    only on the angle between the heads, never on their magnitudes, so the embedding norm that
    ContMAV's objectosphere loss trains and scores (Eqs. 9, 13) carries no anomaly signal any more.

    Shape: ``(B, C, H, W), (B, C, H, W) -> (B, C, H, W)``.
    Reference: REFERENCE §9 (TruFor extension, the student fusion); Sodano et al., CVPR 2024, Eq. 13.
    """

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self._check(a, b)

        return F.normalize(a, dim=1) + F.normalize(b, dim=1)


class Sum(Fusion):
    """``a + b``: keeps both heads' magnitudes, so a norm-based anomaly score still applies.

    Shape: ``(B, C, H, W), (B, C, H, W) -> (B, C, H, W)``.
    Reference: owslib extension (REFERENCE §9); TruFor (Guillaro et al., CVPR 2023) itself never
    sums logits.
    """

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self._check(a, b)

        return a + b


class ConcatConv(Fusion):
    """A learned 1×1 conv (with bias) over ``cat([a, b], dim=1)``, ``2C → C``.

    Shape: ``(B, C, H, W), (B, C, H, W) -> (B, C, H, W)``.
    Reference: owslib extension (REFERENCE §9), a learned generalisation of :class:`Sum`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels)

        self.conv = nn.Conv2d(2 * channels, channels, 1)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        # Weight ``[I | I]``, zero bias: the fusion starts as ``a + b`` exactly, so training departs
        # from the ``sum`` baseline (magnitudes kept) instead of from a random channel mix, which
        # at step 0 would scramble the embedding norm — the anomaly signal — and the logits'
        # class order that the losses and class statistics rely on.
        eye = torch.eye(self.channels, dtype=self.conv.weight.dtype)
        self.conv.weight.copy_(torch.cat([eye, eye], dim=1)[:, :, None, None])
        self.conv.bias.zero_()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self._check(a, b)
        return self.conv(torch.cat([a, b], dim=1))


class Separate(Fusion):
    """No tensor fusion: returns ``a`` unchanged and ignores ``b``.

    Each head is trained with its own losses and scored on its own; the model keeps ``b`` as a
    separate output (``fuses = False``), and scores may be averaged at inference.

    Shape: ``(B, C, H, W), (B, C, H, W) -> (B, C, H, W)`` (``a`` itself).
    Reference: owslib extension (REFERENCE §9, "per-head losses with averaged scores").
    """

    fuses = False

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self._check(a, b)
        return a


class Confidence(Fusion):
    """No tensor fusion: returns ``a`` unchanged; the MLP head is a separate confidence head.

    The head predicts one channel of raw logits trained by :func:`owslib.losses.confidence.confidence_loss`, and its
    sigmoid tempers the anomaly score (:func:`tempered_anomaly`) — TruFor's arrangement, which
    never sums its heads (``fuses = False``).

    Shape: ``(B, C, H, W), (B, C, H, W) -> (B, C, H, W)`` (``a`` itself).
    Reference: Guillaro et al., "TruFor", CVPR 2023, §3.3; Corbière et al., "ConfidNet", NeurIPS 2019.
    """

    fuses = False

    def _check(self, a: torch.Tensor, b: torch.Tensor) -> None:
        # The confidence map has its own channel count (1), so only the ContMAV tensor is checked.
        if a.dim() != 4 or a.shape[1] != self.channels:
            raise ValueError(
                f"Confidence: expected a (B, {self.channels}, H, W) tensor, got {tuple(a.shape)}"
            )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        self._check(a, b)
        return a


FUSIONS: dict[str, type[Fusion]] = {
    "normalized_sum": NormalizedSum,
    "sum": Sum,
    "concat_conv": ConcatConv,
    "separate": Separate,
    "confidence": Confidence,
}


def build_fusion(name: str, channels: int) -> Fusion:
    """The fusion registered as ``name`` in :data:`FUSIONS`, for ``channels``-channel tensors."""
    if name not in FUSIONS:
        raise ValueError(f"unknown fusion {name!r}; valid: {list(FUSIONS)}")
    return FUSIONS[name](channels)


def tempered_anomaly(score: torch.Tensor, confidence: torch.Tensor) -> torch.Tensor:
    """``1 − (1 − score) · confidence``: an anomaly score in [0, 1] tempered by a confidence map.

    ``score`` is an unknown score in [0, 1] (e.g. ContMAV's ``max(0, 1 − ‖f^d‖²/ξ)``, Eq. 13, or
    ``1 − s(p)``, Eq. 12); ``confidence`` is the confidence head's probability ``sigmoid(conf)``
    in [0, 1]. The product treats "known" as needing both pieces of evidence — the anomaly head's
    ``1 − score`` and the predicted probability that the semantic prediction is right — like a
    noisy AND of two probabilities. So low confidence makes a pixel more anomalous, full confidence
    leaves the score unchanged (the head can only raise it), the result stays in [0, 1] and is
    monotone in both inputs. On an unknown object the semantic prediction is wrong by definition
    (its TCP target would be low), which is why low confidence is read as evidence of novelty.

    Shape: ``score`` (B, H, W), ``confidence`` (B, H, W) or (B, 1, H, W) → (B, H, W).
    Reference: owslib extension; confidence as TCP after ConfidNet (Corbière et al., NeurIPS 2019)
    and TruFor (Guillaro et al., CVPR 2023, §3.3).
    """
    if confidence.dim() == score.dim() + 1 and confidence.shape[1] == 1:
        confidence = confidence.squeeze(1)
    if confidence.shape != score.shape:
        raise ValueError(
            f"confidence: expected shape {tuple(score.shape)}, got {tuple(confidence.shape)}"
        )
    return 1.0 - (1.0 - score) * confidence
