"""Joint image/label transforms on ``torchvision.transforms.v2``: training augmentation, eval conversion.

Both pipelines are callables ``(PIL image, uint8 H×W target) -> (float 3×H×W, int64 H×W)``. The target
travels as a :class:`torchvision.tv_tensors.Mask`, so v2 resizes it with nearest neighbour, pads it
with :data:`~owslib.labels.PAD_INDEX` (not void: padding is neither a class nor an unknown object,
so no loss term sees it) and never colour-jitters or normalises it: label values are never
interpolated. Randomness comes from torch's generator (seeded per DataLoader worker).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from owslib.config import DataConfig
from owslib.labels import PAD_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Strength of the colour jitter (``DataConfig.color_jitter``), the reference code's HSV jitter in
#: spirit: brightness/contrast/saturation factors in [0.7, 1.3], hue shift within ±0.05 turns.
COLOR_JITTER = {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.05}


class RandomScale(v2.Transform):
    """Rescale image and mask by one factor drawn uniformly from ``[scale_min, scale_max]``.

    Images are resized bilinearly (antialiased); masks with nearest neighbour (v2 does this for
    :class:`~torchvision.tv_tensors.Mask`).
    """

    def __init__(self, scale_min: float, scale_max: float) -> None:
        super().__init__()
        if not 0 < scale_min <= scale_max:
            raise ValueError(
                f"RandomScale: need 0 < scale_min <= scale_max, got {scale_min}, {scale_max}"
            )
        self.scale_min, self.scale_max = scale_min, scale_max

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        s = float(torch.empty(()).uniform_(self.scale_min, self.scale_max))
        return {"size": [max(1, round(h * s)), max(1, round(w * s))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(
            F.resize,
            inpt,
            size=params["size"],
            interpolation=v2.InterpolationMode.BILINEAR,
            antialias=True,
        )


class JointTransform:
    """Applies a v2 pipeline to an (image, target) pair and returns plain tensors.

    ``image``: a PIL image (converted to RGB), an H×W×3 uint8 array or a 3×H×W uint8 tensor.
    ``target``: an H×W integer array or tensor (class indices, 255 = ignore).
    Returns a float32 tensor 3×H'×W' (ImageNet-normalised) and an int64 tensor H'×W'.
    """

    def __init__(self, pipeline: v2.Transform) -> None:
        self.pipeline = pipeline

    def __call__(
        self, image: Image.Image | np.ndarray | torch.Tensor, target: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        img = _as_image(image)
        mask = tv_tensors.Mask(torch.as_tensor(np.ascontiguousarray(target)))
        if mask.ndim != 2 or tuple(mask.shape) != tuple(img.shape[-2:]):
            raise ValueError(
                f"image is {tuple(img.shape[-2:])} (H, W) but target is {tuple(mask.shape)}: expected equal sizes"
            )
        img, mask = self.pipeline(img, mask)
        return img.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor).to(torch.int64)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pipeline})"


def _as_image(image: Image.Image | np.ndarray | torch.Tensor) -> tv_tensors.Image:
    if isinstance(image, Image.Image):
        return tv_tensors.Image(F.pil_to_tensor(image.convert("RGB")))
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image array must be H×W×3, got shape {image.shape}")
        return tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
    return tv_tensors.Image(image)


def _to_normalised_float() -> list[v2.Transform]:
    return [
        v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True),
        v2.Normalize(mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD)),
    ]


def build_train_transforms(cfg: DataConfig) -> JointTransform:
    """Random scale, pad (image 0, label ``PAD_INDEX``) and random crop to the crop size, flip,
    colour jitter."""
    ops: list[v2.Transform] = [
        RandomScale(cfg.scale_min, cfg.scale_max),
        v2.RandomCrop(
            (cfg.crop_height, cfg.crop_width),
            pad_if_needed=True,
            fill={tv_tensors.Image: 0, tv_tensors.Mask: PAD_INDEX},
        ),
    ]
    if cfg.hflip:
        ops.append(v2.RandomHorizontalFlip(p=0.5))
    if cfg.color_jitter:
        ops.append(v2.ColorJitter(**COLOR_JITTER))
    return JointTransform(v2.Compose(ops + _to_normalised_float()))


def build_eval_transforms(cfg: DataConfig | None = None, scale: float | None = None) -> JointTransform:
    """Convert to tensors and normalise, at native resolution unless ``scale`` (default:
    ``cfg.eval_scale``) says otherwise: then the image is resized bilinearly (antialiased) and the
    label by its nearest pixel."""
    scale = scale if scale is not None else (cfg.eval_scale if cfg is not None else 1.0)
    ops = [] if scale == 1.0 else [ScaleBy(scale)]
    return JointTransform(v2.Compose(ops + _to_normalised_float()))


class ScaleBy(v2.Transform):
    """Resize by a fixed factor: images bilinear with antialiasing, masks nearest."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.scale = scale

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        h, w = inpt.shape[-2:]
        size = [max(1, round(h * self.scale)), max(1, round(w * self.scale))]
        return F.resize(inpt, size, antialias=True)
