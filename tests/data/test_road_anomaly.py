"""RoadAnomaly builder: the SegmentMeIfYouCan layout (0 known / 1 anomaly, instance maps, credits),
both source forms, idempotent rebuilds, bad input naming the file, the reader and the check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from source_layouts import ROAD_ANOMALY_FIDS, road_anomaly_semantic, save, write_road_anomaly

from owslib.data import road_anomaly
from owslib.data.smiyc import SMIYCDataset
from owslib.data.summary import check_dataset
from owslib.data.validation import DatasetError
from owslib.labels import LabelError


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    return write_road_anomaly(tmp_path / "ACV-HitMyCarInDark")


def _tree(out: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(out).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file()
    }


def test_builds_the_smiyc_layout(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = road_anomaly.build_road_anomaly(source.parent, out, workers=2)
    expected = {"manifest.json", "credits.txt", "readme.md"}
    for i, fid in enumerate(ROAD_ANOMALY_FIDS):
        image, semantic = f"images/{fid}.jpg", f"labels_masks/{fid}_labels_semantic.png"
        expected |= {image, semantic}
        assert (out / image).read_bytes() == (source / f"frames/{fid}.jpg").read_bytes()
        labels = np.array(Image.open(out / semantic))
        np.testing.assert_array_equal(labels, (road_anomaly_semantic(i) == 2).astype(np.uint8))
        instance = source / f"frames/{fid}.labels/labels_instance.png"
        if instance.exists():
            expected.add(f"labels_masks/{fid}_labels_instance.png")
            copied = out / f"labels_masks/{fid}_labels_instance.png"
            assert copied.read_bytes() == instance.read_bytes()
    assert set(_tree(out)) == expected
    assert (out / "credits.txt").read_text() == (source / "credits.txt").read_text()
    anomaly = sum(int((road_anomaly_semantic(i) == 2).sum()) for i in range(3))
    assert manifest["pixels"] == {"known": 3 * 8 * 12 - anomaly, "anomaly": anomaly}
    assert manifest["counts"] == {"all": 3} and manifest["frames_with_instances"] == 2
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_the_reader_takes_every_frame(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    road_anomaly.build_road_anomaly(source, out)
    ds = SMIYCDataset(out, "road_anomaly")
    assert ds.names == sorted(ROAD_ANOMALY_FIDS) and not ds.unlabelled
    image, target = ds[ds.names.index("cones02_road")]
    assert image.shape == (3, 8, 12)
    np.testing.assert_array_equal(target.numpy(), road_anomaly_semantic(1) == 2)
    nested = tmp_path / "nested"
    road_anomaly.build_road_anomaly(source, nested / "dataset_RoadAnomaly")
    assert SMIYCDataset(nested, "road_anomaly").names == ds.names


def test_both_source_forms_and_an_idempotent_rerun(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = road_anomaly.build_road_anomaly(source.parent, out)
    before = _tree(out)
    (out / "labels_masks" / "old_labels_semantic.png").write_bytes(b"an earlier build's")
    assert road_anomaly.build_road_anomaly(source, out) == first
    after = _tree(out)
    assert {k: v for k, v in after.items() if k != "manifest.json"} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }  # nothing rewritten, the stale file gone


@pytest.mark.parametrize("case", ["value", "size", "truncated", "no_label", "no_frame"])
def test_bad_source_files_are_named(source: Path, tmp_path: Path, case: str) -> None:
    fid = ROAD_ANOMALY_FIDS[0]
    frame, labels = source / f"frames/{fid}.jpg", source / f"frames/{fid}.labels"
    semantic = labels / "labels_semantic.png"
    named = dict(value=semantic, no_label=semantic, truncated=frame, no_frame=frame)
    named["size"] = labels / "labels_instance.png"
    error = LabelError if case == "value" else DatasetError
    if case == "value":
        save(labels / "labels_semantic.png", np.ones((8, 12), np.uint8))  # 1: not in the table
    elif case == "size":
        save(labels / "labels_instance.png", np.zeros((8, 13), np.uint8))
    elif case == "truncated":
        frame.write_bytes(frame.read_bytes()[:100])
    else:
        named[case].unlink()
    with pytest.raises(error, match=f"^{named[case]}"):
        road_anomaly.build_road_anomaly(source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_credits_and_frame_list_are_required(source: Path, tmp_path: Path) -> None:
    (source / "credits.txt").unlink()
    with pytest.raises(DatasetError, match=f"^{source / 'credits.txt'}"):
        road_anomaly.build_road_anomaly(source, tmp_path / "out")
    (source / "credits.txt").write_text("credits\n")
    (source / "frame_list.json").write_text("{")
    with pytest.raises(DatasetError, match="neither a RoadAnomaly folder"):
        road_anomaly.build_road_anomaly(tmp_path, tmp_path / "out")
    with pytest.raises(DatasetError, match=f"^{source / 'frame_list.json'}: cannot read"):
        road_anomaly.build_road_anomaly(source, tmp_path / "out")


def test_check_decodes_the_instance_maps(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifest = road_anomaly.build_road_anomaly(source, out)
    s = check_dataset(out, "road_anomaly")
    assert s.ok and not s.warnings and s.split_preset is None
    assert s.pixels.set_index("class")["pixels"].to_dict() == {**manifest["pixels"], "ignore": 0}
    instance = out / f"labels_masks/{ROAD_ANOMALY_FIDS[0]}_labels_instance.png"
    instance.write_bytes(instance.read_bytes()[:40])
    (problem,) = check_dataset(out, "road_anomaly").problems
    assert problem.path == str(instance) and problem.reason.startswith(f"{instance}: cannot decode")
