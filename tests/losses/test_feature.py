"""Tests for owslib.losses.feature: the feature loss of ContMAV Eq. 5, both distances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from owslib.losses import ClassStatistics, FeatureLoss

K = 3
MIN_STD = 1e-3
MEAN = np.array([[1.0, -0.5, 0.2], [0.0, 2.0, -1.0], [-1.5, 0.5, 3.0]])
VAR = np.array([[0.25, 1.0, 4.0], [2.0, 0.0, 0.5], [1.0, 9.0, 1e-8]])  # zeros hit the floor


def _stats(valid=(True, True, True)) -> ClassStatistics:
    stats = ClassStatistics(K)
    stats.mean.copy_(torch.tensor(MEAN))
    stats.var.copy_(torch.tensor(VAR))
    stats.valid.copy_(torch.tensor(valid))
    return stats


def _logits(seed: int = 0, b: int = 2, h: int = 2, w: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, K, h, w)) * 1.5


def _ref(logits, target, distance, valid=(True, True, True), min_std=MIN_STD):
    """Eq. 5 (mean over pixels) or the reference code (per-class means, summed over classes)."""
    dists, per_class = [], {}
    b, _, h, w = logits.shape
    for i in range(b):
        for y in range(h):
            for x in range(w):
                t = target[i, y, x]
                if t >= K or not valid[t]:
                    continue
                f, mu, var = logits[i, :, y, x], MEAN[t], VAR[t]
                if distance == "norm_over_std":
                    sigma = np.maximum(np.sqrt(var), min_std)
                    dists.append(np.sqrt((((f - mu) / sigma) ** 2).sum()))
                else:
                    d = (np.abs(f - mu) / np.maximum(var, min_std**2)).mean()
                    per_class.setdefault(int(t), []).append(d)
    if distance == "l1_over_var":
        return float(sum(np.mean(v) for v in per_class.values()))
    return float(np.mean(dists))


TARGET = np.array([[[0, 1, 255], [2, 3, 1]], [[2, 2, 0], [255, 1, 0]]])
NO_VOID = np.array([[[0, 1, 2], [2, 1, 0]], [[1, 2, 0], [0, 1, 2]]])


@pytest.mark.parametrize("distance", ["norm_over_std", "l1_over_var"])
@pytest.mark.parametrize("target", [TARGET, NO_VOID], ids=["with_void", "no_void"])
def test_matches_hand_computed(distance, target):
    logits = _logits()
    loss = FeatureLoss(_stats(), distance, MIN_STD)(
        torch.tensor(logits, dtype=torch.float32), torch.tensor(target)
    )
    expected = _ref(logits, target, distance)
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_norm_over_std_single_pixel():
    # f − μ = (1, 2, 2) with σ = (0.5, 1, 2): ‖(2, 2, 1)‖ = 3.
    stats = ClassStatistics(K)
    stats.mean.zero_()
    stats.var.copy_(torch.tensor([0.25, 1.0, 4.0]).expand(K, K))
    stats.valid.fill_(True)
    loss = FeatureLoss(stats)(torch.tensor([1.0, 2.0, 2.0]).view(1, K, 1, 1), torch.tensor([[[1]]]))
    assert loss.item() == pytest.approx(3.0, rel=1e-6)
    # The reference-code form: mean(|f − μ| / σ²) = (4 + 2 + 0.5) / 3.
    loss = FeatureLoss(stats, "l1_over_var")(
        torch.tensor([1.0, 2.0, 2.0]).view(1, K, 1, 1), torch.tensor([[[1]]])
    )
    assert loss.item() == pytest.approx(6.5 / 3, rel=1e-6)


def test_code_form_sums_class_means_with_unequal_class_sizes():
    # The reference code: for each class in the batch, mean over its pixels and the dimensions of
    # |f - mu| / var, then the sum over classes. Class 0 has 1 pixel, class 1 has 5, class 2 has 2.
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(1, K, 2, 4)) * 2.0
    target = np.array([[[0, 1, 1, 1], [1, 1, 2, 2]]])
    var = np.maximum(VAR, MIN_STD**2)
    expected = 0.0
    for c in range(K):
        feats = logits[0].transpose(1, 2, 0)[target[0] == c]  # (n_c, K)
        expected += (np.abs(feats - MEAN[c]) / var[c]).mean()
    loss = FeatureLoss(_stats(), "l1_over_var", MIN_STD)(
        torch.tensor(logits, dtype=torch.float32), torch.tensor(target)
    )
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    # ... which differs from one mean over all pixels (what Eq. 5's 1/|Omega| gives)
    pooled = np.mean(
        [
            (np.abs(logits[0, :, y, x] - MEAN[t]) / var[t]).mean()
            for (y, x), t in np.ndenumerate(target[0])
        ]
    )
    assert abs(loss.item() - pooled) > 0.1 * pooled


def test_min_std_floor_is_used():
    logits = _logits(1)
    target = np.full((2, 2, 3), 1)  # class 1 has a zero variance in dimension 1
    for min_std in (1e-3, 0.5):
        loss = FeatureLoss(_stats(), "norm_over_std", min_std)(
            torch.tensor(logits, dtype=torch.float32), torch.tensor(target)
        )
        assert np.isfinite(loss.item())
        assert loss.item() == pytest.approx(
            _ref(logits, target, "norm_over_std", min_std=min_std), rel=1e-4
        )


@pytest.mark.parametrize("distance", ["norm_over_std", "l1_over_var"])
def test_classes_without_statistics_are_excluded(distance):
    valid = (True, False, True)
    logits = _logits(2)
    loss = FeatureLoss(_stats(valid), distance)(
        torch.tensor(logits, dtype=torch.float32), torch.tensor(TARGET)
    )
    expected = _ref(logits, TARGET, distance, valid=valid)
    assert loss.item() == pytest.approx(expected, rel=1e-4)
    assert expected != pytest.approx(_ref(logits, TARGET, distance), rel=1e-3)


@pytest.mark.parametrize("distance", ["norm_over_std", "l1_over_var"])
def test_last_class_counts_in_a_crop_without_void(distance):
    # Regression: the reference code skipped the last class when a crop had no void pixel.
    logits = _logits(3)
    target = np.full((2, 2, 3), K - 1)
    target[0, 0, 0] = 0
    loss = FeatureLoss(_stats(), distance)(
        torch.tensor(logits, dtype=torch.float32), torch.tensor(target)
    )
    assert loss.item() == pytest.approx(_ref(logits, target, distance), rel=1e-4)
    # Only the last class present: still a positive loss over its pixels.
    only_last = np.full((2, 2, 3), K - 1)
    loss = FeatureLoss(_stats(), distance)(
        torch.tensor(logits, dtype=torch.float32), torch.tensor(only_last)
    )
    assert loss.item() > 0
    assert loss.item() == pytest.approx(_ref(logits, only_last, distance), rel=1e-4)


def _assert_attached_zero(loss, logits):
    assert loss.item() == 0.0 and torch.isfinite(loss)
    assert loss.requires_grad
    loss.backward()
    assert logits.grad is not None and (logits.grad == 0).all()


def test_zero_before_statistics_exist():
    stats = ClassStatistics(K)
    logits = torch.tensor(_logits(), dtype=torch.float32, requires_grad=True)
    stats.update(logits.detach(), torch.tensor(NO_VOID))  # accumulated, but not yet an epoch
    _assert_attached_zero(FeatureLoss(stats)(logits, torch.tensor(NO_VOID)), logits)


@pytest.mark.parametrize("fill", [255, K])
def test_all_ignored_or_unknown_gives_attached_zero(fill):
    logits = torch.tensor(_logits(), dtype=torch.float32, requires_grad=True)
    target = torch.full((2, 2, 3), fill)
    _assert_attached_zero(FeatureLoss(_stats())(logits, target), logits)


def test_only_classes_without_statistics_gives_attached_zero():
    logits = torch.tensor(_logits(), dtype=torch.float32, requires_grad=True)
    target = torch.tensor([[[1, 1, 255], [1, 1, 1]], [[255, 1, 1], [1, 1, 1]]])
    _assert_attached_zero(FeatureLoss(_stats((True, False, True)))(logits, target), logits)


def test_gradient_only_on_counted_pixels():
    logits = torch.tensor(_logits(4), dtype=torch.float32, requires_grad=True)
    FeatureLoss(_stats((True, False, True)))(logits, torch.tensor(TARGET)).backward()
    counted = torch.tensor(np.isin(TARGET, [0, 2]))
    g = logits.grad.abs().sum(dim=1)
    assert (g[counted] > 0).all()
    assert (g[~counted] == 0).all()


def test_statistics_are_not_trained():
    stats = _stats()
    logits = torch.tensor(_logits(), dtype=torch.float32, requires_grad=True)
    loss = FeatureLoss(stats)(logits, torch.tensor(TARGET))
    loss.backward()
    assert not any(p.requires_grad for p in FeatureLoss(stats).parameters())
    assert torch.equal(stats.mean, torch.tensor(MEAN, dtype=torch.float32))


def test_unknown_distance_raises():
    with pytest.raises(ValueError, match="feature_distance"):
        FeatureLoss(ClassStatistics(K), "cosine")
