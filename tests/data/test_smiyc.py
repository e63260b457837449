"""SegmentMeIfYouCan readers: layout, anomaly targets, unlabelled frames, webp, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import features

from owslib.data.smiyc import SMIYCDataset, track_root
from owslib.data.validation import DatasetError
from owslib.labels import LabelError

LABELS = np.array([[0, 0, 1, 1], [0, 255, 1, 0], [255, 255, 0, 0]], np.uint8)


@pytest.fixture()
def anomaly_root(tmp_path: Path, add_smiyc_pair) -> Path:
    """RoadAnomaly21 as distributed: 2 validation frames with labels, 1 test frame without."""
    root = tmp_path / "smiyc"
    add_smiyc_pair(root, "dataset_AnomalyTrack", "validation0000", LABELS)
    add_smiyc_pair(root, "dataset_AnomalyTrack", "validation0001", LABELS[::-1].copy())
    add_smiyc_pair(root, "dataset_AnomalyTrack", "airplane0000", None)
    return root


def test_reads_anomaly_track(anomaly_root: Path) -> None:
    ds = SMIYCDataset(anomaly_root, "road_anomaly21")
    assert ds.names == ["validation0000", "validation0001"]
    assert [p.name for p in ds.unlabelled] == ["airplane0000.jpg"]
    image, target = ds[0]
    assert image.shape == (3, 3, 4) and image.dtype == torch.float32
    # targets are anomaly labels, unchanged: 0 known, 1 anomaly, 255 ignore
    assert target.dtype == torch.int64 and torch.equal(target, torch.from_numpy(LABELS).long())
    # the track folder itself is accepted as root
    assert SMIYCDataset(anomaly_root / "dataset_AnomalyTrack", "road_anomaly21").names == ds.names


def test_unlabelled_frames(anomaly_root: Path) -> None:
    keep = SMIYCDataset(anomaly_root, "road_anomaly21", unlabelled="keep")
    assert keep.names == ["airplane0000", "validation0000", "validation0001"]
    assert (keep.load_target(0) == 255).all()
    with pytest.raises(DatasetError, match="airplane0000.jpg"):
        SMIYCDataset(anomaly_root, "road_anomaly21", unlabelled="error")
    with pytest.raises(ValueError, match="unlabelled"):
        SMIYCDataset(anomaly_root, "road_anomaly21", unlabelled="drop")


@pytest.mark.skipif(not features.check("webp"), reason="Pillow without webp support")
def test_reads_obstacle_track_webp(tmp_path: Path, add_smiyc_pair) -> None:
    add_smiyc_pair(tmp_path, "dataset_ObstacleTrack", "curvy-street_000", LABELS, ext="webp")
    ds = SMIYCDataset(tmp_path, "road_obstacle21")
    image, target = ds.load(0)
    assert image.size == (4, 3) and np.array_equal(target, LABELS)


def test_missing_track_and_unknown_track(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=re.escape(str(tmp_path))):
        SMIYCDataset(tmp_path, "road_anomaly21")
    with pytest.raises(ValueError, match="road_anomaly21"):
        track_root(tmp_path, "lost_and_found")
    (tmp_path / "dataset_AnomalyTrack" / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images"):
        SMIYCDataset(tmp_path, "road_anomaly21")


def test_label_without_image(anomaly_root: Path) -> None:
    (anomaly_root / "dataset_AnomalyTrack" / "images" / "validation0001.jpg").unlink()
    with pytest.raises(DatasetError, match="validation0001_labels_semantic.png"):
        SMIYCDataset(anomaly_root, "road_anomaly21")


def test_bad_files_fail_by_name_or_are_reported(anomaly_root: Path, tmp_path: Path) -> None:
    folder = anomaly_root / "dataset_AnomalyTrack"
    bad_label = folder / "labels_masks" / "validation0000_labels_semantic.png"
    from PIL import Image

    Image.fromarray(np.full((3, 4), 7, np.uint8)).save(bad_label)  # 7: not 0 / 1 / 255
    bad_image = folder / "images" / "validation0001.jpg"
    bad_image.write_bytes(bad_image.read_bytes()[:50])
    ds = SMIYCDataset(anomaly_root, "road_anomaly21")
    with pytest.raises(LabelError, match=re.escape(str(bad_label))):
        ds[0]
    with pytest.raises(DatasetError, match=re.escape(str(bad_image))):
        ds[1]
    with pytest.raises(DatasetError, match="no usable"):
        SMIYCDataset(anomaly_root, "road_anomaly21", skip_bad=True, report_dir=tmp_path)
    report = json.loads((tmp_path / "bad_files_road_anomaly21.json").read_text())
    assert sorted(f["path"] for f in report["files"]) == sorted([str(bad_label), str(bad_image)])


def test_size_mismatch(tmp_path: Path, add_smiyc_pair) -> None:
    image, label = add_smiyc_pair(tmp_path, "dataset_AnomalyTrack", "v0", LABELS)
    from PIL import Image

    Image.fromarray(np.zeros((5, 4, 3), np.uint8)).save(image, format="JPEG")
    with pytest.raises(DatasetError, match=re.escape(str(label))):
        SMIYCDataset(tmp_path, "road_anomaly21")[0]
