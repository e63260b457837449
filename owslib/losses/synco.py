"""SynCo synthetic hard negatives built from a query's hardest pool members, and their statistics.

For a query ``q`` and a pool of candidate negatives (e.g. unknown embeddings for known anchors, or
known embeddings for unknown anchors), the ``n_hard`` pool members most similar to ``q`` (cosine
similarity) are the hard negatives; each synthetic negative draws its members ``n``, ``n_i``, ``n_j``
uniformly (with replacement) from them. Six kinds, in this canonical order:

* ``interpolated``  ``s = α q + (1 − α) n``,      α ~ U(0, 0.5)   (between the query and ``n``)
* ``extrapolated``  ``s = q + β (n − q)``,        β ~ U(1, 1.5)   (beyond ``n``, away from ``q``)
* ``mixup``         ``s = γ n_i + (1 − γ) n_j``,  γ ~ U(0, 1)
* ``noise``         ``s = n + ε``,                ε ~ N(0, σ² I), σ = 0.01
* ``perturbed``     ``s = n + δ ∇_n(q·n) = n + δ q``,             δ = 0.01
* ``adversarial``   ``s = n + η sign(∇_n(q·n)) = n + η sign(q)``, η = 0.01

SynCo takes the two gradient kinds with autograd on the similarity ``q·n`` of the normalised
vectors; for that dot product the gradient with respect to ``n`` is exactly ``q``, so the closed
form is used here (no autograd, nothing on the caller's graph). ``perturbed`` is thus a small step of
``n`` towards the query, ``adversarial`` an FGSM-like signed step. Every synthetic negative is
L2-normalised and detached. SynCo uses them only after a warm-up; that schedule belongs to the caller.

Reference: Giakoumoglou & Stathaki, "SynCo: Synthetic Hard Negatives for Contrastive Visual
Representation Learning", arXiv 2410.02401, 2024 (the six hard-negative types); interpolation and
mixup follow Kalantidis et al., "Hard Negative Mixing for Contrastive Learning" (MoCHi), NeurIPS 2020.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping

import torch
import torch.nn.functional as F

from owslib.losses.infonce import DEFAULT_MIN_NORM, nonzero_rows

SYNTHETIC_KINDS = ("interpolated", "extrapolated", "mixup", "noise", "perturbed", "adversarial")


def synthesize_hard_negatives(
    query: torch.Tensor,
    pool: torch.Tensor,
    *,
    n_hard: int,
    counts: Mapping[str, int],
    generator: torch.Generator | None = None,
    alpha_max: float = 0.5,
    beta_max: float = 1.5,
    sigma: float = 0.01,
    delta: float = 0.01,
    eta: float = 0.01,
    min_norm: float | None = DEFAULT_MIN_NORM,
) -> torch.Tensor:
    """Per query, ``counts[kind]`` synthetic hard negatives of each kind (see the module docstring).

    The output concatenates the kinds in the order of :data:`SYNTHETIC_KINDS` (kinds missing from
    ``counts`` or with count 0 contribute nothing). Pool members with norm below ``min_norm`` carry no
    direction and are dropped before the hardest are chosen. Random numbers come from ``generator``
    (drawn on its device) or else from torch's default generator of the query's device, so that
    ``torch.manual_seed`` makes the result reproducible; the draws happen kind by kind in the
    canonical order. No gradient flows to ``query`` or ``pool``; the result is float32.

    Shape: ``query`` (N, D), ``pool`` (M, D) → (N, T, D), T = Σ counts; an empty (or all-zero) pool
    gives (N, 0, D).
    Reference: Giakoumoglou & Stathaki 2024 (arXiv 2410.02401), the six hard-negative types.
    """
    sizes = _resolve_counts(counts)
    if query.ndim != 2 or pool.ndim != 2 or query.shape[1] != pool.shape[1]:
        raise ValueError(
            f"query and pool must be (N, D) and (M, D), got {tuple(query.shape)} and "
            f"{tuple(pool.shape)}"
        )
    if n_hard < 1:
        raise ValueError(f"n_hard must be at least 1, got {n_hard}")
    n, d = query.shape
    with torch.no_grad(), torch.autocast(device_type=query.device.type, enabled=False):
        q = F.normalize(query.detach().float(), dim=-1)
        pool = pool.detach()
        if min_norm is not None:  # a boolean index (a device sync), skipped when disabled
            pool = pool[nonzero_rows(pool, min_norm)]
        pool = F.normalize(pool.float(), dim=-1).to(q.device)
        total = sum(sizes) if pool.shape[0] > 0 else 0
        if n == 0 or total == 0:
            return q.new_zeros(n, total, d)
        k = min(n_hard, pool.shape[0])
        hardest = (q @ pool.T).topk(k, dim=1, sorted=True).indices  # (N, k)
        draw = _Draw(generator, q.device)

        def members(c: int) -> torch.Tensor:  # (N, c, D), drawn uniformly from the k hardest
            return pool[hardest.gather(1, draw.randint(k, (n, c)))]

        qe = q.unsqueeze(1)
        parts = []
        for kind, c in zip(SYNTHETIC_KINDS, sizes, strict=True):
            if c == 0:
                continue
            m = members(c)
            if kind == "interpolated":
                a = alpha_max * draw.rand((n, c, 1))
                s = a * qe + (1 - a) * m
            elif kind == "extrapolated":
                b = 1 + (beta_max - 1) * draw.rand((n, c, 1))
                s = qe + b * (m - qe)
            elif kind == "mixup":
                m2 = members(c)
                g = draw.rand((n, c, 1))
                s = g * m + (1 - g) * m2
            elif kind == "noise":
                s = m + sigma * draw.randn((n, c, d))
            elif kind == "perturbed":
                s = m + delta * qe  # ∇_n (q·n) = q
            else:  # adversarial
                s = m + eta * qe.sign()
            parts.append(s)
        return F.normalize(torch.cat(parts, dim=1), dim=-1)


def hardest_negative_stats(
    query: torch.Tensor,
    negatives_real: torch.Tensor | None,
    negatives_synthetic: torch.Tensor | None,
    *,
    min_norm: float | None = DEFAULT_MIN_NORM,
) -> dict[str, float]:
    """How often the hardest negative of an anchor is synthetic, and how similar the hardest is.

    Returns ``synthetic_hardest_share`` (fraction of anchors whose most similar negative is a
    synthetic one; ties count as real), ``hardest_similarity`` (mean cosine similarity of each
    anchor's hardest negative) and ``num_anchors`` (anchors with at least one negative, the weight
    for averaging over an epoch). Negatives with norm below ``min_norm`` (padding) are ignored. No
    anchor with a negative → zeros.

    Shape: ``query`` (N, D); each negative set None, (M, D) shared, or (N, M, D) per anchor.
    """
    if query.ndim != 2:
        raise ValueError(f"query must be (N, D), got shape {tuple(query.shape)}")
    with torch.no_grad(), torch.autocast(device_type=query.device.type, enabled=False):
        q = F.normalize(query.detach().float(), dim=-1)
        real = _max_similarity(q, negatives_real, min_norm, "negatives_real")
        synthetic = _max_similarity(q, negatives_synthetic, min_norm, "negatives_synthetic")
        hardest = torch.maximum(real, synthetic)
        has = torch.isfinite(hardest)
        count = has.sum()
        share = (has & (synthetic > real)).sum() / count.clamp_min(1)
        similarity = torch.where(has, hardest, torch.zeros_like(hardest)).sum() / count.clamp_min(1)
        share_v, similarity_v, count_v = torch.stack([share, similarity, count.float()]).tolist()
    return {
        "synthetic_hardest_share": share_v,
        "hardest_similarity": similarity_v,
        "num_anchors": int(count_v),
    }


class _Draw:
    """Random numbers from one generator (or the default one of ``device``), returned on ``device``."""

    def __init__(self, generator: torch.Generator | None, device: torch.device) -> None:
        self.generator = generator
        self.device = device
        self.source = generator.device if generator is not None else device

    def rand(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, device=self.source).to(self.device)

    def randn(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randn(shape, generator=self.generator, device=self.source).to(self.device)

    def randint(self, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        out = torch.randint(high, shape, generator=self.generator, device=self.source)
        return out.to(self.device)


def _resolve_counts(counts: Mapping[str, int]) -> tuple[int, ...]:
    unknown = sorted(set(counts) - set(SYNTHETIC_KINDS))
    if unknown:
        raise ValueError(
            f"unknown synthetic negative kind(s) {unknown}; valid kinds: {list(SYNTHETIC_KINDS)}"
        )
    sizes = []
    for kind in SYNTHETIC_KINDS:
        c = counts.get(kind, 0)
        try:
            size = operator.index(c)  # ints, numpy ints; not floats
        except TypeError:
            size = -1
        if isinstance(c, bool) or size < 0:
            raise ValueError(f"count for synthetic kind {kind!r} must be an int ≥ 0, got {c!r}")
        sizes.append(size)
    return tuple(sizes)


def _max_similarity(
    q: torch.Tensor, negatives: torch.Tensor | None, min_norm: float | None, name: str
) -> torch.Tensor:
    """Each anchor's highest cosine similarity to a (non-zero) negative; −inf where there is none."""
    n, d = q.shape
    if negatives is None:
        return q.new_full((n,), float("-inf"))
    neg = F.normalize(negatives.detach().float(), dim=-1).to(q.device)
    if negatives.ndim == 2 and negatives.shape[1] == d:
        sims = q @ neg.T
        keep = nonzero_rows(negatives, min_norm).to(q.device).unsqueeze(0).expand_as(sims)
    elif negatives.ndim == 3 and negatives.shape[0] == n and negatives.shape[2] == d:
        sims = torch.einsum("nd,nmd->nm", q, neg)
        keep = nonzero_rows(negatives, min_norm).to(q.device)
    else:
        raise ValueError(f"{name} must be (M, {d}) or ({n}, M, {d}), got {tuple(negatives.shape)}")
    if sims.shape[1] == 0:
        return q.new_full((n,), float("-inf"))
    return sims.masked_fill(~keep, float("-inf")).amax(dim=1)
