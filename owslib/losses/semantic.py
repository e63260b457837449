"""L_sem, the closed-set term, as ``loss__semantic`` names it: CE (Eq. 2), focal, Dice, or a sum."""

from __future__ import annotations

import torch
from torch import nn

from owslib.config import LossConfig
from owslib.losses.dice import DiceLoss
from owslib.losses.focal import FocalLoss
from owslib.losses.segmentation import WeightedCrossEntropy

#: ``loss__semantic`` choices. A sum ``a+b`` is ``L_a + loss__dice_weight · L_dice``.
SEMANTIC_LOSSES = ("ce", "focal", "dice", "focal+dice", "ce+dice")


class SemanticSum(nn.Module):
    """``L_sem = L_first + w · L_dice``, logging both parts: returns ``{"sem": total, <part>: …}``."""

    def __init__(self, parts: dict[str, nn.Module], weights: dict[str, float]) -> None:
        super().__init__()
        self.parts = nn.ModuleDict(parts)
        self.part_weights = dict(weights)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        values = {name: part(logits, target) for name, part in self.parts.items()}
        total = sum(self.part_weights[n] * v for n, v in values.items())
        return {"sem": total, **values}


def build_semantic_loss(
    cfg: LossConfig, num_classes: int, class_weights: torch.Tensor | None
) -> nn.Module:
    """The L_sem module named by ``cfg.semantic`` (:data:`SEMANTIC_LOSSES`).

    ``ce``: class-weighted cross-entropy (ContMAV Eq. 2); ``focal``: :class:`FocalLoss` with
    ``loss__focal_gamma`` and, with ``loss__focal_weighted``, the class weights as α; ``dice``:
    :class:`DiceLoss` with ``loss__dice_smooth``; sums add ``loss__dice_weight`` × Dice.
    """
    if cfg.semantic not in SEMANTIC_LOSSES:
        raise ValueError(f"loss__semantic={cfg.semantic!r}; choose one of {SEMANTIC_LOSSES}")

    def make(name: str) -> nn.Module:
        if name == "ce":
            return WeightedCrossEntropy(num_classes, class_weights)
        if name == "focal":
            alpha = class_weights if cfg.focal_weighted else None
            return FocalLoss(num_classes, cfg.focal_gamma, alpha)
        return DiceLoss(num_classes, cfg.dice_smooth)

    names = cfg.semantic.split("+")
    if len(names) == 1:
        return make(names[0])
    weights = {n: (cfg.dice_weight if n == "dice" else 1.0) for n in names}
    return SemanticSum({n: make(n) for n in names}, weights)
