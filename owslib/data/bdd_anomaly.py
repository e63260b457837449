"""The BDD-Anomaly protocol (Hendrycks et al., ICML 2022), built from the BDD100K sem-seg release.

Input (as released): ``ROOT/images/10k/{train,val}/<stem>.jpg`` and
``ROOT/labels/sem_seg/masks/{train,val}/<stem>.png`` (Cityscapes-compatible trainIds, 255 ignore).
Rule: every image whose mask holds an unknown class (variant 3: train, motorcycle, bicycle — ContMAV;
variant 2: train, motorcycle — the original benchmark) moves, whole, to ``test``; the others keep
their split. Output, a Cityscapes-like tree that :class:`~owslib.data.cityscapes.CityscapesDataset`
reads with ``label_format="train_ids"`` (flavour ``bdd_anomaly``)::

    OUT/leftImg8bit/<split>/bdd/<stem>_leftImg8bit.jpg        (bytes of the source image)
    OUT/gtFine/<split>/bdd/<stem>_gtFine_labelTrainIds.png    (bytes of the source mask)
    OUT/manifest.json                                         (written last)

Files are copied (or hard-linked with ``link=True``) atomically, and one already in place with the
right content is kept, so an interrupted build re-run finishes without duplicates or half-written
files; files of an earlier build that the new plan does not hold are removed. The manifest (variant,
counts, per-class pixel counts, sha256 of every file, owslib version; no paths or times) is a pure
function of the input: the same input gives the same manifest.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import owslib
from owslib.data.validation import (
    BadFile,
    DatasetError,
    open_image,
    read_train_ids,
    write_bad_report,
)
from owslib.io import atomic_path, atomic_write_json, sha256_file
from owslib.labels import IGNORE_INDEX, TRAIN_ID_NAMES, LabelError, get_split

log = logging.getLogger(__name__)

PRESETS = {3: "bdd_anomaly3", 2: "bdd_anomaly2"}
SOURCE_SPLITS = ("train", "val")
OUT_SPLITS = ("train", "val", "test")
#: The full BDD100K 10k sem-seg release and the protocol sizes published for it (ContMAV, variant 3).
SOURCE_COUNTS = {"train": 7000, "val": 1000}
EXPECTED_COUNTS: dict[int, dict[str, int]] = {3: {"train": 6280, "val": 910, "test": 810}}
COUNT_TOLERANCE = 0.01  # the published sizes are approximate ("≈"): warn beyond 1 %
CITY = "bdd"
MANIFEST, PARTIAL, BAD_REPORT = "manifest.json", "bdd_anomaly.partial.json", "bad_files.json"
LABEL_SUFFIX = "_gtFine_labelTrainIds.png"


@dataclass(frozen=True)
class Source:
    split: str
    stem: str
    image: Path
    mask: Path


@dataclass(frozen=True)
class Scanned:
    source: Source
    image_sha: str
    mask_sha: str
    histogram: np.ndarray  # int64[256] trainId pixel counts


def find_sources(root: Path) -> tuple[list[Source], list[BadFile]]:
    """Image/mask pairs of the BDD100K sem-seg release, sorted, and the files that cannot be paired."""
    if not root.is_dir():
        raise DatasetError(f"{root}: BDD100K root not found (expected images/10k/ and labels/)")
    sources, problems, seen = [], [], {}
    for split in SOURCE_SPLITS:
        image_dir = root / "images" / "10k" / split
        mask_dir = root / "labels" / "sem_seg" / "masks" / split
        for d, what in ((image_dir, "<stem>.jpg images"), (mask_dir, "<stem>.png trainId masks")):
            if not d.is_dir():
                raise DatasetError(f"{d}: folder of BDD100K split {split!r} not found ({what})")
        images = {p.stem: p for p in sorted(image_dir.glob("*.jpg"))}
        masks = {p.stem: p for p in sorted(mask_dir.glob("*.png"))}
        if not images:
            raise DatasetError(f"{image_dir}: split {split!r} is empty (expected <stem>.jpg)")
        for stem in sorted(images.keys() | masks.keys()):
            if stem not in masks:
                problems.append(BadFile(str(images[stem]), f"{images[stem]}: image has no mask "
                                        f"{mask_dir / (stem + '.png')}"))
            elif stem not in images:
                problems.append(BadFile(str(masks[stem]), f"{masks[stem]}: mask has no image "
                                        f"{image_dir / (stem + '.jpg')}"))
            elif stem in seen:
                problems.append(BadFile(str(images[stem]), f"{images[stem]}: stem also in "
                                        f"{seen[stem]}; expected unique names"))
            else:
                seen[stem] = images[stem]
                sources.append(Source(split, stem, images[stem], masks[stem]))
    return sources, problems


def scan(source: Source) -> Scanned:
    """Read, hash and fully decode one pair; check sizes and trainIds. Raises naming the file."""
    image_bytes, mask_bytes = source.image.read_bytes(), source.mask.read_bytes()
    image = open_image(source.image, data=image_bytes)
    train_ids = read_train_ids(source.mask, "train_ids", data=mask_bytes)
    if train_ids.shape != (image.height, image.width):
        raise DatasetError(
            f"{source.mask}: mask is {train_ids.shape[1]}×{train_ids.shape[0]} but image "
            f"{source.image} is {image.width}×{image.height} (W×H); expected equal sizes"
        )
    return Scanned(
        source,
        hashlib.sha256(image_bytes).hexdigest(),
        hashlib.sha256(mask_bytes).hexdigest(),
        np.bincount(train_ids.ravel(), minlength=256).astype(np.int64),
    )


def _scan_or_report(source: Source) -> Scanned | BadFile:
    try:
        return scan(source)
    except (DatasetError, LabelError, OSError) as e:
        bad = source.mask if str(source.mask) in str(e) else source.image
        return BadFile(str(bad), str(e))


def target_split(histogram: np.ndarray, unknown: tuple[int, ...], split: str) -> str:
    """``test`` if the mask holds any pixel of an unknown trainId, else the source split."""
    return "test" if histogram[list(unknown)].any() else split


def output_paths(out: Path, split: str, source: Source) -> tuple[Path, Path]:
    return (
        out / "leftImg8bit" / split / CITY / f"{source.stem}_leftImg8bit{source.image.suffix}",
        out / "gtFine" / split / CITY / f"{source.stem}{LABEL_SUFFIX}",
    )


def place(src: Path, dst: Path, sha: str, *, link: bool) -> bool:
    """Copy (or hard-link) ``src`` to ``dst`` atomically unless ``dst`` already holds it."""
    if dst.exists():
        if os.path.samefile(src, dst) or (not link and sha256_file(dst) == sha):
            return False
    with atomic_path(dst) as tmp:
        if link:
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError as e:
                raise DatasetError(
                    f"{dst}: cannot hard-link {src} ({e}); build without --link to copy instead"
                ) from e
        else:
            shutil.copyfile(src, tmp)
    return True


def _scan_all(sources: list[Source], workers: int) -> list[Scanned | BadFile]:
    # Threads: PIL and hashlib release the GIL while decoding/hashing; map keeps the input order.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        it = pool.map(_scan_or_report, sources)
        return list(tqdm(it, total=len(sources), desc="BDD100K scan", unit="img", disable=None))


def build_bdd_anomaly(
    bdd100k: str | Path,
    out: str | Path,
    variant: int = 3,
    *,
    link: bool = False,
    skip_bad: bool = False,
    workers: int | None = None,
) -> dict[str, Any]:
    """Build BDD-Anomaly (``variant`` 3 or 2) from ``bdd100k`` into ``out``; returns the manifest.

    Every pair is decoded and checked before anything is written: a bad pair raises an error naming
    the file, or with ``skip_bad`` is left out and listed in ``out/bad_files.json``.
    """
    if variant not in PRESETS:
        raise ValueError(f"BDD-Anomaly variant {variant!r}; choose one of {sorted(PRESETS)}")
    root, out = Path(bdd100k), Path(out)
    split_def = get_split(PRESETS[variant])
    sources, bad = find_sources(root)
    if bad and not skip_bad:
        raise DatasetError(f"{root}: {len(bad)} files cannot be paired: {bad[0].reason}"
                           + (f" (and {len(bad) - 1} more; --skip-bad lists them)" if len(bad) > 1
                              else ""))
    scanned = []
    for item in _scan_all(sources, workers or min(8, os.cpu_count() or 1)):
        if isinstance(item, BadFile):
            if not skip_bad:
                raise DatasetError(item.reason)
            bad.append(item)
        else:
            scanned.append(item)
    if not scanned:
        raise DatasetError(f"{root}: no usable image/mask pair ({len(bad)} bad files)")
    plan = [(s, target_split(s.histogram, split_def.unknown, s.source.split)) for s in scanned]
    atomic_write_json(out / PARTIAL, {"variant": variant})
    written = 0
    for s, split in tqdm(plan, desc="BDD-Anomaly write", unit="img", disable=None):
        image_out, label_out = output_paths(out, split, s.source)
        written += place(s.source.image, image_out, s.image_sha, link=link)
        written += place(s.source.mask, label_out, s.mask_sha, link=link)
    _remove_stale(out, {p for s, split in plan for p in output_paths(out, split, s.source)})
    if bad:
        write_bad_report(out / BAD_REPORT, bad, what=f"BDD-Anomaly from {root}")
    else:
        (out / BAD_REPORT).unlink(missing_ok=True)
    source_counts = {
        sp: len(list((root / "images" / "10k" / sp).glob("*.jpg"))) for sp in SOURCE_SPLITS
    }
    manifest = _manifest(out, plan, variant, split_def.name, source_counts, len(bad))
    atomic_write_json(out / MANIFEST, manifest)
    (out / PARTIAL).unlink(missing_ok=True)
    log.info(
        "BDD-Anomaly %d at %s: %s (%d files written)", variant, out, manifest["counts"], written
    )
    for warning in manifest["count_check"]["warnings"]:
        log.warning("%s", warning)
    return manifest


def describe_manifest(manifest: dict[str, Any], out: str | Path) -> str:
    """A few lines on a build: images per split, images moved to test per unknown class, skipped
    files, the manifest's path (what ``python -m owslib data bdd-anomaly`` prints; the count
    check's warnings are logged by :func:`build_bdd_anomaly`)."""
    out = Path(out)
    counts = manifest["counts"]
    moved = manifest["counts_from_source_split"]["test"]
    test_with = manifest["images_with_class"]["test"]
    per_class = ", ".join(f"{name}={test_with[name]}" for name in manifest["unknown_classes"])
    lines = [
        f"BDD-Anomaly {manifest['variant']} (split preset {manifest['split_preset']}) at {out}: "
        + ", ".join(f"{counts[split]} {split}" for split in OUT_SPLITS)
        + " images",
        f"moved to test: {counts['test']} images ({moved['train']} from train, {moved['val']} "
        f"from val); images holding each unknown class: {per_class} (an image may hold several)",
    ]
    if manifest["skipped_bad_files"]:
        lines.append(f"skipped {manifest['skipped_bad_files']} bad files, listed in "
                     f"{out / BAD_REPORT}")
    lines.append(f"manifest: {out / MANIFEST}")
    return "\n".join(lines)


def _remove_stale(out: Path, wanted: set[Path]) -> None:
    """Remove files in our ``bdd`` folders that the plan does not hold (earlier builds, temp files)."""
    for top in ("leftImg8bit", "gtFine"):
        for p in sorted((out / top).glob(f"*/{CITY}/*")):
            if p.is_file() and p not in wanted:
                log.info("removing %s (not part of this build)", p)
                p.unlink()


def check_counts(
    variant: int, counts: dict[str, int], source_counts: dict[str, int]
) -> dict[str, Any]:
    """Compare with the published sizes when the input is the full release (7000 / 1000)."""
    expected = EXPECTED_COUNTS.get(variant)
    full = source_counts == SOURCE_COUNTS
    warnings = []
    if full and expected is not None:
        for split, n in expected.items():
            if abs(counts[split] - n) > COUNT_TOLERANCE * n:
                warnings.append(
                    f"BDD-Anomaly {variant} {split}: {counts[split]} images, but ≈ {n} are "
                    f"published (train/val/test {expected['train']}/{expected['val']}/"
                    f"{expected['test']}); check the input release"
                )
    return {"full_release": full, "expected": expected, "warnings": warnings}


def _manifest(
    out: Path,
    plan: list[tuple[Scanned, str]],
    variant: int,
    preset: str,
    source_counts: dict[str, int],
    n_bad: int,
) -> dict[str, Any]:
    counts = {sp: sum(split == sp for _, split in plan) for sp in OUT_SPLITS}
    class_names = [*TRAIN_ID_NAMES, "ignore"]
    ids = [*range(len(TRAIN_ID_NAMES)), IGNORE_INDEX]
    pixels, images_with, files = {}, {}, {}
    for sp in OUT_SPLITS:
        hists = [s.histogram[ids] for s, split in plan if split == sp]
        h = np.sum(hists, axis=0) if hists else np.zeros(len(ids), np.int64)
        n = np.sum([x > 0 for x in hists], axis=0) if hists else np.zeros(len(ids), np.int64)
        pixels[sp] = dict(zip(class_names, h.tolist(), strict=True))
        images_with[sp] = dict(zip(class_names, n.tolist(), strict=True))
    for s, split in plan:
        image_out, label_out = output_paths(out, split, s.source)
        files[image_out.relative_to(out).as_posix()] = s.image_sha
        files[label_out.relative_to(out).as_posix()] = s.mask_sha
    from_source = {
        sp: {src: sum(split == sp and s.source.split == src for s, split in plan)
             for src in SOURCE_SPLITS} for sp in OUT_SPLITS
    }
    split_def = get_split(preset)
    return {
        "dataset": "bdd_anomaly",
        "variant": variant,
        "split_preset": preset,
        "unknown_classes": list(split_def.unknown_names),
        "layout": "cityscapes",
        "label_format": "train_ids",
        "counts": counts,
        "counts_from_source_split": from_source,
        "source_counts": source_counts,
        "skipped_bad_files": n_bad,
        "count_check": check_counts(variant, counts, source_counts),
        "pixels": pixels,
        "images_with_class": images_with,
        "files": files,
        "owslib_version": owslib.__version__,
    }
