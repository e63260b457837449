"""Decoding and checking dataset files: label encodings, per-pair validation, the bad-file report.

Every reader decodes through :func:`open_image` and :func:`read_train_ids`, so a missing, truncated or
corrupt file, a label of the wrong shape or an id outside the label table raises an error naming the
file and what was expected. With ``skip_bad`` a reader runs :func:`validate_pair` over every pair up
front instead, drops the bad ones and lists each with its reason in a :class:`BadFile` report
(:func:`write_bad_report`) — nothing is dropped silently.

Label encodings (``label_format``):

* ``label_ids`` — Cityscapes labelIds (``*_gtFine_labelIds.png``), mapped by the official table;
* ``train_ids`` — trainIds already (``*_gtFine_labelTrainIds.png``: BDD100K masks, BDD-Anomaly),
  0..18 or 255;
* ``anomaly`` — SegmentMeIfYouCan (``*_labels_semantic.png``): 0 known, 1 anomaly, 255 ignore.
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from owslib.io import atomic_write_json
from owslib.labels import IGNORE_INDEX, NUM_TRAIN_IDS, LabelError, label_ids_to_train_ids

log = logging.getLogger(__name__)

LABEL_FORMATS = ("label_ids", "train_ids", "anomaly")
#: Values a label map of each encoding may hold (``label_ids`` is checked by the official table).
_VALID_TRAIN_IDS = np.zeros(256, dtype=bool)
_VALID_TRAIN_IDS[list(range(NUM_TRAIN_IDS)) + [IGNORE_INDEX]] = True
_VALID_ANOMALY = np.zeros(256, dtype=bool)
_VALID_ANOMALY[[0, 1, IGNORE_INDEX]] = True
ANOMALY_KNOWN, ANOMALY_LABEL = 0, 1


class DatasetError(RuntimeError):
    """A dataset folder or file is missing, unreadable or inconsistent; the message names it."""


@dataclass(frozen=True)
class BadFile:
    """One file a reader skipped (``skip_bad``) and why."""

    path: str
    reason: str


def open_image(path: Path, what: str = "image", *, data: bytes | None = None) -> Image.Image:
    """Open and fully decode an image file (or its ``data``), turning PIL's errors into a
    :class:`DatasetError` naming the file."""
    try:
        with Image.open(io.BytesIO(data) if data is not None else path) as im:
            im.load()
            return im.copy()
    except FileNotFoundError as e:
        raise DatasetError(f"{path}: {what} not found") from e
    except (OSError, SyntaxError, ValueError) as e:  # unidentified, truncated or corrupt data
        raise DatasetError(
            f"{path}: cannot decode {what} ({e}); expected a valid {path.suffix[1:].upper()} file"
        ) from e


def read_label_ids(path: Path, *, data: bytes | None = None) -> np.ndarray:
    """A label PNG as an H×W array; raises :class:`DatasetError` unless it is single-channel."""
    arr = np.array(open_image(path, "label", data=data))  # writable: torch.as_tensor shares it
    if arr.ndim != 2:
        raise DatasetError(
            f"{path}: label has shape {arr.shape}; expected a single-channel label PNG"
        )
    return arr


def check_values(arr: np.ndarray, valid: np.ndarray, source: str, expected: str) -> np.ndarray:
    """``arr`` as uint8 if every value is ``valid``; :class:`LabelError` naming ``source`` if not."""
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise LabelError(f"{source}: label values outside 0..255; expected {expected}")
        arr = arr.astype(np.uint8)
    bad = ~valid[arr]
    if bad.any():
        ids = np.unique(arr[bad]).tolist()
        raise LabelError(f"{source}: label values {ids} are not valid; expected {expected}")
    return arr


def to_train_ids(arr: np.ndarray, label_format: str, source: str) -> np.ndarray:
    """Convert a decoded label map to trainIds (``anomaly`` maps are returned as they are)."""
    if label_format == "label_ids":
        return label_ids_to_train_ids(arr, source=source)
    if label_format == "train_ids":
        return check_values(arr, _VALID_TRAIN_IDS, source, "trainIds 0..18 or 255 (ignore)")
    if label_format == "anomaly":
        return check_values(arr, _VALID_ANOMALY, source, "0 (known), 1 (anomaly), 255 (ignore)")
    raise ValueError(f"unknown label_format {label_format!r}; choose one of {LABEL_FORMATS}")


def read_train_ids(path: Path, label_format: str, *, data: bytes | None = None) -> np.ndarray:
    """Decode, check and convert one label file (see the module docstring for the encodings)."""
    return to_train_ids(read_label_ids(path, data=data), label_format, str(path))


def validate_pair(
    image_path: Path, label_path: Path | None, label_format: str
) -> tuple[BadFile | None, np.ndarray | None]:
    """Fully decode an image and its label; ``(problem, None)`` or ``(None, trainIds or None)``."""
    try:
        image = open_image(image_path)
    except DatasetError as e:
        return BadFile(str(image_path), str(e)), None
    if label_path is None:
        return None, None
    try:
        train_ids = read_train_ids(label_path, label_format)
    except (DatasetError, LabelError) as e:
        return BadFile(str(label_path), str(e)), None
    if train_ids.shape != (image.height, image.width):
        return BadFile(
            str(label_path), size_mismatch(label_path, image_path, train_ids, image)
        ), None
    return None, train_ids


def size_mismatch(label_path: Path, image_path: Path, label: np.ndarray, image: Image.Image) -> str:
    return (
        f"{label_path}: label is {label.shape[1]}×{label.shape[0]} but image {image_path} is "
        f"{image.width}×{image.height} (W×H); expected equal sizes"
    )


def write_bad_report(path: Path, bad: list[BadFile], *, what: str) -> Path:
    """Write the skipped files as JSON (atomically) and log a warning with their count."""
    atomic_write_json(path, {"what": what, "count": len(bad), "files": [asdict(b) for b in bad]})
    log.warning("%s: skipped %d bad files; they are listed in %s", what, len(bad), path)
    return path


def names(paths: list[Path], limit: int = 5) -> str:
    """A short listing of ``paths`` for error messages."""
    shown = ", ".join(str(p) for p in paths[:limit])
    return shown + (f", … ({len(paths) - limit} more)" if len(paths) > limit else "")
