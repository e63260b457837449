"""Confusion matrix and IoU reductions against a brute-force numpy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from owslib.labels import IGNORE_INDEX
from owslib.metrics.confusion import (
    ConfusionMatrix,
    accuracy_from_confusion,
    iou_from_confusion,
    miou_from_confusion,
)


def brute_force(pred: np.ndarray, target: np.ndarray, k: int) -> dict:
    """Pixel loop + class loop, cityscapesScripts' convention (NaN when tp + fp + fn == 0)."""
    conf = np.zeros((k, k), dtype=np.int64)
    for p, t in zip(pred.ravel(), target.ravel(), strict=True):
        if t == IGNORE_INDEX or not 0 <= t < k:
            continue
        conf[t, p] += 1
    iou, cls_acc = [], []
    for c in range(k):
        tp = conf[c, c]
        fp = conf[:, c].sum() - tp
        fn = conf[c, :].sum() - tp
        iou.append(tp / (tp + fp + fn) if tp + fp + fn else math.nan)
        cls_acc.append(tp / conf[c].sum() if conf[c].sum() else math.nan)
    present = [v for v in iou if not math.isnan(v)]
    return {
        "conf": conf,
        "iou": np.array(iou),
        "miou": sum(present) / len(present) if present else math.nan,
        "acc": np.trace(conf) / conf.sum(),
        "mean_acc": np.nanmean(cls_acc),
    }


def random_batch(rng: np.random.Generator, k: int, shape=(2, 17, 23)):
    pred = rng.integers(0, k, shape)
    pred[pred == k - 1] = 0  # class k-1 is never predicted
    target = rng.integers(0, k + 2, shape)  # k, k+1: unknown classes, skipped
    target[target == 1] = 2  # class 1 never in ground truth: only false positives, IoU 0
    target[rng.random(shape) < 0.1] = IGNORE_INDEX
    return pred, target


def test_matches_brute_force_over_batches():
    rng = np.random.default_rng(0)
    k = 6
    batches = [random_batch(rng, k) for _ in range(3)]
    cm = ConfusionMatrix(k)
    for pred, target in batches:
        cm.update(torch.from_numpy(pred), torch.from_numpy(target).to(torch.uint8))
    ref = brute_force(
        np.concatenate([p.ravel() for p, _ in batches]),
        np.concatenate([t.ravel() for _, t in batches]),
        k,
    )
    np.testing.assert_array_equal(cm.mat.numpy(), ref["conf"])
    out = cm.compute()
    np.testing.assert_allclose(out["iou"].numpy(), ref["iou"], rtol=0, atol=1e-12)
    assert out["iou"][1] == 0.0  # predicted only: counts as 0 in the mean
    assert out["miou"] == pytest.approx(ref["miou"], abs=1e-12)
    assert out["acc"] == pytest.approx(ref["acc"], abs=1e-12)
    assert out["mean_acc"] == pytest.approx(ref["mean_acc"], abs=1e-12)
    assert out["n_pixels"] == ref["conf"].sum()


def test_hand_computed_and_absent_class_is_nan():
    # gt:   0 0 1 1 255 3(unknown for K=3)
    # pred: 0 1 1 1 2   2
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 1, 1, 1, 2, 2]), torch.tensor([0, 0, 1, 1, 255, 3]))
    out = cm.compute()
    assert out["iou"][0] == pytest.approx(1 / 2)  # tp 1, fn 1
    assert out["iou"][1] == pytest.approx(2 / 3)  # tp 2, fp 1
    assert math.isnan(out["iou"][2])  # neither in gt nor predicted on a counted pixel
    assert out["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert out["acc"] == pytest.approx(3 / 4)
    assert out["mean_acc"] == pytest.approx((1 / 2 + 1) / 2)


def test_pure_reductions_and_empty_matrix():
    conf = torch.tensor([[3, 1], [0, 0]])
    np.testing.assert_allclose(iou_from_confusion(conf).numpy(), [0.75, 0.0])
    assert miou_from_confusion(conf) == pytest.approx(0.375)
    assert accuracy_from_confusion(conf) == pytest.approx((0.75, 0.75))
    empty = ConfusionMatrix(4).compute()
    assert math.isnan(empty["miou"]) and math.isnan(empty["acc"]) and empty["n_pixels"] == 0


def test_logits_merge_reset_and_errors():
    rng = np.random.default_rng(1)
    logits = torch.from_numpy(rng.normal(size=(2, 4, 5, 5))).to(torch.bfloat16)
    target = torch.from_numpy(rng.integers(0, 4, (2, 5, 5)))
    a, b = ConfusionMatrix(4), ConfusionMatrix(4)
    a.update(logits, target)
    b.update(logits.argmax(1).to(torch.int32), target)
    torch.testing.assert_close(a.mat, b.mat)
    a.merge(b)
    torch.testing.assert_close(a.mat, 2 * b.mat)
    a.reset()
    assert int(a.mat.sum()) == 0
    with pytest.raises(ValueError, match="outside 0..3"):
        a.update(torch.tensor([4, 0]), torch.tensor([1, 0]))
    a.update(torch.tensor([4, 0]), torch.tensor([255, 0]))  # ignored pixel: any prediction is fine
    with pytest.raises(ValueError, match="pred"):
        a.update(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="classes"):
        a.merge(ConfusionMatrix(5))
