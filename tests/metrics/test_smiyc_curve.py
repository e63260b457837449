"""SegmentMeIfYouCan binned pixel curve: hand-computed bins and AP, sklearn where binning is exact,
and a NumPy restatement of the benchmark's own computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from owslib.metrics import smiyc_curve
from owslib.metrics.smiyc_curve import SMIYCCurve, frame_bins, smiyc_curve_metrics

IGN = 255
KEYS = ("aupr", "auroc", "fpr95", "best_f1", "best_f1_threshold")


def benchmark_reference(frames, q: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The benchmark's pipeline restated with NumPy: each frame histogrammed at its own percentile
    edges, all frames' (lower edge, counts) sorted together from high to low, cumulated, the last
    entry of each run of equal edges kept, (0, 0) prepended, then step AP, trapezoid ROC, first
    TPR >= 0.95. (The benchmark keeps entry 0 a second time: a repeated point, dropped here.)"""
    lower, pos, neg = [], [], []
    for s, y in frames:
        keep = y != IGN
        s, a = np.asarray(s, np.float64)[keep], y[keep].astype(bool)
        eps = np.maximum((s.max() - s.min()) * 1e-2, 1e-2)
        parts = [[s.min() - eps, s.max() + eps]]
        for v in (s[a], s[~a]):
            if v.size:
                parts.append(np.quantile(v, np.linspace(0, 1, min(q, v.size))))
        edges = np.unique(np.concatenate(parts))
        lower.append(edges[:-1])
        pos.append(np.histogram(s[a], bins=edges)[0])
        neg.append(np.histogram(s[~a], bins=edges)[0])
    thr = np.concatenate(lower)
    order = np.argsort(thr, kind="stable")[::-1]
    thr = thr[order]
    tp = np.cumsum(np.concatenate(pos)[order].astype(np.float64))
    fp = np.cumsum(np.concatenate(neg)[order].astype(np.float64))
    last = np.unique(np.concatenate([[0], np.nonzero(thr[:-1] != thr[1:])[0], [thr.size - 1]]))
    thr, tp, fp = thr[last], tp[last], fp[last]
    if tp[0] != 0 or fp[0] != 0:
        tp, fp, thr = np.r_[0.0, tp], np.r_[0.0, fp], np.r_[thr.max() + 1, thr]
    tpr, fpr = tp / tp[-1], fp / fp[-1]
    prec = np.ones_like(tp)
    prec[tp + fp > 0] = tp[tp + fp > 0] / (tp + fp)[tp + fp > 0]
    f1 = 2 * tp / (tp + fp + tp[-1])
    i = np.searchsorted(tpr, 0.95)
    metrics = {
        "aupr": np.sum(np.diff(tpr) * prec[1:]),
        "auroc": np.trapezoid(tpr, fpr),
        "fpr95": fpr[i] if i < tpr.size else 1.0,
        "best_f1": np.nanmax(f1),
        "best_f1_threshold": thr[np.nanargmax(f1)],
    }
    curve = {"thresholds": thr, "tpr": tpr, "fpr": fpr, "precision": prec, "recall": tpr}
    return metrics, curve


def hand_frames() -> list[tuple[np.ndarray, np.ndarray]]:
    """Three frames for ``num_quantiles=2``; the third has no anomaly and two ignored pixels."""
    return [
        (
            np.array([[0.1, 0.2, 0.3], [0.6, 0.8, 0.9]]),
            np.array([[0, 0, 1], [0, 1, 1]], np.uint8),
        ),
        (np.array([0.05, 0.4, 0.7, 0.95]), np.array([0, 1, 0, 1], np.uint8)),
        (np.array([0.5, 0.85, 0.35, 100.0, np.nan]), np.array([0, 0, 0, IGN, IGN], np.uint8)),
    ]


def random_frames(seed: int, n_frames: int = 6, ties: bool = False):
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_frames):
        n = int(rng.integers(200, 3000))
        frac = 0.0 if k == 2 else rng.uniform(0.01, 0.3)  # frame 2: no anomaly
        y = (rng.random(n) < frac).astype(np.uint8)
        s = rng.beta(2, 5, n) + 0.3 * y * rng.random(n)
        if ties:
            s = np.round(s, 2)
        y[rng.random(n) < 0.1] = IGN
        s[y == IGN] = rng.choice([np.nan, -1e9, 1e9], size=int((y == IGN).sum()))
        frames.append((s, y))
    tops = [f[0][f[1] != IGN].max() for f in frames]
    assert tops.count(max(tops)) == 1  # one frame holds the top edge (the benchmark: ambiguous)
    return frames


def test_hand_computed_bins_and_curve():
    f1, f2, f3 = hand_frames()
    # frame 1: eps = max(0.01 * 0.8, 0.01); anomaly quantiles (0, 1) = 0.3, 0.9; known 0.1, 0.6
    edges, pos, neg = frame_bins(*map(torch.as_tensor, f1), num_quantiles=2)
    np.testing.assert_array_equal(edges.numpy(), [0.1 - 0.01, 0.1, 0.3, 0.6, 0.9])
    np.testing.assert_array_equal(pos.numpy(), [0, 0, 1, 1, 1])  # 0.8 shares [0.6, 0.9) with 0.6
    np.testing.assert_array_equal(neg.numpy(), [0, 2, 0, 1, 0])
    edges, pos, neg = frame_bins(*map(torch.as_tensor, f3), num_quantiles=2)
    np.testing.assert_array_equal(edges.numpy(), [0.35 - 0.01, 0.35, 0.85])  # ignored 100 unused
    np.testing.assert_array_equal(pos.numpy(), [0, 0, 0])
    np.testing.assert_array_equal(neg.numpy(), [0, 2, 1])

    # pooled edges high -> low: 0.95 .9 .85 .7 .6 .4 .35 .34 .3 .1 .09 .05 .04
    tp = np.array([0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 5, 5, 5, 5], float)
    fp = np.array([0, 0, 0, 1, 2, 3, 3, 5, 5, 5, 7, 7, 8, 8], float)
    metric = SMIYCCurve(num_quantiles=2)
    for s, y in hand_frames():
        metric.update(s, y)
    curve = metric.curve()
    np.testing.assert_allclose(curve["tpr"], tp / 5)
    np.testing.assert_allclose(curve["fpr"], fp / 8)
    np.testing.assert_allclose(curve["precision"][1:], tp[1:] / (tp + fp)[1:])
    assert curve["precision"][0] == 1 and curve["thresholds"][0] == 0.95 + 1
    np.testing.assert_allclose(curve["thresholds"][[1, 5, 7, 8]], [0.95, 0.6, 0.35, 0.34])

    res = metric.compute()
    ap = 0.2 * (1 + 1 + 3 / 6 + 4 / 7 + 5 / 10)  # precision where each fifth of recall is added
    assert res["aupr"] == pytest.approx(ap, abs=1e-12)
    assert res["auroc"] == pytest.approx(29.5 / 40, abs=1e-12)  # trapezoid = ordered pairs
    assert res["fpr95"] == pytest.approx(5 / 8)  # first point reaching TPR 1 (not 7/8 below)
    assert (res["n_frames"], res["n_pixels"], res["n_anomaly"]) == (3, 13, 5)
    s = np.concatenate([f[0][f[1] != IGN] for f in hand_frames()])
    y = np.concatenate([f[1][f[1] != IGN] for f in hand_frames()])
    assert average_precision_score(y, s) == pytest.approx(0.75)  # exact differs: 0.8 ranks 4th
    ref, _ = benchmark_reference(hand_frames(), q=2)
    assert all(res[k] == pytest.approx(ref[k], abs=1e-12) for k in KEYS)


def test_interpolated_quantile_edge():
    # known 0.1 .2 .3 .4 at q = 3: linspace (0, .5, 1) -> 0.1, 0.2 + 0.5 * 0.1, 0.4
    s = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.9], dtype=torch.float64)
    edges, pos, neg = frame_bins(s, torch.tensor([0, 0, 0, 0, 1]), num_quantiles=3)
    np.testing.assert_allclose(edges.numpy(), [0.1 - 0.01, 0.1, 0.25, 0.4, 0.9])
    np.testing.assert_array_equal(neg.numpy(), [0, 2, 1, 1, 0])
    np.testing.assert_array_equal(pos.numpy(), [0, 0, 0, 0, 1])


@pytest.mark.parametrize(("n_frames", "ties"), [(4, False), (1, True)])
def test_equals_sklearn_when_every_score_is_an_edge(n_frames, ties):
    # each class <= num_quantiles pixels per frame; ties only within one frame, since NumPy's
    # interpolation can put an edge one rounding step below a score (0.6 -> 0.5999999999999998),
    # which then ranks below the same score of another frame
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(n_frames):
        y = np.r_[np.ones(int(rng.integers(1, 12))), np.zeros(int(rng.integers(1, 20)))]
        s = rng.random(y.size) + 0.5 * y
        frames.append((np.round(s, 1) if ties else s, y.astype(np.uint8)))
    res = smiyc_curve_metrics(frames, num_quantiles=20)
    s, y = np.concatenate([f[0] for f in frames]), np.concatenate([f[1] for f in frames])
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert res["aupr"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert res["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert res["fpr95"] == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)


def test_binning_differs_from_exact_and_matches_benchmark():
    frames = random_frames(0)
    res = smiyc_curve_metrics(frames, num_quantiles=8)
    s = np.concatenate([f[0][f[1] != IGN] for f in frames])
    y = np.concatenate([f[1][f[1] != IGN] for f in frames])
    assert abs(res["aupr"] - average_precision_score(y, s)) > 1e-3
    ref, _ = benchmark_reference(frames, q=8)
    assert all(res[k] == pytest.approx(ref[k], abs=1e-12) for k in KEYS)


@pytest.mark.parametrize(("q", "ties"), [(384, False), (384, True), (16, True), (1, False)])
def test_matches_benchmark_transcription(q, ties):
    frames = random_frames(q + ties, ties=ties)
    metric = SMIYCCurve(num_quantiles=q)
    for s, y in frames:
        metric.update(s, y)
    ref, ref_curve = benchmark_reference(frames, q)
    res = metric.compute()
    assert all(res[k] == pytest.approx(ref[k], abs=1e-12) for k in KEYS)
    curve = metric.curve()
    for k, v in ref_curve.items():
        np.testing.assert_array_equal(curve[k], v, err_msg=k)  # same arithmetic as NumPy


def test_fpr95_takes_first_point_with_tpr_at_least_095():
    # 20 anomalies at 1..20, knowns at 0.5 + (0..9): TPR = 19/20 = 0.95 exactly at score 2
    s = np.r_[np.arange(1.0, 21.0), np.arange(10.0) + 0.5]
    y = np.r_[np.ones(20), np.zeros(10)].astype(np.uint8)
    res = smiyc_curve_metrics([(s, y)], num_quantiles=32)
    assert res["fpr95"] == pytest.approx(8 / 10)  # knowns 2.5 .. 9.5 above score 2, not 9/10
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert res["fpr95"] == fpr[np.argmax(tpr >= 0.95)]


def test_ignored_pixels_are_skipped():
    frames = random_frames(5)
    base = smiyc_curve_metrics(frames, num_quantiles=16)
    clean = [(s[y != IGN], y[y != IGN]) for s, y in frames]
    res = smiyc_curve_metrics(clean, num_quantiles=16)
    assert all(res[k] == base[k] for k in (*KEYS, "n_pixels", "n_anomaly"))
    relabelled = [(s, np.where(y == IGN, 7, y)) for s, y in frames]
    other = smiyc_curve_metrics(relabelled, 16, ignore_index=7)
    assert all(other[k] == base[k] for k in KEYS)


def test_frames_without_anomalies_or_valid_pixels():
    frames = random_frames(7)
    metric = SMIYCCurve(16)
    for s, y in frames:
        metric.update(s, y)
    with_known_only = metric.compute()
    without = smiyc_curve_metrics([f for k, f in enumerate(frames) if k != 2], 16)
    assert with_known_only["aupr"] < without["aupr"]  # the known-only frame adds false positives
    metric.update(np.zeros(5), np.full(5, IGN, np.uint8))  # all ignored: counted, adds nothing
    res = metric.compute()
    assert res["n_frames"] == len(frames) + 1
    assert all(res[k] == with_known_only[k] for k in (*KEYS, "n_pixels"))
    known = smiyc_curve_metrics([(s, np.where(y == 1, 0, y)) for s, y in frames], 16)
    assert math.isnan(known["aupr"]) and math.isnan(known["fpr95"]) and math.isnan(known["auroc"])
    empty = SMIYCCurve().compute()
    assert all(math.isnan(empty[k]) for k in KEYS) and empty["n_pixels"] == 0


def test_streaming_compaction_and_frame_order(monkeypatch):
    frames = random_frames(11, n_frames=8, ties=True)
    one_shot = smiyc_curve_metrics(frames, 64)
    monkeypatch.setattr(smiyc_curve, "_COMPACT_MIN", 1)  # merge after every frame
    metric = SMIYCCurve(64)
    for s, y in reversed(frames):
        metric.update(s, y)
    assert len(metric.pending) < len(frames) and metric.bins.shape[1] > 0  # merged on the way
    res = metric.compute()
    assert all(res[k] == pytest.approx(one_shot[k], abs=1e-12) for k in KEYS)
    assert res["n_frames"] == 8 and res["n_pixels"] == one_shot["n_pixels"]


def test_tied_top_edges_form_one_point():
    # saturated scores: every frame's top edge is 1.0; the result must not depend on frame order
    rng = np.random.default_rng(2)
    frames = [(np.clip(rng.random(50) * 1.5, 0, 1), (rng.random(50) < 0.3).astype(np.uint8))]
    frames += [(np.clip(rng.random(40) * 1.5, 0, 1), (rng.random(40) < 0.5).astype(np.uint8))]
    a, b = smiyc_curve_metrics(frames, 8), smiyc_curve_metrics(frames[::-1], 8)
    assert all(a[k] == pytest.approx(b[k], abs=1e-12) for k in KEYS)


def test_numpy_and_torch_inputs():
    frames = random_frames(13)
    ref = smiyc_curve_metrics(frames, 32)
    as_torch = [(torch.from_numpy(s), torch.from_numpy(y)) for s, y in frames]
    assert smiyc_curve_metrics(as_torch, 32) == ref
    ints = [(torch.tensor([3, 1, 2, 2]), torch.tensor([1, 0, 0, 1]))]
    floats = [(np.array([3.0, 1.0, 2.0, 2.0]), np.array([1, 0, 0, 1]))]
    assert smiyc_curve_metrics(ints) == smiyc_curve_metrics(floats)
    half = [(s.to(torch.float16), y) for s, y in as_torch]
    widened = [(s.double(), y) for s, y in half]
    assert smiyc_curve_metrics(half, 32) == smiyc_curve_metrics(widened, 32)


def test_rejects_bad_inputs():
    metric = SMIYCCurve()
    with pytest.raises(ValueError, match="differ"):
        metric.update(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="found \\[2\\]"):
        metric.update(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="NaN"):
        metric.update(np.array([0.0, np.nan]), np.array([0, 1]))
    with pytest.raises(ValueError, match="num_quantiles"):
        SMIYCCurve(num_quantiles=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    frames = random_frames(17, ties=True)
    on_gpu = [(torch.from_numpy(s).float().cuda(), torch.from_numpy(y).cuda()) for s, y in frames]
    on_cpu = [(s.cpu(), y.cpu()) for s, y in on_gpu]
    gpu, cpu = smiyc_curve_metrics(on_gpu, 384), smiyc_curve_metrics(on_cpu, 384)
    assert all(gpu[k] == pytest.approx(cpu[k], abs=1e-12) for k in KEYS)
