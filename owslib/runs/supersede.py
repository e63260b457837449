"""Runs superseded by a changed config move aside, never deleted: ``<results>/_superseded/``."""

from __future__ import annotations

import datetime
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


#: Where superseded runs are moved (never deleted), under the results folder.
SUPERSEDED_DIR = "_superseded"


def move_aside(run_dir: Path, results_dir: Path, why: str | list[str]) -> Path:
    """Move a run folder to ``results_dir/_superseded/<notebook>/<run>-<UTC time>/`` with a
    ``SUPERSEDED.txt`` saying why; nothing is deleted."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    dest = results_dir / SUPERSEDED_DIR / run_dir.parent.name / f"{run_dir.name}-{stamp}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run_dir), str(dest))
    reason = why if isinstance(why, str) else "training config changed: " + ", ".join(why)
    (dest / "SUPERSEDED.txt").write_text(f"moved from {run_dir} at {stamp}: {reason}\n")
    log.warning("%s: moved aside to %s (%s)", run_dir, dest, reason)
    return dest
