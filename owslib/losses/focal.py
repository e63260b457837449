"""Focal loss over the K known classes (a class-weighted, hard-pixel-focused cross-entropy)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from owslib.labels import IGNORE_INDEX
from owslib.losses._common import attached_zero, class_weight_vector


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float32 for half/bfloat16/float32 logits, float64 kept as is."""
    return torch.promote_types(x.dtype, torch.float32)


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float,
    weight: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
    num_classes: int | None = None,
) -> torch.Tensor:
    """``Σ_p w_t (1 - p_t)^γ (-log p_t) / Σ_p w_t`` over the pixels labelled with a known class.

    ``p_t`` is the softmax probability of the target class, ``w_t`` the weight of the target class
    (1 without ``weight``). Targets outside ``0..K-1`` (unknown classes ``K..K+U-1``,
    ``ignore_index``) are skipped. With ``γ = 0`` this is exactly the (weighted) mean cross-entropy
    of ``F.cross_entropy(..., reduction="mean")``. No valid pixel (or zero total weight) gives a
    finite zero attached to the graph.

    Shape: ``logits`` (B, K, H, W) any float dtype (computed in at least float32), ``target``
        (B, H, W) int64, ``weight`` (K,) → scalar.
    Reference: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, Eq. 5
        (``α_t`` taken as the per-class weight and normalised by ``Σ α_t``).
    """
    k = _check_inputs(logits, target, num_classes)
    if gamma < 0:
        raise ValueError(f"focal gamma={gamma}, expected gamma >= 0")
    dtype = _compute_dtype(logits)
    if weight is None:
        w = logits.new_ones(k, dtype=dtype)
    else:
        w = torch.as_tensor(weight, device=logits.device).to(dtype)
        if w.shape != (k,):
            raise ValueError(f"focal class weight has shape {tuple(w.shape)}, expected ({k},)")

    valid = (target >= 0) & (target < k) & (target != ignore_index)
    t = torch.where(valid, target, 0)  # any in-range index; masked out by w_t below
    logp = F.log_softmax(logits.to(dtype), dim=1)
    logp_t = logp.gather(1, t.unsqueeze(1)).squeeze(1)
    # 1 - p_t via expm1 keeps precision for confident pixels; the clamp keeps the gradient of
    # (1 - p_t)^γ finite for γ < 1 when p_t rounds to exactly 1 (where the term is 0 anyway).
    modulator = (-torch.expm1(logp_t)).clamp_min(torch.finfo(dtype).tiny).pow(gamma)
    w_t = w[t] * valid
    num = (w_t * modulator * -logp_t).sum()
    den = w_t.sum()
    # torch.where instead of `if den > 0` avoids a host sync; the masked branch stays finite.
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), attached_zero(logits))


def _check_inputs(logits: torch.Tensor, target: torch.Tensor, num_classes: int | None) -> int:
    """The number of classes K, after checking ``logits`` (B, K, H, W) against ``target`` (B, H, W)."""
    if logits.dim() != 4:
        raise ValueError(f"logits have shape {tuple(logits.shape)}, expected (B, K, H, W)")
    k = logits.shape[1]
    if num_classes is not None and k != num_classes:
        raise ValueError(f"logits have {k} channels, expected num_classes={num_classes}")
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(f"target has shape {tuple(target.shape)}, expected {expected}")
    return k


class FocalLoss(nn.Module):
    """Focal loss over the K known classes, optionally class-weighted (see :func:`focal_loss`).

    ``L = Σ_p w_t (1 - p_t)^γ (-log p_t) / Σ_p w_t`` over pixels labelled ``0..K-1``; unknown
    classes (``≥ K``) and ``ignore_index`` are skipped. ``γ = 0`` is :class:`WeightedCrossEntropy`.
    The class weights are a buffer, so ``.to()`` and ``state_dict()`` carry them.

    Shape: ``logits`` (B, K, H, W), ``target`` (B, H, W) int64 → scalar.
    Reference: Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, Eq. 5.
    """

    def __init__(
        self,
        num_classes: int,
        gamma: float = 2.0,
        weight: torch.Tensor | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"focal gamma={gamma}, expected gamma >= 0")
        self.num_classes = num_classes
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        self.register_buffer(
            "weight", class_weight_vector(weight, num_classes, "focal class weight")
        )

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return focal_loss(
            logits, target, self.gamma, self.weight, self.ignore_index, self.num_classes
        )

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, gamma={self.gamma}, ignore_index={self.ignore_index}"
        )
