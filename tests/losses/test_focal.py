"""Tests for owslib.losses.focal: focal loss (Lin et al. 2017, Eq. 5) with class weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from owslib.losses.focal import FocalLoss, focal_loss
from owslib.losses.segmentation import WeightedCrossEntropy

K = 3
IGNORE = 255


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (2, K, 4, 5) logits and a target with void (255) and unknown-class (3, 4) pixels."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, K, 4, 5, generator=g) * 2
    target = torch.randint(0, K, (2, 4, 5), generator=g)
    target[0, 0, :3] = IGNORE
    target[1, 2, 1] = 3
    target[1, 3, 4] = 4
    return logits, target


def _as_void(target: torch.Tensor) -> torch.Tensor:
    """Unknown classes mapped to void, so F.cross_entropy accepts the target."""
    return torch.where(target >= K, IGNORE, target)


def _pixels(*columns: tuple[float, ...]) -> torch.Tensor:
    """(1, K, 1, P) logits from P per-pixel logit vectors."""
    return torch.tensor(columns, dtype=torch.float32).T.reshape(1, K, 1, len(columns))


# Hand example: pixel 0 is class 1 with logits (0, ln 3, 0) → p_t = 3/5; pixel 1 is class 0 with
# logits (ln 2, 0, 0) → p_t = 2/4; pixel 2 is void and pixel 3 an unknown class (both skipped).
HAND_LOGITS = _pixels((0.0, math.log(3), 0.0), (math.log(2), 0.0, 0.0), (9.0, -3.0, 1.0), (0, 5, 0))
HAND_TARGET = torch.tensor([[[1, 0, IGNORE, 3]]])
# γ = 2 terms: (1 - 3/5)^2 ln(5/3) = 0.16 ln(5/3) and (1 - 1/2)^2 ln 2 = 0.25 ln 2.
FL0 = 0.16 * math.log(5 / 3)
FL1 = 0.25 * math.log(2)


@pytest.mark.parametrize("weighted", [False, True])
def test_gamma_zero_equals_cross_entropy(weighted):
    logits, target = _batch()
    w = torch.tensor([0.3, 2.0, 1.2]) if weighted else None
    loss = FocalLoss(K, gamma=0.0, weight=w)(logits, target)
    ce = F.cross_entropy(logits, _as_void(target), weight=w, ignore_index=IGNORE)
    assert loss.item() == pytest.approx(ce.item(), rel=1e-6)
    wce = WeightedCrossEntropy(K, w)(logits, target)
    assert loss.item() == pytest.approx(wce.item(), rel=1e-6)


def test_hand_computed_gamma_two_unweighted():
    loss = FocalLoss(K, gamma=2.0)(HAND_LOGITS, HAND_TARGET)
    assert loss.item() == pytest.approx((FL0 + FL1) / 2, rel=1e-6)


def test_hand_computed_gamma_two_weighted():
    # w = (2, 1, 5): pixel 1 (class 0) weighs 2, pixel 0 (class 1) weighs 1 → / (2 + 1).
    loss = FocalLoss(K, gamma=2.0, weight=torch.tensor([2.0, 1.0, 5.0]))(HAND_LOGITS, HAND_TARGET)
    assert loss.item() == pytest.approx((1 * FL0 + 2 * FL1) / 3, rel=1e-6)


def test_pure_function_matches_module():
    logits, target = _batch(1)
    w = torch.tensor([1.0, 0.5, 3.0])
    a = FocalLoss(K, gamma=1.5, weight=w)(logits, target)
    b = focal_loss(logits, target, 1.5, weight=w, num_classes=K)
    assert a.item() == b.item()


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_focal_below_cross_entropy_on_confident_correct_pixels(gamma):
    target = torch.tensor([[[0, 1, 2, 1]]])
    logits = F.one_hot(target, K).permute(0, 3, 1, 2).float() * 4.0  # p_t ≈ 0.96
    fl = FocalLoss(K, gamma=gamma)(logits, target)
    ce = F.cross_entropy(logits, target)
    assert 0 < fl.item() < ce.item()
    # (1 - p_t)^γ ≤ 0.04^γ shrinks it by at least that factor.
    assert fl.item() <= ce.item() * (1 - math.exp(-ce.item())) ** gamma * (1 + 1e-5)


def test_gradient_flows_to_valid_pixels_only():
    logits, target = _batch()
    logits.requires_grad_(True)
    FocalLoss(K, gamma=2.0, weight=torch.tensor([1.0, 2.0, 0.5]))(logits, target).backward()
    g = logits.grad.abs().sum(dim=1)
    skipped = target >= K
    assert torch.isfinite(logits.grad).all()
    assert (g[skipped] == 0).all() and (g[~skipped] > 0).all()


@pytest.mark.parametrize("gamma", [0.0, 0.3, 2.0])
def test_saturated_pixel_keeps_gradient_finite(gamma):
    # p_t rounds to exactly 1 in float32; (1 - p_t)^γ with γ < 1 must not give a NaN gradient.
    logits = _pixels((200.0, 0.0, 0.0), (0.0, 1.0, 0.0)).requires_grad_(True)
    loss = FocalLoss(K, gamma=gamma)(logits, torch.tensor([[[0, 2]]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("fill", [IGNORE, 3])
def test_all_ignored_gives_attached_zero(fill):
    logits = _batch()[0].requires_grad_(True)
    target = torch.full((2, 4, 5), fill, dtype=torch.long)
    loss = FocalLoss(K, gamma=2.0, weight=torch.tensor([1.0, 2.0, 3.0]))(logits, target)
    assert loss.item() == 0.0 and torch.isfinite(loss) and loss.requires_grad
    loss.backward()
    assert logits.grad is not None and (logits.grad == 0).all()


def test_zero_weight_on_every_present_class_gives_zero():
    logits = _batch()[0].requires_grad_(True)
    loss = FocalLoss(K, weight=torch.tensor([0.0, 1.0, 1.0]))(logits, torch.zeros(2, 4, 5).long())
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_absent_classes_are_safe():
    logits, _ = _batch()
    loss = FocalLoss(K)(logits, torch.ones(2, 4, 5, dtype=torch.long))  # classes 0 and 2 absent
    assert torch.isfinite(loss) and loss.item() > 0


def test_bad_weight_shape_raises_naming_expected_shape():
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        FocalLoss(K, weight=torch.ones(4))
    logits, target = _batch()
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        focal_loss(logits, target, 2.0, weight=torch.ones(2, 3))


def test_bad_inputs_raise():
    logits, target = _batch()
    with pytest.raises(ValueError, match="num_classes=4"):
        FocalLoss(4)(logits, target)
    with pytest.raises(ValueError, match="target has shape"):
        FocalLoss(K)(logits, target[:, :3])
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(K, gamma=-1.0)


def test_weight_is_a_buffer_and_float64_works():
    w = torch.tensor([0.3, 2.0, 1.2])
    crit = FocalLoss(K, gamma=2.0, weight=w)
    assert "weight" in crit.state_dict()
    logits, target = _batch()
    ref = crit(logits, target).item()
    crit64 = crit.to(torch.float64)
    assert crit64.weight.dtype == torch.float64
    assert crit64(logits, target).item() == pytest.approx(ref, rel=1e-6)
    assert crit64(logits.double(), target).dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_logits_are_computed_in_float32(dtype):
    logits, target = _batch()
    low = logits.to(dtype).requires_grad_(True)
    loss = FocalLoss(K, gamma=2.0)(low, target)
    assert loss.dtype == torch.float32
    ref = FocalLoss(K, gamma=2.0)(low.detach().float(), target)  # same rounded inputs, fp32 math
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    loss.backward()
    assert low.grad.dtype == dtype and torch.isfinite(low.grad.float()).all()
