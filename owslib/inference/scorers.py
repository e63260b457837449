"""The anomaly scorers, declared once: name, what each reads, its range, its ranking, a description.

Every scorer maps the model's output dict to a per-pixel map (B, H, W) where HIGHER means MORE
anomalous. A :class:`Scorer` also says which outputs it reads (so only the scorers a model can feed
are evaluated), the range of its value (bounded, for fixed histogram bins; ``None`` = unbounded,
so the streaming metrics adapt their grid) and optionally a *rank* map: a monotone equivalent that
ranking metrics (AUPR, FPR95, AUROC) use instead of the value. ContMAV's Gaussian score
``1 − max_k s_k`` (Eq. 12) saturates at 1 in 16–19 dimensions (``s_k = exp(−d/2)`` underflows), so
it ranks by ``½ min_k d_k`` (the same order, exactly resolved) and keeps Eq. 12's value for the δ
decision and the maps. :func:`register_scorer` adds a scorer; the evaluation, the ``evaluate`` CLI,
the reports and the explorer all read :data:`SCORER_REGISTRY`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from owslib.inference.gaussian import contrastive_unknown_score, fused_unknown_score, nearest_class
from owslib.losses.class_stats import ClassStatistics
from owslib.models.outputs import CONFIDENCE, EMBEDDING, EMBEDDING_MLP, SEM_LOGITS


class ScoreInputs:
    """One batch's outputs and statistics, with the shared intermediate results cached."""

    def __init__(
        self,
        outputs: dict[str, torch.Tensor],
        stats: ClassStatistics,
        xi: float = 1.0,
        min_std: float = 1e-3,
        nearest: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        self.outputs, self.stats, self.xi, self.min_std = outputs, stats, xi, min_std
        self._cache: dict[str, Any] = {} if nearest is None else {"nearest": nearest}

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def logits(self) -> torch.Tensor:
        return self.cached("logits", lambda: self.outputs[SEM_LOGITS].float())

    @property
    def log_softmax(self) -> torch.Tensor:
        return self.cached("logp", lambda: F.log_softmax(self.logits, dim=1))

    @property
    def nearest(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(min_k d_k, argmin_k d_k)``, squared Mahalanobis distances (Eq. 11)."""
        return self.cached("nearest", lambda: nearest_class(self.logits, self.stats, self.min_std))

    def contrastive(self, key: str = EMBEDDING) -> torch.Tensor:
        return self.cached(
            f"con:{key}", lambda: contrastive_unknown_score(self.outputs[key], self.xi)
        )

    def gaussian(self, per_dim: bool = False) -> torch.Tensor:
        d = self.nearest[0]
        scale = 0.5 / d.new_tensor(self.stats.mean.shape[1]) if per_dim else 0.5
        return 1.0 - torch.exp(-scale * d)


@dataclass(frozen=True)
class Scorer:
    name: str
    reads: tuple[str, ...]
    fn: Callable[[ScoreInputs], torch.Tensor]
    description: str
    #: value range as a function of K (None = unbounded)
    range: Callable[[int], tuple[float, float] | None] = lambda k: (0.0, 1.0)
    #: a monotone equivalent of the value for ranking metrics (None = the value itself)
    rank: Callable[[ScoreInputs], torch.Tensor] | None = None
    rank_range: Callable[[int], tuple[float, float] | None] = lambda k: None

    def ranking(self, inputs: ScoreInputs) -> torch.Tensor:
        return self.rank(inputs) if self.rank is not None else self.fn(inputs)

    def ranking_range(self, k: int) -> tuple[float, float] | None:
        return self.rank_range(k) if self.rank is not None else self.range(k)


SCORER_REGISTRY: dict[str, Scorer] = {}


def register_scorer(scorer: Scorer, *, replace: bool = False) -> None:
    """Make ``scorer`` available to the evaluation, the CLI, the reports and the explorer."""
    if scorer.name in SCORER_REGISTRY and not replace:
        raise ValueError(f"scorer {scorer.name!r} is registered already")
    SCORER_REGISTRY[scorer.name] = scorer


def _entropy(x: ScoreInputs) -> torch.Tensor:
    logp = x.log_softmax
    return -(logp.exp() * logp).sum(dim=1)


def _confidence(x: ScoreInputs) -> torch.Tensor:
    return torch.sigmoid(x.outputs[CONFIDENCE].float()).squeeze(1)


def _contrastive_avg(x: ScoreInputs) -> torch.Tensor:
    return 0.5 * (x.contrastive(EMBEDDING) + x.contrastive(EMBEDDING_MLP))


def _half_min_distance(x: ScoreInputs) -> torch.Tensor:
    return 0.5 * x.nearest[0]


_S, _E = (SEM_LOGITS,), (SEM_LOGITS, EMBEDDING)
for _scorer in (
    Scorer(
        "max_softmax",
        _S,
        lambda x: 1.0 - x.log_softmax.max(dim=1).values.exp(),
        "MaxSoftmax: 1 - max_k softmax_k (Hendrycks & Gimpel 2017)",
    ),
    Scorer(
        "max_logit",
        _S,
        lambda x: -x.logits.max(dim=1).values,
        "MaxLogit: -max_k logit_k (Hendrycks et al. 2022)",
        range=lambda k: None,
    ),
    Scorer("entropy", _S, _entropy, "softmax entropy (nats)", range=lambda k: (0.0, math.log(k))),
    Scorer(
        "gaussian",
        _S,
        lambda x: x.gaussian(),
        "ContMAV semantic: 1 - max_k s_k, class Gaussians of the last epoch (Eqs. 11-12); "
        "ranked by 1/2 min_k d_k (same order, not saturated)",
        rank=_half_min_distance,
    ),
    Scorer(
        "contrastive",
        (EMBEDDING,),
        lambda x: x.contrastive(),
        "ContMAV contrastive: max(0, 1 - |f^d|^2 / xi) (Eq. 13)",
    ),
    Scorer(
        "fused",
        _E,
        lambda x: fused_unknown_score(x.gaussian(), x.contrastive()),
        "ContMAV fused: mean of the semantic and contrastive scores (Eq. 14)",
    ),
    Scorer(
        "gaussian_per_dim",
        _S,
        lambda x: x.gaussian(per_dim=True),
        "1 - exp(-d/(2D)): Eq. 11 per dimension (geometric mean), not saturated; same ranking "
        "as gaussian",
        rank=_half_min_distance,
    ),
    Scorer(
        "fused_per_dim",
        _E,
        lambda x: fused_unknown_score(x.gaussian(per_dim=True), x.contrastive()),
        "mean of gaussian_per_dim and contrastive (Eq. 14 with the per-dimension Gaussian)",
    ),
    Scorer(
        "contrastive_mlp",
        (EMBEDDING_MLP,),
        lambda x: x.contrastive(EMBEDDING_MLP),
        "Eq. 13 on the second decoder's embedding (model__fusion=separate)",
    ),
    Scorer(
        "contrastive_avg",
        (EMBEDDING, EMBEDDING_MLP),
        _contrastive_avg,
        "mean of the two decoders' contrastive scores (model__fusion=separate)",
    ),
    Scorer(
        "fused_avg",
        (SEM_LOGITS, EMBEDDING, EMBEDDING_MLP),
        lambda x: fused_unknown_score(x.gaussian(), _contrastive_avg(x)),
        "Eq. 14 with the averaged contrastive score (model__fusion=separate)",
    ),
    Scorer(
        "confidence",
        (CONFIDENCE,),
        lambda x: 1.0 - _confidence(x),
        "1 - TruFor-style confidence (predicted true-class probability)",
    ),
    Scorer(
        "fused_confidence",
        (SEM_LOGITS, EMBEDDING, CONFIDENCE),
        lambda x: 1.0 - (1.0 - fused_unknown_score(x.gaussian(), x.contrastive())) * _confidence(x),
        "fused tempered by the confidence: 1 - (1 - fused) * conf (low confidence -> anomalous)",
    ),
):
    register_scorer(_scorer)

#: The scorers of ContMAV and its classic baselines, in the order results tables list them.
SCORERS = ("max_softmax", "max_logit", "entropy", "gaussian", "contrastive", "fused")
#: The scorer figures and decisions use when a model offers it (else the first available).
MAIN_SCORERS = ("fused_confidence", "fused_avg", "fused")


def scorer_descriptions() -> dict[str, str]:
    return {name: s.description for name, s in SCORER_REGISTRY.items()}


def get_scorer(name: str) -> Scorer:
    try:
        return SCORER_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown scorer {name!r}; choose from {list(SCORER_REGISTRY)}") from None


def available_scorers(output_keys: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The registered scorers whose inputs are among ``output_keys`` (all without), in order."""
    keys = set(output_keys or ())
    return tuple(
        n for n, s in SCORER_REGISTRY.items() if output_keys is None or set(s.reads) <= keys
    )


def main_scorer(available: tuple[str, ...]) -> str:
    """The scorer a figure or decision uses: the first of :data:`MAIN_SCORERS` on offer."""
    return next((s for s in MAIN_SCORERS if s in available), available[0])


def anomaly_scores(
    outputs: dict[str, torch.Tensor],
    stats: ClassStatistics,
    *,
    xi: float = 1.0,
    min_std: float = 1e-3,
    scorers: tuple[str, ...] = SCORERS,
    nearest: tuple[torch.Tensor, torch.Tensor] | None = None,
    ranking: bool = False,
) -> dict[str, torch.Tensor]:
    """Per-pixel maps (B, H, W) of each requested scorer, in the order asked (higher = more
    anomalous); with ``ranking`` the rank maps the metrics use. ``nearest`` reuses a
    :func:`~owslib.inference.nearest_class` result of the same logits."""
    specs = [get_scorer(s) for s in scorers]
    inputs = ScoreInputs(outputs, stats, xi, min_std, nearest)
    return {s.name: (s.ranking(inputs) if ranking else s.fn(inputs)) for s in specs}
