"""Readers of SegmentMeIfYouCan (Chan et al., NeurIPS 2021 Datasets): RoadAnomaly21, RoadObstacle21;
and of RoadAnomaly (Lis et al., ICCV 2019) in the same layout.

Layout as distributed (``ROOT`` is the track folder or the folder holding it)::

    dataset_AnomalyTrack/images/<fid>.jpg                      RoadAnomaly21 (110 images)
    dataset_AnomalyTrack/labels_masks/<fid>_labels_semantic.png
    dataset_ObstacleTrack/images/<fid>.webp                    RoadObstacle21
    dataset_ObstacleTrack/labels_masks/<fid>_labels_semantic.png

RoadAnomaly (dataset ``road_anomaly``, 60 frames, all labelled) is not distributed this way:
``python -m owslib data road-anomaly`` builds the layout (:mod:`owslib.data.road_anomaly`).

Label maps: 0 = known (usual / road), 1 = anomaly (obstacle), 255 = ignore. These readers serve
**evaluation only**, and their **targets are anomaly labels, not class indices**: ``dataset[i]`` is
``(image tensor 3×H×W, int64 H×W of 0 / 1 / 255)``, which the anomaly metrics take as they are (the
closed-set metrics do not apply). Only the validation frames carry public labels; the hidden test
frames have none: ``unlabelled="skip"`` (default) leaves them out and counts them, ``"keep"`` keeps
them with all-ignore targets (to predict them), ``"error"`` raises naming them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from owslib.data.cityscapes import Transform
from owslib.data.pairs import ImageLabelPairs
from owslib.data.transforms import build_eval_transforms
from owslib.data.validation import (
    BadFile,
    DatasetError,
    names,
    open_image,
    read_train_ids,
    validate_pair,
    write_bad_report,
)
from owslib.data.credits import open_licence_frames
from owslib.labels import IGNORE_INDEX
from owslib.sources import LABEL_SUFFIX, TRACKS

log = logging.getLogger(__name__)

#: Track folder per dataset name.
IMAGE_EXTENSIONS = (".jpg", ".png", ".webp")
UNLABELLED = ("skip", "keep", "error")


def track_root(root: str | Path, track: str) -> Path:
    """The track folder: ``root`` itself if it holds ``images/``, else ``root/<track folder>``."""
    if track not in TRACKS:
        raise ValueError(
            f"unknown SegmentMeIfYouCan track {track!r}; choose one of {sorted(TRACKS)}"
        )
    root = Path(root)
    if (root / "images").is_dir():
        return root
    folder = root / TRACKS[track]
    if not folder.is_dir():
        raise DatasetError(
            f"{root}: neither a {TRACKS[track]} folder nor one holding images/ and labels_masks/ "
            f"(expected {TRACKS[track]}/images/<fid>.jpg|png|webp and "
            f"labels_masks/<fid>{LABEL_SUFFIX})"
        )
    return folder


def pair_track(folder: Path) -> tuple[list[tuple[Path, Path | None]], list[BadFile]]:
    """``(image, label or None)`` pairs of a track folder, sorted, and the unpairable files."""
    image_dir, label_dir = folder / "images", folder / "labels_masks"
    if not image_dir.is_dir():
        raise DatasetError(f"{image_dir}: image folder not found (expected <fid>.jpg|png|webp)")
    images: dict[str, Path] = {}
    problems: list[BadFile] = []
    for p in sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
        if p.stem in images:
            problems.append(BadFile(str(p), f"{p}: a second image of {images[p.stem]}'s fid"))
        else:
            images[p.stem] = p
    if not images:
        raise DatasetError(f"{image_dir}: no images (expected <fid>.jpg|png|webp)")
    labels = {}
    if label_dir.is_dir():
        labels = {p.name[: -len(LABEL_SUFFIX)]: p for p in label_dir.glob(f"*{LABEL_SUFFIX}")}
    for fid, p in sorted(labels.items()):
        if fid not in images:
            problems.append(BadFile(str(p), f"{p}: label has no image {image_dir}/{fid}.*"))
    return [(images[f], labels.get(f)) for f in sorted(images)], problems


class SMIYCDataset(ImageLabelPairs):
    """One SegmentMeIfYouCan track; targets are anomaly labels (0 known, 1 anomaly, 255 ignore).

    ``skip_bad`` decodes every pair up front and drops bad ones into :attr:`skipped` (and
    ``report_dir/bad_files_<track>.json``); by default a bad file raises when loaded, naming it.
    """

    def __init__(
        self,
        root: str | Path,
        track: str,
        transforms: Transform | None = None,
        *,
        unlabelled: str = "skip",
        skip_bad: bool = False,
        report_dir: str | Path | None = None,
    ) -> None:
        if unlabelled not in UNLABELLED:
            raise ValueError(f"unlabelled={unlabelled!r}; choose one of {UNLABELLED}")
        self.track, self.root = track, track_root(root, track)
        self.transforms: Transform = (
            transforms if transforms is not None else build_eval_transforms()
        )
        pairs, problems = pair_track(self.root)
        missing = [img for img, lab in pairs if lab is None]
        if missing and unlabelled == "error":
            problems += [
                BadFile(str(p), f"{p}: image has no label <fid>{LABEL_SUFFIX}") for p in missing
            ]
        if problems and not skip_bad:
            raise DatasetError(f"{self.root}: {len(problems)} files cannot be paired: "
                               + "; ".join(b.reason for b in problems[:5]))
        total = len(pairs)
        if unlabelled != "keep":
            pairs = [(img, lab) for img, lab in pairs if lab is not None]
        self.unlabelled = missing
        if missing:
            what = "kept with all-ignore targets" if unlabelled == "keep" else "left out"
            log.info("%s: %d of %d images have no public label (%s)",
                     self.root, len(missing), total, what)
        self.skipped: list[BadFile] = list(problems)
        if skip_bad:
            pairs = self._drop_bad(pairs, report_dir)
        if not pairs:
            raise DatasetError(
                f"{self.root}: no usable labelled image (expected labels_masks/<fid>{LABEL_SUFFIX}; "
                "unlabelled='keep' to predict unlabelled images)"
            )
        self.samples: list[tuple[Path, Path | None]] = pairs
        self.names = [img.stem for img, _ in pairs]

    def _drop_bad(self, pairs: list[tuple[Path, Path | None]], report_dir: str | Path | None):
        good = []
        for image, label in pairs:
            problem, _ = validate_pair(image, label, "anomaly")
            if problem is None:
                good.append((image, label))
            else:
                self.skipped.append(problem)
        if self.skipped:
            what = f"{self.root} [{self.track}]"
            if report_dir is not None:
                write_bad_report(Path(report_dir) / f"bad_files_{self.track}.json",
                                 self.skipped, what=what)
            else:
                log.warning("%s: skipped %d bad files: %s", what, len(self.skipped),
                            names([Path(b.path) for b in self.skipped]))
        return good

    def may_picture(self, index: int) -> bool:
        """Whether frame ``index`` may be pictured in committed results: every frame, unless the
        track holds a ``credits.txt`` (RoadAnomaly's), then only those under an open licence
        (:func:`owslib.data.credits.open_licence_frames`)."""
        if not hasattr(self, "_open_frames"):
            credits = self.root / "credits.txt"
            self._open_frames = open_licence_frames(credits) if credits.is_file() else None
        return self._open_frames is None or self.names[index] in self._open_frames

    def load_target(self, index: int) -> np.ndarray:
        """The uint8 anomaly label map (0 known, 1 anomaly, 255 ignore) of sample ``index``."""
        image_path, label_path = self.samples[index]
        if label_path is None:
            width, height = open_image(image_path).size
            return np.full((height, width), IGNORE_INDEX, dtype=np.uint8)
        return read_train_ids(label_path, "anomaly")
