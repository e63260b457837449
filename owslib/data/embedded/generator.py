"""The embedded dataset: procedurally generated street scenes written in the Cityscapes layout.

``root/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png`` (RGB) and
``root/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png`` (official labelIds), so the
Cityscapes reader serves both. Scenes come from :func:`owslib.data.scene.render_scene`, seeded per
image by ``(cfg.seed, split, index)``: any image can be (re)generated alone, byte-identically.

Protocol of the held-out classes: train (31), motorcycle (32) and bicycle (33) never occur in the
``train`` split and appear 1–3 times in most ``val``/``test`` images. Void occurs in every split:
small clutter (labelIds 0, 4, 5) and, in about two thirds of the images, one or two vehicle-like
void objects — caravans (29), trailers (30), skips and containers (4) in vehicle paint — so that
vehicle paint alone does not mean "known class". ``root/embedded.json`` (the manifest) is written
last: its presence means the dataset is complete. ``root/embedded.partial.json`` marks a generation
in progress, so a re-run after an interruption only renders the missing images.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

import owslib
from owslib.config import SyntheticConfig
from owslib.data.embedded.scene import render_scene
from owslib.io import atomic_path, atomic_write_json

log = logging.getLogger(__name__)

MANIFEST = "embedded.json"
PARTIAL = "embedded.partial.json"
GENERATOR_VERSION = 2  # bump when the renderer changes what a given seed produces
SPLIT_NAMES = ("train", "val", "test")
#: Invented city names, distinct per split (as in Cityscapes, a city belongs to one split).
CITIES: dict[str, tuple[str, ...]] = {
    "train": ("arnsfeld", "brackwede", "corlingen"),
    "val": ("dornau", "elbrecht"),
    "test": ("falkenried", "gerolstadt"),
}
FRAME = 19  # Cityscapes annotates the 20th frame of each snippet: ``*_000019_*``
UNKNOWN_LABEL_IDS = (31, 32, 33)  # train, motorcycle, bicycle
VOID_LABEL_IDS = (0, 4, 5, 29, 30)  # unlabeled, static, dynamic, caravan, trailer


class EmbeddedDatasetError(RuntimeError):
    """The target folder holds a different dataset (other config, or not generated here)."""


def split_size(cfg: SyntheticConfig, split: str) -> int:
    return {"train": cfg.n_train, "val": cfg.n_val, "test": cfg.n_test}[split]


def example_stem(split: str, index: int) -> tuple[str, str]:
    """``(city, stem)`` of image ``index`` of ``split``, e.g. ``("dornau", "dornau_000003_000019")``."""
    cities = CITIES[split]
    city = cities[index % len(cities)]
    return city, f"{city}_{index // len(cities):06d}_{FRAME:06d}"


def example_paths(root: Path, split: str, index: int) -> tuple[Path, Path]:
    """Paths of the image and the labelId map of image ``index`` of ``split`` under ``root``."""
    city, stem = example_stem(split, index)
    return (
        root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
        root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png",
    )


def render_example(cfg: SyntheticConfig, split: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The RGB image and labelId map of one example, determined by ``(cfg.seed, split, index)``."""
    rng = np.random.default_rng([cfg.seed, SPLIT_NAMES.index(split), index])
    if split == "train":
        n_unknown, n_clutter = 0, int(rng.integers(1, 5))
    else:
        n_unknown, n_clutter = int(rng.choice(4, p=[0.05, 0.4, 0.35, 0.2])), int(rng.integers(0, 3))
    n_void_vehicles = int(rng.choice(3, p=[0.25, 0.45, 0.3]))  # caravans, trailers, … (all splits)
    return render_scene(
        rng,
        cfg.height,
        cfg.width,
        n_unknown=n_unknown,
        n_clutter=n_clutter,
        n_void_vehicles=n_void_vehicles,
    )


def _write_png(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        # zlib level 1: ~2.5× faster to encode than the default 6, files ~10 % larger
        Image.fromarray(array).save(tmp, format="PNG", compress_level=1)


def _header(cfg: SyntheticConfig) -> dict[str, Any]:
    """What identifies a generated dataset: the config and the generator version."""
    return {"config": dataclasses.asdict(cfg), "generator_version": GENERATOR_VERSION}


def _existing_files(root: Path) -> set[Path]:
    return {p for sub in ("leftImg8bit", "gtFine") for p in (root / sub).glob("*/*/*.png")}


def _check_ownership(root: Path, existing: set[Path]) -> None:
    """Refuse to write into a folder holding images that the generator could not have written."""
    ours = {city for cities in CITIES.values() for city in cities}
    foreign = sorted(p for p in existing if p.parent.name not in ours)
    if foreign:
        raise EmbeddedDatasetError(
            f"{root}: holds {len(foreign)} images not written by the embedded-dataset generator "
            f"(e.g. {foreign[0]}); refusing to generate into it — choose an empty folder"
        )


def _check_manifest(root: Path, cfg: SyntheticConfig, force: bool) -> dict[str, Any] | None:
    """The manifest if it describes ``cfg``; raise (or, with ``force``, discard it) if it does not."""
    try:
        manifest = _read_manifest(root / MANIFEST)
    except EmbeddedDatasetError:
        if not force:
            raise
        manifest = {}
    if manifest is None:
        return None
    found = {k: manifest.get(k) for k in _header(cfg)}
    if found == _header(cfg) and not force:
        return manifest
    if found["config"] == _header(cfg)["config"] and not force:
        # Same config from an older renderer: the folder is our own derived data, so a re-run
        # (e.g. `make study` after an upgrade) regenerates it instead of failing.
        log.warning(
            "%s: generated by renderer version %s; regenerating", root, found["generator_version"]
        )
        force = True
    if not force:
        raise EmbeddedDatasetError(
            f"{root / MANIFEST}: the dataset there was generated with {found}, "
            f"but {_header(cfg)} was requested; pass force=True to regenerate, or use another root"
        )
    (root / MANIFEST).unlink()
    return None


def _examples(root: Path, cfg: SyntheticConfig) -> list[tuple[str, int, Path, Path]]:
    """``(split, index, image path, label path)`` of every example ``cfg`` defines."""
    return [
        (split, index, *example_paths(root, split, index))
        for split in SPLIT_NAMES
        for index in range(split_size(cfg, split))
    ]


def _render(root: Path, cfg: SyntheticConfig, keep: set[Path]) -> int:
    """Render and write every example whose two files are not both in ``keep``; the count rendered."""
    rendered = 0
    examples = _examples(root, cfg)
    for split, index, image_path, label_path in tqdm(
        examples, desc="embedded dataset", unit="img", disable=None
    ):
        if image_path in keep and label_path in keep:
            continue
        rgb, label = render_example(cfg, split, index)
        _write_png(image_path, rgb)
        _write_png(label_path, label)
        rendered += 1
    return rendered


def generate_embedded_dataset(
    root: str | Path, cfg: SyntheticConfig, *, force: bool = False
) -> dict[str, Any]:
    """Write the embedded dataset for ``cfg`` under ``root`` (if needed) and return its manifest.

    A complete dataset with a matching manifest is left untouched (files it lists that went missing
    are re-rendered). A generation interrupted earlier (``embedded.partial.json`` present and
    matching) is completed by rendering only the missing images; without that marker every image is
    rendered again (deterministically, so complete files come out byte-identical). A manifest for
    another config raises :class:`EmbeddedDatasetError` unless ``force``, which regenerates
    everything and removes the images the new config does not define.
    """
    root = Path(root)
    manifest = _check_manifest(root, cfg, force)
    if manifest is not None:
        missing = [p for *_, img, lab in _examples(root, cfg) for p in (img, lab) if not p.exists()]
        if not missing:
            log.info(
                "embedded dataset at %s is complete (%s); nothing to do", root, manifest["counts"]
            )
            return manifest
        log.warning(
            "%s: %d files of the dataset are missing (e.g. %s); re-rendering them",
            root,
            len(missing),
            missing[0],
        )
    resume = manifest is not None or (not force and _read_manifest(root / PARTIAL) == _header(cfg))
    existing = _existing_files(root)
    _check_ownership(root, existing)
    atomic_write_json(root / PARTIAL, _header(cfg))
    start = time.perf_counter()
    rendered = _render(root, cfg, existing if resume else set())
    wanted = {p for *_, img, lab in _examples(root, cfg) for p in (img, lab)}
    for stray in sorted(existing - wanted):
        log.info("removing %s (not part of the requested dataset)", stray)
        stray.unlink()
    manifest = _manifest(cfg)
    atomic_write_json(root / MANIFEST, manifest)
    (root / PARTIAL).unlink(missing_ok=True)
    elapsed, total = time.perf_counter() - start, len(wanted) // 2
    log.info(
        "embedded dataset at %s: rendered %d of %d images in %.1f s", root, rendered, total, elapsed
    )
    return manifest


def _manifest(cfg: SyntheticConfig) -> dict[str, Any]:
    return {
        **_header(cfg),
        "layout": "cityscapes",
        "counts": {split: split_size(cfg, split) for split in SPLIT_NAMES},
        "cities": {split: list(CITIES[split]) for split in SPLIT_NAMES},
        "unknown_label_ids": list(UNKNOWN_LABEL_IDS),
        "void_label_ids": list(VOID_LABEL_IDS),
        "owslib_version": owslib.__version__,
    }


def ensure_embedded_dataset(root: str | Path, cfg: SyntheticConfig) -> Path:
    """Generate the embedded dataset under ``root`` unless it is already there; return ``root``."""
    generate_embedded_dataset(root, cfg)
    return Path(root)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as e:
        raise EmbeddedDatasetError(
            f"{path}: unreadable manifest ({e}); delete it or pass force=True"
        ) from e
    if not isinstance(data, dict):
        raise EmbeddedDatasetError(
            f"{path}: expected a JSON object, got {type(data).__name__}; delete it or pass force=True"
        )
    return data
