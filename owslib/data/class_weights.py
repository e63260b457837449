"""Per-class loss weights from label frequencies: one streaming pass, cached as JSON by content hash.

Frequencies ``f_k`` are pixel shares of known class ``k`` among all known-labelled pixels (unknown
classes, void and ignore pixels do not count). Methods:

* ``inverse_frequency`` — ``ω_k = 1 / (K' f_k)`` with ``K'`` the number of present classes, i.e.
  ``1/f_k`` scaled so that ``Σ_k f_k ω_k = 1``: the mean weight over labelled pixels is 1, so the
  loss keeps the scale of the unweighted one (ContMAV Eq. 2 weights by inverse class frequency).
* ``median_frequency`` — ``ω_k = median(f) / f_k`` (Eigen & Fergus, ICCV 2015), median over present
  classes.
* ``log`` — ``ω_k = 1 / ln(1.02 + f_k)`` (ENet, Paszke et al. 2016).
* ``none`` — all ones (no pass over the labels).

Classes absent from the labels get weight 0 and a logged warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from owslib.data.cityscapes import CityscapesDataset
from owslib.data.validation import read_label_ids, read_train_ids
from owslib.io import atomic_write_json
from owslib.labels import SplitDefinition

log = logging.getLogger(__name__)

METHODS = ("inverse_frequency", "median_frequency", "log", "none")
ENET_C = 1.02  # ENet's c: bounds the weights of rare classes by 1 / ln(1.02) ≈ 50
CACHE_VERSION = 1


def count_pixels(
    label_paths: Sequence[Path],
    num_classes: int,
    split_def: SplitDefinition | None = None,
    *,
    label_format: str = "label_ids",
) -> np.ndarray:
    """Pixels of class ``0..num_classes-1`` over all label files (int64 ``[num_classes]``).

    With ``split_def`` the files hold Cityscapes labelIds (``label_format="label_ids"``) or trainIds
    (``"train_ids"``), mapped to class indices; without it they already hold class indices
    (255 = ignore).
    """
    lut = split_def.train_id_lut() if split_def is not None else None
    counts = np.zeros(256, dtype=np.int64)
    for path in tqdm(label_paths, desc="class frequencies", unit="label", disable=None):
        if lut is not None:
            arr = lut[read_train_ids(Path(path), label_format)]
        else:
            arr = read_label_ids(Path(path))
        if arr.dtype != np.uint8:
            arr = arr.astype(np.int64).clip(0, 255)
        counts += np.bincount(arr.ravel(), minlength=256)[:256]
    return counts[:num_classes]


def weights_from_counts(counts: np.ndarray, method: str) -> np.ndarray:
    """Class weights (float32) from pixel counts by ``method`` (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"unknown class-weighting method {method!r}; choose one of {METHODS}")
    counts = np.asarray(counts, dtype=np.float64)
    if method == "none":
        return np.ones(len(counts), dtype=np.float32)
    total = counts.sum()
    if total <= 0:
        raise ValueError("class weights: the labels hold no pixel of any known class")
    present = counts > 0
    if not present.all():
        log.warning(
            "class weights: classes %s never occur in the labels; weight 0",
            np.flatnonzero(~present).tolist(),
        )
    f = counts[present] / total
    weights = np.zeros(len(counts), dtype=np.float64)
    if method == "inverse_frequency":
        weights[present] = 1.0 / (present.sum() * f)
    elif method == "median_frequency":
        weights[present] = np.median(f) / f
    else:
        weights[present] = 1.0 / np.log(ENET_C + f)
    return weights.astype(np.float32)


def _cache_key(
    paths: Sequence[Path],
    num_classes: int,
    method: str,
    split_def: SplitDefinition | None,
    label_format: str = "label_ids",
) -> str:
    files = []
    for p in sorted(Path(p).resolve() for p in paths):
        st = p.stat()
        files.append([str(p), st.st_size, st.st_mtime_ns])
    split = (
        None
        if split_def is None
        else [split_def.name, list(split_def.known), list(split_def.unknown)]
    )
    blob = {
        "v": CACHE_VERSION,
        "method": method,
        "num_classes": num_classes,
        "split": split,
        "files": files,
        "label_format": label_format,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def _read_cache(path: Path, num_classes: int, method: str) -> np.ndarray | None:
    try:
        data = json.loads(path.read_text())
        weights = np.asarray(data["weights"], dtype=np.float32)
        if data["method"] != method or weights.shape != (num_classes,):
            raise ValueError(f"holds {data['method']!r} weights of shape {weights.shape}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("%s: ignoring unusable class-weight cache (%s); recomputing", path, e)
        return None
    log.info("class weights (%s) from cache %s", method, path)
    return weights


def _resolve(
    labels: CityscapesDataset | Sequence[str | Path],
    num_classes: int | None,
    split_def: SplitDefinition | None,
    label_format: str,
) -> tuple[list[Path], int, SplitDefinition | None, str]:
    if isinstance(labels, CityscapesDataset):
        label_format = labels.label_format
        missing = [img for img, lab in labels.samples if lab is None]
        if missing:
            raise ValueError(
                f"class weights need labels; {len(missing)} images have none (e.g. {missing[0]})"
            )
        split_def = labels.split_def
        paths = [lab for _, lab in labels.samples if lab is not None]
        num_classes = split_def.num_known if num_classes is None else num_classes
    else:
        paths = [Path(p) for p in labels]
        if num_classes is None:
            num_classes = split_def.num_known if split_def is not None else None
    if not num_classes or num_classes < 1:
        raise ValueError(
            "class weights: pass num_classes (or a split_def / dataset that defines it)"
        )
    if not paths:
        raise ValueError("class weights: no label files given")
    return paths, num_classes, split_def, label_format


def compute_class_weights(
    labels: CityscapesDataset | Sequence[str | Path],
    num_classes: int | None = None,
    method: str = "inverse_frequency",
    cache_dir: str | Path | None = None,
    *,
    split_def: SplitDefinition | None = None,
    label_format: str = "label_ids",
) -> np.ndarray:
    """Weights ``[num_classes]`` (float32) for the known classes, from one pass over the labels.

    ``labels`` is a :class:`CityscapesDataset` (its label files and split definition are used;
    ``num_classes`` defaults to its number of known classes) or a list of label files: labelId PNGs
    (or trainId PNGs with ``label_format="train_ids"``) when ``split_def`` is given, class-index
    PNGs otherwise. No augmentation is applied. With
    ``cache_dir`` the result is stored as ``<cache_dir>/class_weights/<sha256>.json`` (the hash covers
    method, classes, split and every file's path, size and mtime) and reused when present.
    """
    if method not in METHODS:
        raise ValueError(f"unknown class-weighting method {method!r}; choose one of {METHODS}")
    paths, num_classes, split_def, label_format = _resolve(
        labels, num_classes, split_def, label_format
    )
    if method == "none":
        return np.ones(num_classes, dtype=np.float32)
    cache = None
    if cache_dir is not None:
        cache = (
            Path(cache_dir)
            / "class_weights"
            / f"{_cache_key(paths, num_classes, method, split_def, label_format)}.json"
        )
        cached = _read_cache(cache, num_classes, method)
        if cached is not None:
            return cached
    counts = count_pixels(paths, num_classes, split_def, label_format=label_format)
    weights = weights_from_counts(counts, method)
    log.info(
        "class weights (%s) over %d label files: %s",
        method,
        len(paths),
        np.round(weights, 3).tolist(),
    )
    if cache is not None:
        record: dict[str, Any] = {
            "method": method,
            "num_classes": num_classes,
            "split": None if split_def is None else split_def.name,
            "num_files": len(paths),
            "counts": counts.tolist(),
            "weights": weights.tolist(),
        }
        atomic_write_json(cache, record)
    return weights
