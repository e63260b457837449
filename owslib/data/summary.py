"""Dataset self-check and summary: one full decode pass over a tree, counts, pixel histograms, problems.

:func:`check_dataset` pairs every split, decodes every image and label, checks sizes and label ids
(everything the readers check, see :mod:`owslib.data.validation`), and gathers — instead of raising —
every problem, plus images per split, per-class pixel counts and the known/unknown composition under
a split preset. It serves ``python -m owslib data check`` and the ``00_data_prep`` notebook.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from owslib.config import ExperimentConfig
from owslib.data import road_anomaly, smiyc
from owslib.data.cityscapes import FLAVOURS, pair_samples, release_warning
from owslib.data.embedded.generator import ensure_embedded_dataset
from owslib.data.validation import BadFile, DatasetError, open_image, read_train_ids, validate_pair
from owslib.io import atomic_write_json, atomic_write_text
from owslib.labels import IGNORE_INDEX, NUM_TRAIN_IDS, TRAIN_ID_PALETTE, get_split
from owslib.sources import TRACKS

log = logging.getLogger(__name__)

DATASETS = (*FLAVOURS, *TRACKS)
DEFAULT_PRESETS = {"cityscapes": "cityscapes", "embedded": "cityscapes_heldout",
                   "bdd_anomaly": "bdd_anomaly3", "camvid": "camvid"}
#: Trees built by ``python -m owslib data …``: a ``manifest.json`` and, while a build is under way,
#: ``<dataset>.partial.json``.
BUILT = {"bdd_anomaly": "BDD-Anomaly", "camvid": "CamVid", "road_anomaly": "RoadAnomaly"}
SPLITS = ("train", "val", "test")
#: Colours of the SegmentMeIfYouCan labels: known grey, anomaly orange (ignore stays black).
ANOMALY_COLOURS = {0: (128, 128, 128), 1: (255, 140, 0)}


@dataclass
class DatasetSummary:
    """What :func:`check_dataset` found in one tree (tables are pandas DataFrames)."""

    name: str
    dataset: str
    root: str
    split_preset: str | None
    counts: pd.DataFrame  # split, images, labelled, evaluable, cities
    pixels: pd.DataFrame  # split, class, label, role, pixels, images
    composition: pd.DataFrame  # split, images, images_with_unknown, known/unknown/ignore shares
    problems: list[BadFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    samples: dict[str, list[tuple[Path, Path | None]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # information, neither problem nor warning

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def label_format(self) -> str:
        return FLAVOURS.get(self.dataset, "anomaly")

    @property
    def unknown_ids(self) -> tuple[int, ...]:
        """Label values of the unknown classes (trainIds, or 1 for SegmentMeIfYouCan)."""
        if self.split_preset is None:
            return (1,)
        return get_split(self.split_preset).unknown

    def palette(self) -> np.ndarray:
        """A 256×3 uint8 lookup table label value → colour (Cityscapes palette; ignore black)."""
        lut = np.zeros((256, 3), np.uint8)
        if self.split_preset is None:
            for value, colour in ANOMALY_COLOURS.items():
                lut[value] = colour
        else:
            lut[: len(TRAIN_ID_PALETTE)] = TRAIN_ID_PALETTE
        return lut

    def load_sample(self, split: str, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        """RGB image (H×W×3 uint8) and its label (trainIds or anomaly labels, or ``None``)."""
        image_path, label_path = self.samples[split][index]
        rgb = np.asarray(open_image(image_path).convert("RGB"))
        label = None if label_path is None else read_train_ids(label_path, self.label_format)
        return rgb, label

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "dataset": self.dataset, "root": self.root,
            "split_preset": self.split_preset, "ok": self.ok,
            "counts": self.counts.to_dict(orient="records"),
            "composition": self.composition.to_dict(orient="records"),
            "pixels": self.pixels.to_dict(orient="records"),
            "problems": [asdict(b) for b in self.problems], "warnings": self.warnings,
            "notes": self.notes,
        }


def _classes(split_preset: str | None) -> list[tuple[str, int, str]]:
    """``(class name, label value, role)`` of every label value counted."""
    if split_preset is None:
        return [
            ("known", 0, "known"),
            ("anomaly", 1, "unknown"),
            ("ignore", IGNORE_INDEX, "ignore"),
        ]
    split_def = get_split(split_preset)
    roles = {t: "known" for t in split_def.known} | {t: "unknown" for t in split_def.unknown}
    names = split_def.names_by_train_id
    # a dataset with its own class names (CamVid) lists its classes, in its order; else all 19
    ids = names if split_def.display_names else range(NUM_TRAIN_IDS)
    return [(names[t], t, roles[t]) for t in ids if t in roles] + [
        ("ignore", IGNORE_INDEX, "ignore")
    ]


def _split_pairs(root: Path, dataset: str, split: str) -> tuple[list, list[BadFile], bool]:
    """Pairs, pairing problems and whether the labels are usable, for one split of one dataset."""
    if dataset in TRACKS:
        track = smiyc.track_root(root, dataset)
        pairs, problems = smiyc.pair_track(track)
        if dataset == "road_anomaly":  # its instance maps too
            problems += road_anomaly.check_instances(track)
        return pairs, problems, True
    official_test = dataset == "cityscapes" and split == "test"
    pairs, problems = pair_samples(root, split, require_labels=not official_test,
                                   label_format=FLAVOURS[dataset])
    return pairs, problems, not official_test


def _histograms(pairs: list, label_format: str, workers: int) -> list[tuple[BadFile | None, Any]]:
    def one(pair: tuple[Path, Path | None]) -> tuple[BadFile | None, np.ndarray | None]:
        problem, labels = validate_pair(pair[0], pair[1], label_format)
        return problem, None if labels is None else np.bincount(labels.ravel(), minlength=256)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # PIL decodes without the GIL
        return list(pool.map(one, pairs))


def check_dataset(
    root: str | Path,
    dataset: str,
    *,
    split_preset: str | None = None,
    splits: tuple[str, ...] | None = None,
    name: str | None = None,
    workers: int | None = None,
) -> DatasetSummary:
    """Validate every file of ``root`` (a ``dataset`` tree) and summarise it; never raises on a bad
    file (it is listed in :attr:`DatasetSummary.problems`).

    Cityscapes' test split is optional unless ``splits`` names it: its labels are placeholders
    (nothing is evaluated on it), and many trees do not unpack it; a tree without
    ``leftImg8bit/test`` gets a note (:attr:`DatasetSummary.notes`), not a problem."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {DATASETS}")
    root = Path(root)
    manifest = _manifest(root) if dataset in BUILT else None
    if dataset not in TRACKS:
        split_preset = (
            split_preset or (manifest or {}).get("split_preset") or DEFAULT_PRESETS[dataset]
        )
    else:
        split_preset, splits = None, ("all",)
    classes = _classes(split_preset)
    unknown = [v for _, v, role in classes if role == "unknown"]
    counts, pixels, composition, problems, warnings, samples = [], [], [], [], [], {}
    notes = []
    for split in splits or SPLITS:
        if splits is None and (note := _optional_split_missing(root, dataset, split)):
            notes.append(note)
            continue
        try:
            pairs, bad, evaluable = _split_pairs(root, dataset, split)
        except DatasetError as e:
            problems.append(BadFile(str(root), str(e)))
            continue
        problems += bad
        results = _histograms(
            pairs, FLAVOURS.get(dataset, "anomaly"), workers or min(8, os.cpu_count() or 1)
        )
        problems += [p for p, _ in results if p is not None]
        hists = [h for p, h in results if p is None and h is not None]
        samples[split] = [
            (img, lab if evaluable else None)
            for (img, lab), (p, _) in zip(pairs, results, strict=True)
            if p is None
        ]
        cities = {img.parent.name for img, _ in pairs}
        counts.append({"split": split, "images": len(pairs), "labelled": len(hists),
                       "evaluable": evaluable, "cities": len(cities)})
        if dataset == "cityscapes" and (w := release_warning(split, len(pairs), cities)):
            warnings.append(w)
        if not (evaluable and hists):
            continue
        total = np.sum(hists, axis=0)
        present = np.sum([h > 0 for h in hists], axis=0)
        pixels += [{"split": split, "class": n, "label": v, "role": role, "pixels": int(total[v]),
                    "images": int(present[v])} for n, v, role in classes]
        px = {role: int(sum(total[v] for _, v, r in classes if r == role))
              for role in ("known", "unknown", "ignore")}
        all_px = max(1, int(total.sum()))
        composition.append({
            "split": split, "images": len(hists),
            "images_with_unknown": int(sum(h[unknown].any() for h in hists)) if unknown else 0,
            **{f"{role}_share": n / all_px for role, n in px.items()},
        })
    if manifest is not None:
        warnings += _manifest_warnings(dataset, manifest, counts)
    if dataset in BUILT and (root / f"{dataset}.partial.json").exists():
        warnings.append(f"{root}: an interrupted {BUILT[dataset]} build; run the builder again")
    return DatasetSummary(
        name or dataset, dataset, str(root), split_preset, pd.DataFrame(counts),
        pd.DataFrame(pixels), pd.DataFrame(composition), problems, warnings, samples, notes,
    )


def _optional_split_missing(root: Path, dataset: str, split: str) -> str | None:
    """A note when ``split`` is Cityscapes' test split (placeholder labels) and is not there."""
    image_dir = root / "leftImg8bit" / split
    if dataset != "cityscapes" or split != "test" or not root.is_dir() or image_dir.exists():
        return None
    return (
        f"{image_dir}: no test split (not needed: Cityscapes' test labels are placeholders, "
        "evaluation uses val)"
    )


def _manifest(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((root / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _manifest_warnings(
    dataset: str, manifest: dict[str, Any], counts: list[dict[str, Any]]
) -> list[str]:
    found = {c["split"]: c["images"] for c in counts}
    expected = manifest.get("counts", {})
    return [
        f"{dataset} {split}: {found.get(split)} images, manifest.json lists {n}"
        for split, n in expected.items()
        if found.get(split) != n
    ]


def format_summary(s: DatasetSummary) -> str:
    """A plain-text report: counts, composition, classes present, pixel histogram, problems."""
    lines = [f"== {s.name} ({s.dataset}) at {s.root}; split preset: {s.split_preset or '-'}"]
    if not s.counts.empty:
        lines += ["", s.counts.to_string(index=False)]
    if not s.composition.empty:
        lines += ["", s.composition.to_string(index=False, float_format="{:.4f}".format)]
    if not s.pixels.empty:
        wide = s.pixels.pivot(index="class", columns="split", values="pixels")
        wide = wide.reindex(index=s.pixels["class"].drop_duplicates(),
                            columns=s.pixels["split"].drop_duplicates())
        lines += ["", "pixels per class:", wide.to_string()]
        for split, df in s.pixels.groupby("split", sort=False):
            present = df.loc[(df.pixels > 0) & (df.role != "ignore"), "class"].tolist()
            lines.append(f"classes present in {split}: {', '.join(present) or 'none'}")
    lines += [f"note: {n}" for n in s.notes]
    lines += [f"WARNING: {w}" for w in s.warnings]
    lines.append(f"problems: {len(s.problems)}")
    lines += [f"  {b.reason}" for b in s.problems]
    return "\n".join(lines)


def write_tables(out_dir: str | Path, summaries: list[DatasetSummary]) -> dict[str, pd.DataFrame]:
    """``counts``, ``composition``, ``pixels`` and ``problems`` of all summaries as CSV and
    markdown (one row block per dataset), and ``check.json``; returns the tables."""
    out_dir = Path(out_dir)
    tables: dict[str, pd.DataFrame] = {}
    for key in ("counts", "composition", "pixels"):
        frames = [getattr(s, key).assign(dataset=s.name) for s in summaries]
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        tables[key] = df[["dataset", *[c for c in df.columns if c != "dataset"]]] if len(df) else df
    rows = [{"dataset": s.name, **asdict(b)} for s in summaries for b in s.problems]
    tables["problems"] = pd.DataFrame(rows, columns=["dataset", "path", "reason"])
    for key, df in tables.items():
        atomic_write_text(out_dir / f"{key}.csv", df.to_csv(index=False))
        md = df.to_markdown(index=False, floatfmt=".4f") if len(df) else "(none)"
        atomic_write_text(out_dir / f"{key}.md", md + "\n")
    atomic_write_json(out_dir / "check.json", [s.to_dict() for s in summaries])
    return tables


def check_datasets(cfg: ExperimentConfig, **roots: str) -> list[DatasetSummary]:
    """Check the config's dataset (the embedded one is generated first if missing) and every dataset
    of :data:`DATASETS` given as ``name=root`` (empty roots are skipped)."""
    unknown = sorted(set(roots) - set(DATASETS))
    if unknown:
        raise ValueError(f"unknown datasets {unknown}; choose among {DATASETS}")
    d = cfg.data
    if d.dataset == "embedded":
        ensure_embedded_dataset(d.root, cfg.synthetic)
    out = [check_dataset(d.root, d.dataset, split_preset=d.split_preset)]
    for dataset, root in roots.items():
        if root:
            out.append(check_dataset(root, dataset))
        else:
            log.info("%s: no root given; skipped", dataset)
    return out
