"""One process trains a run folder at a time.

A run takes an exclusive lock on ``.<run>.lock`` beside its folder (``runs/quick/focal/.seed0.lock``
for ``runs/quick/focal/seed0``: beside it, so that moving a stale run aside keeps the lock) for as
long as it trains. The operating system releases the lock when its process ends, however it ends
(even ``kill -9``), so a lock is never stale; the file holds who took it last, for the message.
A second process that wants the same run gets :class:`RunBusyError` naming the holder: two
runners, an array task started twice, or a runner's child left running after its parent was
killed can no longer write one run's files at once.

Locks are ``flock`` locks (Linux, macOS; local disks and NFS on Linux); where ``fcntl`` does not
exist (Windows) runs are not locked.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class RunBusyError(RuntimeError):
    """The run is being trained by another process."""


def lock_path(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}.lock"


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the run's lock while the block runs; :class:`RunBusyError` when another process
    holds it."""
    path = lock_path(run_dir)
    if fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "a process that did not say who it is"
            raise RunBusyError(
                f"{run_dir} is being trained by another process ({holder}); it was left alone"
            ) from None
        f.seek(0)
        f.truncate()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        f.write(f"pid {os.getpid()} on {platform.node()}, since {stamp}\n")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def is_busy(run_dir: str | Path) -> bool:
    """Whether another process holds the run's lock now (creates nothing when no process ever
    locked it)."""
    if fcntl is None or not lock_path(run_dir).is_file():
        return False
    try:
        with run_lock(run_dir):
            return False
    except RunBusyError:
        return True
