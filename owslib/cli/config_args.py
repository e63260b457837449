"""Shared command-line pieces: config arguments (profile, config file, ``--set``) and their parsing."""

from __future__ import annotations

import argparse
import json
from typing import Any

from owslib.config import ExperimentConfig, load_profile
from owslib.profiles import PROFILES


def parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON, else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what} {item!r}: expected KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """``--profile``, ``--config`` and ``--set KEY=VALUE [KEY=VALUE ...]`` (repeatable)."""
    parser.add_argument(
        "--profile",
        default="quick",
        choices=sorted(PROFILES),
        help="config profile (paper: the paper's settings; quick: the embedded "
        "study on a CPU; smoke: seconds, for tests)",
    )
    parser.add_argument(
        "--config",
        help="a config.json to start from instead of a profile "
        "(default: none, the profile's config)",
    )
    parser.add_argument(
        "--set",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="flat config overrides, e.g. --set train__lr=0.01 train__epochs=3 (one or more; "
        "repeatable, a later value of a key wins; default: none)",
    )


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    overrides = parse_assignments(args.set, "--set")
    if args.config:
        return ExperimentConfig.from_json(args.config).override(**overrides)
    return load_profile(args.profile, **overrides)
