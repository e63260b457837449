"""Fixtures of the data tests: a tiny embedded dataset and hand-made Cityscapes-layout trees."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from owslib.config import SyntheticConfig

PairMaker = Callable[..., tuple[Path, Path]]


def _write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, format="PNG")
    return path


def _add_pair(
    root: Path,
    split: str,
    stem: str,
    label_ids: np.ndarray,
    *,
    image_size: tuple[int, int] | None = None,
) -> tuple[Path, Path]:
    """Write a random RGB image (H×W = ``image_size`` or the label's) and a labelId map.

    ``stem`` is ``<city>_<seq>_<frame>``; files land in the Cityscapes layout under ``root``.
    """
    city = stem.split("_")[0]
    h, w = image_size or label_ids.shape
    rgb = np.random.default_rng(zlib.crc32(stem.encode())).integers(
        0, 256, (h, w, 3), dtype=np.uint8
    )
    image = _write_png(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", rgb)
    label = _write_png(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", label_ids)
    return image, label


@pytest.fixture()
def write_png() -> Callable[[Path, np.ndarray], Path]:
    """``write_png(path, array)``: save a uint8 array as PNG, creating folders."""
    return _write_png


@pytest.fixture()
def add_pair() -> PairMaker:
    """``add_pair(root, split, stem, label_ids, image_size=None)``: one image/label pair."""
    return _add_pair


@pytest.fixture()
def hand_label_ids() -> np.ndarray:
    """3×4 labelIds: road, sidewalk, building, car / train, motorcycle, bicycle, unlabeled /
    person, rider, sky, license plate (stored as 255)."""
    return np.array([[7, 8, 11, 26], [31, 32, 33, 0], [24, 25, 23, 255]], dtype=np.uint8)


@pytest.fixture()
def hand_tree(tmp_path: Path, hand_label_ids: np.ndarray) -> Path:
    """Split ``train`` with two labelled images: ``hand_label_ids`` and its rows reversed."""
    root = tmp_path / "cityscapes"
    _add_pair(root, "train", "alpha_000000_000019", hand_label_ids)
    _add_pair(root, "train", "beta_000001_000019", hand_label_ids[::-1].copy())
    return root


@pytest.fixture(scope="session")
def tiny_cfg() -> SyntheticConfig:
    return SyntheticConfig(n_train=6, n_val=2, n_test=3, height=64, width=128)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory, tiny_cfg: SyntheticConfig) -> Path:
    """The tiny embedded dataset, generated once per session (tests must not modify it)."""
    from owslib.data.embedded.generator import generate_embedded_dataset

    root = tmp_path_factory.mktemp("tiny") / "embedded"
    generate_embedded_dataset(root, tiny_cfg)
    return root


# -- BDD100K and SegmentMeIfYouCan layouts ---------------------------------------------------------
def _rgb(name: str, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(name.encode())).integers(0, 256, (h, w, 3), np.uint8)


def _add_bdd_pair(
    root: Path,
    split: str,
    stem: str,
    train_ids: np.ndarray,
    *,
    image_size: tuple[int, int] | None = None,
) -> tuple[Path, Path]:
    """BDD100K sem-seg layout: ``images/10k/<split>/<stem>.jpg`` + ``labels/sem_seg/masks/<split>/<stem>.png``."""
    h, w = image_size or train_ids.shape
    image = root / "images" / "10k" / split / f"{stem}.jpg"
    image.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_rgb(stem, h, w)).save(image, format="JPEG", quality=90)
    mask = _write_png(root / "labels" / "sem_seg" / "masks" / split / f"{stem}.png", train_ids)
    return image, mask


def _add_smiyc_pair(
    root: Path, folder: str, fid: str, labels: np.ndarray | None, *, ext: str = "jpg"
) -> tuple[Path, Path | None]:
    """SegmentMeIfYouCan layout: ``<folder>/images/<fid>.<ext>`` + ``labels_masks/<fid>_labels_semantic.png``."""
    h, w = labels.shape if labels is not None else (8, 16)
    image = root / folder / "images" / f"{fid}.{ext}"
    image.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_rgb(fid, h, w)).save(image, format={"jpg": "JPEG"}.get(ext, ext.upper()))
    if labels is None:
        return image, None
    return image, _write_png(root / folder / "labels_masks" / f"{fid}_labels_semantic.png", labels)


@pytest.fixture()
def add_bdd_pair() -> Callable[..., tuple[Path, Path]]:
    return _add_bdd_pair


@pytest.fixture()
def add_smiyc_pair() -> Callable[..., tuple[Path, Path | None]]:
    return _add_smiyc_pair


def _bdd_mask(*train_ids: int, shape: tuple[int, int] = (16, 32)) -> np.ndarray:
    """A trainId mask: road everywhere, then one horizontal band per id in ``train_ids``."""
    mask = np.zeros(shape, np.uint8)
    for i, t in enumerate(train_ids):
        mask[2 * i : 2 * i + 2, :] = t
    return mask


@pytest.fixture()
def bdd_tree(tmp_path: Path) -> Path:
    """A miniature BDD100K sem-seg release: 5 train + 3 val images, some with unknown classes.

    train: a (known only), b (train 16), c (motorcycle 17), d (bicycle 18), e (car 13 + ignore)
    val:   f (known only), g (bicycle 18 + motorcycle 17), h (sky 10)
    """
    root = tmp_path / "bdd100k"
    for split, stem, ids in [
        ("train", "a0000001-00000001", (1, 2)),
        ("train", "b0000002-00000002", (16,)),
        ("train", "c0000003-00000003", (17, 11)),
        ("train", "d0000004-00000004", (18,)),
        ("train", "e0000005-00000005", (13, 255)),
        ("val", "f0000006-00000006", (8,)),
        ("val", "g0000007-00000007", (18, 17)),
        ("val", "h0000008-00000008", (10,)),
    ]:
        _add_bdd_pair(root, split, stem, _bdd_mask(*ids))
    return root
