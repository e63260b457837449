"""The ``train`` command: train and evaluate one config into one run folder (DDP under torchrun).

The runner is imported inside the command: ``owslib --help`` builds every parser without torch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from owslib.cli.config_args import add_config_args, config_from_args


def cmd_train(args: argparse.Namespace) -> int:
    from owslib.runs.run import run_experiment

    cfg = config_from_args(args)
    result = run_experiment(cfg, Path(args.out), resume=not args.no_resume, load_model=False)
    if result.exp is None or result.exp.dist.is_main:
        print(
            json.dumps({k: result.metrics[k] for k in ("miou", "pixel_acc") if k in result.metrics})
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "train",
        help="train and evaluate one config (DDP under torchrun)",
        description="Train and evaluate one config (a profile or a config.json, with --set "
        "overrides) into one run folder; DDP under torchrun.",
    )
    add_config_args(t)
    t.add_argument("--out", required=True, help="run folder (checkpoints, logs, metrics)")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    t.set_defaults(func=cmd_train)
