"""Tests for owslib.losses.dice: batch-wise soft Dice over the classes present in the target."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from owslib.losses.dice import DiceLoss, dice_loss

K = 3
IGNORE = 255


def _pixels(*columns: tuple[float, ...]) -> torch.Tensor:
    """(1, K, 1, P) logits from P per-pixel logit vectors."""
    return torch.tensor(columns, dtype=torch.float32).T.reshape(1, K, 1, len(columns))


# Hand example. Pixel A: class 0, logits (ln 2, 0, 0) → p = (1/2, 1/4, 1/4).
# Pixel B: class 1, logits (0, ln 6, 0) → p = (1/8, 6/8, 1/8).
# Pixel C is void and pixel D an unknown class (3): neither enters any sum. Class 2 is absent.
HAND_LOGITS = _pixels((math.log(2), 0.0, 0.0), (0.0, math.log(6), 0.0), (5.0, 0, 0), (0, 0, 7.0))
HAND_TARGET = torch.tensor([[[0, 1, IGNORE, 3]]])


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, K, 4, 5, generator=g) * 2
    target = torch.randint(0, K, (2, 4, 5), generator=g)
    target[0, 0, :3] = IGNORE
    target[1, 2, 1] = 3
    return logits, target


def test_hand_computed_smooth_one():
    # class 0: Σpy = 1/2, Σp = 1/2 + 1/8 = 5/8, Σy = 1 → D0 = (1 + 1) / (5/8 + 1 + 1) = 16/21
    # class 1: Σpy = 3/4, Σp = 1/4 + 3/4 = 1,  Σy = 1 → D1 = (3/2 + 1) / (1 + 1 + 1) = 5/6
    # loss = 1 - (16/21 + 5/6) / 2 = 17/84 (class 2 is absent and not averaged).
    loss = DiceLoss(K, smooth=1.0)(HAND_LOGITS, HAND_TARGET)
    assert loss.item() == pytest.approx(17 / 84, rel=1e-6)


def test_hand_computed_smooth_zero():
    # D0 = 1 / (5/8 + 1) = 8/13, D1 = (3/2) / 2 = 3/4 → loss = 1 - (8/13 + 3/4) / 2 = 33/104.
    loss = dice_loss(HAND_LOGITS, HAND_TARGET, smooth=0.0)
    assert loss.item() == pytest.approx(33 / 104, rel=1e-6)


def test_absent_classes_do_not_count():
    # Averaging the absent class 2 too (D2 = 1 / (3/8 + 1) = 8/11) would give a different value.
    counted = 1 - (16 / 21 + 5 / 6 + 8 / 11) / 3
    loss = DiceLoss(K)(HAND_LOGITS, HAND_TARGET).item()
    assert loss == pytest.approx(17 / 84, rel=1e-6) and abs(loss - counted) > 1e-2
    # Even overwhelming logits for the absent class stay finite and leave D_0, D_1 the only terms.
    logits = torch.cat([HAND_LOGITS[:, :2], torch.full_like(HAND_LOGITS[:, :1], 30.0)], 1)
    logits.requires_grad_(True)
    loss = DiceLoss(K, smooth=0.0)(logits, HAND_TARGET)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_perfect_prediction_is_near_zero():
    _, target = _batch()
    known = torch.where(target < K, target, 0)
    logits = F.one_hot(known, K).permute(0, 3, 1, 2).float() * 50.0
    assert DiceLoss(K)(logits, target).item() == pytest.approx(0.0, abs=1e-6)
    assert DiceLoss(K, smooth=0.0)(logits, target).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("smooth", [0.0, 1.0])
def test_void_and_unknown_pixels_change_nothing(smooth):
    logits, target = _batch()
    skipped = target >= K
    other = logits.clone()
    other[skipped.unsqueeze(1).expand_as(other)] = 40.0 * torch.randn(int(skipped.sum()) * K)
    a, b = logits.requires_grad_(True), other.requires_grad_(True)
    la, lb = DiceLoss(K, smooth)(a, target), DiceLoss(K, smooth)(b, target)
    assert la.item() == pytest.approx(lb.item(), rel=1e-6)
    (la + lb).backward()
    torch.testing.assert_close(a.grad, b.grad)
    mask = skipped.unsqueeze(1).expand_as(a)
    assert (a.grad[mask] == 0).all() and (a.grad[~mask] != 0).any()


def test_void_is_not_in_the_denominator():
    # The known buggy variant adds the void/unknown pixels' probabilities to Σ p_c; here pixel C
    # (void) puts almost all mass on class 0, which must not lower D0.
    only_valid = DiceLoss(K)(HAND_LOGITS[..., :2], HAND_TARGET[..., :2])
    assert DiceLoss(K)(HAND_LOGITS, HAND_TARGET).item() == pytest.approx(only_valid.item())


def test_pure_function_matches_module():
    logits, target = _batch(2)
    a = DiceLoss(K, smooth=0.5)(logits, target)
    b = dice_loss(logits, target, smooth=0.5, num_classes=K)
    assert a.item() == b.item()


def test_gradients_flow():
    logits, target = _batch()
    logits.requires_grad_(True)
    DiceLoss(K)(logits, target).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


@pytest.mark.parametrize("fill", [IGNORE, 3])
def test_all_ignored_gives_attached_zero(fill):
    logits = _batch()[0].requires_grad_(True)
    for smooth in (0.0, 1.0):
        loss = DiceLoss(K, smooth)(logits, torch.full((2, 4, 5), fill, dtype=torch.long))
        assert loss.item() == 0.0 and torch.isfinite(loss) and loss.requires_grad
        loss.backward()
        assert logits.grad is not None and (logits.grad == 0).all()


def test_bad_inputs_raise():
    logits, target = _batch()
    with pytest.raises(ValueError, match="num_classes=4"):
        DiceLoss(4)(logits, target)
    with pytest.raises(ValueError, match=r"expected \(B, K, H, W\) and \(B, H, W\)"):
        DiceLoss(K)(logits, target[:, :3])
    with pytest.raises(ValueError, match="smooth"):
        DiceLoss(K, smooth=-1.0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float64])
def test_other_dtypes(dtype):
    logits, target = _batch()
    low = logits.to(dtype).requires_grad_(True)
    loss = DiceLoss(K)(low, target)
    assert loss.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    ref = DiceLoss(K)(low.detach().float(), target)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    loss.backward()
    assert low.grad.dtype == dtype and torch.isfinite(low.grad.float()).all()
