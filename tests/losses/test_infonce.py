"""Tests for owslib.losses.infonce: prototype InfoNCE, unknown-anchor NCE and the seed snippet."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from owslib.losses.infonce import (
    nonzero_rows,
    prototype_info_nce,
    seed_info_nce,
    unknown_anchor_nce,
)

R2 = math.sqrt(2.0)
# Tiny D = 2 example. After normalisation: z_0 = (1, 0), z_1 = (0, −1); p_0 = (1, 0), p_1 = (0, 1);
# the shared negative n = (1, 1)/√2. With τ = 0.5 the logits are (cosine / τ):
#   anchor 0 (label 0): p_0 → 2, p_1 → 0, n → √2      loss_0 = log(e² + e⁰ + e^√2) − 2
#   anchor 1 (label 1): p_0 → 0, p_1 → −2, n → −√2    loss_1 = log(e⁰ + e⁻² + e^−√2) + 2
Z = torch.tensor([[2.0, 0.0], [0.0, -0.5]])
LABELS = torch.tensor([0, 1])
PROTOS = torch.tensor([[3.0, 0.0], [0.0, 0.2]])
NEG = torch.tensor([[1.0, 1.0]])
TAU = 0.5
LOSS_0 = math.log(math.exp(2) + 1 + math.exp(R2)) - 2
LOSS_1 = math.log(1 + math.exp(-2) + math.exp(-R2)) + 2


def _snippet(known, unknown):
    """The student project's snippet, literally."""
    known = F.normalize(known, dim=1)
    unknown = F.normalize(unknown, dim=1)
    logits = torch.mm(known, unknown.t())
    labels = torch.arange(logits.size(0)).to(logits.device)
    return F.cross_entropy(logits, labels)


def test_prototype_info_nce_hand_computed_shared_negatives():
    loss = prototype_info_nce(Z, LABELS, PROTOS, NEG, tau=TAU)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx((LOSS_0 + LOSS_1) / 2, rel=1e-6)


def test_prototype_info_nce_hand_computed_no_negatives():
    # Only prototypes: anchor 0 → log(e² + 1) − 2, anchor 1 → log(1 + e⁻²) + 2.
    expected = (math.log(math.exp(2) + 1) - 2 + math.log(1 + math.exp(-2)) + 2) / 2
    assert prototype_info_nce(Z, LABELS, PROTOS, tau=TAU).item() == pytest.approx(
        expected, rel=1e-6
    )


def test_prototype_info_nce_hand_computed_per_anchor_negatives():
    # Anchor 0 gets n = (1, 1) (logit √2); anchor 1 gets n = (0, −3) → (0, −1), logit +2.
    neg = torch.tensor([[[1.0, 1.0]], [[0.0, -3.0]]])
    loss_1 = math.log(1 + math.exp(-2) + math.exp(2)) + 2
    loss = prototype_info_nce(Z, LABELS, PROTOS, neg, tau=TAU)
    assert loss.item() == pytest.approx((LOSS_0 + loss_1) / 2, rel=1e-6)
    # A shared (M, D) set equals the same set repeated per anchor.
    shared = torch.randn(4, 2)
    a = prototype_info_nce(Z, LABELS, PROTOS, shared, tau=TAU)
    b = prototype_info_nce(Z, LABELS, PROTOS, shared.expand(2, 4, 2), tau=TAU)
    torch.testing.assert_close(a, b)


def test_negatives_only_enter_the_denominator():
    g = torch.Generator().manual_seed(0)
    z, protos = torch.randn(5, 3, generator=g), torch.randn(4, 3, generator=g)
    labels = torch.tensor([0, 1, 2, 3, 0])
    base = prototype_info_nce(z, labels, protos, tau=0.2)
    zn, pn = F.normalize(z, dim=1), F.normalize(protos, dim=1)
    pos = (zn * pn[labels]).sum(1) / 0.2
    for _ in range(3):
        neg = torch.randn(6, 3, generator=g)
        loss = prototype_info_nce(z, labels, protos, neg, tau=0.2)
        # loss + mean positive logit = mean log-denominator: negatives add terms there only.
        den = torch.cat([zn @ pn.T, zn @ F.normalize(neg, dim=1).T], 1) / 0.2
        torch.testing.assert_close(loss + pos.mean(), torch.logsumexp(den, 1).mean())
        assert loss > base
    # Even an "unknown" identical to the anchor is never a positive: it only raises the loss.
    assert prototype_info_nce(z, labels, protos, z.unsqueeze(1), tau=0.2) > base


def test_moving_a_negative_towards_the_anchor_raises_the_loss():
    neg = NEG.clone().requires_grad_(True)
    prototype_info_nce(Z[:1], LABELS[:1], PROTOS, neg, tau=TAU).backward()
    n = F.normalize(NEG, dim=1)[0]
    towards = torch.tensor([1.0, 0.0]) - (n[0] * n)  # tangent direction from n towards z_0
    assert (neg.grad[0] * towards).sum() > 0


def test_empty_anchors_give_attached_zero():
    z = torch.zeros(0, 2, requires_grad=True)
    protos = torch.randn(3, 2, requires_grad=True)
    for neg in (None, torch.randn(4, 2), torch.zeros(0, 4, 2)):
        loss = prototype_info_nce(z, torch.zeros(0, dtype=torch.long), protos, neg)
        assert loss.item() == 0.0 and loss.requires_grad
        loss.backward()
        assert z.grad is not None and protos.grad is not None
        assert torch.all(protos.grad == 0)


def test_zero_norm_vectors_are_skipped():
    assert nonzero_rows(torch.tensor([[0.0, 0.0], [1e-8, 0.0], [0.1, 0.0]])).tolist() == [
        False,
        False,
        True,
    ]
    # A zero negative (padding / an unknown at zero norm) is the same as no negative ...
    padded = torch.cat([NEG, torch.zeros(1, 2)])
    torch.testing.assert_close(
        prototype_info_nce(Z, LABELS, PROTOS, padded, tau=TAU),
        prototype_info_nce(Z, LABELS, PROTOS, NEG, tau=TAU),
    )
    # ... unless skipping is off: normalize(0) = 0 adds exp(0) = 1 to the denominator.
    off = prototype_info_nce(Z[:1], LABELS[:1], PROTOS, padded, tau=TAU, min_norm=None)
    assert off.item() == pytest.approx(math.log(math.exp(2) + 2 + math.exp(R2)) - 2, rel=1e-6)
    # Ragged per-anchor negatives via zero padding: anchor 1 has none.
    ragged = torch.stack([NEG, torch.zeros(1, 2)])
    expected = (LOSS_0 + math.log(1 + math.exp(-2)) + 2) / 2
    assert prototype_info_nce(Z, LABELS, PROTOS, ragged, tau=TAU).item() == pytest.approx(expected)
    # A zero anchor leaves the mean; so does an anchor whose prototype is zero.
    z = torch.cat([Z, torch.zeros(1, 2)]).requires_grad_(True)
    loss = prototype_info_nce(z, torch.tensor([0, 1, 0]), PROTOS, NEG, tau=TAU)
    assert loss.item() == pytest.approx((LOSS_0 + LOSS_1) / 2, rel=1e-6)
    loss.backward()
    assert torch.isfinite(z.grad).all() and torch.all(z.grad[2] == 0)
    protos = torch.cat([PROTOS, torch.zeros(1, 2)])
    loss = prototype_info_nce(Z, torch.tensor([0, 2]), protos, NEG, tau=TAU)
    assert loss.item() == pytest.approx(LOSS_0, rel=1e-6)


def test_float32_under_autocast_and_shape_errors():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = prototype_info_nce(Z, LABELS, PROTOS, NEG, tau=TAU)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx((LOSS_0 + LOSS_1) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="negatives"):
        prototype_info_nce(Z, LABELS, PROTOS, torch.zeros(3, 1, 2))
    with pytest.raises(ValueError, match="prototypes"):
        prototype_info_nce(Z, LABELS, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="labels"):
        prototype_info_nce(Z, LABELS[:1], PROTOS)
    with pytest.raises(ValueError, match="tau"):
        prototype_info_nce(Z, LABELS, PROTOS, tau=0.0)


def test_unknown_anchor_nce_hand_computed():
    # u = (0, 2) → (0, 1); p_unk = (1, 1)/√2; p_0 = (1, 0), p_1 = (0, −1); negative (−1, 0); τ = 1:
    # logits p_unk → 1/√2, p_0 → 0, p_1 → −1, n → 0.
    u = torch.tensor([[0.0, 2.0]])
    protos = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
    p_unk = torch.tensor([1.0, 1.0])
    neg = torch.tensor([[-1.0, 0.0]])
    s = 1 / R2
    expected = math.log(math.exp(s) + 1 + math.exp(-1) + 1) - s
    loss = unknown_anchor_nce(u, protos, p_unk, neg, tau=1.0)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # Without negatives, τ = 0.5: logits 2/√2, 0, −2.
    expected = math.log(math.exp(R2) + 1 + math.exp(-2)) - R2
    assert unknown_anchor_nce(u, protos, p_unk, tau=0.5).item() == pytest.approx(expected, rel=1e-6)
    # Per-anchor negatives give the same value as the shared set.
    loss_pa = unknown_anchor_nce(u, protos, p_unk, neg.unsqueeze(0), tau=1.0)
    torch.testing.assert_close(loss_pa, unknown_anchor_nce(u, protos, p_unk, neg, tau=1.0))


def test_unknown_anchor_nce_empty_and_no_statistics():
    protos = torch.randn(3, 2, requires_grad=True)
    p_unk = torch.randn(2, requires_grad=True)
    loss = unknown_anchor_nce(torch.zeros(0, 2, requires_grad=True), protos, p_unk)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert protos.grad is not None and p_unk.grad is not None
    # A zero unknown prototype (no running mean yet) gives zero, with finite gradients.
    u = torch.randn(4, 2, requires_grad=True)
    loss = unknown_anchor_nce(u, protos, torch.zeros(2), torch.randn(5, 2))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.all(u.grad == 0)
    with pytest.raises(ValueError, match="unknown_prototype"):
        unknown_anchor_nce(u, protos, torch.zeros(3))


def test_seed_info_nce_equals_the_snippet():
    g = torch.Generator().manual_seed(1)
    known, unknown = torch.randn(4, 8, generator=g), torch.randn(6, 8, generator=g)
    assert torch.equal(seed_info_nce(known, unknown), _snippet(known, unknown))
    # The temperature divides the logits; the snippet itself has none.
    scaled = F.cross_entropy(F.normalize(known) @ F.normalize(unknown).T / 0.1, torch.arange(4))
    torch.testing.assert_close(seed_info_nce(known, unknown, tau=0.1), scaled)
    # It rewards known_i ≈ unknown_i: the "wrong" pairing the ablation keeps.
    assert seed_info_nce(unknown[:4], unknown) < seed_info_nce(-unknown[:4], unknown)


def test_seed_info_nce_more_known_than_unknown_truncates_known():
    g = torch.Generator().manual_seed(2)
    known, unknown = torch.randn(7, 3, generator=g), torch.randn(3, 3, generator=g)
    assert torch.equal(seed_info_nce(known, unknown), _snippet(known[:3], unknown))


def test_seed_info_nce_empty_sides():
    known = torch.randn(3, 2, requires_grad=True)
    unknown = torch.zeros(0, 2, requires_grad=True)
    for a, b in ((known, unknown), (unknown, known)):
        loss = seed_info_nce(a, b)
        assert loss.item() == 0.0 and loss.requires_grad
        loss.backward()
    assert known.grad is not None and unknown.grad is not None
