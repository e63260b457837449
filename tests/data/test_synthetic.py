"""The embedded dataset generator: layout, label protocol, determinism, resume and refusal."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import owslib
from owslib.config import SyntheticConfig
from owslib.data.embedded import generator as synthetic
from owslib.data.embedded import void_objects
from owslib.data.embedded.canvas import Painter
from owslib.data.embedded.generator import (
    CITIES,
    MANIFEST,
    PARTIAL,
    EmbeddedDatasetError,
    ensure_embedded_dataset,
    generate_embedded_dataset,
)
from owslib.labels import CITYSCAPES_LABELS

VALID_IDS = {lab.label_id for lab in CITYSCAPES_LABELS if lab.label_id >= 0}
UNKNOWN = [31, 32, 33]
VOID_VEHICLES = [29, 30]  # caravan, trailer
NAME = re.compile(r"^([a-z]+)_(\d{6})_(\d{6})_(leftImg8bit|gtFine_labelIds)\.png$")


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.png"))
    }


def _labels(root: Path, split: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted((root / "gtFine" / split).glob("*/*.png"))]


def test_layout_and_file_names(tiny_root: Path, tiny_cfg: SyntheticConfig) -> None:
    counts = {"train": tiny_cfg.n_train, "val": tiny_cfg.n_val, "test": tiny_cfg.n_test}
    for split, n in counts.items():
        images = sorted((tiny_root / "leftImg8bit" / split).glob("*/*"))
        labels = sorted((tiny_root / "gtFine" / split).glob("*/*"))
        assert len(images) == len(labels) == n
        for image, label in zip(images, labels, strict=True):
            m_img, m_lab = NAME.match(image.name), NAME.match(label.name)
            assert m_img and m_lab, (image.name, label.name)
            assert m_img.group(4) == "leftImg8bit" and m_lab.group(4) == "gtFine_labelIds"
            assert m_img.group(1) == image.parent.name == label.parent.name
            assert m_img.group(1) in CITIES[split]
            assert m_img.groups()[:3] == m_lab.groups()[:3]
            with Image.open(image) as im, Image.open(label) as lab:
                assert (im.mode, im.size) == ("RGB", (tiny_cfg.width, tiny_cfg.height))
                assert (lab.mode, lab.size) == ("L", (tiny_cfg.width, tiny_cfg.height))
    cities = [set(c) for c in CITIES.values()]
    assert not (cities[0] & cities[1] or cities[0] & cities[2] or cities[1] & cities[2])
    assert {p.name for p in tiny_root.iterdir()} == {"leftImg8bit", "gtFine", MANIFEST}


def test_manifest(tiny_root: Path, tiny_cfg: SyntheticConfig) -> None:
    manifest = generate_embedded_dataset(tiny_root, tiny_cfg)
    assert manifest["config"] == dataclasses.asdict(tiny_cfg)
    assert manifest["counts"] == {"train": 6, "val": 2, "test": 3}
    assert manifest["owslib_version"] == owslib.__version__
    assert manifest["unknown_label_ids"] == UNKNOWN
    assert manifest["void_label_ids"] == [0, 4, 5, *VOID_VEHICLES]
    assert manifest["generator_version"] == synthetic.GENERATOR_VERSION >= 2


def test_label_protocol() -> None:
    """Only official labelIds; unknowns never in train but in most val/test images; void in train."""
    cfg = SyntheticConfig(seed=3, n_train=12, n_val=8, n_test=8, height=64, width=128)
    labels = {
        s: [synthetic.render_example(cfg, s, i)[1] for i in range(8)]
        for s in ("train", "val", "test")
    }
    labels["train"] += [synthetic.render_example(cfg, "train", i)[1] for i in range(8, 12)]
    for split, maps in labels.items():
        for lab in maps:
            assert set(np.unique(lab).tolist()) <= VALID_IDS, split
    assert not any(np.isin(lab, UNKNOWN).any() for lab in labels["train"])
    for split in ("val", "test"):
        with_unknown = [np.isin(lab, UNKNOWN).sum() >= 20 for lab in labels[split]]
        assert sum(with_unknown) >= len(with_unknown) // 2, split
    assert sum(np.isin(lab, [0, 4, 5]).any() for lab in labels["train"]) >= 10
    every = np.concatenate([lab.ravel() for maps in labels.values() for lab in maps])
    present = set(np.unique(every).tolist())
    for name_id in (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, *UNKNOWN):
        assert name_id in present, name_id


def test_vehicle_like_void_objects() -> None:
    """Caravans and trailers (void) occur in train as in val/test; unknowns stay out of train."""
    cfg = SyntheticConfig(seed=3, n_train=16, n_val=8, n_test=8, height=64, width=128)
    labels = {
        s: [synthetic.render_example(cfg, s, i)[1] for i in range(synthetic.split_size(cfg, s))]
        for s in ("train", "val", "test")
    }
    train = labels["train"]
    assert not any(np.isin(lab, UNKNOWN).any() for lab in train)
    for label_id in VOID_VEHICLES:
        assert any((lab == label_id).sum() >= 20 for lab in train), label_id
    assert sum(np.isin(lab, VOID_VEHICLES).sum() >= 20 for lab in train) >= len(train) // 3
    held_out = labels["val"] + labels["test"]
    assert any(np.isin(lab, VOID_VEHICLES).sum() >= 20 for lab in held_out)
    # they stand among the vehicles, not over the whole picture
    assert (
        max(np.isin(lab, VOID_VEHICLES).mean() for maps in labels.values() for lab in maps) < 0.25
    )


@pytest.mark.parametrize("kind", [k[0] for k in void_objects.KINDS] + [void_objects.clutter])
def test_void_object_sprites_draw_only_void(kind) -> None:
    """Each void sprite paints a sizeable object with a void labelId only (no known or unknown id)."""
    expected = {
        void_objects.caravan_side: {29},
        void_objects.caravan_rear: {29},
        void_objects.trailer_side: {30},
        void_objects.trailer_rear: {30},
        void_objects.skip_bin: {4},
        void_objects.container: {4},
    }.get(kind, {0, 4, 5})
    for seed in range(6):
        painter = Painter(np.zeros((96, 192, 3), np.uint8), np.full((96, 192), 7, np.uint8))
        kind(painter, np.random.default_rng(seed), x=96.0, y=80.0, u=12.0)
        _, label = painter.arrays()
        drawn = set(np.unique(label).tolist()) - {7}
        assert drawn and drawn <= expected, (kind.__name__, drawn)
        assert (label != 7).sum() >= 30


def test_deterministic_per_seed(tmp_path: Path, tiny_cfg: SyntheticConfig, tiny_root: Path) -> None:
    generate_embedded_dataset(tmp_path / "again", tiny_cfg)
    assert _hashes(tmp_path / "again") == _hashes(tiny_root)
    generate_embedded_dataset(tmp_path / "other", dataclasses.replace(tiny_cfg, seed=1))
    other = _hashes(tmp_path / "other")
    assert other.keys() == _hashes(tiny_root).keys()
    assert all(other[k] != v for k, v in _hashes(tiny_root).items())


def test_rerun_skips_complete_dataset(tmp_path: Path, tiny_cfg: SyntheticConfig) -> None:
    generate_embedded_dataset(tmp_path, tiny_cfg)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert ensure_embedded_dataset(tmp_path, tiny_cfg) == tmp_path
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_interrupted_generation_resumes(
    tmp_path: Path, tiny_cfg: SyntheticConfig, tiny_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, render = [], synthetic.render_example

    def crashing(*args: object) -> tuple[np.ndarray, np.ndarray]:
        calls.append(args)
        if len(calls) > 4:
            raise KeyboardInterrupt
        return render(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(synthetic, "render_example", crashing)
    with pytest.raises(KeyboardInterrupt):
        generate_embedded_dataset(tmp_path, tiny_cfg)
    assert not (tmp_path / MANIFEST).exists() and (tmp_path / PARTIAL).exists()
    done = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")}
    assert len(done) == 8
    monkeypatch.setattr(synthetic, "render_example", render)
    generate_embedded_dataset(tmp_path, tiny_cfg)
    assert {p: p.stat().st_mtime_ns for p in done} == done  # finished images were not re-rendered
    assert _hashes(tmp_path) == _hashes(tiny_root)
    assert (tmp_path / MANIFEST).exists() and not (tmp_path / PARTIAL).exists()


def test_deleted_files_and_manifest_are_regenerated(
    tmp_path: Path, tiny_cfg: SyntheticConfig, tiny_root: Path
) -> None:
    generate_embedded_dataset(tmp_path, tiny_cfg)
    for p in sorted(tmp_path.rglob("*.png"))[::3]:
        p.unlink()
    (tmp_path / MANIFEST).unlink()
    generate_embedded_dataset(tmp_path, tiny_cfg)
    assert _hashes(tmp_path) == _hashes(tiny_root)


def test_files_missing_under_a_manifest_are_rerendered(
    tmp_path: Path, tiny_cfg: SyntheticConfig, tiny_root: Path
) -> None:
    generate_embedded_dataset(tmp_path, tiny_cfg)
    kept = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.png")}
    lost = sorted(kept)[1]
    lost.unlink()
    del kept[lost]
    generate_embedded_dataset(tmp_path, tiny_cfg)
    rewritten = [p for p, t in kept.items() if p.stat().st_mtime_ns != t]
    assert len(rewritten) <= 1  # only the lost label's image partner is rendered again
    assert _hashes(tmp_path) == _hashes(tiny_root)


def test_config_mismatch_raises_unless_forced(tmp_path: Path, tiny_cfg: SyntheticConfig) -> None:
    generate_embedded_dataset(tmp_path, tiny_cfg)
    smaller = dataclasses.replace(tiny_cfg, n_train=4)
    with pytest.raises(EmbeddedDatasetError, match=re.escape(str(tmp_path / MANIFEST))):
        generate_embedded_dataset(tmp_path, smaller)
    manifest = generate_embedded_dataset(tmp_path, smaller, force=True)
    assert manifest["counts"]["train"] == 4
    assert len(list((tmp_path / "leftImg8bit" / "train").glob("*/*.png"))) == 4
    assert len(list((tmp_path / "gtFine" / "train").glob("*/*.png"))) == 4


def test_older_renderer_version_is_regenerated(tmp_path: Path, tiny_cfg: SyntheticConfig) -> None:
    generate_embedded_dataset(tmp_path, tiny_cfg)
    reference = _hashes(tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    manifest["generator_version"] = 0
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    one = next((tmp_path / "leftImg8bit" / "train").glob("*/*.png"))
    one.write_bytes(b"stale")
    manifest = generate_embedded_dataset(tmp_path, tiny_cfg)
    assert manifest["generator_version"] == synthetic.GENERATOR_VERSION
    assert _hashes(tmp_path) == reference


def test_refuses_foreign_folder(tmp_path: Path, tiny_cfg: SyntheticConfig, write_png) -> None:
    foreign = write_png(
        tmp_path / "leftImg8bit" / "train" / "aachen" / "x_leftImg8bit.png",
        np.zeros((2, 2, 3), np.uint8),
    )
    with pytest.raises(EmbeddedDatasetError, match="aachen"):
        generate_embedded_dataset(tmp_path, tiny_cfg)
    assert foreign.exists()


def test_corrupt_manifest_is_reported(tmp_path: Path, tiny_cfg: SyntheticConfig) -> None:
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(EmbeddedDatasetError, match=MANIFEST):
        generate_embedded_dataset(tmp_path, tiny_cfg)
    assert (
        generate_embedded_dataset(tmp_path, tiny_cfg, force=True)["counts"]["val"] == tiny_cfg.n_val
    )
