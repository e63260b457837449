"""Class weights: hand-computed counts and weights, absent classes, the cache."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from owslib.data import class_weights as cw
from owslib.data.cityscapes import CityscapesDataset
from owslib.data.class_weights import compute_class_weights, weights_from_counts
from owslib.labels import get_split


@pytest.fixture()
def index_labels(tmp_path: Path, write_png) -> list[Path]:
    """Class-index label files with K = 4: class 0 × 8, 1 × 4, 2 × 2, 3 × 0 pixels, 6 ignored."""
    a = np.array([[0, 0, 0, 0], [1, 1, 2, 255]], np.uint8)
    b = np.array([[0, 0, 0, 0], [1, 1, 2, 255], [255, 255, 255, 255]], np.uint8)
    return [write_png(tmp_path / "a.png", a), write_png(tmp_path / "b.png", b)]


F = np.array([8, 4, 2]) / 14


def test_counts(index_labels: list[Path]) -> None:
    assert cw.count_pixels(index_labels, 4).tolist() == [8, 4, 2, 0]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("inverse_frequency", [*(1 / (3 * F)), 0.0]),  # 7/12, 7/6, 7/3
        ("median_frequency", [*(F[1] / F), 0.0]),  # 0.5, 1, 2
        ("log", [*(1 / np.log(1.02 + F)), 0.0]),
        ("none", [1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_weights_by_hand(
    index_labels: list[Path], method: str, expected: list[float], caplog
) -> None:
    with caplog.at_level(logging.WARNING):
        weights = compute_class_weights(index_labels, 4, method)
    assert weights.dtype == np.float32 and weights.shape == (4,)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    if method != "none":
        assert "[3]" in caplog.text  # the absent class is reported


def test_inverse_frequency_keeps_mean_weight_one() -> None:
    counts = np.array([500, 120, 7, 0, 33])
    w = weights_from_counts(counts, "inverse_frequency")
    assert np.isclose((counts / counts.sum() * w).sum(), 1.0) and w[3] == 0


def test_label_id_files_with_split(tmp_path: Path, write_png) -> None:
    # road (→0), car (→13), train (unknown when held out), unlabeled (void) and license plate (255)
    path = write_png(tmp_path / "l.png", np.array([[7, 7, 7, 26], [31, 31, 0, 255]], np.uint8))
    heldout = get_split("cityscapes_heldout")
    counts = cw.count_pixels([path], heldout.num_known, heldout)
    assert counts.shape == (16,) and counts[0] == 3 and counts[13] == 1 and counts.sum() == 4
    full = get_split("cityscapes")
    assert cw.count_pixels([path], full.num_known, full)[16] == 2
    assert compute_class_weights([path], split_def=heldout).shape == (16,)


def test_dataset_input_matches_manual_counts(tiny_root: Path) -> None:
    ds = CityscapesDataset(tiny_root, "val", get_split("cityscapes_heldout"))
    k = ds.split_def.num_known
    manual = sum(np.bincount(ds.load_target(i).ravel(), minlength=256)[:k] for i in range(len(ds)))
    weights = compute_class_weights(ds, method="median_frequency")
    present = manual > 0
    f = manual[present] / manual.sum()
    np.testing.assert_allclose(weights[present], np.median(f) / f, rtol=1e-5)
    assert (weights[~present] == 0).all()


def test_cache_created_and_reused(index_labels: list[Path], tmp_path: Path, monkeypatch) -> None:
    cache_dir = tmp_path / "cache"
    first = compute_class_weights(index_labels, 4, "log", cache_dir)
    files = list((cache_dir / "class_weights").glob("*.json"))
    assert len(files) == 1 and len(files[0].stem) == 64
    assert not list((cache_dir / "class_weights").glob("*.pkl"))

    def no_pass(*args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("the labels were read again despite the cache")

    monkeypatch.setattr(cw, "count_pixels", no_pass)
    np.testing.assert_array_equal(compute_class_weights(index_labels, 4, "log", cache_dir), first)
    st = index_labels[0].stat()
    os.utime(
        index_labels[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9)
    )  # a changed file: new key
    with pytest.raises(AssertionError, match="read again"):
        compute_class_weights(index_labels, 4, "log", cache_dir)
    with pytest.raises(AssertionError, match="read again"):
        compute_class_weights(index_labels, 4, "inverse_frequency", cache_dir)


def test_corrupt_cache_is_recomputed(index_labels: list[Path], tmp_path: Path) -> None:
    first = compute_class_weights(index_labels, 4, "log", tmp_path)
    (cache,) = (tmp_path / "class_weights").glob("*.json")
    cache.write_text("{broken")
    np.testing.assert_allclose(compute_class_weights(index_labels, 4, "log", tmp_path), first)


def test_bad_arguments(index_labels: list[Path]) -> None:
    with pytest.raises(ValueError, match="median"):
        compute_class_weights(index_labels, 4, "sqrt")
    with pytest.raises(ValueError, match="num_classes"):
        compute_class_weights(index_labels)
    with pytest.raises(ValueError, match="no pixel"):
        weights_from_counts(np.zeros(3), "log")
