"""Anomaly metrics (exact, histogram, streaming, per image) against scikit-learn and hand computation."""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from owslib.metrics import anomaly as anomaly_module
from owslib.metrics.anomaly import AnomalyMetric, anomaly_metrics
from owslib.metrics.histogram import dyadic_grid, histogram_counts, label_codes, regrid

IGN = 255
KEYS = ("aupr", "auroc", "fpr95")


def sklearn_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The references: AP, ROC AUC, FPR at the first TPR >= 0.95 (full ROC, ties grouped), best F1."""
    keep = labels != IGN
    s, y = np.asarray(scores, np.float64)[keep], labels[keep].astype(int)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    prec, rec, thr = precision_recall_curve(y, s)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0)[:-1]
    return {
        "aupr": average_precision_score(y, s),
        "auroc": roc_auc_score(y, s),
        "fpr95": fpr[np.argmax(tpr >= 0.95)],
        "best_f1": f1.max(),
        "best_f1_threshold": thr[np.argmax(f1)],
    }


def make_data(seed: int, n: int = 20_000, lo: float = -20.0, hi: float = 5.0, decimals: int = 1):
    """Overlapping scores in [lo, hi] rounded to create heavy ties; ~4 % anomalies, ~10 % ignored."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.04).astype(np.uint8)
    scores = rng.normal(lo + 0.6 * (hi - lo), 0.15 * (hi - lo), n) + 0.15 * (hi - lo) * labels
    scores = np.clip(np.round(scores, decimals), lo, hi)
    labels[rng.random(n) < 0.1] = IGN
    scores[labels == IGN] = rng.choice([np.nan, 1e6, -1e6], size=(labels == IGN).sum())
    return scores, labels


def test_hand_computed_four_pixels():
    # sorted by score: + - + -   (P = N = 2)
    scores = torch.tensor([0.4, 0.9, 0.1, 0.8], dtype=torch.float64)
    labels = torch.tensor([1, 1, 0, 0])
    expected = {
        "aupr": 0.5 * 1 + 0.5 * 2 / 3,  # recall steps at precision 1 and 2/3
        "auroc": 3 / 4,  # 3 of 4 (anomaly, known) pairs ordered
        "fpr95": 1 / 2,  # TPR reaches 1 at 0.4, where one of two known pixels is above
        "best_f1": 0.8,  # at 0.4: tp 2, fp 1, fn 0
        "best_f1_threshold": 0.4,
        "n_pixels": 4,
        "n_anomaly": 2,
    }
    for kwargs in ({}, {"mode": "histogram", "bins": 10, "range": (0, 1)}, {"mode": "histogram"}):
        out = anomaly_metrics(scores, labels, **kwargs)
        for k, v in expected.items():
            tol = 1e-4 if k == "best_f1_threshold" else 1e-12  # a bin edge at or below 0.4
            assert out[k] == pytest.approx(v, abs=tol), (kwargs, k)
        assert out["aupr_max_error"] == out["auroc_max_error"] == out["fpr95_max_error"] == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_matches_sklearn_with_heavy_ties(seed):
    scores, labels = make_data(seed, n=5000, decimals=0)  # ~25 distinct values
    ref = sklearn_metrics(scores, labels)
    out = anomaly_metrics(torch.from_numpy(scores), torch.from_numpy(labels))
    for k in (*KEYS, "best_f1", "best_f1_threshold"):
        assert out[k] == pytest.approx(ref[k], abs=1e-9), k
    assert out["n_pixels"] == int((labels != IGN).sum())
    assert out["n_anomaly"] == int((labels == 1).sum())


@pytest.mark.parametrize("value_range", [None, (-20.0, 5.0)])
def test_histogram_matches_sklearn_within_1e3_and_bound(value_range):
    scores, labels = make_data(3, n=200_000, decimals=2)
    ref = sklearn_metrics(scores, labels)
    images = torch.from_numpy(scores).view(8, 250, 100), torch.from_numpy(labels).view(8, 250, 100)
    out = anomaly_metrics(*images, mode="histogram", range=value_range)
    for k in KEYS:
        assert abs(out[k] - ref[k]) < 1e-3, k
        assert abs(out[k] - ref[k]) <= out[f"{k}_max_error"] + 1e-12, k
    assert 0 <= ref["best_f1"] - out["best_f1"] <= out["best_f1_max_error"] + 1e-12


@pytest.mark.parametrize("bins", [7, 50, 300])
def test_error_bounds_hold_for_coarse_bins_and_clamping(bins):
    rng = np.random.default_rng(bins)
    labels = (rng.random(3000) < 0.2).astype(np.uint8)
    scores = rng.normal(size=3000) * 4 + 2 * labels
    ref = sklearn_metrics(scores, labels)
    s, y = torch.from_numpy(scores), torch.from_numpy(labels)
    for value_range in (None, (-1.0, 1.0)):  # the second clamps most scores into the end bins
        out = anomaly_metrics(s, y, mode="histogram", bins=bins, range=value_range)
        for k in KEYS:
            assert abs(out[k] - ref[k]) <= out[f"{k}_max_error"] + 1e-12, (value_range, k)
        assert 0 <= ref["best_f1"] - out["best_f1"] <= out["best_f1_max_error"] + 1e-12


def per_image_reference(scores: np.ndarray, labels: np.ndarray) -> tuple[dict, int]:
    rows = []
    for s, y in zip(scores, labels, strict=True):
        valid = y != IGN
        if len(np.unique(y[valid])) == 2:  # Hendrycks et al. skip images lacking a class
            rows.append(sklearn_metrics(s, y))
    return {k: np.mean([r[k] for r in rows]) for k in rows[0]}, len(rows)


def test_per_image_matches_sklearn_loop():
    scores, labels = make_data(4, n=6 * 40 * 50, decimals=1)
    scores, labels = scores.reshape(6, 40, 50), labels.reshape(6, 40, 50)
    labels[1][labels[1] == 1] = 0  # only known pixels
    labels[2][labels[2] == 0] = 1  # only anomalies
    labels[3] = IGN  # nothing valid
    ref, used = per_image_reference(scores, labels)
    s, y = torch.from_numpy(scores), torch.from_numpy(labels)
    exact = anomaly_metrics(s, y, aggregation="per_image")
    hist = anomaly_metrics(s, y, aggregation="per_image", mode="histogram")
    for out, tol in ((exact, 1e-9), (hist, 1e-3)):
        assert (out["n_images"], out["n_skipped"]) == (used, 3)
        for k in KEYS:
            assert out[k] == pytest.approx(ref[k], abs=tol), k
    assert exact["best_f1"] == pytest.approx(ref["best_f1"], abs=1e-9)


def test_streaming_equals_single_call():
    scores, labels = make_data(5, n=60_000, decimals=3)
    s, y = torch.from_numpy(scores).view(6, -1), torch.from_numpy(labels).view(6, -1)
    s[3:] *= 3  # later batches leave the first batch's range: the adaptive grid must grow
    ref = sklearn_metrics(s.numpy(), y.numpy())
    for aggregation in ("pooled", "per_image"):
        for value_range in (None, (-60.0, 15.0)):
            kw = {"aggregation": aggregation, "range": value_range, "bins": 20_000}
            single = anomaly_metrics(s, y, mode="histogram", **kw)
            metric = AnomalyMetric(**kw)
            for i in range(0, 6, 2):
                metric.update(s[i : i + 2], y[i : i + 2])
            streamed = metric.compute()
            if value_range is not None or aggregation == "per_image":  # same grids: same counts
                for k, v in single.items():
                    assert streamed[k] == pytest.approx(v, abs=1e-12, nan_ok=True), k
            elif aggregation == "pooled":  # the grid was coarsened on the way: still within bound
                for k in KEYS:
                    assert abs(streamed[k] - ref[k]) <= streamed[f"{k}_max_error"] + 1e-12
                    assert abs(streamed[k] - ref[k]) < 1e-3
    metric.reset()
    assert metric.compute()["n_pixels"] == 0


def test_adaptive_grid_keeps_its_resolution_while_the_range_creeps():
    g = torch.Generator().manual_seed(10)
    metric, seen = AnomalyMetric(), []
    for _ in range(10):  # each batch's extremes differ a little from the previous ones
        s = torch.randn(20_000, generator=g)
        metric.update(s, (s > 1.5).to(torch.uint8))
        seen.append(s)
    everything = torch.cat(seen)
    assert (
        metric.grid[0] == dyadic_grid(float(everything.min()), float(everything.max()), 100_000)[0]
    )


def test_chunked_updates_equal_whole_updates(monkeypatch):
    scores, labels = make_data(9, n=24_000, decimals=3)
    s, y = torch.from_numpy(scores).view(8, -1), torch.from_numpy(labels).view(8, -1)
    whole = [
        anomaly_metrics(s, y, mode="histogram", aggregation=a, range=r)
        for a in ("pooled", "per_image")
        for r in (None, (-20.0, 5.0))
    ]
    monkeypatch.setattr(anomaly_module, "CHUNK_PIXELS", 5000)  # not a multiple of the image size
    chunked = [
        anomaly_metrics(s, y, mode="histogram", aggregation=a, range=r)
        for a in ("pooled", "per_image")
        for r in (None, (-20.0, 5.0))
    ]
    for w, c in zip(whole, chunked, strict=True):
        assert c == pytest.approx(w, abs=1e-12)


def test_regrid_is_lossless_and_merge_aligns_grids():
    rng = np.random.default_rng(6)
    s = torch.from_numpy(rng.normal(size=(1, 5000)))
    y = torch.from_numpy((rng.random((1, 5000)) < 0.3).astype(np.uint8))
    fine = dyadic_grid(-1.0, 1.0, 1000)
    coarse = dyadic_grid(-40.0, 3.0, 1000, min_exp=fine[0])
    s_fine = s.clamp(*fine_bounds(fine, 1000))

    def counts(grid):
        codes = label_codes(y, IGN)
        return histogram_counts(s_fine, codes, 0.0, math.ldexp(1, -grid[0]), grid[1], 1000)[0]

    torch.testing.assert_close(regrid(counts(fine), fine, coarse), counts(coarse))
    a, b, both = AnomalyMetric(bins=1000), AnomalyMetric(bins=1000), AnomalyMetric(bins=1000)
    a.update(s_fine, y)
    b.update(s * 20, y)
    both.update(torch.cat([s_fine, s * 20], 1), torch.cat([y, y], 1))
    a.merge(b)
    assert a.grid == both.grid
    torch.testing.assert_close(a.hist, both.hist)


def fine_bounds(grid, bins):
    e, k0 = grid
    return math.ldexp(k0, e), math.ldexp(k0 + bins, e) - math.ldexp(1, e - 1)


def test_sync_aligns_grids_across_ranks(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # spawned processes import the worker
    metrics_ddp_worker = importlib.import_module("metrics_ddp_worker")
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    store = str(tmp_path / "store")
    procs = [ctx.Process(target=metrics_ddp_worker.run, args=(r, store, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    for rank1_empty in (False, True):
        data = [metrics_ddp_worker.rank_data(r) for r in ((0,) if rank1_empty else (0, 1))]
        s, y = torch.cat([d[0] for d in data]), torch.cat([d[1] for d in data])
        for aggregation in ("pooled", "per_image"):
            ref = anomaly_metrics(s, y, aggregation=aggregation)
            out = results[0][aggregation, rank1_empty]
            assert results[1][aggregation, rank1_empty] == out  # both ranks hold the same result
            assert out["n_pixels"] == ref["n_pixels"]
            for k in KEYS:
                assert abs(out[k] - ref[k]) <= out[f"{k}_max_error"] + 1e-12, (aggregation, k)


@pytest.mark.parametrize("mode", ["exact", "histogram"])
def test_one_class_and_empty_inputs_give_documented_nans(mode):
    s = torch.tensor([0.2, 0.7, -3.0, 9.0])
    known = anomaly_metrics(s, torch.zeros(4, dtype=torch.uint8), mode=mode)
    assert all(math.isnan(known[k]) for k in ("aupr", "auroc", "fpr95", "best_f1"))
    anomalous = anomaly_metrics(s, torch.ones(4, dtype=torch.uint8), mode=mode)
    assert anomalous["aupr"] == anomalous["best_f1"] == 1.0
    assert math.isnan(anomalous["auroc"]) and math.isnan(anomalous["fpr95"])
    for labels in (torch.full((4,), IGN), torch.zeros(0, dtype=torch.long)):
        out = anomaly_metrics(s[: len(labels)], labels, mode=mode)
        assert out["n_pixels"] == 0 and math.isnan(out["aupr"]) and math.isnan(out["auroc"])
    per_image = anomaly_metrics(
        s.view(2, 2), torch.tensor([[0, 0], [1, IGN]]), aggregation="per_image", mode=mode
    )
    assert (per_image["n_images"], per_image["n_skipped"]) == (0, 2)
    assert math.isnan(per_image["aupr"])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_low_and_high_precision_inputs(dtype):
    scores, labels = make_data(7, n=20_000, lo=-8.0, hi=4.0, decimals=3)
    s = torch.from_numpy(scores).to(dtype)
    ref = sklearn_metrics(s.double().numpy(), labels)  # the reference sees the same rounded scores
    y = torch.from_numpy(labels)
    exact = anomaly_metrics(s, y)
    hist = anomaly_metrics(s, y, mode="histogram")
    for k in KEYS:
        assert exact[k] == pytest.approx(ref[k], abs=1e-9)
        assert hist[k] == pytest.approx(ref[k], abs=1e-3)


def test_input_errors():
    s, y = torch.rand(4), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="found \\[2\\]"):
        anomaly_metrics(s, y)
    with pytest.raises(ValueError, match="found"):
        AnomalyMetric().update(s, y)
    with pytest.raises(ValueError, match="differ"):
        anomaly_metrics(s, y[:3])
    with pytest.raises(ValueError, match="NaN"):
        AnomalyMetric().update(torch.tensor([0.1, math.nan]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="range"):
        AnomalyMetric().update(torch.tensor([0.1, math.inf]), torch.tensor([0, 1]))
    inf = anomaly_metrics(
        torch.tensor([-math.inf, 0.5, math.inf]),
        torch.tensor([0, 0, 1]),
        mode="histogram",
        range=(0, 1),
    )
    assert inf["aupr"] == 1.0 and inf["auroc"] == 1.0
    with pytest.raises(ValueError, match="range"):
        AnomalyMetric(range=(1, 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_matches_cpu():
    scores, labels = make_data(8, n=50_000, decimals=3)
    s, y = torch.from_numpy(scores).float(), torch.from_numpy(labels)
    for aggregation in ("pooled", "per_image"):
        cpu = anomaly_metrics(
            s.view(5, -1), y.view(5, -1), aggregation=aggregation, mode="histogram"
        )
        gpu = anomaly_metrics(
            s.view(5, -1).cuda(), y.view(5, -1).cuda(), aggregation=aggregation, mode="histogram"
        )
        assert gpu == pytest.approx(cpu, abs=1e-12, nan_ok=True)
