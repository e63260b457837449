"""Reader of the official Cityscapes layout (``leftImg8bit``/``gtFine``); it also reads the embedded set
and the BDD-Anomaly and CamVid trees that :mod:`owslib.data.bdd_anomaly` and
:mod:`owslib.data.camvid` build.

Targets are converted once, here: labels → trainIds (by ``label_format``, see
:mod:`owslib.data.validation`) → class indices of a :class:`~owslib.labels.SplitDefinition` (known
``0..K-1``, unknown ``K..K+U-1``, ignore 255). Flavours (``data.dataset``) differ only in the label
encoding: ``cityscapes`` and ``embedded`` store labelIds (``*_gtFine_labelIds.png``), ``bdd_anomaly``
and ``camvid`` store trainIds (``*_gtFine_labelTrainIds.png``, the name cityscapesScripts gives
trainId maps).
Images are ``*_leftImg8bit.png`` or ``*_leftImg8bit.jpg``.

Construction only pairs files (cheap); decoding errors surface when an item is loaded, naming the
file. ``skip_bad=True`` decodes every pair up front instead and drops the bad ones into a report;
:func:`validate_files` decodes every pair of the datasets once and raises for the first bad one
(``data__validate``: what training runs before its first epoch).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from owslib.config import DataConfig
from owslib.data.pairs import ImageLabelPairs
from owslib.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    build_eval_transforms,
    build_train_transforms,
)
from owslib.data.validation import (
    BadFile,
    DatasetError,
    first_bad_pair,
    names,
    open_image,
    read_label_ids,
    read_train_ids,
    validate_pair,
    write_bad_report,
)
from owslib.distributed import broadcast_from_main
from owslib.labels import IGNORE_INDEX, PAD_INDEX, SplitDefinition, get_split

__all__ = [
    "CityscapesDataset",
    "DatasetError",
    "denormalize",
    "list_samples",
    "read_label_ids",
    "validate_files",
    "validation_wanted",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIX = "_leftImg8bit.png"
IMAGE_SUFFIXES = (IMAGE_SUFFIX, "_leftImg8bit.jpg")
LABEL_SUFFIX = "_gtFine_labelIds.png"
LABEL_SUFFIXES = {"label_ids": LABEL_SUFFIX, "train_ids": "_gtFine_labelTrainIds.png"}
#: Label encoding of each dataset flavour read by this module.
FLAVOURS = {
    "cityscapes": "label_ids",
    "embedded": "label_ids",
    "bdd_anomaly": "train_ids",
    "camvid": "train_ids",
}
#: The official release: images per split and the cities of each split.
OFFICIAL_COUNTS = {"train": 2975, "val": 500, "test": 1525}
OFFICIAL_CITIES = {
    "train": frozenset(
        "aachen bochum bremen cologne darmstadt dusseldorf erfurt hamburg hanover jena krefeld "
        "monchengladbach strasbourg stuttgart tubingen ulm weimar zurich".split()
    ),
    "val": frozenset({"frankfurt", "lindau", "munster"}),
    "test": frozenset({"berlin", "bielefeld", "bonn", "leverkusen", "mainz", "munich"}),
}
Transform = Callable[[Image.Image, np.ndarray], Any]
#: What a training split does with images holding an unknown (held-out) class: keep them as they
#: are, drop them (the BDD-Anomaly protocol, applied to any dataset), or ignore those pixels.
HELDOUT_MODES = ("keep", "drop", "ignore")
#: ``data__validate``: decode every file before the first epoch (auto: for the real datasets).
VALIDATE_MODES = ("auto", "true", "false")


def _label_suffix(label_format: str) -> str:
    try:
        return LABEL_SUFFIXES[label_format]
    except KeyError:
        raise ValueError(
            f"label_format {label_format!r}: this reader takes one of {sorted(LABEL_SUFFIXES)}"
        ) from None


def _stem(path: Path, suffixes: tuple[str, ...]) -> tuple[str, str]:
    suffix = next(s for s in suffixes if path.name.endswith(s))
    return path.parent.name, path.name[: -len(suffix)]


def pair_samples(
    root: Path, split: str, *, require_labels: bool = True, label_format: str = "label_ids"
) -> tuple[list[tuple[Path, Path | None]], list[BadFile]]:
    """Pairs ``(image, label)`` of one split, sorted, and the files that cannot be paired.

    A missing root or split folder, or a split without images, raises :class:`DatasetError`.
    Unpaired files (a label without image, an image without label when ``require_labels``, two
    images of one stem) are returned as problems; the caller raises or skips them.
    """
    label_suffix = _label_suffix(label_format)
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
            f"{label_dir}: label folder of split {split!r} not found (expected <city>/*{label_suffix})"
        )
    problems: list[BadFile] = []
    images: dict[tuple[str, str], Path] = {}
    for p in sorted(p for s in IMAGE_SUFFIXES for p in image_dir.glob(f"*/*{s}")):
        key = _stem(p, IMAGE_SUFFIXES)
        if key in images:
            problems.append(BadFile(str(p), f"{p}: a second image of {images[key]}'s stem"))
            continue
        images[key] = p
    if not images:
        raise DatasetError(
            f"{image_dir}: split {split!r} is empty (expected <city>/*{IMAGE_SUFFIX} or .jpg)"
        )
    labels = {_stem(p, (label_suffix,)): p for p in label_dir.glob(f"*/*{label_suffix}")}
    for k, p in sorted(labels.items()):
        if k not in images:
            problems.append(BadFile(str(p), f"{p}: label has no image <stem>{IMAGE_SUFFIX}"))
    if require_labels:
        for k, p in sorted(images.items()):
            if k not in labels:
                problems.append(BadFile(str(p), f"{p}: image has no label <stem>{label_suffix}"))
    bad = {b.path for b in problems}
    pairs = [(images[k], labels.get(k)) for k in sorted(images) if str(images[k]) not in bad]
    return pairs, problems


def list_samples(
    root: Path, split: str, *, require_labels: bool = True, label_format: str = "label_ids"
) -> list[tuple[Path, Path | None]]:
    """Pairs ``(image, label)`` of ``root/leftImg8bit/<split>`` and ``root/gtFine/<split>``, sorted.

    Images and labels are matched by city and stem. Without ``require_labels`` an image may lack its
    label (its pair holds ``None``), as in the official test split; a label without an image is
    always an error. Raises :class:`DatasetError` naming the unpaired files.
    """
    pairs, problems = pair_samples(
        root, split, require_labels=require_labels, label_format=label_format
    )
    if problems:
        raise DatasetError(
            f"{root / 'leftImg8bit' / split}: {len(problems)} files cannot be paired: "
            + "; ".join(b.reason for b in problems[:5])
            + (f"; … ({len(problems) - 5} more)" if len(problems) > 5 else "")
        )
    return pairs


def release_warning(split: str, count: int, cities: set[str]) -> str | None:
    """A warning if ``split`` looks like the full official release but has a different count.

    "Full release": every city is an official city of that split, and either all of them are
    present or the split holds at least half the official count (a hand-made subset does not warn).
    """
    official, expected = OFFICIAL_CITIES.get(split), OFFICIAL_COUNTS.get(split)
    if official is None or expected is None or not cities or not cities <= official:
        return None
    if (cities == official or count >= expected // 2) and count != expected:
        return (
            f"Cityscapes {split}: {count} images from {len(cities)} cities, but the official "
            f"release has {expected} from {len(official)} (missing files or cities?)"
        )
    return None


class CityscapesDataset(ImageLabelPairs):
    """Images and class-index targets of one split of a Cityscapes-layout folder.

    ``dataset[i]`` is ``transforms(image, target)``: by default the eval transforms, giving a float
    tensor 3×H×W (ImageNet-normalised) and an int64 tensor H×W of class indices. :meth:`load`
    gives the raw pair (PIL RGB image, uint8 H×W class indices) and :meth:`load_target` only the
    target. Images without a label (``require_labels=False``) get an all-ignore target.

    ``skip_bad``: decode every pair now, drop those that fail (unpaired, unreadable, size mismatch,
    ids outside the table) and list them in :attr:`skipped` and, with ``report_dir``, in
    ``report_dir/bad_files_<split>.json``. By default any such file raises, naming it.
    :attr:`evaluable` is False for the official test split, whose labels are placeholders.

    ``heldout`` (for training splits): images holding an unknown class of ``split_def`` are kept
    (``"keep"``, the evaluation splits), dropped (``"drop"``: listed in :attr:`heldout_dropped`
    and logged) or have those pixels set to :data:`~owslib.labels.PAD_INDEX` (``"ignore"``), so
    that test-time anomalies never reach training as void or as anything else.
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
        label_format: str = "label_ids",
        skip_bad: bool = False,
        report_dir: str | Path | None = None,
        heldout: str = "keep",
    ) -> None:
        if heldout not in HELDOUT_MODES:
            raise ValueError(f"data__heldout_in_train={heldout!r}; choose one of {HELDOUT_MODES}")
        if max_images < 0:
            raise ValueError(f"max_images must be >= 0 (0 = all), got {max_images}")
        self.root, self.split, self.split_def = Path(root), split, split_def
        self.label_format = label_format
        self.transforms: Transform = (
            transforms if transforms is not None else build_eval_transforms()
        )
        if skip_bad:
            samples, self.skipped = self._valid_samples(require_labels, report_dir)
        else:
            samples = list_samples(
                self.root, split, require_labels=require_labels, label_format=label_format
            )
            self.skipped = []
        cities = {p.parent.name for p, _ in samples}
        if label_format == "label_ids" and (
            warning := release_warning(split, len(samples), cities)
        ):
            log.warning("%s: %s", self.root, warning)
        self.evaluable = any(lab is not None for _, lab in samples) and not (
            split == "test" and cities <= OFFICIAL_CITIES["test"]
        )
        if not self.evaluable and split == "test" and any(lab is not None for _, lab in samples):
            log.warning(
                "%s [test]: the official Cityscapes test labels are placeholders; "
                "this split can be predicted, not evaluated",
                self.root,
            )
        self._lut = split_def.train_id_lut()
        self.heldout_dropped: list[str] = []
        if split_def.unknown and heldout == "drop":
            samples = self._drop_heldout(samples)
        elif split_def.unknown and heldout == "ignore":
            self._lut[list(split_def.unknown)] = PAD_INDEX
        self.samples: list[tuple[Path, Path | None]] = (
            samples[:max_images] if max_images else samples
        )
        self.names = [_stem(p, IMAGE_SUFFIXES)[1] for p, _ in self.samples]
        n_labelled = sum(lab is not None for _, lab in self.samples)
        log.info(
            "%s [%s]: %d images from %d cities (%d labelled), split %r (%d known, %d unknown classes)",
            self.root, split, len(self.samples), len(cities), n_labelled,
            split_def.name, split_def.num_known, split_def.num_unknown,
        )

    def _drop_heldout(
        self, samples: list[tuple[Path, Path | None]]
    ) -> list[tuple[Path, Path | None]]:
        """``samples`` without the images whose label holds an unknown class (one pass)."""
        unknown = np.zeros(256, dtype=bool)
        unknown[list(self.split_def.unknown)] = True
        kept = []
        for image, label in samples:
            if label is not None and unknown[read_train_ids(label, self.label_format)].any():
                self.heldout_dropped.append(_stem(image, IMAGE_SUFFIXES)[1])
            else:
                kept.append((image, label))
        if self.heldout_dropped:
            log.warning(
                "%s [%s]: dropped %d of %d images that hold an unknown class of split %r (%s)",
                self.root, self.split, len(self.heldout_dropped), len(samples),
                self.split_def.name, ", ".join(self.split_def.unknown_names),
            )
        if not kept:
            raise DatasetError(
                f"{self.root / 'leftImg8bit' / self.split}: every image holds an unknown class of "
                f"split {self.split_def.name!r}; nothing is left to train on"
            )
        return kept

    def _valid_samples(
        self, require_labels: bool, report_dir: str | Path | None
    ) -> tuple[list[tuple[Path, Path | None]], list[BadFile]]:
        pairs, bad = pair_samples(
            self.root, self.split, require_labels=require_labels, label_format=self.label_format
        )
        good = []
        for image, label in pairs:
            problem, _ = validate_pair(image, label, self.label_format)
            if problem is None:
                good.append((image, label))
            else:
                bad.append(problem)
        if bad:
            what = f"{self.root} [{self.split}]"
            if report_dir is not None:
                write_bad_report(Path(report_dir) / f"bad_files_{self.split}.json", bad, what=what)
            else:
                log.warning(
                    "%s: skipped %d bad files: %s",
                    what,
                    len(bad),
                    "; ".join(b.reason for b in bad),
                )
        if not good:
            raise DatasetError(
                f"{self.root / 'leftImg8bit' / self.split}: no usable image/label pair left after "
                f"skipping {len(bad)} bad files ({names([Path(b.path) for b in bad])})"
            )
        return good, bad

    @classmethod
    def from_config(
        cls,
        cfg: DataConfig,
        split: str,
        *,
        train: bool = False,
        require_labels: bool = True,
        skip_bad: bool = False,
        report_dir: str | Path | None = None,
    ) -> CityscapesDataset:
        """The ``split`` of ``cfg.root`` with ``cfg``'s split preset, flavour and transforms.

        ``cfg.max_images`` limits every split read this way.
        """
        if cfg.dataset not in FLAVOURS:
            raise ValueError(f"data.dataset={cfg.dataset!r}: this reader serves {sorted(FLAVOURS)}")
        transforms = build_train_transforms(cfg) if train else build_eval_transforms(cfg)
        return cls(cfg.root, split, get_split(cfg.split_preset), transforms, cfg.max_images,
                   require_labels=require_labels, label_format=FLAVOURS[cfg.dataset],
                   skip_bad=skip_bad, report_dir=report_dir)

    def load_train_ids(self, index: int) -> np.ndarray | None:
        """The uint8 trainId map of sample ``index`` (``None`` if it has no label)."""
        label_path = self.samples[index][1]
        return None if label_path is None else read_train_ids(label_path, self.label_format)

    def load_target(self, index: int) -> np.ndarray:
        """The uint8 class-index map of sample ``index`` (all :data:`IGNORE_INDEX` if unlabelled)."""
        train_ids = self.load_train_ids(index)
        if train_ids is None:
            width, height = open_image(self.samples[index][0]).size
            return np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        return self._lut[train_ids]


def validation_wanted(cfg: DataConfig) -> bool:
    """Whether ``cfg`` asks to decode every file before the first epoch (``data__validate``):
    ``auto`` for the real datasets, not the generated ``embedded`` one; never with ``skip_bad``,
    whose readers already decoded every pair (and left the bad ones out)."""
    if cfg.validate not in VALIDATE_MODES:
        raise ValueError(f"data__validate={cfg.validate!r}; choose one of {VALIDATE_MODES}")
    if cfg.skip_bad:
        return False
    return cfg.dataset != "embedded" if cfg.validate == "auto" else cfg.validate == "true"


def validate_files(
    datasets: Iterable[CityscapesDataset], *, main: bool = True, workers: int | None = None
) -> None:
    """Decode every image and label of ``datasets`` once (a pair two splits share, once): the first
    bad file raises :class:`DatasetError` naming it, in one line. Under DDP only the main process
    (``main``) decodes; every process raises its verdict."""
    problem: BadFile | None = None
    if main:
        start, seen, count = time.perf_counter(), set(), 0
        workers = workers or min(8, os.cpu_count() or 1)
        for ds in datasets:
            pairs = [pair for pair in ds.samples if pair not in seen]
            seen.update(pairs)
            count += len(pairs)
            if (problem := first_bad_pair(pairs, ds.label_format, workers=workers)) is not None:
                break
        else:
            log.info("validated %d image/label pairs in %.1f s", count, time.perf_counter() - start)
    problem = broadcast_from_main(problem)
    if problem is not None:
        raise DatasetError(
            f"{problem.reason} (found by data__validate before training; data__skip_bad=true "
            "leaves bad files out instead)"
        )


def denormalize(image: torch.Tensor) -> np.ndarray:
    """Undo the ImageNet normalisation of a 3×H×W tensor: an H×W×3 uint8 array for plotting."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"denormalize expects a 3×H×W tensor, got shape {tuple(image.shape)}")
    x = image.detach().to("cpu", torch.float32)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    x = (x * std + mean).clamp(0, 1) * 255 + 0.5
    return x.to(torch.uint8).permute(1, 2, 0).numpy()
