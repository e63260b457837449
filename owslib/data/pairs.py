"""The part every image/label reader shares: loading a checked pair and applying the transforms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from owslib.data.validation import DatasetError, open_image, size_mismatch


class ImageLabelPairs(Dataset):
    """Base of the readers: ``samples`` holds ``(image path, label path or None)`` pairs and
    subclasses define :meth:`load_target`; ``transforms`` maps ``(PIL image, uint8 map)``."""

    samples: list[tuple[Path, Path | None]]
    transforms: Any

    def __len__(self) -> int:
        return len(self.samples)

    def load_target(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def load(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The raw pair: an RGB PIL image and its uint8 target, checked to be the same size."""
        image_path, label_path = self.samples[index]
        image = open_image(image_path).convert("RGB")
        target = self.load_target(index)
        if target.shape != (image.height, image.width):
            raise DatasetError(size_mismatch(label_path, image_path, target, image))
        return image, target

    def __getitem__(self, index: int) -> Any:
        image, target = self.load(index)
        return self.transforms(image, target)
