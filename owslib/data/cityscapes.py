"""Reader of the official Cityscapes layout (``leftImg8bit``/``gtFine``); it also reads the embedded set.

Targets are converted once, here: labelIds → trainIds (:func:`owslib.labels.label_ids_to_train_ids`)
→ class indices of a :class:`~owslib.labels.SplitDefinition` (known ``0..K-1``, unknown
``K..K+U-1``, ignore 255).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from owslib.config import DataConfig
from owslib.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_eval_transforms,
    build_train_transforms,
)
from owslib.labels import IGNORE_INDEX, SplitDefinition, get_split, label_ids_to_train_ids

log = logging.getLogger(__name__)

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
Transform = Callable[[Image.Image, np.ndarray], Any]


class DatasetError(RuntimeError):
    """A dataset folder or file is missing, unreadable or inconsistent; the message names it."""


def _key(path: Path, suffix: str) -> tuple[str, str]:
    return path.parent.name, path.name[: -len(suffix)]


def _names(paths: list[Path], limit: int = 5) -> str:
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f", … ({len(paths) - limit} more)" if len(paths) > limit else "")


def list_samples(
    root: Path, split: str, *, require_labels: bool = True
) -> list[tuple[Path, Path | None]]:
    """Pairs ``(image, label)`` of ``root/leftImg8bit/<split>`` and ``root/gtFine/<split>``, sorted.

    Images and labels are matched by city and stem. Without ``require_labels`` an image may lack its
    label (its pair holds ``None``), as in the official test split; a label without an image is
    always an error.
    """
    if not root.is_dir():
        raise DatasetError(
            f"{root}: dataset root not found (expected a folder holding leftImg8bit/ and gtFine/)"
        )
    image_dir, label_dir = root / "leftImg8bit" / split, root / "gtFine" / split
    if not image_dir.is_dir():
        raise DatasetError(
            f"{image_dir}: image folder of split {split!r} not found (expected <city>/*{IMAGE_SUFFIX})"
        )
    if require_labels and not label_dir.is_dir():
        raise DatasetError(
            f"{label_dir}: label folder of split {split!r} not found (expected <city>/*{LABEL_SUFFIX})"
        )
    images = {_key(p, IMAGE_SUFFIX): p for p in image_dir.glob(f"*/*{IMAGE_SUFFIX}")}
    if not images:
        raise DatasetError(
            f"{image_dir}: split {split!r} is empty (expected <city>/*{IMAGE_SUFFIX})"
        )
    labels = {_key(p, LABEL_SUFFIX): p for p in label_dir.glob(f"*/*{LABEL_SUFFIX}")}
    orphans = sorted(p for k, p in labels.items() if k not in images)
    if orphans:
        raise DatasetError(
            f"{image_dir}: {len(orphans)} label files have no image: {_names(orphans)}"
        )
    unlabelled = sorted(p for k, p in images.items() if k not in labels)
    if require_labels and unlabelled:
        raise DatasetError(
            f"{label_dir}: {len(unlabelled)} images have no <stem>{LABEL_SUFFIX}: {_names(unlabelled)}"
        )
    return [(images[k], labels.get(k)) for k in sorted(images)]


def _open(path: Path, what: str) -> Image.Image:
    """Open and fully decode an image file, turning PIL's errors into a :class:`DatasetError`."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except FileNotFoundError as e:
        raise DatasetError(f"{path}: {what} not found") from e
    except (
        OSError,
        SyntaxError,
        ValueError,
    ) as e:  # UnidentifiedImageError, truncated or corrupt data
        raise DatasetError(f"{path}: cannot decode {what} ({e}); expected a valid PNG") from e


def read_label_ids(path: Path) -> np.ndarray:
    """A labelId PNG as an H×W array; raises :class:`DatasetError` unless it is single-channel."""
    arr = np.asarray(_open(path, "label"))
    if arr.ndim != 2:
        raise DatasetError(
            f"{path}: label has shape {arr.shape}; expected a single-channel labelId PNG"
        )
    return arr


class CityscapesDataset(Dataset):
    """Images and class-index targets of one split of a Cityscapes-layout folder.

    ``dataset[i]`` is ``transforms(image, target)``: by default the eval transforms, giving a float
    tensor 3×H×W (ImageNet-normalised) and an int64 tensor H×W of class indices. :meth:`load`
    gives the raw pair (PIL RGB image, uint8 H×W class indices) and :meth:`load_target` only the
    target. Images without a label (``require_labels=False``) get an all-ignore target.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        split_def: SplitDefinition,
        transforms: Transform | None = None,
        max_images: int = 0,
        *,
        require_labels: bool = True,
    ) -> None:
        if max_images < 0:
            raise ValueError(f"max_images must be >= 0 (0 = all), got {max_images}")
        self.root, self.split, self.split_def = Path(root), split, split_def
        self.transforms: Transform = (
            transforms if transforms is not None else build_eval_transforms()
        )
        samples = list_samples(self.root, split, require_labels=require_labels)
        self.samples: list[tuple[Path, Path | None]] = (
            samples[:max_images] if max_images else samples
        )
        self.names = [p.name[: -len(IMAGE_SUFFIX)] for p, _ in self.samples]
        self._lut = split_def.train_id_lut()
        cities = {p.parent.name for p, _ in self.samples}
        n_labelled = sum(lab is not None for _, lab in self.samples)
        log.info(
            "%s [%s]: %d images from %d cities (%d labelled), split %r (%d known, %d unknown classes)",
            self.root, split, len(self.samples), len(cities), n_labelled,
            split_def.name, split_def.num_known, split_def.num_unknown,
        )  # fmt: skip

    @classmethod
    def from_config(
        cls, cfg: DataConfig, split: str, *, train: bool = False, require_labels: bool = True
    ) -> CityscapesDataset:
        """The ``split`` of ``cfg.root`` with ``cfg``'s split preset and transforms (train or eval).

        ``cfg.max_images`` limits every split read this way.
        """
        if cfg.dataset not in ("cityscapes", "embedded"):
            raise ValueError(
                f"data.dataset={cfg.dataset!r}: this reader serves 'cityscapes' and 'embedded'"
            )
        transforms = build_train_transforms(cfg) if train else build_eval_transforms(cfg)
        return cls(cfg.root, split, get_split(cfg.split_preset), transforms, cfg.max_images,
                   require_labels=require_labels)  # fmt: skip

    def __len__(self) -> int:
        return len(self.samples)

    def load_target(self, index: int) -> np.ndarray:
        """The uint8 class-index map of sample ``index`` (all :data:`IGNORE_INDEX` if unlabelled)."""
        image_path, label_path = self.samples[index]
        if label_path is None:
            width, height = _open(image_path, "image").size
            return np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        train_ids = label_ids_to_train_ids(read_label_ids(label_path), source=str(label_path))
        return self._lut[train_ids]

    def load(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The raw pair: an RGB PIL image and its uint8 class-index map, checked to be the same size."""
        image_path, label_path = self.samples[index]
        image = _open(image_path, "image").convert("RGB")
        target = self.load_target(index)
        if target.shape != (image.height, image.width):
            raise DatasetError(
                f"{label_path}: label is {target.shape[1]}×{target.shape[0]} but image {image_path} is "
                f"{image.width}×{image.height} (W×H); expected equal sizes"
            )
        return image, target

    def __getitem__(self, index: int) -> Any:
        image, target = self.load(index)
        return self.transforms(image, target)


def denormalize(image: torch.Tensor) -> np.ndarray:
    """Undo the ImageNet normalisation of a 3×H×W tensor: an H×W×3 uint8 array for plotting."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"denormalize expects a 3×H×W tensor, got shape {tuple(image.shape)}")
    x = image.detach().to("cpu", torch.float32)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    x = (x * std + mean).clamp(0, 1) * 255 + 0.5
    return x.to(torch.uint8).permute(1, 2, 0).numpy()
