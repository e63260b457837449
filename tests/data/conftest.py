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
    from owslib.data.synthetic import generate_embedded_dataset

    root = tmp_path_factory.mktemp("tiny") / "embedded"
    generate_embedded_dataset(root, tiny_cfg)
    return root
