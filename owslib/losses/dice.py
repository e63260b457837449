"""Soft Dice loss over the K known classes, averaged over the classes present in the batch."""

from __future__ import annotations

import torch
from torch import nn

from owslib.labels import IGNORE_INDEX
from owslib.losses._common import attached_zero


def dice_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    smooth: float = 1.0,
    ignore_index: int = IGNORE_INDEX,
    num_classes: int | None = None,
) -> torch.Tensor:
    """``1 - mean_c D_c``, ``D_c = (2 Σ p_c y_c + s) / (Σ p_c + Σ y_c + s)``, batch-wise soft Dice.

    ``p`` is the softmax over the K known classes and ``y`` the one-hot target. The sums run over
    the batch's valid pixels only (target in ``0..K-1``): unknown classes (``K..K+U-1``) and
    ``ignore_index`` add to neither the numerator nor the denominator. The mean runs over the
    classes present in the valid target, so a class absent from the batch neither helps nor
    hurts. No valid pixel gives a finite zero attached to the graph.

    Shape: ``logits`` (B, K, H, W) any float dtype (computed in at least float32), ``target``
        (B, H, W) int64 → scalar.
    Reference: Milletari et al., "V-Net", 3DV 2016, Eq. 1 (soft Dice). V-Net squares ``p`` and
        ``y`` in the denominator; the linear form used here is that of Sudre et al., "Generalised
        Dice overlap as a deep learning loss function", DLMIA 2017, with uniform class weights and
        a per-class mean (as segmentation_models_pytorch's ``DiceLoss``).
    """
    if logits.dim() != 4 or tuple(target.shape) != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(
            f"logits {tuple(logits.shape)} and target {tuple(target.shape)}, "
            "expected (B, K, H, W) and (B, H, W)"
        )
    k = logits.shape[1]
    if num_classes is not None and k != num_classes:
        raise ValueError(f"logits have {k} channels, expected num_classes={num_classes}")
    if smooth < 0:
        raise ValueError(f"dice smooth={smooth}, expected smooth >= 0")

    dtype = torch.promote_types(logits.dtype, torch.float32)
    valid = (target >= 0) & (target < k) & (target != ignore_index)
    probs = logits.to(dtype).softmax(dim=1).permute(0, 2, 3, 1)[valid]  # (N, K), valid pixels
    t = target[valid]
    onehot = torch.zeros_like(probs).scatter_(1, t.unsqueeze(1), 1.0)  # (N, K)
    inter = (probs * onehot).sum(dim=0)  # (K,)
    denom = probs.sum(dim=0) + onehot.sum(dim=0) + smooth
    present = onehot.sum(dim=0) > 0
    # An absent class with smooth=0 and no predicted mass has 0/0; it is masked out below, but the
    # safe denominator keeps its gradient finite.
    dice = (2.0 * inter + smooth) / torch.where(denom > 0, denom, 1.0)
    n_present = present.sum()
    mean_dice = (dice * present).sum() / n_present.clamp_min(1)
    return torch.where(n_present > 0, 1.0 - mean_dice, attached_zero(logits))


class DiceLoss(nn.Module):
    """Batch-wise soft Dice loss over the K known classes present in the target (:func:`dice_loss`).

    Unknown classes (``≥ K``) and ``ignore_index`` pixels are excluded from every sum.

    Shape: ``logits`` (B, K, H, W), ``target`` (B, H, W) int64 → scalar.
    Reference: Milletari et al., "V-Net", 3DV 2016, Eq. 1; Sudre et al., DLMIA 2017.
    """

    def __init__(
        self, num_classes: int, smooth: float = 1.0, ignore_index: int = IGNORE_INDEX
    ) -> None:
        super().__init__()
        if smooth < 0:
            raise ValueError(f"dice smooth={smooth}, expected smooth >= 0")
        self.num_classes = num_classes
        self.smooth = float(smooth)
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return dice_loss(logits, target, self.smooth, self.ignore_index, self.num_classes)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, smooth={self.smooth}, ignore_index={self.ignore_index}"
