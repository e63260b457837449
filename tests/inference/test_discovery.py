"""Novel-class discovery (leader rule, chunked and exact, on constructed feature maps with known
clusters), its IoU metric, and class-similarity accuracy against a lookup."""

from __future__ import annotations

import math

import pytest
import torch

from owslib.inference.discovery import (
    ClassSimilarity,
    NovelClassDiscovery,
    discovery_features,
    leader_cluster,
    parse_similarity_lookup,
)

K = 2  # known classes 0, 1; unknown classes 2, 3
NAMES = ("road", "car", "train", "motorcycle")


def _exact_leader(x, eta):
    """The sequential rule, pixel by pixel: join the nearest mean if closer than eta, else open."""
    means, counts, labels = [], [], []
    for p in x.double():
        if means:
            d = torch.stack([(p - m).norm() for m in means])
            j = int(d.argmin())
            if d[j] < eta:
                means[j] = (means[j] * counts[j] + p) / (counts[j] + 1)
                counts[j] += 1
                labels.append(j)
                continue
        means.append(p.clone())
        counts.append(1)
        labels.append(len(means) - 1)
    return torch.stack(means), labels


def _run(x, eta, chunk, max_classes=64):
    sums = torch.zeros(max_classes, x.shape[1], dtype=torch.float64)
    counts = torch.zeros(max_classes, dtype=torch.float64)
    n = leader_cluster(x, sums, counts, 0, eta, chunk, max_classes)
    return sums[:n] / counts[:n, None], counts[:n]


def test_chunk_of_one_is_exactly_the_sequential_rule():
    x = torch.randn(300, 3, generator=torch.Generator().manual_seed(0))
    means, counts = _run(x, eta=1.2, chunk=1)
    ref_means, ref_labels = _exact_leader(x, 1.2)
    assert means.shape == ref_means.shape
    torch.testing.assert_close(means, ref_means)
    assert counts.tolist() == [ref_labels.count(i) for i in range(len(ref_means))]


def _clusters(n_per=200, seed=0):
    """Three tight, well separated clusters in random order, with their true labels."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]])
    labels = torch.arange(3).repeat_interleave(n_per)
    x = centres[labels] + 0.05 * torch.randn(3 * n_per, 3, generator=g)
    order = torch.randperm(3 * n_per, generator=g)
    return x[order], labels[order]


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunked_rule_finds_separated_clusters_like_the_exact_rule(chunk):
    x, truth = _clusters()
    means, counts = _run(x, eta=0.5, chunk=chunk)
    ref_means, _ = _exact_leader(x, 0.5)
    assert len(means) == len(ref_means) == 3
    torch.testing.assert_close(means, ref_means)
    assert sorted(counts.tolist()) == [200.0, 200.0, 200.0]


def test_cap_on_classes_makes_later_pixels_join_the_nearest():
    x = torch.arange(10, dtype=torch.float64).view(-1, 1) * 10  # all pairwise far apart
    means, counts = _run(x, eta=0.5, chunk=3, max_classes=4)
    assert len(means) == 4 and counts.sum() == 10


def _feature_map():
    """A 1×3×8×8 feature map: left half cluster A (GT 'train'), right half cluster B
    (GT 'motorcycle'), bottom row known 'road' with A's features (a false positive)."""
    f = torch.zeros(1, 3, 8, 8)
    f[0, 0, :, :4] = 1.0  # A = e0
    f[0, 1, :, 4:] = 1.0  # B = e1
    target = torch.full((1, 8, 8), 2)
    target[0, :, 4:] = 3
    target[0, 7, :] = 0  # known pixels
    target[0, 0, 0] = 255  # void
    return f, target


def test_discovery_on_constructed_map_with_known_clusters():
    f, target = _feature_map()
    unknown = torch.ones(1, 8, 8, dtype=torch.bool)  # everything predicted unknown
    ncd = NovelClassDiscovery(len(NAMES), eta=0.5)
    ncd.update(f, unknown, target)
    r = ncd.compute(NAMES, K)
    assert r["n_discovered"] == 2
    train, moto = r["per_class"]["train"], r["per_class"]["motorcycle"]
    # train: 27 px (4×7 minus the void pixel); its class also holds the 4 road px of row 7 (FP)
    assert train["gt_pixels"] == 27 and train["intersection"] == 27
    assert train["iou"] == pytest.approx(27 / (27 + 4))
    # motorcycle: 28 px, its class holds 4 road px too
    assert moto["iou"] == pytest.approx(28 / (28 + 4))
    assert train["discovered_class"] != moto["discovered_class"]


def test_missed_pixels_are_false_negatives_and_means_persist_across_images():
    f, target = _feature_map()
    unknown = target >= K  # oracle mask: GT-unknown pixels only
    ncd = NovelClassDiscovery(len(NAMES), eta=0.5)
    half = unknown.clone()
    half[0, :4] = False  # first image: only the lower half is visited
    ncd.update(f, half, target)
    first = ncd.compute(NAMES, K)["per_class"]["train"]
    assert first["iou"] == pytest.approx(12 / 27)  # rows 4..6 found, the other 15 px missed
    ncd.update(f, unknown, target)  # the same image again: joins the two existing classes
    r = ncd.compute(NAMES, K)
    assert r["n_discovered"] == 2
    assert r["per_class"]["train"]["gt_pixels"] == 54


def test_subsample_bounds_clustering_but_every_pixel_is_assigned():
    g = torch.Generator().manual_seed(1)
    f = torch.zeros(1, 2, 30, 30)
    f[0, 0, :, :15] = 1.0
    f[0, 1, :, 15:] = 1.0
    f += 0.01 * torch.randn(f.shape, generator=g)
    target = torch.full((1, 30, 30), 2)
    target[0, :, 15:] = 3
    mask = torch.ones(1, 30, 30, dtype=torch.bool)
    a = NovelClassDiscovery(len(NAMES), eta=0.5, max_pixels=50, seed=3)
    a.update(f, mask, target)
    assert a.counts.sum() == 50  # only the subsample moved the means
    assert a.overlap.sum() == 900  # every unknown pixel was assigned
    b = NovelClassDiscovery(len(NAMES), eta=0.5, max_pixels=50, seed=3)
    b.update(f, mask, target)
    torch.testing.assert_close(a.means, b.means)  # deterministic
    assert a.compute(NAMES, K)["mean_iou"] == pytest.approx(1.0)


def test_absent_class_gives_nan_and_no_pixels_gives_zero():
    ncd = NovelClassDiscovery(len(NAMES))
    f = torch.zeros(1, 2, 4, 4)
    target = torch.full((1, 4, 4), 2)
    ncd.update(f, torch.zeros(1, 4, 4, dtype=torch.bool), target)
    r = ncd.compute(NAMES, K)["per_class"]
    assert r["train"]["iou"] == 0.0 and r["train"]["discovered_class"] is None
    assert math.isnan(r["motorcycle"]["iou"])


def test_feature_spaces():
    out = {
        "sem_logits": torch.tensor([3.0, 4.0]).view(1, 2, 1, 1),
        "embedding": torch.ones(1, 4, 1, 1),
    }
    assert discovery_features(out, "semantic").flatten().tolist() == [3.0, 4.0]
    assert discovery_features(out, "semantic_normalized").flatten().tolist() == pytest.approx(
        [0.6, 0.8]
    )
    assert discovery_features(out, "embedding_normalized").flatten().tolist() == pytest.approx(
        [0.5] * 4
    )
    with pytest.raises(ValueError, match="discovery space"):
        discovery_features(out, "rgb")


def test_similarity_lookup_parsing():
    assert parse_similarity_lookup("motorcycle:car, train:truck|bus") == {
        "motorcycle": ("car",),
        "train": ("truck", "bus"),
    }
    assert parse_similarity_lookup({"train": "truck"}) == {"train": ("truck",)}
    with pytest.raises(ValueError, match="UNKNOWN:KNOWN"):
        parse_similarity_lookup("motorcycle-car")


def test_class_similarity_accuracy_by_hand():
    # known 0 road, 1 car; unknown 2 train, 3 motorcycle
    target = torch.tensor([[[2, 2, 2, 2, 3, 3, 3, 0, 255]]])
    similar = torch.tensor([[[1, 1, 0, 0, 1, 1, 0, 1, 1]]])
    predicted = torch.tensor([[[1, 1, 1, 0, 1, 0, 0, 1, 1]]], dtype=torch.bool)
    sim = ClassSimilarity(len(NAMES), K)
    sim.update(similar, target, predicted)
    r = sim.compute(NAMES, {"motorcycle": ("car",), "train": ("car", "road")})["per_class"]
    moto = r["motorcycle"]
    assert moto["accuracy_oracle"] == pytest.approx(2 / 3)  # 2 of its 3 pixels -> car
    assert moto["accuracy"] == pytest.approx(1.0)  # its one predicted-unknown pixel -> car
    assert moto["most_similar"] == "car" and moto["pixels_oracle"] == 3 and moto["pixels"] == 1
    assert r["train"]["accuracy_oracle"] == 1.0  # either target counts
    assert "accuracy" not in ClassSimilarity(len(NAMES), K).compute(NAMES, {})["per_class"]["train"]
