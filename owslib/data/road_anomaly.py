"""RoadAnomaly (Lis et al., ICCV 2019): 60 real road frames with anomalies (animals, rocks, cones,
…), built into the SegmentMeIfYouCan layout that :class:`~owslib.data.smiyc.SMIYCDataset` reads
as dataset ``road_anomaly``.

Input: the folder ``RoadAnomaly_jpg/`` of the repository HussainMehdi/ACV-HitMyCarInDark (or the
original release's ``RoadAnomaly/``); ``source`` is a clone holding it, or the folder itself::

    frame_list.json                             the frames' file names
    frames/<fid>.jpg                            1280×720
    frames/<fid>.labels/labels_semantic.png     0 not anomaly, 2 anomaly
    frames/<fid>.labels/labels_instance.png     anomaly instance ids, 0 elsewhere (some frames lack it)
    credits.txt, readme.md                      the images' authors and licences; the citation

Output::

    OUT/images/<fid>.jpg                        (bytes of the source frame)
    OUT/labels_masks/<fid>_labels_semantic.png  0 known, 1 anomaly (:data:`SEMANTIC_TO_ANOMALY`)
    OUT/labels_masks/<fid>_labels_instance.png  (bytes of the source, where the frame has one)
    OUT/credits.txt, OUT/readme.md              (copied: they travel with the images)
    OUT/manifest.json                           (written last)

Every frame is decoded and checked before anything is written (a label value outside the table,
a size mismatch, a missing or unreadable file raise naming the file); files are written
atomically and only when their content changes, so re-running is safe and finishes an
interrupted build. The manifest is a pure function of the input.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

import owslib
from owslib.data.smiyc import IMAGE_EXTENSIONS
from owslib.sources import LABEL_SUFFIX
from owslib.data.tree import place_bytes, place_copy, png_bytes, remove_stale, sha256_bytes
from owslib.data.validation import (
    ANOMALY_KNOWN,
    ANOMALY_LABEL,
    BadFile,
    DatasetError,
    LabelFileError,
    check_values,
    open_image,
    read_label_ids,
)
from owslib.io import atomic_write_json, sha256_file
from owslib.labels import LabelError

log = logging.getLogger(__name__)

SOURCE_FOLDERS = ("RoadAnomaly_jpg", "RoadAnomaly")
SOURCE_URL = "https://github.com/HussainMehdi/ACV-HitMyCarInDark (folder RoadAnomaly_jpg/)"
FRAME_LIST, CREDITS, README = "frame_list.json", "credits.txt", "readme.md"
#: Value of the source's ``labels_semantic.png`` → SegmentMeIfYouCan label.
SEMANTIC_TO_ANOMALY = {0: ANOMALY_KNOWN, 2: ANOMALY_LABEL}
INSTANCE_SUFFIX = "_labels_instance.png"
MANIFEST, PARTIAL = "manifest.json", "road_anomaly.partial.json"
_LUT = np.zeros(256, np.uint8)
_VALID = np.zeros(256, bool)
for _value, _label in SEMANTIC_TO_ANOMALY.items():
    _LUT[_value], _VALID[_value] = _label, True


@dataclass(frozen=True)
class Frame:
    fid: str
    image: Path
    semantic: Path
    instance: Path | None


@dataclass(frozen=True)
class Scanned:
    frame: Frame
    image_sha: str
    semantic_png: bytes  # the anomaly labels (0 / 1), PNG-encoded
    instance_sha: str | None
    pixels: tuple[int, int]  # known, anomaly


def road_anomaly_root(source: str | Path) -> Path:
    """The dataset folder: ``source/RoadAnomaly_jpg`` (or ``RoadAnomaly``) of a clone, or ``source``."""
    source = Path(source)
    for root in (*(source / f for f in SOURCE_FOLDERS), source):
        if (root / FRAME_LIST).is_file():
            return root
    raise DatasetError(
        f"{source}: neither a RoadAnomaly folder nor a clone holding {SOURCE_FOLDERS[0]}/ "
        f"(expected {FRAME_LIST}, frames/<fid>.jpg and frames/<fid>.labels/; from {SOURCE_URL})"
    )


def _frame_names(root: Path) -> list[str]:
    listing = root / FRAME_LIST
    try:
        names = json.loads(listing.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{listing}: cannot read the frame list ({e})") from e
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{listing}: expected a non-empty JSON list of frame file names")
    return names


def find_frames(root: Path) -> list[Frame]:
    """The frames of ``frame_list.json``, sorted; a missing image or label raises naming it."""
    frames_dir = root / "frames"
    frames = []
    for name in sorted(_frame_names(root)):
        image = frames_dir / name
        if image.suffix.lower() not in IMAGE_EXTENSIONS or not image.is_file():
            raise DatasetError(
                f"{image}: frame of {root / FRAME_LIST} not found (expected an image file)"
            )
        labels = frames_dir / f"{image.stem}.labels"
        semantic, instance = labels / "labels_semantic.png", labels / "labels_instance.png"
        if not semantic.is_file():
            raise DatasetError(f"{semantic}: label of frame {image} not found")
        frames.append(Frame(image.stem, image, semantic, instance if instance.is_file() else None))
    listed = {f.image for f in frames}
    unlisted = [
        p
        for p in sorted(frames_dir.iterdir())
        if p.suffix.lower() in IMAGE_EXTENSIONS and p not in listed
    ]
    if unlisted:
        log.warning(
            "%s: %d images not in %s are left out (e.g. %s)",
            frames_dir,
            len(unlisted),
            FRAME_LIST,
            unlisted[0].name,
        )
    return frames


def _size_check(label: Path, arr: np.ndarray, image: Path, size: tuple[int, int]) -> None:
    if arr.shape != (size[1], size[0]):
        raise DatasetError(
            f"{label}: label is {arr.shape[1]}×{arr.shape[0]} but image {image} is "
            f"{size[0]}×{size[1]} (W×H); expected equal sizes"
        )


def scan(frame: Frame) -> Scanned:
    """Read, hash and fully decode one frame and its labels; check sizes and label values.
    Raises naming the file."""
    image_bytes = frame.image.read_bytes()
    size = open_image(frame.image, data=image_bytes).size
    semantic = read_label_ids(frame.semantic)
    expected = ", ".join(
        f"{v} ({'anomaly' if a else 'not anomaly'})" for v, a in SEMANTIC_TO_ANOMALY.items()
    )
    try:
        anomaly = _LUT[check_values(semantic, _VALID, str(frame.semantic), expected)]
    except LabelError as e:
        raise LabelFileError(str(e)) from e
    _size_check(frame.semantic, semantic, frame.image, size)
    instance_sha = None
    if frame.instance is not None:
        instance_bytes = frame.instance.read_bytes()
        _size_check(
            frame.instance, read_label_ids(frame.instance, data=instance_bytes), frame.image, size
        )
        instance_sha = sha256_bytes(instance_bytes)
    n_anomaly = int(np.count_nonzero(anomaly == ANOMALY_LABEL))
    return Scanned(
        frame,
        sha256_bytes(image_bytes),
        png_bytes(anomaly),
        instance_sha,
        (anomaly.size - n_anomaly, n_anomaly),
    )


def output_paths(out: Path, frame: Frame) -> dict[str, Path]:
    """Where a frame's files go: ``image``, ``semantic`` and ``instance``."""
    masks = out / "labels_masks"
    return {
        "image": out / "images" / f"{frame.fid}{frame.image.suffix.lower()}",
        "semantic": masks / f"{frame.fid}{LABEL_SUFFIX}",
        "instance": masks / f"{frame.fid}{INSTANCE_SUFFIX}",
    }


def _scan_all(frames: list[Frame], workers: int) -> list[Scanned]:
    # Threads: PIL and hashlib release the GIL while decoding/hashing; map keeps the input order.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        it = pool.map(scan, frames)
        return list(tqdm(it, total=len(frames), desc="RoadAnomaly scan", unit="img", disable=None))


def _place_frame(s: Scanned, out: Path) -> tuple[int, dict[str, str]]:
    """Write one frame's files; ``(files written, {relative path: sha256})``."""
    paths = output_paths(out, s.frame)
    written = place_copy(s.frame.image, paths["image"], s.image_sha)
    written += place_bytes(s.semantic_png, paths["semantic"])
    shas = {"image": s.image_sha, "semantic": sha256_bytes(s.semantic_png)}
    if s.frame.instance is not None and s.instance_sha is not None:
        written += place_copy(s.frame.instance, paths["instance"], s.instance_sha)
        shas["instance"] = s.instance_sha
    return written, {paths[k].relative_to(out).as_posix(): sha for k, sha in shas.items()}


def build_road_anomaly(
    source: str | Path, out: str | Path, *, workers: int | None = None
) -> dict[str, Any]:
    """Build RoadAnomaly from ``source`` (a clone holding ``RoadAnomaly_jpg/``, or that folder)
    into ``out``; returns the manifest. Nothing is written before every frame has been checked."""
    root, out = road_anomaly_root(source), Path(out)
    if not (root / CREDITS).is_file():
        raise DatasetError(f"{root / CREDITS}: not found; the images' licences travel with them")
    scanned = _scan_all(find_frames(root), workers or min(8, os.cpu_count() or 1))
    atomic_write_json(out / PARTIAL, {"source": "RoadAnomaly"})
    written, files = 0, {}
    for s in tqdm(scanned, desc="RoadAnomaly write", unit="img", disable=None):
        n, placed = _place_frame(s, out)
        written, files = written + n, files | placed
    for name in (CREDITS, README):
        if (root / name).is_file():
            files[name] = sha256_file(root / name)
            written += place_copy(root / name, out / name, files[name])
    remove_stale([out / "images", out / "labels_masks"], {out / f for f in files})
    manifest = _manifest(scanned, files)
    atomic_write_json(out / MANIFEST, manifest)
    (out / PARTIAL).unlink(missing_ok=True)
    log.info("RoadAnomaly at %s: %d frames (%d files written)", out, len(scanned), written)
    return manifest


def _manifest(scanned: list[Scanned], files: dict[str, str]) -> dict[str, Any]:
    known = sum(s.pixels[0] for s in scanned)
    anomaly = sum(s.pixels[1] for s in scanned)
    return {
        "dataset": "road_anomaly",
        "layout": "smiyc",
        "label_format": "anomaly",
        "counts": {"all": len(scanned)},
        "frames_with_anomaly": sum(s.pixels[1] > 0 for s in scanned),
        "frames_with_instances": sum(s.instance_sha is not None for s in scanned),
        "label_mapping": {str(v): a for v, a in SEMANTIC_TO_ANOMALY.items()},
        "pixels": {"known": known, "anomaly": anomaly},
        "anomaly_share": anomaly / max(1, known + anomaly),
        "files": dict(sorted(files.items())),
        "owslib_version": owslib.__version__,
    }


def describe_manifest(manifest: dict[str, Any], out: str | Path) -> str:
    """A few lines on a build: frames, anomaly pixel share, the credits' and the manifest's paths
    (what ``python -m owslib data road-anomaly`` prints)."""
    out = Path(out)
    n = manifest["counts"]["all"]
    return "\n".join(
        [
            f"RoadAnomaly (dataset road_anomaly) at {out}: {n} frames, all labelled "
            f"({manifest['frames_with_anomaly']} with anomaly pixels, "
            f"{manifest['frames_with_instances']} with an instance map)",
            f"anomaly pixel share: {100 * manifest['anomaly_share']:.2f}% "
            f"({manifest['pixels']['anomaly']} of "
            f"{manifest['pixels']['anomaly'] + manifest['pixels']['known']} pixels)",
            f"image credits and licences: {out / CREDITS}",
            f"manifest: {out / MANIFEST}",
        ]
    )


def check_instances(track: Path) -> list[BadFile]:
    """Decode every ``labels_masks/<fid>_labels_instance.png`` of a built tree (what ``data check``
    adds to the SegmentMeIfYouCan checks); the unreadable, unpaired or mis-sized ones."""
    images = {p.stem: p for p in (track / "images").glob("*") if p.suffix in IMAGE_EXTENSIONS}
    problems = []
    for p in sorted((track / "labels_masks").glob(f"*{INSTANCE_SUFFIX}")):
        fid = p.name[: -len(INSTANCE_SUFFIX)]
        try:
            arr = read_label_ids(p)
            if fid not in images:
                raise DatasetError(f"{p}: instance map has no image {track / 'images'}/{fid}.*")
            with Image.open(images[fid]) as im:  # the header: the image is checked on its own
                size = im.size
            _size_check(p, arr, images[fid], size)
        except DatasetError as e:
            problems.append(BadFile(str(p), str(e)))
        except OSError:  # an unreadable image: reported by the image's own check
            continue
    return problems
