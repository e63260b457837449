"""InfoNCE between embeddings and class prototypes, with unknown embeddings only ever as negatives.

Three functional forms (the ``nn.Module`` wrapper that gathers pixels and keeps prototypes lives in
the objective):

* :func:`prototype_info_nce` — the corrected known-vs-unknown objective: anchors are known embeddings,
  the positive is the anchor's own class prototype, the negatives are the other prototypes plus the
  unknown (or synthetic) embeddings. Unknown embeddings never appear in a numerator.
* :func:`unknown_anchor_nce` — the same for unknown anchors, which have no class: their positive is an
  "unknown" prototype (a running mean of unknown embeddings kept by the caller).
* :func:`seed_info_nce` — the student project's snippet, kept verbatim as an ablation. It pairs
  ``known_i`` with ``unknown_i`` as a *positive* pair, i.e. it pulls known and unknown together.

Every vector is L2-normalised inside, and logits are computed in float32 with autocast disabled, as
``cross_entropy`` over concatenated logits (a stable logsumexp). Vectors whose norm is below
``min_norm`` carry no direction (the objectosphere loss drives unknown embeddings to zero norm, and
callers pad ragged per-anchor negatives with zero rows): they are skipped — such anchors leave the
mean, such prototypes and negatives leave the denominators. ``min_norm=None`` turns this off.

Reference: Oord, Li & Vinyals, "Representation Learning with Contrastive Predictive Coding", 2018,
Eq. 4; the prototype form as in Li, Zhou, Xiong & Hoi, "Prototypical Contrastive Learning of
Unsupervised Representations", ICLR 2021.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from owslib.losses._common import attached_zero

DEFAULT_MIN_NORM = 1e-6


def nonzero_rows(x: torch.Tensor, eps: float | None = DEFAULT_MIN_NORM) -> torch.Tensor:
    """Mask of the vectors (last dimension) whose L2 norm exceeds ``eps``; ``eps=None`` keeps all.

    Shape: ``x`` (..., D) → bool (...).
    """
    if eps is None:
        return torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
    return torch.linalg.vector_norm(x.float(), dim=-1) > eps


def prototype_info_nce(
    z: torch.Tensor,
    labels: torch.Tensor,
    prototypes: torch.Tensor,
    negatives: torch.Tensor | None = None,
    tau: float = 0.1,
    *,
    min_norm: float | None = DEFAULT_MIN_NORM,
) -> torch.Tensor:
    """``mean_i −log exp(z_i·p_{y_i}/τ) / (Σ_k exp(z_i·p_k/τ) + Σ_m exp(z_i·n_m/τ))``.

    ``z``, ``p`` and ``n`` are L2-normalised. The caller selects the anchors (known pixels only), so
    ``labels`` must lie in ``0..K-1`` (not checked: that would synchronise with the device).
    ``negatives`` are typically unknown embeddings or synthetic hard negatives; they enter only the
    denominator. An anchor whose own prototype has (near-)zero norm is skipped. No anchor → a zero
    attached to the graph of every input.

    Shape: ``z`` (N, D), ``labels`` (N,), ``prototypes`` (K, D), ``negatives`` None, (M, D) shared
    by all anchors, or (N, M, D) per anchor → scalar.
    Reference: Oord et al. 2018, Eq. 4; Li et al., ICLR 2021 (prototypes as positives).
    """
    _check_anchors(z, prototypes, negatives)
    if labels.shape != z.shape[:1]:
        raise ValueError(f"labels must have shape ({z.shape[0]},), got {tuple(labels.shape)}")
    return _info_nce(z, prototypes, labels.long(), negatives, tau, min_norm)


def unknown_anchor_nce(
    u: torch.Tensor,
    prototypes: torch.Tensor,
    unknown_prototype: torch.Tensor,
    negatives: torch.Tensor | None = None,
    tau: float = 0.1,
    *,
    min_norm: float | None = DEFAULT_MIN_NORM,
) -> torch.Tensor:
    """``mean_i −log e^{u_i·p_unk/τ} / (e^{u_i·p_unk/τ} + Σ_k e^{u_i·p_k/τ} + Σ_m e^{u_i·n_m/τ})``.

    Unknown anchors have no class, so their positive is ``p_unk``, a prototype of the unknown
    embeddings given by the caller (e.g. a running mean); the denominator holds it, the K known
    prototypes and the negatives (e.g. synthetic hard negatives built from known embeddings). All
    vectors are L2-normalised. A (near-)zero ``unknown_prototype`` (no statistics yet) gives zero.

    Shape: ``u`` (N, D), ``prototypes`` (K, D), ``unknown_prototype`` (D,), ``negatives`` None,
    (M, D) or (N, M, D) → scalar.
    Reference: Oord et al. 2018, Eq. 4, with the positive replaced by a prototype as in Li et al.,
    ICLR 2021.
    """
    _check_anchors(u, prototypes, negatives)
    if unknown_prototype.shape != u.shape[1:]:
        raise ValueError(
            f"unknown_prototype must have shape ({u.shape[1]},), got {tuple(unknown_prototype.shape)}"
        )
    candidates = torch.cat([unknown_prototype.float().unsqueeze(0), prototypes.float()])
    target = torch.zeros(u.shape[0], dtype=torch.long, device=u.device)
    return _info_nce(u, candidates, target, negatives, tau, min_norm)


def seed_info_nce(known: torch.Tensor, unknown: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """The student snippet: ``cross_entropy(normalize(known) @ normalize(unknown).T / τ, arange(N))``.

    Kept as an ablation. It treats ``(known_i, unknown_i)`` as a *positive* pair and the other
    unknowns as negatives, so it pulls known and unknown embeddings together — the opposite of the
    intent. The snippet has no temperature; the default ``tau=1.0`` reproduces it exactly (dividing by
    1.0 is exact), other values are offered for the ablation.

    The target ``arange(N_known)`` only exists when ``N_known ≤ N_unknown``. For ``N_known >
    N_unknown`` the known rows are truncated to the first ``N_unknown``: those rows have the partner
    the snippet assigns them and every unknown stays a candidate, whereas wrapping the targets
    (``i mod N_unknown``) would invent pairings the snippet never makes. Either side empty → zero.

    Shape: ``known`` (N, D), ``unknown`` (M, D) → scalar.
    Reference: Oord et al. 2018, Eq. 4 (the pairing is the student project's, not the paper's).
    """
    if known.ndim != 2 or unknown.ndim != 2 or known.shape[1] != unknown.shape[1]:
        raise ValueError(
            f"known and unknown must be (N, D) and (M, D), got {tuple(known.shape)} and "
            f"{tuple(unknown.shape)}"
        )
    _check_tau(tau)
    if known.shape[0] == 0 or unknown.shape[0] == 0:
        return attached_zero(known, unknown)
    known = known[: unknown.shape[0]]
    with torch.autocast(device_type=known.device.type, enabled=False):
        logits = F.normalize(known.float(), dim=1) @ F.normalize(unknown.float(), dim=1).T / tau
        labels = torch.arange(logits.shape[0], device=logits.device)
        return F.cross_entropy(logits, labels)


def _info_nce(
    anchors: torch.Tensor,
    candidates: torch.Tensor,
    target: torch.Tensor,
    negatives: torch.Tensor | None,
    tau: float,
    min_norm: float | None,
) -> torch.Tensor:
    """Cross-entropy of each anchor over ``[candidates, negatives]`` with ``candidates[target]`` positive."""
    _check_tau(tau)
    if anchors.shape[0] == 0:
        return attached_zero(anchors, candidates, *(() if negatives is None else (negatives,)))
    with torch.autocast(device_type=anchors.device.type, enabled=False):
        a = F.normalize(anchors.float(), dim=-1)
        logits = a @ F.normalize(candidates.float(), dim=-1).T  # (N, C)
        keep = nonzero_rows(candidates, min_norm).unsqueeze(0).expand_as(logits)
        if negatives is not None:
            n = F.normalize(negatives.float(), dim=-1)
            if n.ndim == 2:  # shared (M, D)
                neg_logits = a @ n.T
                neg_keep = nonzero_rows(negatives, min_norm).unsqueeze(0).expand_as(neg_logits)
            else:  # per anchor (N, M, D)
                neg_logits = torch.einsum("nd,nmd->nm", a, n)
                neg_keep = nonzero_rows(negatives, min_norm)
            logits = torch.cat([logits, neg_logits], dim=1)
            keep = torch.cat([keep, neg_keep], dim=1)
        valid = nonzero_rows(anchors, min_norm) & nonzero_rows(candidates, min_norm)[target]
        # A skipped column gets −inf: it adds exp(−inf) = 0 to the denominator and no gradient.
        # Rows of skipped anchors keep every column, so their discarded term stays finite (no NaN
        # leaks into the gradient); the mean is over the valid anchors, computed without a
        # host-device sync, and stays attached to the graph when there are none.
        keep = keep | ~valid.unsqueeze(1)
        logits = (logits / tau).masked_fill(~keep, float("-inf"))
        per_anchor = F.cross_entropy(logits, target, reduction="none")
        per_anchor = torch.where(valid, per_anchor, torch.zeros_like(per_anchor))
        return per_anchor.sum() / valid.sum().clamp_min(1)


def _check_anchors(
    z: torch.Tensor, prototypes: torch.Tensor, negatives: torch.Tensor | None
) -> None:
    if z.ndim != 2:
        raise ValueError(f"anchors must be (N, D), got shape {tuple(z.shape)}")
    n, d = z.shape
    if prototypes.ndim != 2 or prototypes.shape[1] != d:
        raise ValueError(f"prototypes must be (K, {d}), got shape {tuple(prototypes.shape)}")
    if negatives is None:
        return
    shared = negatives.ndim == 2 and negatives.shape[1] == d
    per_anchor = negatives.ndim == 3 and negatives.shape[0] == n and negatives.shape[2] == d
    if not (shared or per_anchor):
        raise ValueError(
            f"negatives must be (M, {d}) or ({n}, M, {d}), got shape {tuple(negatives.shape)}"
        )


def _check_tau(tau: float) -> None:
    if not tau > 0:
        raise ValueError(f"temperature tau must be positive, got {tau}")
