"""The confidence head's loss: MSE of ``sigmoid(conf)`` against the semantic decoder's detached
true-class probability (ConfidNet, Corbière et al., NeurIPS 2019; TruFor, Guillaro et al., CVPR 2023)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from owslib.losses._common import attached_zero, known_mask
from owslib.models.outputs import CONFIDENCE, SEM_LOGITS


def true_class_probability(
    sem_logits: torch.Tensor, target: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """TCP: the softmax probability of the ground-truth class, and the mask of known pixels.

    ``tcp[b, h, w] = softmax(sem_logits[b, :, h, w])[target[b, h, w]]`` on pixels labelled with a
    known class ``0..K-1``; void and unknown-class pixels are masked out (and set to 0). The result
    is detached and computed in float32: it is a regression target, not a path for gradients into
    the semantic head.

    Shape: ``sem_logits`` (B, K, H, W), ``target`` (B, H, W) → ``tcp`` (B, H, W), ``mask`` (B, H, W).
    Reference: Corbière et al., "Addressing Failure Prediction by Learning Model Confidence"
    (ConfidNet), NeurIPS 2019, §3 (TCP); TruFor (Guillaro et al., CVPR 2023, §3.3) trains its
    confidence map on the same target.
    """
    if sem_logits.dim() != 4 or sem_logits.shape[1] != num_classes:
        raise ValueError(
            f"sem_logits: expected (B, {num_classes}, H, W), got {tuple(sem_logits.shape)}"
        )
    if target.shape != (sem_logits.shape[0], *sem_logits.shape[2:]):
        raise ValueError(
            f"target: expected shape {(sem_logits.shape[0], *sem_logits.shape[2:])}, "
            f"got {tuple(target.shape)}"
        )
    mask = known_mask(target, num_classes) & (target >= 0)
    probs = torch.softmax(sem_logits.detach().float(), dim=1)
    index = torch.where(mask, target, torch.zeros_like(target)).long()
    tcp = probs.gather(1, index.unsqueeze(1)).squeeze(1)
    return tcp.masked_fill(~mask, 0.0), mask


def confidence_loss(
    conf: torch.Tensor, sem_logits: torch.Tensor, target: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """MSE between ``sigmoid(conf)`` and the detached TCP, averaged over known pixels.

    An all-ignored batch (no known pixel) gives a finite zero attached to ``conf``'s graph.

    Shape: ``conf`` (B, 1, H, W) raw logits, ``sem_logits`` (B, K, H, W), ``target`` (B, H, W) →
    scalar.
    Reference: ConfidNet (Corbière et al., NeurIPS 2019, §3, ℓ2 loss on TCP); TruFor (Guillaro et al., CVPR 2023,
    §3.3, MSE on the confidence map).
    """
    if conf.dim() != 4 or conf.shape[1] != 1 or conf.shape[-2:] != sem_logits.shape[-2:]:
        raise ValueError(
            f"conf: expected (B, 1, {sem_logits.shape[-2]}, {sem_logits.shape[-1]}), "
            f"got {tuple(conf.shape)}"
        )
    tcp, mask = true_class_probability(sem_logits, target, num_classes)
    if not mask.any():
        return attached_zero(conf)
    pred = torch.sigmoid(conf.float()).squeeze(1)
    return (pred[mask] - tcp[mask]).square().mean()


class ConfidenceTerm(nn.Module):
    """MSE of the confidence head against the semantic decoder's detached true-class probability
    (ConfidNet, Corbière et al., NeurIPS 2019; TruFor, Guillaro et al., CVPR 2023)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def forward(self, outputs: Mapping[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return confidence_loss(outputs[CONFIDENCE], outputs[SEM_LOGITS], target, self.num_classes)
