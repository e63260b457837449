"""Joint transforms: shapes and dtypes, labels never interpolated, padding with 255, joint flips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from owslib.config import DataConfig, load_profile
from owslib.data.cityscapes import denormalize
from owslib.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_eval_transforms,
    build_train_transforms,
)
from owslib.labels import IGNORE_INDEX, PAD_INDEX

CFG = DataConfig(crop_height=32, crop_width=48, scale_min=0.5, scale_max=2.0)


def _blocky_target(h: int, w: int, values: list[int], seed: int = 0) -> np.ndarray:
    """Random 4×4-pixel blocks of ``values`` (so nearest and bilinear resizing would differ)."""
    rng = np.random.default_rng(seed)
    small = rng.choice(values, size=(h // 4 + 1, w // 4 + 1)).astype(np.uint8)
    return np.kron(small, np.ones((4, 4), np.uint8))[:h, :w]


def _coded_pair(h: int = 40, w: int = 60) -> tuple[Image.Image, np.ndarray]:
    """An image whose red channel encodes the label (red = 20 × label) and green the column."""
    target = _blocky_target(h, w, [0, 1, 2, 5, 9])
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = target * 20
    rgb[..., 1] = np.linspace(0, 255, w).astype(np.uint8)[None, :]
    return Image.fromarray(rgb), target


def test_train_shapes_and_dtypes() -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    target = _blocky_target(50, 70, [0, 3, 7])
    transform = build_train_transforms(CFG)
    for _ in range(5):
        x, y = transform(image, target)
        assert x.shape == (3, 32, 48) and x.dtype == torch.float32
        assert y.shape == (32, 48) and y.dtype == torch.int64


def test_eval_is_native_resolution_and_normalised() -> None:
    rgb = np.full((7, 9, 3), 255, np.uint8)
    x, y = build_eval_transforms(CFG)(Image.fromarray(rgb), np.zeros((7, 9), np.uint8))
    assert x.shape == (3, 7, 9) and y.shape == (7, 9) and y.dtype == torch.int64
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(x[:, 0, 0], expected)


def test_label_values_are_never_interpolated() -> None:
    values = [0, 3, 7, 12, 200]
    torch.manual_seed(0)
    transform = build_train_transforms(dataclasses.replace(CFG, scale_min=0.3, scale_max=2.5))
    for seed in range(20):
        target = _blocky_target(37, 53, values, seed)
        image = Image.fromarray(
            np.random.default_rng(seed).integers(0, 256, (37, 53, 3), dtype=np.uint8)
        )
        _, y = transform(image, target)
        assert set(y.unique().tolist()) <= set(values) | {PAD_INDEX}


def test_pads_image_with_zero_and_label_with_pad_not_void() -> None:
    cfg = dataclasses.replace(CFG, scale_min=1.0, scale_max=1.0, hflip=False, color_jitter=False)
    image = Image.fromarray(np.full((20, 30, 3), 128, np.uint8))
    target = np.full((20, 30), 4, np.uint8)
    target[:5] = IGNORE_INDEX  # void stays void; padding gets a label of its own
    x, y = build_train_transforms(cfg)(image, target)
    assert x.shape == (3, 32, 48)
    assert int((y == IGNORE_INDEX).sum()) == 5 * 30
    padded = y == PAD_INDEX
    assert padded.sum() == 32 * 48 - 20 * 30 and (y[~padded] != PAD_INDEX).all()
    zero = (-torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD))[:, None]
    assert torch.allclose(x[:, padded], zero.expand(3, int(padded.sum())))


def test_random_scale_uses_configured_range() -> None:
    cfg = dataclasses.replace(
        CFG, crop_height=64, crop_width=96, scale_min=0.5, scale_max=0.5, hflip=False
    )
    _, y = build_train_transforms(cfg)(Image.new("RGB", (60, 40)), np.ones((40, 60), np.uint8))
    assert int((y == 1).sum()) == 20 * 30  # 40×60 halved, the rest is padding


def test_image_and_mask_flip_together() -> None:
    image, target = _coded_pair()
    cfg = dataclasses.replace(
        CFG, crop_height=40, crop_width=60, scale_min=1.0, scale_max=1.0, color_jitter=False
    )
    transform = build_train_transforms(cfg)
    torch.manual_seed(1)
    flipped = 0
    for _ in range(12):
        x, y = transform(image, target)
        rgb = denormalize(x).astype(int)
        assert np.array_equal(np.round(rgb[..., 0] / 20), y.numpy())
        flipped += int(rgb[0, 0, 1] > rgb[0, -1, 1])  # green ramp reversed: this sample was flipped
    assert 0 < flipped < 12


def test_colour_jitter_leaves_the_mask_alone() -> None:
    image, target = _coded_pair()
    cfg = dataclasses.replace(
        CFG, crop_height=40, crop_width=60, scale_min=1.0, scale_max=1.0, hflip=False
    )
    x, y = build_train_transforms(cfg)(image, target)
    assert torch.equal(y, torch.from_numpy(target).long())


def test_mismatched_sizes_raise() -> None:
    with pytest.raises(ValueError, match="equal sizes"):
        build_eval_transforms()(Image.new("RGB", (10, 8)), np.zeros((8, 11), np.uint8))


def test_accepts_numpy_images() -> None:
    x, y = build_eval_transforms()(np.zeros((5, 6, 3), np.uint8), np.zeros((5, 6), np.uint8))
    assert x.shape == (3, 5, 6) and y.shape == (5, 6)


def test_evaluation_at_a_reduced_scale_resizes_labels_by_the_nearest_pixel():
    import numpy as np

    from owslib.data.transforms import build_eval_transforms

    image = np.zeros((8, 12, 3), np.uint8)
    target = np.zeros((8, 12), np.uint8)
    target[:, 6:] = 3  # two labels, split down the middle
    img, mask = build_eval_transforms(scale=0.5)(image, target)
    assert tuple(img.shape) == (3, 4, 6) and tuple(mask.shape) == (4, 6)
    assert set(mask.unique().tolist()) == {0, 3}  # nearest: no value in between
    img, mask = build_eval_transforms()(image, target)
    assert tuple(mask.shape) == (8, 12)  # native resolution by default
    cfg = load_profile("camvid")
    assert tuple(build_eval_transforms(cfg.data)(image, target)[1].shape) == (4, 6)
