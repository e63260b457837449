"""The ``python -m owslib data …`` commands: generate, cityscapes-download, bdd-anomaly, check."""

from __future__ import annotations

import argparse
import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path

from owslib.cli import add_config_args, config_from_args

log = logging.getLogger("owslib")
# Literal copies (checked by the tests) so that building the parser does not import torch.
DATASETS = ("cityscapes", "embedded", "bdd_anomaly", "road_anomaly21", "road_obstacle21")
BDD_VARIANTS = (2, 3)


def _reports_errors(
    cmd: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Turn a dataset or download error into its message on the log and exit status 2."""

    @functools.wraps(cmd)
    def run(args: argparse.Namespace) -> int:
        from owslib.data.download import DownloadError
        from owslib.data.validation import DatasetError

        try:
            return cmd(args)
        except (DatasetError, DownloadError) as e:
            log.error("%s", e)
            return 2

    return run


def cmd_generate(args: argparse.Namespace) -> int:
    from owslib.data.embedded.generator import generate_embedded_dataset

    cfg = config_from_args(args)
    info = generate_embedded_dataset(Path(args.out), cfg.synthetic, force=args.force)
    print(json.dumps(info, indent=2, default=str))
    return 0


@_reports_errors
def cmd_cityscapes_download(args: argparse.Namespace) -> int:
    from owslib.data.download import download_cityscapes
    from owslib.data.summary import check_dataset, format_summary

    out = download_cityscapes(args.out, keep_archives=args.keep_archives)
    summary = check_dataset(out, "cityscapes")
    print(format_summary(summary))
    return 0 if summary.ok else 1


@_reports_errors
def cmd_bdd_anomaly(args: argparse.Namespace) -> int:
    from owslib.data.bdd_anomaly import build_bdd_anomaly

    manifest = build_bdd_anomaly(args.bdd100k, args.out, args.variant, link=args.link,
                                 skip_bad=args.skip_bad, workers=args.workers)  # fmt: skip
    keys = ("variant", "split_preset", "counts", "counts_from_source_split", "source_counts",
            "skipped_bad_files", "count_check")  # fmt: skip
    print(json.dumps({k: manifest[k] for k in keys}, indent=2))
    return 0


@_reports_errors
def cmd_check(args: argparse.Namespace) -> int:
    from owslib.data.summary import check_dataset, format_summary, write_tables

    summary = check_dataset(args.root, args.dataset, split_preset=args.split_preset,
                            splits=tuple(args.split) if args.split else None,
                            workers=args.workers)  # fmt: skip
    if args.out:
        write_tables(args.out, [summary])
    print(json.dumps(summary.to_dict(), indent=2) if args.json else format_summary(summary))
    return 0 if summary.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the top-level parser."""
    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    g = dsub.add_parser("generate", help="generate the embedded dataset (Cityscapes layout)")
    add_config_args(g)
    g.add_argument(
        "--out", default="data/embedded", help="dataset root to write (default: %(default)s)"
    )
    g.add_argument("--force", action="store_true", help="regenerate a dataset that exists")
    g.set_defaults(func=cmd_generate)

    c = dsub.add_parser(
        "cityscapes-download",
        help="download and unpack gtFine + leftImg8bit (credentials: CITYSCAPES_USERNAME / "
        "CITYSCAPES_PASSWORD or a prompt)",
    )
    c.add_argument(
        "--out", required=True, help="folder to unpack into (gets leftImg8bit/, gtFine/)"
    )
    c.add_argument(
        "--keep-archives", action="store_true", help="keep the zip files after unpacking"
    )
    c.set_defaults(func=cmd_cityscapes_download)

    b = dsub.add_parser("bdd-anomaly", help="build BDD-Anomaly from the BDD100K sem-seg release")
    b.add_argument("--bdd100k", required=True, help="BDD100K root (images/10k, labels/sem_seg)")
    b.add_argument("--out", required=True, help="output folder (Cityscapes-like tree)")
    b.add_argument("--variant", type=int, default=3, choices=BDD_VARIANTS,
                   help="3: train, motorcycle, bicycle unknown (ContMAV); 2: train, motorcycle")  # fmt: skip
    b.add_argument("--link", action="store_true", help="hard-link files instead of copying")
    b.add_argument("--skip-bad", action="store_true",
                   help="leave bad pairs out and list them in OUT/bad_files.json instead of failing")  # fmt: skip
    b.add_argument("--workers", type=int, default=None, help="decoding threads")
    b.set_defaults(func=cmd_bdd_anomaly)

    k = dsub.add_parser("check", help="validate every file of a dataset tree and summarise it")
    k.add_argument("root", help="dataset root")
    k.add_argument("--dataset", required=True, choices=DATASETS)
    k.add_argument("--split-preset", default=None, help="known/unknown preset (owslib.labels)")
    k.add_argument("--split", action="append", help="only these splits (repeatable)")
    k.add_argument("--out", default=None, help="also write tables and check.json here")
    k.add_argument("--json", action="store_true", help="print JSON instead of text")
    k.add_argument("--workers", type=int, default=None, help="decoding threads")
    k.set_defaults(func=cmd_check)
