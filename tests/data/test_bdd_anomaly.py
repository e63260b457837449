"""BDD-Anomaly builder: the split rule, the manifest, determinism, resuming, bad input, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from owslib.__main__ import main
from owslib.config import DataConfig
from owslib.data import bdd_anomaly as bdd
from owslib.data.cityscapes import CityscapesDataset
from owslib.data.validation import DatasetError
from owslib.labels import IGNORE_INDEX, LabelError, get_split

UNKNOWN = {3: {"b", "c", "d", "g"}, 2: {"b", "c", "g"}}  # first letters of the stems (conftest)


def _stems(out: Path, split: str) -> set[str]:
    return {p.name[0] for p in (out / "leftImg8bit" / split / "bdd").glob("*_leftImg8bit.jpg")}


def _tree_files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("variant", [3, 2])
def test_split_rule(bdd_tree: Path, tmp_path: Path, variant: int) -> None:
    out = tmp_path / "out"
    manifest = bdd.build_bdd_anomaly(bdd_tree, out, variant, workers=2)
    assert _stems(out, "test") == UNKNOWN[variant]
    assert _stems(out, "train") == {"a", "b", "c", "d", "e"} - UNKNOWN[variant]
    assert _stems(out, "val") == {"f", "g", "h"} - UNKNOWN[variant]
    split_def = get_split(bdd.PRESETS[variant])
    for split in ("train", "val", "test"):
        ds = CityscapesDataset(out, split, split_def, label_format="train_ids")
        has_unknown = [
            np.isin(ds.load_train_ids(i), split_def.unknown).any() for i in range(len(ds))
        ]
        assert all(has_unknown) if split == "test" else not any(has_unknown)
    assert manifest["counts"] == {sp: len(_stems(out, sp)) for sp in ("train", "val", "test")}
    assert manifest["variant"] == variant and manifest["split_preset"] == bdd.PRESETS[variant]
    assert manifest["source_counts"] == {"train": 5, "val": 3}
    assert manifest["counts_from_source_split"]["test"] == {
        "train": len(UNKNOWN[variant] - {"g"}),
        "val": 1,
    }


def test_manifest_contents_and_reader(bdd_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = bdd.build_bdd_anomaly(bdd_tree, out, 3)
    assert json.loads((out / "manifest.json").read_text()) == manifest
    import hashlib

    assert set(manifest["files"]) == _tree_files(out) - {"manifest.json"}
    for rel, sha in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == sha
    # pixels: 8 images of 16×32; each band is 2 rows of 32 pixels
    assert sum(sum(v.values()) for v in manifest["pixels"].values()) == 8 * 16 * 32
    assert manifest["pixels"]["test"]["bicycle"] == 2 * 2 * 32  # d and g
    assert manifest["pixels"]["train"]["ignore"] == 2 * 32  # e
    assert manifest["images_with_class"]["test"]["motorcycle"] == 2  # c and g
    assert manifest["owslib_version"] and manifest["label_format"] == "train_ids"
    assert not manifest["count_check"]["full_release"] and not manifest["count_check"]["warnings"]
    # read back through the Cityscapes reader with the bdd_anomaly flavour
    cfg = DataConfig(dataset="bdd_anomaly", root=str(out), split_preset="bdd_anomaly3")
    test = CityscapesDataset.from_config(cfg, "test")
    image, target = test[test.names.index("d0000004-00000004")]
    assert image.shape == (3, 16, 32) and target.shape == (16, 32)
    k = get_split("bdd_anomaly3").num_known
    assert set(target.unique().tolist()) == {0, k + 2}  # road, bicycle → third unknown


def test_same_input_same_manifest(bdd_tree: Path, tmp_path: Path) -> None:
    a = bdd.build_bdd_anomaly(bdd_tree, tmp_path / "a", 3, workers=1)
    b = bdd.build_bdd_anomaly(bdd_tree, tmp_path / "b", 3, workers=3)
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (
        tmp_path / "b" / "manifest.json"
    ).read_bytes()
    assert a == b


def test_interrupted_build_resumes(bdd_tree: Path, tmp_path: Path, monkeypatch) -> None:
    clean = bdd.build_bdd_anomaly(bdd_tree, tmp_path / "clean", 3)
    out = tmp_path / "out"
    real_place, calls = bdd.place, []

    def dying_place(*args, **kwargs):
        calls.append(args)
        if len(calls) > 5:
            raise KeyboardInterrupt  # as if the process were stopped mid-build
        return real_place(*args, **kwargs)

    monkeypatch.setattr(bdd, "place", dying_place)
    with pytest.raises(KeyboardInterrupt):
        bdd.build_bdd_anomaly(bdd_tree, out, 3)
    assert (out / bdd.PARTIAL).exists() and not (out / bdd.MANIFEST).exists()
    monkeypatch.setattr(bdd, "place", real_place)
    # debris of a hard kill: a temp file and a file cut short by a non-atomic writer
    stray = out / "leftImg8bit" / "train" / "bdd" / ".a0000001-00000001_leftImg8bit.jpg.x.tmp.jpg"
    stray.write_bytes(b"half")
    written = sorted(p for p in (out / "leftImg8bit").rglob("*.jpg") if not p.name.startswith("."))
    written[0].write_bytes(written[0].read_bytes()[:10])
    resumed = bdd.build_bdd_anomaly(bdd_tree, out, 3)
    assert resumed == clean
    assert _tree_files(out) == set(clean["files"]) | {"manifest.json"}  # no duplicates or debris


def test_rebuild_with_other_variant_moves_files(bdd_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bdd.build_bdd_anomaly(bdd_tree, out, 3)
    manifest = bdd.build_bdd_anomaly(bdd_tree, out, 2)
    assert _tree_files(out) == set(manifest["files"]) | {"manifest.json"}
    assert "d" in _stems(out, "train") and "d" not in _stems(out, "test")


def test_link_option(bdd_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    bdd.build_bdd_anomaly(bdd_tree, out, 3, link=True)
    src = bdd_tree / "images" / "10k" / "train" / "a0000001-00000001.jpg"
    dst = out / "leftImg8bit" / "train" / "bdd" / "a0000001-00000001_leftImg8bit.jpg"
    assert src.stat().st_ino == dst.stat().st_ino


def test_count_check() -> None:
    full = bdd.SOURCE_COUNTS
    assert not bdd.check_counts(3, {"train": 6280, "val": 910, "test": 810}, full)["warnings"]
    (warning,) = bdd.check_counts(3, {"train": 6000, "val": 910, "test": 1090}, full)["warnings"][
        :1
    ]
    assert "6000" in warning and "6280" in warning
    assert not bdd.check_counts(3, {"train": 1, "val": 1, "test": 1}, {"train": 5, "val": 3})[
        "warnings"
    ]
    assert bdd.check_counts(2, {"train": 1, "val": 1, "test": 1}, full)["expected"] is None


# -- bad input: each case names the file; --skip-bad lists it instead -------------------------------
def _corrupt_jpeg(root: Path) -> Path:
    p = root / "images" / "10k" / "train" / "c0000003-00000003.jpg"
    p.write_bytes(p.read_bytes()[:200])
    return p


def _size_mismatch(root: Path) -> Path:
    from PIL import Image

    p = root / "labels" / "sem_seg" / "masks" / "val" / "h0000008-00000008.png"
    Image.fromarray(np.full((8, 32), 10, np.uint8)).save(p)
    return p


def _bad_id(root: Path) -> Path:
    from PIL import Image

    p = root / "labels" / "sem_seg" / "masks" / "train" / "a0000001-00000001.png"
    Image.fromarray(np.full((16, 32), 40, np.uint8)).save(p)
    return p


def _no_mask(root: Path) -> Path:
    p = root / "labels" / "sem_seg" / "masks" / "train" / "e0000005-00000005.png"
    p.unlink()
    return root / "images" / "10k" / "train" / "e0000005-00000005.jpg"


def _no_image(root: Path) -> Path:
    p = root / "images" / "10k" / "val" / "f0000006-00000006.jpg"
    p.unlink()
    return root / "labels" / "sem_seg" / "masks" / "val" / "f0000006-00000006.png"


@pytest.mark.parametrize(
    ("damage", "error"),
    [
        (_corrupt_jpeg, DatasetError),
        (_size_mismatch, DatasetError),
        (_bad_id, LabelError),
        (_no_mask, DatasetError),
        (_no_image, DatasetError),
    ],
)
def test_bad_input_fails_or_is_reported(bdd_tree: Path, tmp_path: Path, damage, error) -> None:
    culprit = damage(bdd_tree)
    with pytest.raises((DatasetError, error), match=re.escape(str(culprit))):
        bdd.build_bdd_anomaly(bdd_tree, tmp_path / "strict", 3)
    assert not (tmp_path / "strict").exists()  # checked before anything is written
    out = tmp_path / "lenient"
    manifest = bdd.build_bdd_anomaly(bdd_tree, out, 3, skip_bad=True)
    report = json.loads((out / bdd.BAD_REPORT).read_text())
    assert report["count"] == 1 and report["files"][0]["path"] == str(culprit)
    assert manifest["skipped_bad_files"] == 1
    assert sum(manifest["counts"].values()) == 7


def test_missing_folders_and_empty_split(tmp_path: Path, add_bdd_pair) -> None:
    root = tmp_path / "bdd100k"
    with pytest.raises(DatasetError, match=re.escape(str(root))):
        bdd.build_bdd_anomaly(root, tmp_path / "out")
    add_bdd_pair(root, "train", "x", np.ones((16, 32), np.uint8))
    with pytest.raises(DatasetError, match=re.escape(str(root / "images" / "10k" / "val"))):
        bdd.build_bdd_anomaly(root, tmp_path / "out")
    (root / "images" / "10k" / "val").mkdir(parents=True)
    with pytest.raises(DatasetError, match="masks/val"):
        bdd.build_bdd_anomaly(root, tmp_path / "out")
    (root / "labels" / "sem_seg" / "masks" / "val").mkdir(parents=True)
    with pytest.raises(DatasetError, match="empty"):
        bdd.build_bdd_anomaly(root, tmp_path / "out")


def test_cli(bdd_tree: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["data", "bdd-anomaly", "--bdd100k", str(bdd_tree), "--out", str(out),
                 "--variant", "2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    # a short summary, not the manifest: splits, images moved per unknown class, where the rest is
    assert printed == [
        f"BDD-Anomaly 2 (split preset bdd_anomaly2) at {out}: 3 train, 2 val, 3 test images",
        "moved to test: 3 images (2 from train, 1 from val); images holding each unknown class: "
        "train=1, motorcycle=2 (an image may hold several)",
        f"manifest: {out / bdd.MANIFEST}",
    ]
    manifest = json.loads((out / bdd.MANIFEST).read_text())
    assert manifest["counts"] == {"train": 3, "val": 2, "test": 3} and manifest["variant"] == 2
    _no_mask(bdd_tree)
    assert main(["data", "bdd-anomaly", "--bdd100k", str(bdd_tree), "--out", str(out)]) == 2
    assert main(["data", "bdd-anomaly", "--bdd100k", str(bdd_tree), "--out", str(out),
                 "--skip-bad"]) == 0
    assert (out / bdd.BAD_REPORT).is_file()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("1 train, 2 val, 4 test images") and len(printed) == 4
    assert printed[2] == f"skipped 1 bad files, listed in {out / bdd.BAD_REPORT}"
    assert IGNORE_INDEX == 255


def test_summary_counts_images_per_unknown_class(bdd_tree: Path, tmp_path: Path) -> None:
    # variant 3: b (train), c (motorcycle), d (bicycle), g (bicycle + motorcycle) move to test
    out = tmp_path / "out"
    text = bdd.describe_manifest(bdd.build_bdd_anomaly(bdd_tree, out, 3), out)
    assert "4 images (3 from train, 1 from val)" in text
    assert "train=1, motorcycle=2, bicycle=2" in text
    assert len(text.splitlines()) == 3 and "sha256" not in text and '"files"' not in text
