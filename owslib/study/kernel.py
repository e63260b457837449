"""A notebook kernel's side of the study: its parameters resolved into a config and a folder,
and owslib's progress logged to the notebook."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from owslib.config import (
    SEP,
    ConfigError,
    ExperimentConfig,
    did_you_mean,
    lists_to_tuples,
    load_profile,
)

log = logging.getLogger(__name__)


# -- the notebook side -------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """A notebook's resolved configuration and output folder."""

    name: str
    cfg: ExperimentConfig
    run_dir: Path


def setup_run(namespace: dict[str, Any], notebook: str) -> Run:
    """Resolve a notebook's parameters into a config and an output folder (the one setup call).

    Reads ``profile``, ``run_name``, ``results_dir`` and ``config_overrides`` from the notebook's
    namespace, plus every flat config key (``train__lr``…) whose value is not ``None``; writes the
    resolved ``config.json`` into ``results_dir/<notebook>/<run_name or profile>/``.
    """
    configure_logging()
    cfg = resolve_config(namespace)
    profile = cfg.profile
    run_dir = run_dir_for(notebook, namespace)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.to_json(run_dir / "config.json")
    log.info("run %s: profile %s, outputs in %s", notebook, profile, run_dir)
    return Run(notebook, cfg, run_dir)


def resolve_config(namespace: dict[str, Any]) -> ExperimentConfig:
    """The config a notebook's parameters describe: ``profile`` (default ``quick``), then every flat
    config key whose value is not ``None``, then ``config_overrides``."""
    valid = set(ExperimentConfig().to_flat())
    strangers = sorted(
        k for k in namespace if SEP in k and not k.startswith("_") and k not in valid
    )
    if strangers:  # a misspelt config key must not train the default silently
        raise ConfigError(f"unknown config key(s) {strangers}{did_you_mean(strangers[0], valid)}")
    overrides = {k: v for k, v in namespace.items() if SEP in k and k in valid and v is not None}
    overrides.update(namespace.get("config_overrides") or {})
    return load_profile(namespace.get("profile", "quick"), **lists_to_tuples(overrides))


def configure_logging(human: bool = True) -> None:
    """Log owslib's progress to stdout once: plain messages for humans (notebooks), or with time
    and source (``human=False``). A handler already installed (the CLI's) is kept as it is."""
    level = os.environ.get("OWSLIB_LOG", "INFO").upper()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stdout)
        fmt = "%(message)s" if human else "%(asctime)s %(name)s %(levelname)s %(message)s"
        handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(handler)
    root.setLevel(level)


def run_dir_for(name: str, parameters: dict[str, Any], results_dir: str | Path = "results") -> Path:
    run = parameters.get("run_name") or parameters.get("profile") or "default"
    return Path(parameters.get("results_dir", results_dir)) / name / str(run)
