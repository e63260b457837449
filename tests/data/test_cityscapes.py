"""The Cityscapes-layout reader: pairing, label mapping per split preset, and every bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from owslib.config import DataConfig, SyntheticConfig
from owslib.data.cityscapes import CityscapesDataset, DatasetError, denormalize
from owslib.data.transforms import build_eval_transforms
from owslib.labels import IGNORE_INDEX, LabelError, get_split

# Expected class indices of the hand-made labelIds (see conftest.hand_label_ids) per preset.
# cityscapes / cityscapes_heldout: trainIds; train, motorcycle, bicycle are the last three trainIds,
# so held out they keep their numbers as unknown classes K..K+2 (K = 16).
EXPECTED = {
    "cityscapes": [[0, 1, 2, 13], [16, 17, 18, 255], [11, 12, 10, 255]],
    "cityscapes_heldout": [[0, 1, 2, 13], [16, 17, 18, 255], [11, 12, 10, 255]],
    # bdd_anomaly2: bicycle (18) is known index 16; unknown train → 17, motorcycle → 18.
    "bdd_anomaly2": [[0, 1, 2, 13], [17, 18, 16, 255], [11, 12, 10, 255]],
}


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_pairing_and_mapping(hand_tree: Path, preset: str) -> None:
    ds = CityscapesDataset(hand_tree, "train", get_split(preset))
    assert len(ds) == 2 and ds.names == ["alpha_000000_000019", "beta_000001_000019"]
    for (image, label), name in zip(ds.samples, ds.names, strict=True):
        assert (
            image.name == f"{name}_leftImg8bit.png" and label.name == f"{name}_gtFine_labelIds.png"
        )
        assert image.parent.name == label.parent.name == name.split("_")[0]
    expected = np.array(EXPECTED[preset], dtype=np.uint8)
    raw_image, raw_target = ds.load(0)
    assert isinstance(raw_image, Image.Image) and raw_image.mode == "RGB"
    assert raw_target.dtype == np.uint8 and np.array_equal(raw_target, expected)
    assert np.array_equal(ds.load_target(1), expected[::-1])
    image, target = ds[0]
    assert image.dtype == torch.float32 and image.shape == (3, 3, 4)
    assert target.dtype == torch.int64 and torch.equal(target, torch.from_numpy(expected).long())
    assert ds.split_def.name == preset


def test_max_images_and_default_transforms(hand_tree: Path) -> None:
    ds = CityscapesDataset(hand_tree, "train", get_split("cityscapes"), max_images=1)
    assert len(ds) == 1 and ds.names == ["alpha_000000_000019"]
    with pytest.raises(ValueError, match="max_images"):
        CityscapesDataset(hand_tree, "train", get_split("cityscapes"), max_images=-1)


def test_denormalize_round_trip(hand_tree: Path) -> None:
    ds = CityscapesDataset(
        hand_tree, "train", get_split("cityscapes"), transforms=build_eval_transforms()
    )
    image, _ = ds[0]
    original = np.asarray(ds.load(0)[0])
    restored = denormalize(image)
    assert restored.dtype == np.uint8 and restored.shape == original.shape
    assert np.abs(restored.astype(int) - original.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="3×H×W"):
        denormalize(image[None])


def test_reads_embedded_dataset(tiny_root: Path, tiny_cfg: SyntheticConfig) -> None:
    split_def = get_split("cityscapes_heldout")
    train = CityscapesDataset(tiny_root, "train", split_def)
    val = CityscapesDataset(tiny_root, "val", split_def)
    assert (len(train), len(val)) == (tiny_cfg.n_train, tiny_cfg.n_val)
    image, target = train[0]
    assert image.shape == (3, tiny_cfg.height, tiny_cfg.width) and target.shape == image.shape[1:]
    k = split_def.num_known
    train_values = torch.cat([train[i][1].flatten() for i in range(len(train))]).unique()
    assert (train_values[train_values != IGNORE_INDEX] < k).all()  # no unknown class in training
    test = CityscapesDataset.from_config(
        DataConfig(dataset="embedded", root=str(tiny_root), split_preset="cityscapes_heldout"),
        "test",
    )
    test_values = torch.cat([test[i][1].flatten() for i in range(len(test))]).unique()
    assert ((test_values >= k) & (test_values < IGNORE_INDEX)).any()


def test_unlabelled_test_split(tmp_path: Path, add_pair, hand_label_ids: np.ndarray) -> None:
    image, label = add_pair(tmp_path, "test", "gamma_000000_000019", hand_label_ids)
    label.unlink()
    label.parent.rmdir()
    (tmp_path / "gtFine" / "test").rmdir()
    with pytest.raises(DatasetError, match=re.escape(str(tmp_path / "gtFine" / "test"))):
        CityscapesDataset(tmp_path, "test", get_split("cityscapes"))
    ds = CityscapesDataset(tmp_path, "test", get_split("cityscapes"), require_labels=False)
    assert ds.samples == [(image, None)]
    img, target = ds[0]
    assert img.shape == (3, 3, 4) and (target == IGNORE_INDEX).all()


# -- bad inputs: each error names the offending file or folder ---------------------------------------
def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=re.escape(str(tmp_path / "nowhere"))):
        CityscapesDataset(tmp_path / "nowhere", "train", get_split("cityscapes"))


def test_missing_split_folders(hand_tree: Path) -> None:
    with pytest.raises(DatasetError, match=re.escape(str(hand_tree / "leftImg8bit" / "val"))):
        CityscapesDataset(hand_tree, "val", get_split("cityscapes"))
    (hand_tree / "leftImg8bit" / "val" / "x").mkdir(parents=True)
    with pytest.raises(DatasetError, match=re.escape(str(hand_tree / "gtFine" / "val"))):
        CityscapesDataset(hand_tree, "val", get_split("cityscapes"))
    (hand_tree / "gtFine" / "val").mkdir()
    with pytest.raises(DatasetError, match="empty"):
        CityscapesDataset(hand_tree, "val", get_split("cityscapes"))


def test_image_without_label_and_label_without_image(
    hand_tree: Path, add_pair, hand_label_ids
) -> None:
    _, label = add_pair(hand_tree, "train", "delta_000002_000019", hand_label_ids)
    label.unlink()
    with pytest.raises(DatasetError, match="delta_000002_000019_leftImg8bit.png"):
        CityscapesDataset(hand_tree, "train", get_split("cityscapes"))
    image, _ = add_pair(hand_tree, "train", "delta_000002_000019", hand_label_ids)
    image.unlink()
    with pytest.raises(DatasetError, match="delta_000002_000019_gtFine_labelIds.png"):
        CityscapesDataset(hand_tree, "train", get_split("cityscapes"))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_png(hand_tree: Path, damage: str) -> None:
    ds = CityscapesDataset(hand_tree, "train", get_split("cityscapes"))
    image_path, label_path = ds.samples[1]
    data = image_path.read_bytes()
    image_path.write_bytes(b"not a png at all" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(DatasetError, match=re.escape(str(image_path))):
        ds[1]
    label_path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(DatasetError, match=re.escape(str(label_path))):
        ds.load_target(1)


def test_size_mismatch(tmp_path: Path, add_pair, hand_label_ids: np.ndarray) -> None:
    image, label = add_pair(
        tmp_path, "train", "eps_000000_000019", hand_label_ids, image_size=(4, 4)
    )
    ds = CityscapesDataset(tmp_path, "train", get_split("cityscapes"))
    with pytest.raises(DatasetError, match=re.escape(str(label))) as info:
        ds[0]
    assert str(image) in str(info.value)


def test_label_id_outside_table(tmp_path: Path, add_pair, hand_label_ids: np.ndarray) -> None:
    bad = hand_label_ids.copy()
    bad[0, 0] = 40
    _, label = add_pair(tmp_path, "train", "zeta_000000_000019", bad)
    ds = CityscapesDataset(tmp_path, "train", get_split("cityscapes"))
    with pytest.raises(LabelError, match=re.escape(str(label))):
        ds[0]


def test_colour_label_rejected(
    tmp_path: Path, add_pair, hand_label_ids: np.ndarray, write_png
) -> None:
    _, label = add_pair(tmp_path, "train", "eta_000000_000019", hand_label_ids)
    write_png(label, np.zeros((3, 4, 3), np.uint8))
    ds = CityscapesDataset(tmp_path, "train", get_split("cityscapes"))
    with pytest.raises(DatasetError, match="single-channel"):
        ds[0]


def test_heldout_classes_in_training_images_drop_or_ignore(tmp_path: Path, add_pair, caplog) -> None:
    # A generated Cityscapes tree whose train split holds one image with a motorcycle (labelId 32)
    # and two without: with cityscapes_heldout, motorcycle is a test-time anomaly.
    from owslib.labels import PAD_INDEX

    root = tmp_path / "cs"
    clean = np.array([[7, 7, 26], [0, 8, 11]], dtype=np.uint8)
    moto = np.array([[7, 32, 26], [0, 8, 11]], dtype=np.uint8)
    add_pair(root, "train", "alpha_000000_000019", clean)
    add_pair(root, "train", "alpha_000001_000019", moto)
    add_pair(root, "train", "beta_000002_000019", clean)
    split = get_split("cityscapes_heldout")
    kept = CityscapesDataset(root, "train", split)
    assert len(kept) == 3 and kept.heldout_dropped == []
    assert kept.load_target(1)[0, 1] == split.num_known + 1  # motorcycle as unknown class K+1
    with caplog.at_level("WARNING"):
        dropped = CityscapesDataset(root, "train", split, heldout="drop")
    assert dropped.names == ["alpha_000000_000019", "beta_000002_000019"]
    assert dropped.heldout_dropped == ["alpha_000001_000019"]
    assert "dropped 1 of 3 images" in caplog.text
    ignored = CityscapesDataset(root, "train", split, heldout="ignore")
    assert len(ignored) == 3
    target = ignored.load_target(1)
    assert target[0, 1] == PAD_INDEX and target[1, 0] == IGNORE_INDEX  # void stays void
    # a split without unknowns drops nothing
    assert len(CityscapesDataset(root, "train", get_split("cityscapes"), heldout="drop")) == 3
    with pytest.raises(ValueError, match="heldout_in_train"):
        CityscapesDataset(root, "train", split, heldout="maybe")
    only = tmp_path / "only"
    add_pair(only, "train", "alpha_000001_000019", moto)
    with pytest.raises(DatasetError, match="every image holds an unknown class"):
        CityscapesDataset(only, "train", split, heldout="drop")
