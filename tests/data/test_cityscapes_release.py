"""Cityscapes reader, release side: flavours and label encodings, release counts, the official test
split, and ``skip_bad`` reporting every bad input instead of failing."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from owslib.config import DataConfig
from owslib.data.cityscapes import CityscapesDataset, DatasetError, list_samples, release_warning
from owslib.data.class_weights import compute_class_weights
from owslib.labels import IGNORE_INDEX, LabelError, get_split

CS = get_split("cityscapes")


def test_train_id_labels_and_jpeg_images(tmp_path: Path, write_png) -> None:
    train_ids = np.array([[0, 13, 16], [18, 255, 10]], np.uint8)
    image = tmp_path / "leftImg8bit" / "train" / "bdd" / "s1_leftImg8bit.jpg"
    image.parent.mkdir(parents=True)
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(image, format="JPEG")
    write_png(tmp_path / "gtFine" / "train" / "bdd" / "s1_gtFine_labelTrainIds.png", train_ids)
    ds = CityscapesDataset(tmp_path, "train", get_split("bdd_anomaly3"), label_format="train_ids")
    assert ds.names == ["s1"] and ds.samples[0][0] == image
    k = 16  # bdd_anomaly3: train → 16, motorcycle → 17, bicycle → 18 (unknowns after the known)
    assert ds.load_target(0).tolist() == [[0, 13, k], [k + 2, IGNORE_INDEX, 10]]
    # the labelIds reader does not see trainId files: the image has no label for it
    with pytest.raises(DatasetError, match="s1_leftImg8bit.jpg"):
        CityscapesDataset(tmp_path, "train", CS)
    # class weights read the same encoding
    weights = compute_class_weights(ds, method="inverse_frequency")
    assert weights.shape == (16,) and weights[0] > 0 and weights[13] > 0 and weights[1] == 0
    with pytest.raises(ValueError, match="label_format"):
        list_samples(tmp_path, "train", label_format="anomaly")


def test_train_id_out_of_table(tmp_path: Path, write_png) -> None:
    image = tmp_path / "leftImg8bit" / "val" / "c" / "s_leftImg8bit.png"
    write_png(image, np.zeros((2, 2, 3), np.uint8))
    label = write_png(
        tmp_path / "gtFine" / "val" / "c" / "s_gtFine_labelTrainIds.png",
        np.array([[0, 19], [200, 255]], np.uint8),
    )
    ds = CityscapesDataset(tmp_path, "val", CS, label_format="train_ids")
    with pytest.raises(LabelError, match=re.escape(str(label)) + r".*\[19, 200\]"):
        ds.load_target(0)


def test_from_config_flavours(tiny_root: Path) -> None:
    cfg = DataConfig(dataset="embedded", root=str(tiny_root), split_preset="cityscapes_heldout")
    assert CityscapesDataset.from_config(cfg, "val").label_format == "label_ids"
    with pytest.raises(ValueError, match="bdd_anomaly"):
        CityscapesDataset.from_config(DataConfig(dataset="mapillary", root=str(tiny_root)), "val")


def test_release_count_warning(tmp_path: Path, add_pair, hand_label_ids, caplog) -> None:
    assert release_warning("train", 2975, {"aachen", "zurich"}) is None
    assert "2974" in release_warning("train", 2974, {"aachen", "zurich"})
    assert release_warning("val", 3, {"frankfurt"}) is None  # a small hand-made subset
    assert "499" in release_warning("val", 499, {"frankfurt", "lindau", "munster"})
    assert release_warning("train", 2000, {"arnsfeld"}) is None  # not Cityscapes cities
    for city in ("frankfurt", "lindau", "munster"):
        add_pair(tmp_path, "val", f"{city}_000000_000019", hand_label_ids)
    with caplog.at_level(logging.WARNING):
        CityscapesDataset(tmp_path, "val", CS)
    assert "val: 3 images from 3 cities" in caplog.text and "500" in caplog.text


def test_official_test_split_is_not_evaluable(
    tmp_path: Path, add_pair, hand_label_ids, caplog
) -> None:
    add_pair(tmp_path, "test", "berlin_000000_000019", hand_label_ids)
    with caplog.at_level(logging.WARNING):
        ds = CityscapesDataset(tmp_path, "test", CS)
    assert not ds.evaluable and "predicted, not evaluated" in caplog.text
    add_pair(tmp_path, "val", "frankfurt_000000_000019", hand_label_ids)
    assert CityscapesDataset(tmp_path, "val", CS).evaluable


def test_two_images_of_one_stem(hand_tree: Path) -> None:
    png = hand_tree / "leftImg8bit" / "train" / "alpha" / "alpha_000000_000019_leftImg8bit.png"
    Image.open(png).convert("RGB").save(png.with_suffix(".jpg"), format="JPEG")
    with pytest.raises(DatasetError, match="second image"):
        CityscapesDataset(hand_tree, "train", CS)


# -- skip_bad: every bad input listed with its reason, the good pairs kept --------------------------
def test_skip_bad_reports_every_case(
    hand_tree: Path, add_pair, hand_label_ids: np.ndarray, write_png, tmp_path: Path, caplog
) -> None:
    bad = {}
    image, label = add_pair(hand_tree, "train", "c1_000000_000019", hand_label_ids)
    label.unlink()
    bad["image without label"] = image
    image, label = add_pair(hand_tree, "train", "c2_000000_000019", hand_label_ids)
    image.unlink()
    bad["label without image"] = label
    image, _ = add_pair(hand_tree, "train", "c3_000000_000019", hand_label_ids)
    image.write_bytes(image.read_bytes()[:40])
    bad["truncated image"] = image
    _, label = add_pair(hand_tree, "train", "c4_000000_000019", hand_label_ids, image_size=(5, 5))
    bad["size mismatch"] = label
    ids = hand_label_ids.copy()
    ids[0, 0] = 99
    _, label = add_pair(hand_tree, "train", "c5_000000_000019", ids)
    bad["id outside the table"] = label
    _, label = add_pair(hand_tree, "train", "c6_000000_000019", hand_label_ids)
    label.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    bad["corrupt label"] = label
    with pytest.raises(DatasetError):  # fail-fast by default
        CityscapesDataset(hand_tree, "train", CS)
    report_dir = tmp_path / "reports"
    with caplog.at_level(logging.WARNING):
        ds = CityscapesDataset(hand_tree, "train", CS, skip_bad=True, report_dir=report_dir)
    assert ds.names == ["alpha_000000_000019", "beta_000001_000019"]
    report = json.loads((report_dir / "bad_files_train.json").read_text())
    assert report["count"] == len(bad) == len(ds.skipped)
    assert sorted(f["path"] for f in report["files"]) == sorted(str(p) for p in bad.values())
    assert "skipped 6 bad files" in caplog.text
    for f in report["files"]:
        assert f["path"] in f["reason"]  # each reason names its file


def test_skip_bad_with_nothing_left(tmp_path: Path, add_pair, hand_label_ids) -> None:
    image, _ = add_pair(tmp_path, "train", "c_000000_000019", hand_label_ids)
    image.write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="no usable"):
        CityscapesDataset(tmp_path, "train", CS, skip_bad=True)
