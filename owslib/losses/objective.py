"""The ContMAV training objective: named, weighted terms composed from the loss config (§3.6)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from owslib.config import LossConfig
from owslib.losses._common import attached_zero
from owslib.losses.class_stats import ClassStatistics
from owslib.losses.contrastive import ContrastiveLoss
from owslib.losses.feature import FeatureLoss
from owslib.losses.objectosphere import ObjectosphereLoss
from owslib.losses.segmentation import WeightedCrossEntropy

SEMANTIC_LOSSES = ("ce",)
#: Terms that read the previous epoch's class statistics.
STATS_TERMS = ("feat", "cont")
#: What the class statistics do with a class that had no true positives in the last epoch.
STALE_CLASS_STATS = ("keep", "drop")


def build_semantic_loss(
    cfg: LossConfig, num_classes: int, class_weights: torch.Tensor | None
) -> nn.Module:
    """The L_sem term named by ``cfg.semantic``."""
    if cfg.semantic == "ce":
        return WeightedCrossEntropy(num_classes, class_weights)
    raise ValueError(f"loss__semantic={cfg.semantic!r}; choose one of {SEMANTIC_LOSSES}")


class ContMAVObjective(nn.Module):
    """``L = w1 L_sem + w2 L_feat + w3 L_cont + w4 L_obj`` (defaults 0.9 / 0.1 / 0.5 / 0.5).

    ``forward(outputs, target)`` takes the model's output dict (``sem_logits``, ``embedding``) and
    returns ``{"loss": total, "sem": …, "feat": …, "cont": …, "obj": …}``; a term whose weight is 0
    is not built and is absent from the dict. In training mode it also accumulates the class
    statistics (true-positive logits) that the next epoch uses; call :meth:`end_epoch` after each
    training epoch. The statistics are a buffer-holding submodule (``stats``), so checkpoints of
    the objective carry them.

    Reference: Sodano et al., CVPR 2024, §3 (Eqs. 2, 5, 8, 9).
    """

    def __init__(
        self,
        cfg: LossConfig,
        num_classes: int,
        embedding_dim: int | None = None,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_classes = num_classes
        if cfg.stale_class_stats not in STALE_CLASS_STATS:
            raise ValueError(
                f"loss__stale_class_stats={cfg.stale_class_stats!r}; "
                f"choose one of {STALE_CLASS_STATS}"
            )
        self.stats = ClassStatistics(num_classes, keep_stale=cfg.stale_class_stats == "keep")
        self.weights: dict[str, float] = {}
        terms: dict[str, nn.Module] = {}
        candidates: dict[str, tuple[float, Callable[[], nn.Module]]] = {
            "sem": (cfg.w_sem, lambda: build_semantic_loss(cfg, num_classes, class_weights)),
            "feat": (
                cfg.w_feat,
                lambda: FeatureLoss(self.stats, cfg.feature_distance, cfg.min_std),
            ),
            "cont": (
                cfg.w_cont,
                lambda: ContrastiveLoss(self.stats, cfg.tau, cfg.contrastive_missing_classes),
            ),
            "obj": (
                cfg.w_obj,
                lambda: ObjectosphereLoss(num_classes, cfg.xi, cfg.objectosphere_unknown_scale),
            ),
        }
        for name, (w, make) in candidates.items():
            if w < 0:
                raise ValueError(f"loss__w_{name} must be ≥ 0, got {w}")
            if w > 0:
                terms[name] = make()
                self.weights[name] = w
        if not terms:
            raise ValueError("every loss weight is 0: nothing to train")
        if "cont" in terms and embedding_dim not in (None, num_classes):
            raise ValueError(
                f"the contrastive loss compares embeddings with class means of the {num_classes} "
                f"logits; model embedding_dim is {embedding_dim} (set model__embedding_dim=0)"
            )
        self.terms = nn.ModuleDict(terms)
        # Finished epochs, in a buffer so checkpoints carry it: the statistics-based terms (feature,
        # contrastive) are zero until ``cfg.stats_warmup_epochs`` epochs have ended.
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))

    def forward(
        self, outputs: dict[str, torch.Tensor], target: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        logits, emb = outputs["sem_logits"], outputs["embedding"]
        if self.training:
            # Statistics of this epoch are accumulated before the loss and used from the next epoch
            # on; the feature and contrastive terms below read the previous epoch's values.
            self.stats.update(logits.detach(), target)
        inputs = {"sem": logits, "feat": logits, "cont": emb, "obj": emb}
        warm = int(self.epochs_done) >= self.cfg.stats_warmup_epochs
        out: dict[str, torch.Tensor] = {}
        total = attached_zero(logits, emb)
        for name, term in self.terms.items():
            if name in STATS_TERMS and not warm:
                value = attached_zero(inputs[name])
            else:
                value = term(inputs[name], target)
            out[name] = value
            total = total + self.weights[name] * value
        out["loss"] = total
        return out

    def end_epoch(self, all_reduce: Callable[[torch.Tensor], None] | None = None) -> None:
        """Roll the class statistics: this epoch's true-positive logits become μ_k, σ_k²."""
        self.stats.end_epoch(all_reduce)
        self.epochs_done += 1
