"""A study run's state against the study file: ``finished`` (current: its config and the study's
declared setup), ``stale``, ``failed``, ``partial`` or ``missing``, and why a finished run is
stale."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from owslib.config import ConfigError, stale_keys
from owslib.io import read_json
from owslib.runs.run import is_finished, read_run_info
from owslib.runs.setup import code_identity
from owslib.study.studyfile import RunJob, Study, base_config

log = logging.getLogger(__name__)

#: The records of a run that every reader trusts: one that exists but cannot be read is damage.
RECORDS = ("run.json", "metrics.json")


class DamagedRunError(ValueError):
    """A run's ``run.json`` or ``metrics.json`` exists but is not a JSON object (cut short,
    overwritten): the run is neither finished nor skipped, and every command that reads it stops
    with one line naming the file (every writer here is atomic, so no reader sees a half file)."""


def read_record(path: str | Path) -> dict[str, Any] | None:
    """A run record (``run.json``, ``metrics.json``): None when it does not exist, else its JSON
    object; :class:`DamagedRunError` naming the file when it cannot be read as one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise DamagedRunError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        value = e
    if not isinstance(value, dict):
        raise DamagedRunError(
            f"{path}: not a JSON object (damaged); restore it with `git checkout -- {path}` for a "
            "committed run, or delete its run folder to retrain it"
        )
    return value


def check_records(run_path: str | Path) -> None:
    """Raise :class:`DamagedRunError` for a run whose records exist but cannot be read."""
    for name in RECORDS:
        read_record(Path(run_path) / name)


def status(study: Study, job: RunJob, overrides: dict[str, Any] | None = None) -> str:
    """``finished`` (and current), ``failed``, ``stale`` (another config, or another setup than
    the study declares), ``partial`` or ``missing``; a run whose records cannot be read raises
    :class:`DamagedRunError` (it is none of these)."""
    check_records(job.path)
    cfg = study.config(job.variant, job.seed, **(overrides or {}))
    info = read_run_info(job.path)
    if is_finished(job.path, cfg):
        other = setup_mismatch(study, info or {}, overrides or {})
        if not other:
            return "finished"
        log.debug("%s: trained in another setup (%s)", job.label, other)
        return "stale"
    if info is None:
        return "missing"
    if info.get("status") == "failed":
        return "failed"
    return "stale" if info.get("status") == "finished" else "partial"


def expected_setup(study: Study, overrides: dict[str, Any]) -> dict[str, Any]:
    """The setup record (:func:`~owslib.runs.setup.observed`) a run of the study should have:
    the declared fields, the code's identity (:func:`~owslib.runs.setup.code_identity`), the
    study-wide config."""
    base = json.dumps(base_config(study, overrides), sort_keys=True, default=str)
    return {
        "precision": study.setup.precision,
        "isa": study.setup.isa,
        "threads": study.setup.threads,
        "encoder_sha256": study.setup.encoder_sha256,
        "source_sha256": code_identity(),
        "base_config_sha256": hashlib.sha256(base.encode()).hexdigest(),
    }


def setup_mismatch(study: Study, info: dict[str, Any], overrides: dict[str, Any]) -> list[str]:
    """How a finished run's recorded setup differs from the study's (empty when the study
    declares none): the declared fields, the code and the study-wide config."""
    if not study.setup.declared:
        return []
    want, have = expected_setup(study, overrides), info.get("setup") or {}
    always = ("source_sha256", "base_config_sha256")  # undeclared fields are not compared
    return [k for k, v in want.items() if (v or k in always) and have.get(k) != v]


def stale_reason(study: Study, job: RunJob, overrides: dict[str, Any]) -> list[str]:
    """Why a finished run is stale: the training-config keys that changed, else the parts of the
    setup it was not trained in."""
    cfg = study.config(job.variant, job.seed, **overrides)
    changed = stale_keys(read_json(job.path / "config.json"), cfg)
    other = setup_mismatch(study, read_run_info(job.path) or {}, overrides)
    return changed or [f"setup {k}" for k in other] or ["config changed"]


def recorded_status(study: Study, job: RunJob) -> str:
    """:func:`status` for a reader that does not know the ``-p`` overrides a run was trained with:
    under the study-wide config the run recorded (``base_config``). Readers then pair only runs of
    one fingerprint, which hashes that config, so runs trained with other overrides never mix."""
    info = read_run_info(job.path) or {}
    try:
        return status(study, job, dict(info.get("base_config") or {}))
    except ConfigError:  # it recorded a config key owslib no longer has
        return "stale"


def is_current(study: Study, job: RunJob) -> bool:
    """Whether a run is finished and the study's as it stands (:func:`recorded_status`)."""
    return recorded_status(study, job) == "finished"
