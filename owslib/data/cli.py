"""The ``python -m owslib data …`` commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from owslib.cli import add_config_args, config_from_args


def cmd_generate(args: argparse.Namespace) -> int:
    from owslib.data.synthetic import generate_embedded_dataset

    cfg = config_from_args(args)
    info = generate_embedded_dataset(Path(args.out), cfg.synthetic, force=args.force)
    print(json.dumps(info, indent=2, default=str))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the top-level parser."""
    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    g = dsub.add_parser("generate", help="generate the embedded dataset (Cityscapes layout)")
    add_config_args(g)
    g.add_argument("--out", default="data/embedded")
    g.add_argument("--force", action="store_true")
    g.set_defaults(func=cmd_generate)
