"""Evaluation protocol: mIoU, both anomaly aggregations against the exact reference, per-image rows,
anomaly targets, open-world metrics, output files, bounded distance memory."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import owslib.inference.gaussian as inference
from owslib.evaluation.passes import evaluate_model
from owslib.evaluation.protocol import EvalOptions, anomaly_labels
from owslib.inference.gaussian import class_distances, nearest_class
from owslib.inference.scorers import SCORERS, anomaly_scores, available_scorers
from owslib.losses import ClassStatistics
from owslib.metrics import AnomalyMetric, anomaly_metrics
from owslib.plots import curve_points
from owslib.report import metrics_tables, write_evaluation

K = 3
CPU = torch.device("cpu")
NAMES = ("a", "b", "c")


@pytest.fixture(autouse=True, scope="module")
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Oracle(nn.Module):
    """Reads the target from image channel 0: perfect logits on known pixels, zero logits and
    embedding on unknown ones (fused score 1), embedding norm 2 on known ones."""

    def forward(self, image):
        t = image[:, 0].long()
        known = t < K
        onehot = F.one_hot(torch.where(known, t, 0), K).permute(0, 3, 1, 2).float()
        logits = 10.0 * onehot * known[:, None]
        emb = torch.zeros(image.shape[0], K, *image.shape[2:])
        emb[:, 0] = known.float() * 2.0
        return {"sem_logits": logits, "embedding": emb}


class Passthrough(nn.Module):
    """Channels 0..K-1 of the image are the logits, the next two the embedding."""

    def forward(self, image):
        return {"sem_logits": 3.0 * image[:, :K], "embedding": image[:, K : K + 2]}


def _batches(unknown=True):
    torch.manual_seed(0)
    out = []
    for _ in range(3):
        target = torch.randint(0, K, (2, 8, 8))
        if unknown:
            target[:, :2, :2] = K  # an unknown object of class K
            target[:, 5:7, 5:7] = K + 1  # and one of class K + 1
        target[:, -1] = 255  # void
        image = torch.stack([target.float(), target.float() * 0, target.float() * 0], dim=1)
        out.append((image, target))
    return out


def _random_batches(n=4, b=2, h=16, w=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        image = torch.randn(b, K + 2, h, w, generator=g)
        target = torch.randint(0, K, (b, h, w), generator=g)
        target[:, 3:8, 4:10] = K  # unknown object, made a little easier to find
        image[:, K:, 3:8, 4:10] *= 0.3
        target[:, 0] = 255
        if i == 0:
            target[0] = torch.randint(0, K, (h, w), generator=g)  # an image without anomaly
        out.append((image, target))
    return out


def _stats(scale=10.0, var=1.0):
    s = ClassStatistics(K)
    s.mean.copy_(scale * torch.eye(K))
    s.var.fill_(var)
    s.valid.fill_(True)
    return s


def _spread_stats():
    """Class Gaussians wide enough that random logits get spread-out Gaussian scores."""
    return _stats(scale=2.0, var=16.0)


def _evaluate(batches, model=None, stats=None, **kw):
    kw.setdefault("bins", 1000)
    return evaluate_model(
        model or Oracle(),
        stats or _stats(),
        batches,
        num_classes=K,
        class_names=NAMES,
        unknown_names=kw.pop("unknown_names", ("u1", "u2")),
        device=CPU,
        **kw,
    )


def test_anomaly_labels_encoding():
    t = torch.tensor([0, 2, 3, 4, 255])
    assert anomaly_labels(t, 3).tolist() == [0, 0, 1, 1, 255]


def test_oracle_model_gets_perfect_scores_in_both_aggregations():
    m = _evaluate(_batches())
    assert m["miou"] == pytest.approx(1.0)
    assert set(m["iou"]) == set(NAMES)
    assert m["n_images"] == 6
    assert set(m["anomaly"]) == set(available_scorers(("sem_logits", "embedding")))
    assert set(SCORERS) <= set(m["anomaly"])
    for scorer in ("contrastive", "fused", "gaussian"):
        for agg in ("pooled", "per_image"):
            r = m["anomaly"][scorer][agg]
            assert (r["auroc"], r["aupr"], r["fpr95"]) == pytest.approx((1.0, 1.0, 0.0))
            assert agg in r["convention"]
    assert m["anomaly"]["fused"]["per_image"]["n_images"] == 6
    assert m["protocol"]["resolution"].startswith("native")
    assert m["protocol"]["image_sizes"] == ["8x8"]
    assert tuple(m["protocol"]["options"]["scorers"]) == available_scorers(
        ("sem_logits", "embedding")
    )
    for key in ("pooled", "per_image", "anomaly", "components", "discovery", "similarity"):
        assert len(m["conventions"][key]) > 40
    json.dumps(m)  # JSON-able as it is


@pytest.mark.parametrize("aggregation", ["pooled", "per_image"])
def test_streamed_metrics_match_the_exact_reference(aggregation):
    batches = _random_batches()
    m = _evaluate(batches, Passthrough(), _spread_stats(), bins=100_000, components=False)
    maps = {s: [] for s in SCORERS}
    labels = []
    for image, target in batches:
        out = anomaly_scores(Passthrough()(image), _spread_stats())
        for s in SCORERS:
            maps[s].append(out[s])
        labels.append(anomaly_labels(target, K))
    labels = torch.cat(labels)
    for s in SCORERS:
        ref = anomaly_metrics(torch.cat(maps[s]), labels, aggregation=aggregation)
        got = m["anomaly"][s][aggregation]
        for key in ("aupr", "auroc", "fpr95"):
            assert abs(got[key] - ref[key]) <= got[f"{key}_max_error"] + 1e-9, (s, key)
            assert got[key] == pytest.approx(ref[key], abs=2e-3), (s, key)
    assert m["anomaly"]["fused"]["per_image"]["n_skipped"] == 1  # the image without anomaly


def test_per_image_rows_match_exact_per_image_metrics(tmp_path):
    batches = _random_batches(n=2)
    m = _evaluate(batches, Passthrough(), bins=100_000, components=False)
    write_evaluation(tmp_path, m, "embedded", "cityscapes_heldout")
    rows = pd.read_csv(tmp_path / "per_image.csv")
    assert len(rows) == 4 and len(m.rows) == 4
    assert (
        json.loads((tmp_path / "metrics.json").read_text())["files"]["per_image"] == "per_image.csv"
    )
    images = [(im[i : i + 1], t[i : i + 1]) for im, t in batches for i in range(len(t))]
    for (image, target), (_, row) in zip(images, rows.iterrows(), strict=True):
        fused = anomaly_scores(Passthrough()(image), _stats(), scorers=("fused",))["fused"]
        ref = anomaly_metrics(fused, anomaly_labels(target, K))
        assert row["n_pixels"] == ref["n_pixels"] and row["n_anomaly"] == ref["n_anomaly"]
        if ref["n_anomaly"]:
            assert row["fused_aupr"] == pytest.approx(ref["aupr"], abs=1e-3)
            assert row["fused_auroc"] == pytest.approx(ref["auroc"], abs=1e-3)
        else:
            assert math.isnan(row["fused_aupr"])


def test_split_without_unknowns_reports_no_anomaly_or_open_world_metrics():
    batches = _batches(unknown=False)
    m = _evaluate(batches, bins=100, unknown_names=())
    assert "anomaly" not in m and "components" not in m and "discovery" not in m
    assert m["miou"] == pytest.approx(1.0)


def test_anomaly_targets_skip_closed_set_and_open_world_metrics():
    batches = [(im, anomaly_labels(t, K)) for im, t in _random_batches(n=2, h=40, w=40)]
    m = _evaluate(
        batches, Passthrough(), target_kind="anomaly", component_track="obstacle", unknown_names=()
    )
    assert "miou" not in m and "discovery" not in m and "similarity" not in m
    assert m["protocol"]["target_kind"] == "anomaly"
    comp = m["components"]["fused"]
    assert comp["track"] == "obstacle" and comp["min_pred_size"] == 50
    assert comp["threshold"] == m["anomaly"]["fused"]["pooled"]["best_f1_threshold"]
    assert comp["n_images"] == 4
    tables = metrics_tables(m, "road_obstacle21", "cityscapes")
    assert "per_class" not in tables and "components" in tables


def test_open_world_metrics_are_reported():
    m = _evaluate(_batches())
    disc = m["discovery"]
    assert set(disc["pipeline"]["per_class"]) == {"u1", "u2"}
    assert disc["space"] == "semantic_normalized" and disc["eta"] == 0.5
    # the oracle model maps every unknown pixel to one zero feature: one discovered class,
    # which both unknown classes overlap completely
    oracle = disc["oracle"]
    assert oracle["n_discovered"] == 1
    assert oracle["per_class"]["u1"]["iou"] == pytest.approx(0.5)
    sim = m["similarity"]["per_class"]
    assert sim["u1"]["pixels_oracle"] == 24 and sim["u1"]["pixels"] == 24
    assert "accuracy" not in sim["u1"]  # not in the lookup
    m = _evaluate(_batches(), similarity_lookup="u1:a,u2:b|c")
    sim = m["similarity"]["per_class"]
    assert sim["u1"]["accuracy"] == pytest.approx(1.0)  # zero logits: equally far, argmin -> a
    assert sim["u2"]["accuracy_oracle"] == pytest.approx(0.0)


class _Named(torch.utils.data.Dataset):
    def __init__(self, batches):
        self.items = [(im[i], t[i]) for im, t in batches for i in range(len(t))]
        self.names = [f"img{i}" for i in range(len(self.items))]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_evaluation_writes_nothing_and_the_report_writes_everything(tmp_path, monkeypatch):
    loader = torch.utils.data.DataLoader(_Named(_batches()), batch_size=4)
    monkeypatch.chdir(tmp_path)
    m = _evaluate(
        loader, n_maps=2, scorers=("max_logit", "fused"), map_scorers=("fused", "max_logit")
    )
    assert list(tmp_path.iterdir()) == []  # evaluation computes; it writes no file
    assert [x["name"] for x in m.maps] == ["img0", "img5"] and set(m.curves) == {
        "max_logit",
        "fused",
    }
    json.dumps(m)  # the metrics part is plain JSON
    write_evaluation(
        tmp_path,
        _evaluate(
            loader, n_maps=2, scorers=("max_logit", "fused"), map_scorers=("fused", "max_logit")
        ),
        "embedded",
        "cityscapes_heldout",
    )
    m = json.loads((tmp_path / "metrics.json").read_text())
    for name in ("per_image.csv", "curves.csv", "pr_curves.png", "roc_curves.png"):
        assert (tmp_path / name).is_file(), name
    maps = sorted(p.name for p in (tmp_path / "anomaly_maps").iterdir())
    # evenly spaced over the dataset: its first and last image, named as the dataset names them
    assert maps == [f"img{i}{s}.png" for i in (0, 5) for s in ("_fused", "_image", "_max_logit")]
    assert list(pd.read_csv(tmp_path / "per_image.csv")["image"]) == loader.dataset.names
    curves = pd.read_csv(tmp_path / "curves.csv")
    assert set(curves["scorer"]) == {"max_logit", "fused"}
    assert m["files"]["pr_curves"] == "pr_curves.png"


def test_curve_points_agree_with_the_metrics():
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(20_000, generator=g) < 0.2).to(torch.uint8)
    scores = torch.rand(20_000, generator=g) + 0.5 * labels
    metric = AnomalyMetric(bins=5000)
    metric.update(scores, labels)
    res = metric.compute()
    c = curve_points(metric, max_points=400)
    assert len(c["tpr"]) <= 410 and (c["tpr"][-1], c["fpr"][-1]) == (1.0, 1.0)
    assert np.trapezoid(c["tpr"], c["fpr"]) == pytest.approx(res["auroc"], abs=2e-3)
    first95 = np.argmax(c["tpr"] >= 0.95)
    assert c["fpr"][first95] == pytest.approx(res["fpr95"], abs=5e-3)


def test_nearest_class_is_chunked_without_changing_results(monkeypatch):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, K, 9, 7, generator=g) * 5
    stats = _stats()
    stats.valid[1] = False
    full = class_distances(logits, stats)
    monkeypatch.setattr(inference, "DISTANCE_CHUNK_ELEMENTS", 2 * K * 7)  # one row per chunk
    dmin, arg = nearest_class(logits, stats)
    torch.testing.assert_close(dmin, full.min(1).values)
    assert torch.equal(arg, full.argmin(1))


def test_options_are_validated():
    with pytest.raises(ValueError, match="target_kind"):
        EvalOptions(target_kind="masks")
    with pytest.raises(ValueError, match="energy"):
        EvalOptions(component_scorers=("energy",))


def test_smiyc_curve_convention_is_reported_per_frame():
    from owslib.inference.scorers import anomaly_scores
    from owslib.metrics.smiyc_curve import smiyc_curve_metrics

    batches = _random_batches(n=3, b=2)
    model, stats = Passthrough(), _spread_stats()
    m = _evaluate(batches, model=model, stats=stats, curve="smiyc", scorers=("max_logit", "fused"))
    frames = []
    for image, target in batches:
        maps = anomaly_scores(model(image), stats, scorers=("max_logit",))
        labels = anomaly_labels(target, K)
        frames += [(maps["max_logit"][i], labels[i]) for i in range(image.shape[0])]
    expected = smiyc_curve_metrics(frames)
    got = m["anomaly"]["max_logit"]["smiyc"]
    assert got["n_frames"] == 6
    for key in ("aupr", "fpr95", "auroc"):
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key
    assert "768 percentile" in got["convention"]
    assert "smiyc" not in _evaluate(batches, model=model, stats=stats)["anomaly"]["fused"]
    with pytest.raises(ValueError, match="curve"):
        EvalOptions(curve="binned")


def test_gaussian_ranks_exactly_where_eq12_saturates():
    # Far-away logits: s_k = exp(-d/2) underflows, 1 - max s_k is 1.0 for every pixel, yet the
    # ranking metrics of "gaussian" stay exact, ranked by 1/2 min d (the same order).
    g = torch.Generator().manual_seed(3)
    stats = _stats(scale=10.0, var=1e-2)
    batches = []
    for _ in range(2):
        target = torch.randint(0, K, (2, 8, 8), generator=g)
        target[:, :3, :3] = K
        image = torch.randn(2, K + 2, 8, 8, generator=g) * 3 + 20.0 * (target >= K).unsqueeze(1)
        batches.append((image, target))
    m = _evaluate(batches, Passthrough(), stats, scorers=("gaussian",), components=False)
    value = anomaly_scores(Passthrough()(batches[0][0]), stats, scorers=("gaussian",))["gaussian"]
    assert (value == 1.0).float().mean() > 0.9  # Eq. 12 saturated
    d = torch.cat(
        [0.5 * nearest_class(Passthrough()(im)["sem_logits"], stats)[0] for im, _ in batches]
    )
    labels = torch.cat([anomaly_labels(t, K) for _, t in batches])
    ref = anomaly_metrics(d, labels, mode="exact")
    got = m["anomaly"]["gaussian"]["pooled"]
    for key in ("aupr", "auroc", "fpr95"):
        assert got[key] == pytest.approx(ref[key], abs=1e-3), key
        assert got[f"{key}_max_error"] < 1e-3, key
