"""Decoding and checking dataset files: label encodings, per-pair validation, the bad-file report.

Every reader decodes through :func:`open_image` and :func:`read_train_ids`, so a missing, truncated or
corrupt file, a label of the wrong shape or an id outside the label table raises an error naming the
file and what was expected. With ``skip_bad`` a reader runs :func:`validate_pair` over every pair up
front instead, drops the bad ones and lists each with its reason in a :class:`BadFile` report
(:func:`write_bad_report`) — nothing is dropped silently. :func:`first_bad_pair` decodes a list of
pairs once (the check before the first epoch, ``data__validate``).

An error raised in a DataLoader worker comes back wrapped by torch, its message the worker's whole
traceback; :func:`worker_message` recovers the original one line, and :class:`DatasetError` does so
itself when torch re-creates it.

Label encodings (``label_format``):

* ``label_ids`` — Cityscapes labelIds (``*_gtFine_labelIds.png``), mapped by the official table;
* ``train_ids`` — trainIds already (``*_gtFine_labelTrainIds.png``: BDD100K masks, BDD-Anomaly),
  0..18 or 255;
* ``anomaly`` — SegmentMeIfYouCan (``*_labels_semantic.png``): 0 known, 1 anomaly, 255 ignore.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
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


#: How torch re-raises an error of a DataLoader worker: "Caught <Type> in DataLoader worker process
#: <n>.\nOriginal Traceback (most recent call last): …<module>.<Type>: <message>".
_WORKER = re.compile(r"\ACaught (\w+) in DataLoader worker process \d+\.\nOriginal Traceback")


def worker_message(text: str) -> str | None:
    """The original message of an error re-raised by a DataLoader worker (``text`` is what torch
    made of it: the worker's traceback), or ``None`` if ``text`` is not such a message."""
    caught = _WORKER.match(text)
    if caught is None:
        return None
    # the traceback ends with "<module>.<Type>: <message>" (after any chained causes)
    lines = list(re.finditer(rf"^(?:[\w.]+\.)?{caught.group(1)}: ", text, re.MULTILINE))
    return text[lines[-1].end() :].strip() if lines else None


class DatasetError(RuntimeError):
    """A dataset folder or file is missing, unreadable or inconsistent; the message names it.

    Re-created by torch from a DataLoader worker's traceback, it keeps the original message (one
    line naming the file: what ``run.json`` records) and the worker's traceback in
    :attr:`worker_traceback`, also a note of its traceback (Python ≥ 3.11; ``--debug`` shows it)."""

    worker_traceback: str | None = None

    def __init__(self, *args: object) -> None:
        original = worker_message(args[0]) if len(args) == 1 and isinstance(args[0], str) else None
        if original is None:
            super().__init__(*args)
            return
        super().__init__(original)
        self.worker_traceback = args[0]
        if hasattr(self, "add_note"):
            self.add_note(args[0])


class LabelFileError(DatasetError, LabelError):
    """A label file holds values outside its encoding (a :class:`~owslib.labels.LabelError` that is
    also a :class:`DatasetError`, so a worker's re-raise keeps one line)."""


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
    """Decode, check and convert one label file (see the module docstring for the encodings);
    values outside the encoding raise :class:`LabelFileError` naming the file."""
    arr = read_label_ids(path, data=data)
    try:
        return to_train_ids(arr, label_format, str(path))
    except LabelError as e:
        raise LabelFileError(str(e)) from e


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


def first_bad_pair(
    pairs: Iterable[tuple[Path, Path | None]], label_format: str, *, workers: int = 1
) -> BadFile | None:
    """Fully decode every pair (:func:`validate_pair`, in ``workers`` threads: PIL decodes without
    the GIL); the first bad one in ``pairs``' order, or ``None``. Stops early on a bad pair."""

    def problem(image: Path, label: Path | None) -> BadFile | None:
        return validate_pair(image, label, label_format)[0]  # the decoded label is not kept

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(problem, image, label) for image, label in pairs]
        try:
            for future in futures:
                if (bad := future.result()) is not None:
                    return bad
        finally:  # on a bad pair: the queued decodes are not needed
            for future in futures:
                future.cancel()
    return None


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
