"""The InfoNCE objective term: class-balanced pixel/region samples, EMA prototypes, SynCo negatives.

:func:`sample_pixels` and :func:`sample_regions` draw, per batch, at most ``per_class`` samples of
each known class present and as many void samples (void, ``IGNORE_INDEX``, is the only unknown
signal in training; padding and every other label are never sampled). :class:`InfoNCETerm` turns
them into :func:`~owslib.losses.infonce.prototype_info_nce` (known anchors, EMA class prototypes as
positives, unknowns only as negatives) or the student's :func:`~owslib.losses.infonce.seed_info_nce`
(an ablation), optionally with SynCo synthetic hard negatives in either direction. Random draws use
torch's default generator of the features' device, so ``torch.manual_seed`` (and a restored RNG
state on resume) reproduces them. Importing this module registers the term ``"infonce"``.

Reference: Oord, Li & Vinyals 2018 (CPC), Eq. 4; Li et al., ICLR 2021 (prototypes as positives);
Giakoumoglou & Stathaki 2024, arXiv 2410.02401 (SynCo).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from owslib.config import LossConfig
from owslib.distributed import all_reduce_sum, distributed
from owslib.losses._common import attached_zero
from owslib.losses.infonce import (
    DEFAULT_MIN_NORM,
    nonzero_rows,
    prototype_info_nce,
    seed_info_nce,
    unknown_anchor_nce,
)
from owslib.losses.samples import Samples, sample_pixels, sample_regions
from owslib.losses.synco import SYNTHETIC_KINDS, hardest_negative_stats, synthesize_hard_negatives
from owslib.losses.terms import TermContext, TermSpec
from owslib.models.outputs import EMBEDDING, SEM_LOGITS, SPACES

LEVELS = ("pixel", "region")
FORMS = ("prototype", "seed")
SYNCO_DIRECTIONS = ("none", "known_anchors", "unknown_anchors", "both")


def parse_synco_counts(text: str) -> dict[str, int]:
    """``"kind:n,kind:n"`` → ``{kind: n}``, kinds of :data:`SYNTHETIC_KINDS`, integers n ≥ 0."""
    out: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        kind, sep, n = (s.strip() for s in item.partition(":"))
        if kind not in SYNTHETIC_KINDS:
            raise ValueError(
                f"loss__synco_counts entry {item!r}: unknown kind {kind!r}; "
                f"valid kinds: {list(SYNTHETIC_KINDS)}"
            )
        if not sep or not re.fullmatch(r"[0-9]+", n):
            raise ValueError(
                f"loss__synco_counts entry {item!r}: expected kind:n with an integer n ≥ 0, "
                "e.g. 'interpolated:2'"
            )
        if kind in out:
            raise ValueError(f"loss__synco_counts: kind {kind!r} given twice")
        out[kind] = int(n)
    return out


class InfoNCETerm(nn.Module):
    """InfoNCE of known samples against EMA class prototypes, unknown samples only as negatives.

    ``forward(outputs, target)`` samples (see :func:`sample_pixels`, :func:`sample_regions`) the
    output named by ``space`` and returns ``{"infonce": loss, "synthetic_hardest_share",
    "hardest_similarity", "n_known", "n_unknown"}`` (the extras detached 0-dim tensors). Forms:

    * ``prototype``: ``prototype_info_nce(known, labels, prototypes, negatives=unknown, τ)``.
      Prototypes are EMAs (``momentum``) of the per-class means of the detached, L2-normalised known
      samples; ``unknown_prototype`` likewise of the unknown samples. Both are buffers, updated in
      training mode after the loss is computed with the values from before the batch.
    * ``seed``: ``seed_info_nce(known, unknown)``, the student snippet — an ablation; like the
      snippet it has no temperature (``tau`` is not used).

    The loss is a zero attached to the graph while ``epochs_done < warmup_epochs`` (the EMAs still
    update) and when nothing can be computed (no known anchor with a valid prototype; for ``seed``,
    no known or no unknown sample). A batch without void keeps the other prototypes as negatives.

    SynCo, once ``epochs_done ≥ warmup_epochs + synco_warmup_epochs`` (before that every direction
    equals ``none``): ``known_anchors`` appends to each known anchor's negatives synthetic ones
    built from the unknown samples; ``unknown_anchors`` adds ``unknown_anchor_nce(unknown,
    prototypes, unknown_prototype, synthetic negatives built from the known samples)``; ``both``
    does both.
    The loss is then the mean of the known- and unknown-anchor parts that exist. Synthesis draws
    the known direction first. Each anchor's hardest negative is taken over everything in its
    denominator (other prototypes, unknowns, synthetic): ``hardest_similarity`` is its mean cosine
    similarity over all anchors, ``synthetic_hardest_share`` the fraction of the anchors given
    synthetic negatives whose hardest one is synthetic (0 while SynCo is off).

    Shape: ``outputs[key]`` (B, D, H, W), ``target`` (B, H, W) → scalar loss.
    Reference: Oord et al. 2018, Eq. 4; Li et al., ICLR 2021; Giakoumoglou & Stathaki 2024.
    """

    prototypes: torch.Tensor

    prototype_valid: torch.Tensor
    unknown_prototype: torch.Tensor

    def __init__(
        self,
        num_classes: int,
        dim: int,
        *,
        space: str = "embedding",
        level: str = "pixel",
        form: str = "prototype",
        tau: float = 0.1,
        samples: int = 64,
        min_region: int = 16,
        momentum: float = 0.9,
        synco_direction: str = "none",
        synco_counts: Mapping[str, int] | None = None,
        synco_n_hard: int = 16,
        warmup_epochs: int = 1,
        synco_warmup_epochs: int = 1,
        min_norm: float | None = DEFAULT_MIN_NORM,
    ) -> None:
        super().__init__()
        _choice("infonce_space", space, tuple(SPACES))
        _choice("infonce_level", level, LEVELS)
        _choice("infonce_form", form, FORMS)
        _choice("synco_direction", synco_direction, SYNCO_DIRECTIONS)
        counts = dict(synco_counts or {})
        bad = {k: v for k, v in counts.items() if k not in SYNTHETIC_KINDS or not _is_count(v)}
        _require(not bad, "synco_counts", bad, f"kinds of {list(SYNTHETIC_KINDS)} with ints ≥ 0")
        _require(tau > 0, "infonce_tau", tau, "> 0")
        _require(_is_count(samples) and samples >= 1, "infonce_samples", samples, "an int ≥ 1")
        _require(_is_count(min_region) and min_region >= 1, "infonce_min_region", min_region, "≥ 1")
        _require(0 <= momentum < 1, "infonce_momentum", momentum, "in [0, 1)")
        _require(_is_count(synco_n_hard) and synco_n_hard >= 1, "synco_n_hard", synco_n_hard, "≥ 1")
        _require(_is_count(warmup_epochs), "stats_warmup_epochs", warmup_epochs, "an int ≥ 0")
        _require(_is_count(synco_warmup_epochs), "synco_warmup_epochs", synco_warmup_epochs, "≥ 0")
        if form == "seed" and synco_direction != "none":
            raise ValueError(
                f"loss__synco_direction={synco_direction!r} needs loss__infonce_form='prototype' "
                "(the seed snippet has no prototypes to add negatives to); use 'none'"
            )
        self.num_classes, self.key, self.level, self.form = num_classes, SPACES[space], level, form
        self.tau, self.samples, self.min_region, self.momentum = tau, samples, min_region, momentum
        self.synco_direction, self.synco_counts = synco_direction, counts
        self.synco_n_hard = synco_n_hard
        self.warmup_epochs, self.synco_warmup_epochs = warmup_epochs, synco_warmup_epochs
        self.min_norm = min_norm
        self.epochs_done = 0
        self.register_buffer("prototypes", torch.zeros(num_classes, dim))
        self.register_buffer("prototype_valid", torch.zeros(num_classes, dtype=torch.bool))
        self.register_buffer("unknown_prototype", torch.zeros(dim))

    @classmethod
    def from_config(
        cls, cfg: LossConfig, num_classes: int, embedding_dim: int | None = None
    ) -> InfoNCETerm:
        """The term ``cfg`` describes (``loss__infonce_*``, ``loss__synco_*``, warm-ups)."""
        dim = num_classes if cfg.infonce_space == "semantic" else embedding_dim or num_classes
        return cls(
            num_classes,
            dim,
            space=cfg.infonce_space,
            level=cfg.infonce_level,
            form=cfg.infonce_form,
            tau=cfg.infonce_tau,
            samples=cfg.infonce_samples,
            min_region=cfg.infonce_min_region,
            momentum=cfg.infonce_momentum,
            synco_direction=cfg.synco_direction,
            synco_counts=parse_synco_counts(cfg.synco_counts),
            synco_n_hard=cfg.synco_n_hard,
            warmup_epochs=cfg.stats_warmup_epochs,
            synco_warmup_epochs=cfg.synco_warmup_epochs,
        )

    def set_epoch(self, epochs_done: int) -> None:
        """Called by the objective before each forward with the number of finished epochs."""
        self.epochs_done = int(epochs_done)

    @property
    def active(self) -> bool:
        return self.epochs_done >= self.warmup_epochs

    def synco_active(self, direction: str) -> bool:
        """Whether SynCo for ``direction`` (``known_anchors`` or ``unknown_anchors``) is on."""
        on = self.epochs_done >= self.warmup_epochs + self.synco_warmup_epochs
        return on and self.synco_direction in (direction, "both")

    def sample(self, features: torch.Tensor, target: torch.Tensor) -> Samples:
        """The (known, labels, unknown) samples of one batch at the configured level."""
        if self.level == "region":
            return sample_regions(
                features,
                target,
                self.num_classes,
                self.min_region,
                self.samples,
                min_norm=self.min_norm,
            )
        return sample_pixels(
            features, target, self.num_classes, self.samples, min_norm=self.min_norm
        )

    def forward(
        self, outputs: Mapping[str, torch.Tensor], target: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        features = outputs[self.key]
        if features.ndim != 4 or features.shape[1] != self.prototypes.shape[1]:
            raise ValueError(
                f"InfoNCE reads outputs[{self.key!r}] as (B, {self.prototypes.shape[1]}, H, W), "
                f"got shape {tuple(features.shape)}"
            )
        known, labels, unknown = self.sample(features, target)
        valid = self.prototype_valid.clone()
        protos = self.prototypes.masked_fill(~valid.unsqueeze(1), 0.0)  # invalid ones left out
        unknown_proto = self.unknown_prototype.clone()
        if self.training:
            self._update(known.detach(), labels, unknown.detach())
        parts: list[torch.Tensor] = []
        stats: list[tuple[dict[str, float], bool]] = []  # per part: its stats, has synthetic
        if self.active and self.form == "seed":
            parts.append(seed_info_nce(known, unknown))
        elif self.active:
            if known.shape[0] and bool(valid[labels].any()):
                parts.append(self._known_part(known, labels, unknown, protos, valid, stats))
            if (
                unknown.shape[0]
                and self.synco_active("unknown_anchors")
                and bool(nonzero_rows(unknown_proto, self.min_norm))
            ):
                synthetic = self._synthesize(unknown, known)
                parts.append(
                    unknown_anchor_nce(
                        unknown, protos, unknown_proto, synthetic, self.tau, min_norm=self.min_norm
                    )
                )
                stats.append((hardest_negative_stats(unknown, protos, synthetic), True))
        value = sum(parts) / len(parts) if parts else attached_zero(features)
        n = sum(s["num_anchors"] for s, _ in stats)
        n_syn = sum(s["num_anchors"] for s, syn in stats if syn)
        share = sum(s["synthetic_hardest_share"] * s["num_anchors"] for s, syn in stats if syn)
        sim = sum(s["hardest_similarity"] * s["num_anchors"] for s, _ in stats) / max(n, 1)
        scalar = lambda v: torch.tensor(float(v), device=features.device)  # noqa: E731
        return {
            "infonce": value,
            "synthetic_hardest_share": scalar(share / max(n_syn, 1)),
            "hardest_similarity": scalar(sim),
            "n_known": scalar(known.shape[0]),
            "n_unknown": scalar(unknown.shape[0]),
        }

    def _known_part(
        self,
        known: torch.Tensor,
        labels: torch.Tensor,
        unknown: torch.Tensor,
        protos: torch.Tensor,
        valid: torch.Tensor,
        stats: list[tuple[dict[str, float], bool]],
    ) -> torch.Tensor:
        """Known anchors: own prototype positive; other prototypes, unknowns, synthetic negative."""
        n, k = known.shape[0], protos.shape[0]
        shared = unknown.float().unsqueeze(0).expand(n, -1, -1)
        synthetic, negatives = None, unknown
        if self.synco_active("known_anchors"):
            synthetic = self._synthesize(known, unknown)
            negatives = torch.cat([shared, synthetic], dim=1)  # (N, M + T, D)
        loss = prototype_info_nce(
            known, labels, protos, negatives, self.tau, min_norm=self.min_norm
        )
        with torch.no_grad():
            own = F.one_hot(labels, k).bool().unsqueeze(2)
            others = protos.unsqueeze(0).expand(n, -1, -1).masked_fill(own, 0.0)
            ok = valid[labels]  # the anchors the loss uses
            real = torch.cat([others, shared], dim=1)[ok]
            syn = None if synthetic is None else synthetic[ok]
            stats.append((hardest_negative_stats(known[ok], real, syn), synthetic is not None))
        return loss

    def _synthesize(self, query: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        return synthesize_hard_negatives(
            query, pool, n_hard=self.synco_n_hard, counts=self.synco_counts, min_norm=self.min_norm
        )

    @torch.no_grad()
    def _update(self, known: torch.Tensor, labels: torch.Tensor, unknown: torch.Tensor) -> None:
        """EMA of the per-class means of the normalised samples; a first sighting sets the mean.

        Under DDP the batch's sums and counts are summed over the ranks first (one all-reduce per
        step, on every rank whatever it sampled), so every rank keeps the same prototypes.
        """
        m = self.momentum
        z = F.normalize(known.float(), dim=1)
        sums = z.new_zeros(self.prototypes.shape).index_add_(0, labels, z)
        counts = torch.bincount(labels, minlength=self.num_classes)
        u = F.normalize(unknown.float(), dim=1)
        if distributed():
            k, d = sums.shape
            packed = torch.cat(
                [sums.flatten(), counts.to(sums.dtype), u.sum(0), u.new_tensor([u.shape[0]])]
            )
            all_reduce_sum(packed)
            sums, counts = packed[: k * d].view(k, d), packed[k * d : k * d + k].round().long()
            n_unknown = int(packed[-1].round())
            u_mean = packed[k * d + k : -1] / max(n_unknown, 1)
        else:
            n_unknown = u.shape[0]
            u_mean = u.mean(0) if n_unknown else None
        if int(counts.sum()):
            mean = sums / counts.clamp_min(1).unsqueeze(1)
            blend = torch.where(
                self.prototype_valid.unsqueeze(1), m * self.prototypes + (1 - m) * mean, mean
            )
            present = counts > 0
            self.prototypes.copy_(torch.where(present.unsqueeze(1), blend, self.prototypes))
            self.prototype_valid |= present
        if n_unknown:
            seen = nonzero_rows(self.unknown_prototype, self.min_norm)
            p = self.unknown_prototype
            self.unknown_prototype.copy_(torch.where(seen, m * p + (1 - m) * u_mean, u_mean))


def _is_count(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _choice(field: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"loss__{field}={value!r}; choose one of {choices}")


def _require(ok: bool, field: str, value: object, expected: str) -> None:
    if not ok:
        raise ValueError(f"loss__{field}={value!r}: expected {expected}")


def _build(ctx: TermContext) -> nn.Module:
    return InfoNCETerm.from_config(ctx.cfg, ctx.num_classes, ctx.embedding_dim)


#: Registered by :mod:`owslib.losses.objective` after the paper's terms (their order is the
#: order in which the total sums them).
INFONCE_TERM = TermSpec(
    "infonce",
    # The space (embedding or logits) is a config choice; every model has both outputs.
    reads=(SEM_LOGITS, EMBEDDING),
    build=_build,
    weight=lambda cfg: cfg.w_infonce,
    description="InfoNCE known vs unknown (+ SynCo)",
)
