"""The training objective: named, weighted terms from a registry, composed from the loss config.

A term is a module ``term(outputs, target)`` that reads the model's whole output dict and returns
a scalar, or a dict holding its scalar under its own name plus parts to log (``<name>_<part>``).
A term with a ``set_epoch(epochs_done)`` method is told, before each call, how many training
epochs have ended (for warm-ups of its own); a term that trains in training mode only checks
``self.training``. Each is declared
once, as a :class:`TermSpec` in :data:`TERMS`: its name, the output keys it reads, whether it
needs the previous epoch's class statistics (then it is zero until the warm-up has passed), how
which config field holds its weight, and how it is built. :func:`register_term` adds one;
``loss__extra_terms="name:weight,…"`` switches registered terms on by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from owslib.config import LossConfig
from owslib.losses._common import attached_zero
from owslib.losses.class_stats import ClassStatistics
from owslib.losses.confidence import ConfidenceTerm
from owslib.losses.contrastive import ContrastiveLoss
from owslib.losses.feature import FeatureLoss
from owslib.losses.infonce_term import INFONCE_TERM
from owslib.losses.objectosphere import ObjectosphereLoss
from owslib.losses.semantic import SEMANTIC_LOSSES, build_semantic_loss
from owslib.losses.terms import TERMS, OutputTerm, TermContext, TermSpec, register_term
from owslib.models.outputs import CONFIDENCE, EMBEDDING, EMBEDDING_MLP, SEM_LOGITS

__all__ = [
    "SEMANTIC_LOSSES",
    "STALE_CLASS_STATS",
    "TERMS",
    "ContMAVObjective",
    "OutputTerm",
    "TermContext",
    "TermSpec",
    "build_semantic_loss",
    "register_term",
]

#: What the class statistics do with a class that had no true positives in the last epoch.
STALE_CLASS_STATS = ("keep", "drop")


def _feature(ctx: TermContext) -> nn.Module:
    loss = FeatureLoss(ctx.stats, ctx.cfg.feature_distance, ctx.cfg.min_std)
    return OutputTerm(SEM_LOGITS, loss)


def _contrastive(key: str) -> Callable[[TermContext], nn.Module]:
    def build(ctx: TermContext) -> nn.Module:
        if ctx.embedding_dim not in (None, ctx.num_classes):
            raise ValueError(
                f"the contrastive loss compares embeddings with class means of the "
                f"{ctx.num_classes} logits; model embedding_dim is {ctx.embedding_dim} "
                "(set model__embedding_dim=0)"
            )
        loss = ContrastiveLoss(ctx.stats, ctx.cfg.tau, ctx.cfg.contrastive_missing_classes)
        return OutputTerm(key, loss)

    return build


def _objectosphere(key: str) -> Callable[[TermContext], nn.Module]:
    def build(ctx: TermContext) -> nn.Module:
        c = ctx.cfg
        return OutputTerm(
            key, ObjectosphereLoss(ctx.num_classes, c.xi, c.objectosphere_unknown_scale)
        )

    return build


for _spec in (
    TermSpec(
        "sem",
        (SEM_LOGITS,),
        lambda ctx: OutputTerm(
            SEM_LOGITS, build_semantic_loss(ctx.cfg, ctx.num_classes, ctx.class_weights)
        ),
        weight=lambda cfg: cfg.w_sem,
        description="L_sem: loss__semantic on the logits (Eq. 2)",
    ),
    TermSpec(
        "feat",
        (SEM_LOGITS,),
        _feature,
        weight=lambda cfg: cfg.w_feat,
        needs_stats=True,
        description="feature loss (Eq. 5)",
    ),
    TermSpec(
        "cont",
        (EMBEDDING,),
        _contrastive(EMBEDDING),
        weight=lambda cfg: cfg.w_cont,
        needs_stats=True,
        description="contrastive loss (Eq. 8)",
    ),
    TermSpec(
        "obj",
        (EMBEDDING,),
        _objectosphere(EMBEDDING),
        weight=lambda cfg: cfg.w_obj,
        description="objectosphere loss (Eq. 9)",
    ),
    TermSpec(
        "cont_mlp",
        (EMBEDDING_MLP,),
        _contrastive(EMBEDDING_MLP),
        weight=lambda cfg: cfg.w_cont,
        needs_stats=True,
        description="Eq. 8 on the second decoder's embedding",
    ),
    TermSpec(
        "obj_mlp",
        (EMBEDDING_MLP,),
        _objectosphere(EMBEDDING_MLP),
        weight=lambda cfg: cfg.w_obj,
        description="Eq. 9 on the second decoder's embedding",
    ),
    TermSpec(
        "conf",
        (CONFIDENCE, SEM_LOGITS),
        lambda ctx: ConfidenceTerm(ctx.num_classes),
        weight=lambda cfg: cfg.w_conf,
        description="confidence head vs true-class probability",
    ),
    INFONCE_TERM,
):
    register_term(_spec)


def parse_extra_terms(text: str) -> dict[str, float]:
    """``"name:weight,name:weight"`` → ``{name: weight}``; unknown names raise, listing the terms."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, sep, w = item.partition(":")
        try:
            weight = float(w) if sep else 1.0
        except ValueError:
            raise ValueError(f"loss__extra_terms entry {item!r}: expected name:weight") from None
        if name not in TERMS:
            raise ValueError(
                f"loss__extra_terms: unknown term {name!r}; registered: {sorted(TERMS)}"
            )
        out[name] = weight
    return out


class ContMAVObjective(nn.Module):
    """``L = Σ_t w_t L_t``: by default ``0.9 L_sem + 0.1 L_feat + 0.5 L_cont + 0.5 L_obj``.

    ``forward(outputs, target)`` takes the model's output dict and returns ``{"loss": total,
    "sem": …, "feat": …, "cont": …, "obj": …}`` and the other active terms (and logged parts such
    as ``sem_focal``); a term whose weight is 0, or whose outputs the model does not produce, is
    not built and is absent. In training mode it also accumulates the class statistics
    (true-positive logits) that the next epoch uses; call :meth:`end_epoch` after each training
    epoch. The statistics are a buffer-holding submodule (``stats``), so checkpoints carry them.
    Parameters of terms (a temperature, a prototype) are optimised with the model.

    Reference: Sodano et al., CVPR 2024, §3 (Eqs. 2, 5, 8, 9).
    """

    def __init__(
        self,
        cfg: LossConfig,
        num_classes: int,
        embedding_dim: int | None = None,
        class_weights: torch.Tensor | None = None,
        output_keys: tuple[str, ...] = (SEM_LOGITS, EMBEDDING),
    ) -> None:
        super().__init__()
        if cfg.stale_class_stats not in STALE_CLASS_STATS:
            raise ValueError(
                f"loss__stale_class_stats={cfg.stale_class_stats!r}; "
                f"choose one of {STALE_CLASS_STATS}"
            )
        self.cfg = cfg
        self.num_classes = num_classes
        self.stats = ClassStatistics(num_classes, keep_stale=cfg.stale_class_stats == "keep")
        ctx = TermContext(cfg, num_classes, embedding_dim, class_weights, self.stats, output_keys)
        extra = parse_extra_terms(cfg.extra_terms)
        self.weights: dict[str, float] = {}
        self.needs_stats: set[str] = set()
        terms: dict[str, nn.Module] = {}
        for name, spec in TERMS.items():
            w = extra[name] if name in extra else spec.weight(cfg) if spec.weight else 0.0
            if w < 0:  # (a LossConfig weight is checked by the config itself)
                raise ValueError(
                    f"loss__extra_terms: the weight of term {name!r} must be ≥ 0, got {w}"
                )
            if w == 0 or not set(spec.reads) <= set(output_keys):
                continue
            terms[name] = spec.build(ctx)
            self.weights[name] = w
            if spec.needs_stats:
                self.needs_stats.add(name)
        missing = [n for n in extra if n not in terms and extra[n] > 0]
        if missing:
            raise ValueError(
                f"loss__extra_terms {missing}: the model has no output they read "
                f"(outputs: {list(output_keys)})"
            )
        if not terms:
            raise ValueError("every loss weight is 0: nothing to train")
        self.terms = nn.ModuleDict(terms)
        # Finished epochs, in a buffer so checkpoints carry it: the statistics-based terms are zero
        # until ``cfg.stats_warmup_epochs`` epochs have ended.
        self.register_buffer("epochs_done", torch.zeros((), dtype=torch.long))
        # its value on the host, read every step without a device sync; refreshed on load
        self._epochs_done = 0
        self.register_load_state_dict_post_hook(ContMAVObjective._reread_epochs_done)

    @staticmethod
    def _reread_epochs_done(module: ContMAVObjective, _incompatible: Any) -> None:
        module._epochs_done = int(module.epochs_done)

    @property
    def warm(self) -> bool:
        """Whether the statistics-based terms are on (the warm-up epochs have passed)."""
        return self._epochs_done >= self.cfg.stats_warmup_epochs

    def forward(
        self, outputs: dict[str, torch.Tensor], target: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        if self.training:
            # Statistics of this epoch are accumulated before the loss and used from the next epoch
            # on; the statistics-based terms below read the previous epoch's values.
            self.stats.update(outputs[SEM_LOGITS].detach(), target)
        warm = self.warm
        out: dict[str, torch.Tensor] = {}
        # Every output takes part, so DDP sees each parameter in the graph even when no term reads
        # a head (a weight of 0) or a term returns a constant.
        total = attached_zero(*outputs.values())
        done = self._epochs_done
        for name, term in self.terms.items():
            if hasattr(term, "set_epoch"):  # terms with schedules of their own (warm-ups)
                term.set_epoch(done)
            if name in self.needs_stats and not warm:
                value = attached_zero(*outputs.values())
            else:
                value = term(outputs, target)
            if isinstance(value, Mapping):
                parts = dict(value)
                value = parts.pop(name)
                out |= {f"{name}_{k}": v for k, v in parts.items()}
            out[name] = value
            total = total + self.weights[name] * value
        out["loss"] = total
        return out

    def end_epoch(self, all_reduce: Callable[[torch.Tensor], None] | None = None) -> None:
        """Roll the class statistics: this epoch's true-positive logits become μ_k, σ_k²."""
        self.stats.end_epoch(all_reduce)
        self.epochs_done += 1
        self._epochs_done += 1
