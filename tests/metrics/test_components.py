"""SegmentMeIfYouCan component metrics on constructed masks with hand-computed answers, and against a
direct transcription of the benchmark's per-component rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from owslib.metrics.components import (
    SIOU_THRESHOLDS,
    STRUCTURE,
    TRACKS,
    ComponentMetric,
    image_components,
)

V = 255


def _canvas(h=12, w=12):
    return np.zeros((h, w), dtype=np.uint8), np.zeros((h, w), dtype=bool)


def test_thresholds_and_tracks_are_the_benchmarks():
    assert SIOU_THRESHOLDS == pytest.approx(np.linspace(0.25, 0.75, 11))
    assert TRACKS == {"anomaly": (500, 100), "obstacle": (50, 10)}


def test_siou_and_precision_by_hand():
    labels, pred = _canvas()
    labels[2:6, 2:6] = 1  # gt component, 16 px
    pred[4:8, 4:8] = True  # prediction, 16 px: 4 on the object, 12 outside
    siou, prec = image_components(pred, labels, min_pred_size=1, min_gt_size=1)
    # sIoU = |gt ∩ P| / (|gt| + |P \ gt|) = 4 / (16 + 12); precision = 4 / 16
    assert siou.tolist() == pytest.approx([4 / 28])
    assert prec.tolist() == pytest.approx([4 / 16])


def test_adjustment_excludes_other_objects_from_the_union():
    labels, pred = _canvas()
    labels[2:4, 1:4] = 1  # object A, 6 px
    labels[2:4, 6:9] = 1  # object B, 6 px (not 8-connected to A)
    pred[2:4, 1:9] = True  # one prediction covering both and the 4 px between them
    siou, prec = image_components(pred, labels, min_pred_size=1, min_gt_size=1)
    # each object: 6 / (6 + 4): B's pixels do not count against A, nor A's against B
    assert siou.tolist() == pytest.approx([0.6, 0.6])
    assert prec.tolist() == pytest.approx([12 / 16])


def test_eight_connectivity_joins_diagonal_pixels():
    labels, pred = _canvas(6, 6)
    for i in range(4):
        labels[i, i] = 1
        pred[i, i] = True
    siou, prec = image_components(pred, labels, min_pred_size=1, min_gt_size=1)
    assert siou.tolist() == [1.0] and prec.tolist() == [1.0]  # one component each


def test_small_predictions_dropped_small_objects_ignored_void_never_predicted():
    labels, pred = _canvas(16, 16)
    labels[0:5, 0:5] = 1  # large object (25 px)
    labels[10:12, 10:12] = 1  # small object (4 px): ignored
    labels[14:16, :] = V  # void
    pred[0:5, 0:5] = True  # hits the large object
    pred[7, 7] = True  # 1 px speck: dropped
    pred[9:13, 9:13] = True  # 16 px over the small object: its 4 px leave the ROI
    pred[14:16, 0:8] = True  # on void only: not a prediction
    siou, prec = image_components(pred, labels, min_pred_size=5, min_gt_size=5)
    assert siou.tolist() == [1.0]
    # components: the hit (precision 1) and the one around the ignored object (0 of 12 ROI px)
    assert sorted(prec.tolist()) == [0.0, 1.0]


def test_prediction_inside_an_ignored_object_is_not_counted():
    labels, pred = _canvas()
    labels[2:4, 2:4] = 1  # 4 px, below min_gt_size
    pred[2:4, 2:4] = True
    siou, prec = image_components(pred, labels, min_pred_size=1, min_gt_size=5)
    assert siou.size == 0 and prec.size == 0


def test_missed_object_has_siou_zero():
    labels, pred = _canvas()
    labels[2:5, 2:5] = 1
    siou, prec = image_components(pred, labels, min_pred_size=1, min_gt_size=1)
    assert siou.tolist() == [0.0] and prec.size == 0


def test_metric_f1_counts_by_hand():
    labels, _ = _canvas(20, 20)
    labels[0:4, 0:4] = 1  # object 1 (16 px)
    labels[10:14, 10:14] = 1  # object 2 (16 px)
    scores = np.zeros((20, 20), dtype=np.float32)
    scores[0:4, 0:4] = 0.9  # object 1 found exactly: sIoU 1
    scores[10:14, 12:18] = 0.9  # object 2: 8 of 24 px on it -> sIoU 8/(16+16), precision 8/24
    scores[18:20, 0:8] = 0.9  # false positive, precision 0
    m = ComponentMetric(0.5, min_pred_size=1, min_gt_size=1)
    m.update(torch.from_numpy(scores), torch.from_numpy(labels))
    r = m.compute()
    assert r["siou"] == pytest.approx((1 + 1 / 4) / 2)
    assert r["ppv"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    f1 = []
    for t in SIOU_THRESHOLDS:
        tp = 1 + (1 / 4 >= t)
        fn, fp = 2 - tp, 1 + (1 / 3 < t)
        f1.append(2 * tp / (2 * tp + fn + fp))
    assert list(r["f1"].values()) == pytest.approx(f1)
    assert r["mean_f1"] == pytest.approx(np.mean(f1))
    assert r["n_gt_components"] == 2 and r["n_pred_components"] == 3


def test_threshold_rule_is_strict_like_the_benchmark():
    labels, _ = _canvas()
    labels[0:4, 0:4] = 1
    scores = np.where(labels == 1, 0.5, 0.0)
    strict = ComponentMetric(0.5, min_pred_size=1, min_gt_size=1)
    strict.update(scores, labels)
    inclusive = ComponentMetric(0.5, min_pred_size=1, min_gt_size=1, inclusive=True)
    inclusive.update(scores, labels)
    assert strict.compute()["siou"] == 0.0 and inclusive.compute()["siou"] == 1.0


def test_default_track_sizes_apply():
    labels, _ = _canvas(40, 40)
    labels[0:9, 0:9] = 1  # 81 px < 100: ignored on the anomaly track, counted on the obstacle one
    scores = (labels == 1).astype(np.float32)
    anomaly, obstacle = ComponentMetric(0.5), ComponentMetric(0.5, track="obstacle")
    anomaly.update(scores, labels)
    obstacle.update(scores, labels)
    assert anomaly.compute()["n_gt_components"] == 0
    r = obstacle.compute()
    assert r["n_gt_components"] == 1 and r["siou"] == 1.0 and r["mean_f1"] == 1.0
    with pytest.raises(ValueError, match="track"):
        ComponentMetric(0.5, track="lost")


def _benchmark_reference(pred, labels, min_pred, min_gt):
    """The benchmark's rules, component by component (``default_instancer`` + ``segment_metrics``)."""
    gt = labels.copy()
    anomaly_pred = pred.copy() & (labels != V)
    gt_cc, n_gt = ndimage.label(labels == 1, STRUCTURE)
    pred_cc, n_pred = ndimage.label(anomaly_pred, STRUCTURE)
    for c in range(1, n_pred + 1):
        if (pred_cc == c).sum() < min_pred:
            pred_cc[pred_cc == c] = 0
    for c in range(1, n_gt + 1):
        if (gt_cc == c).sum() < min_gt:
            gt[gt_cc == c] = V
    roi = gt < V
    g, p = gt_cc[roi], pred_cc[roi]
    siou = []
    for i in np.unique(g[g > 0]):
        loc = p[g == i]
        seg = np.unique(loc[loc != 0])
        inter = np.isin(loc, seg).sum()
        adjust = (~np.isin(g, [0, i]) & np.isin(p, seg)).sum()
        union = np.isin(p, seg).sum() + (g == i).sum() - inter - adjust
        siou.append(inter / union)
    prec = []
    for j in np.unique(p[p > 0]):
        loc = g[p == j]
        prec.append((loc != 0).sum() / (p == j).sum())
    return np.array(siou), np.array(prec)


@pytest.mark.parametrize("seed", range(6))
def test_matches_the_benchmark_rules_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    h, w = 48, 64
    labels = np.zeros((h, w), dtype=np.uint8)
    for _ in range(5):  # rectangles of objects and of void
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        labels[y : y + rng.integers(2, 14), x : x + rng.integers(2, 14)] = rng.choice([1, 1, V])
    blobs = ndimage.gaussian_filter(rng.random((h, w)), 2) + 0.3 * (labels == 1)
    pred = blobs > np.quantile(blobs, 0.8)
    siou, prec = image_components(pred, labels, min_pred_size=6, min_gt_size=5)
    ref_siou, ref_prec = _benchmark_reference(pred, labels, 6, 5)
    assert siou == pytest.approx(ref_siou) and prec == pytest.approx(ref_prec)


def test_streaming_per_image_equals_one_batch_and_merge():
    rng = np.random.default_rng(0)
    scores = rng.random((3, 30, 30)).astype(np.float32)
    labels = (rng.random((3, 30, 30)) > 0.7).astype(np.uint8)
    labels[:, :2] = V
    batch = ComponentMetric(0.6, min_pred_size=2, min_gt_size=2)
    batch.update(scores, labels)
    one, two = (ComponentMetric(0.6, min_pred_size=2, min_gt_size=2) for _ in range(2))
    one.update(scores[0], labels[0])
    two.update(scores[1:], labels[1:])
    one.merge(two)
    a, b = batch.compute(), one.compute()
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k]), k
    assert a["n_images"] == 3 and not math.isnan(a["mean_f1"])
