"""The contrastive loss between per-image class means and the previous epoch's class means (Eqs. 7–8)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from owslib.losses._common import known_mask, masked_mean
from owslib.losses.class_stats import ClassStatistics

#: How classes without statistics enter Eq. 8: left out, or (reference code) with a zero mean.
MISSING_CLASSES = ("drop", "zero_mean")


class ContrastiveLoss(nn.Module):
    """``L_cont = −Σ_k log exp(f̄_kᵀ μ̄_k / τ) / Σ_i exp(f̄_kᵀ μ̄_i / τ)``.

    For every image and every known class k present in it, ``f̄_k`` is the mean of the image's
    L2-normalised contrastive embeddings over the pixels of class k (the reference code normalises
    per pixel before averaging); ``μ̄_i`` are the L2-normalised class means of the semantic logits
    from the previous epoch (:class:`ClassStatistics`). Classes without statistics are left out of
    both anchors and candidates (``missing_classes="drop"``); the reference code keeps them with a
    zero mean (``"zero_mean"``: a candidate of logit 0 in every softmax, and an anchor whose
    target logit is 0). The per-anchor terms are averaged within each image, then over images.
    Zero in the first epoch.

    The reference code gathers its (dimensions × classes) matrix of class means with
    ``.view(-1, n_classes)`` instead of a transpose, which mixes classes and dimensions whenever an
    image holds more than one class; this is the loss it means (equal to it with the transpose).

    Shape: ``embedding`` (B, D, H, W) with D = K, ``target`` (B, H, W) → scalar.
    Reference: Sodano et al., CVPR 2024, Eqs. 7–8.
    """

    def __init__(
        self, stats: ClassStatistics, tau: float = 0.1, missing_classes: str = "drop"
    ) -> None:
        super().__init__()
        if missing_classes not in MISSING_CLASSES:
            raise ValueError(
                f"loss__contrastive_missing_classes={missing_classes!r}; "
                f"choose one of {MISSING_CLASSES}"
            )
        self.missing_classes = missing_classes
        # Shared with the objective, which owns (and checkpoints) it: not registered here, so the
        # statistics appear once in a state dict and checkpoints load across loss settings.
        object.__setattr__(self, "stats", stats)
        self.tau = tau

    def forward(self, embedding: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        k = self.stats.num_classes
        if embedding.shape[1] != self.stats.mean.shape[1]:
            raise ValueError(
                f"contrastive embedding has {embedding.shape[1]} channels but the class means have "
                f"{self.stats.mean.shape[1]}: set model__embedding_dim to 0 (= number of classes)"
            )
        mask = known_mask(target, k)
        b, d = embedding.shape[:2]
        emb = embedding.float().flatten(2)  # (B, D, P)
        # Sums of the L2-normalised pixel embeddings per (image, class) as one batched matmul with
        # a one-hot map scaled by 1/‖f_p‖ (index K collects every other pixel): dense, with a
        # matmul backward, and ~30x faster on CPU than F.normalize + a masked gather (a strided
        # norm over dim 1 is slow there). 1e-24 = F.normalize's eps of 1e-12 on the norm.
        inv_norm = emb.square().sum(dim=1).clamp_min(1e-24).rsqrt()  # (B, P)
        slot = torch.where(mask, target, k).flatten(1)  # (B, P)
        onehot = F.one_hot(slot, k + 1)[..., :k].to(emb.dtype)  # (B, P, K)
        sums = torch.bmm(emb, onehot * inv_norm.unsqueeze(-1))  # (B, D, K)
        sums = sums.transpose(1, 2).reshape(b * k, d)  # (B·K, D)
        counts = onehot.sum(dim=1).reshape(b * k)
        classes = torch.arange(k, device=target.device).repeat(b)
        valid = self.stats.valid
        # Anchors: (image, class) pairs present in the image; every (B·K) row is computed and
        # the others masked out of the means (no data-dependent shapes, hence no host sync).
        # Without statistics (before the first epoch's end) there is none: an attached zero.
        if self.missing_classes == "drop":
            anchors = (counts > 0) & valid[classes]
        else:
            anchors = (counts > 0) & valid.any()
        fbar = sums / counts.clamp_min(1).unsqueeze(1)
        mu = F.normalize(self.stats.mean.float() * valid.unsqueeze(1), dim=1)  # missing: zero
        logits = fbar @ mu.T / self.tau  # (B·K, K)
        if self.missing_classes == "drop":
            logits = logits.masked_fill(~valid, float("-inf"))
        # Rows that are no anchor get finite logits, so that their (masked) cross-entropy and its
        # gradient stay finite (a row of -inf would give NaN, and NaN · 0 is NaN).
        logits = torch.where(anchors.unsqueeze(1), logits, 0.0)
        per_anchor = F.cross_entropy(logits, classes, reduction="none")
        per_anchor = torch.where(anchors, per_anchor, 0.0).view(b, k)
        n_anchor = anchors.view(b, k).sum(dim=1)
        per_image = per_anchor.sum(dim=1) / n_anchor.clamp_min(1)
        return masked_mean(per_image, n_anchor > 0)
