"""Tests for owslib.losses.segmentation: class-weighted cross-entropy (ContMAV Eq. 2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from owslib.losses import WeightedCrossEntropy

K = 3
LOGITS = np.array(
    [
        [
            [[2.0, -1.0, 0.5], [0.0, 1.5, -0.5]],
            [[0.3, 0.8, -1.2], [1.0, 0.0, 2.5]],
            [[-0.7, 0.2, 1.1], [0.4, -2.0, 0.9]],
        ],
        [
            [[0.1, 0.2, 0.3], [1.4, -0.3, 0.0]],
            [[-1.0, 2.2, 0.6], [0.5, 0.5, -0.8]],
            [[0.9, -0.4, 1.7], [0.0, 1.0, 0.2]],
        ],
    ]
)  # (B=2, K=3, H=2, W=3)
TARGET = np.array([[[0, 1, 255], [2, 3, 1]], [[2, 2, 0], [255, 1, 255]]])  # 3 = an unknown class


def _ref_weighted_ce(logits: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    num = den = 0.0
    b, k, h, w = logits.shape
    for i in range(b):
        for y in range(h):
            for x in range(w):
                t = target[i, y, x]
                if t >= k:  # ignore (255) and unknown classes
                    continue
                z = logits[i, :, y, x]
                ce = np.log(np.exp(z).sum()) - z[t]
                num += weight[t] * ce
                den += weight[t]
    return num / den


def _t(a, dtype=torch.float32, grad=False):
    return torch.tensor(a, dtype=dtype, requires_grad=grad)


def test_unweighted_equals_mean_ce_over_known_pixels():
    loss = WeightedCrossEntropy(K)(_t(LOGITS), _t(TARGET, torch.long))
    expected = _ref_weighted_ce(LOGITS, TARGET, np.ones(K))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_weighted_equals_hand_computed():
    w = np.array([0.2, 3.0, 1.5])
    loss = WeightedCrossEntropy(K, torch.tensor(w))(_t(LOGITS), _t(TARGET, torch.long))
    expected = _ref_weighted_ce(LOGITS, TARGET, w)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # The weighting matters on this example (guards against a silently dropped weight).
    assert abs(expected - _ref_weighted_ce(LOGITS, TARGET, np.ones(K))) > 1e-2


def test_single_pixel_value():
    # One labelled pixel of class 1 with logits (0, ln 3, 0): p = 3/5, CE = ln(5/3).
    logits = torch.tensor([0.0, np.log(3.0), 0.0]).view(1, 3, 1, 1)
    loss = WeightedCrossEntropy(K, torch.tensor([5.0, 2.0, 7.0]))(logits, torch.tensor([[[1]]]))
    assert loss.item() == pytest.approx(np.log(5 / 3), rel=1e-6)


def test_unknown_class_pixels_are_ignored_like_void():
    t = torch.tensor(TARGET)
    as_void = torch.where(t >= K, 255, t)
    crit = WeightedCrossEntropy(K, torch.tensor([0.5, 1.0, 2.0]))
    assert crit(_t(LOGITS), t).item() == pytest.approx(crit(_t(LOGITS), as_void).item(), rel=1e-6)


def test_no_void_batch():
    target = np.array([[[0, 1, 2], [2, 1, 0]], [[1, 1, 1], [0, 2, 2]]])
    w = np.array([1.0, 0.5, 2.0])
    loss = WeightedCrossEntropy(K, torch.tensor(w))(_t(LOGITS), _t(target, torch.long))
    assert loss.item() == pytest.approx(_ref_weighted_ce(LOGITS, target, w), rel=1e-5)


def test_gradient_is_zero_on_ignored_pixels():
    logits = _t(LOGITS, grad=True)
    WeightedCrossEntropy(K)(logits, _t(TARGET, torch.long)).backward()
    ignored = torch.tensor(TARGET) >= K
    g = logits.grad.abs().sum(dim=1)
    assert (g[ignored] == 0).all()
    assert (g[~ignored] > 0).all()


@pytest.mark.parametrize("target_value", [255, 3])
def test_all_ignored_gives_attached_zero(target_value):
    logits = _t(LOGITS, grad=True)
    target = torch.full((2, 2, 3), target_value, dtype=torch.long)
    loss = WeightedCrossEntropy(K, torch.tensor([1.0, 2.0, 3.0]))(logits, target)
    assert loss.item() == 0.0 and torch.isfinite(loss)
    assert loss.requires_grad
    loss.backward()
    assert logits.grad is not None and (logits.grad == 0).all()


def test_zero_weight_on_every_present_class_gives_attached_zero():
    logits = _t(LOGITS, grad=True)
    target = torch.zeros(2, 2, 3, dtype=torch.long)
    loss = WeightedCrossEntropy(K, torch.tensor([0.0, 1.0, 1.0]))(logits, target)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_weight_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        WeightedCrossEntropy(K, torch.ones(4))


def test_weight_is_a_buffer():
    crit = WeightedCrossEntropy(K, torch.tensor([1.0, 2.0, 3.0]))
    assert "weight" in crit.state_dict()
    assert crit.to(torch.float64).weight.dtype == torch.float64


@pytest.mark.parametrize("logits_dtype", [torch.float32, torch.float64])
def test_works_after_moving_to_float64(logits_dtype):
    # Dtype-agnostic (STYLE 7): `.to(torch.float64)` on the loss (or on an objective holding it)
    # must not break the forward pass.
    w = np.array([0.2, 3.0, 1.5])
    crit = WeightedCrossEntropy(K, torch.tensor(w)).to(torch.float64)
    loss = crit(_t(LOGITS, logits_dtype), _t(TARGET, torch.long))
    assert loss.item() == pytest.approx(_ref_weighted_ce(LOGITS, TARGET, w), rel=1e-5)
