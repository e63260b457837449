"""One process trains a run folder at a time.

A run takes an exclusive lock on ``.<run>.lock`` beside its folder (``runs/quick/focal/.seed0.lock``
for ``runs/quick/focal/seed0``: beside it, so that moving a stale run aside keeps the lock) for as
long as it trains. The operating system releases the lock when its process ends, however it ends
(even ``kill -9``), so a lock is never stale; the file holds who took it last, for the message.
A second process that wants the same run gets :class:`RunBusyError` naming the holder: two
runners, an array task started twice, or a runner's child left running after its parent was
killed can no longer write one run's files at once.

Locks are ``flock`` locks (Linux and macOS, local disks; on NFS, Linux emulates them with POSIX
locks, which hold between processes, not within one). Where ``fcntl`` does not exist (Windows) or
the file system refuses locks (Lustre mounted ``noflock``, NFS without a lock daemon), runs are
not locked, with a warning. Caveats: a symlinked run folder and its target have different locks;
DataLoader workers forked by the holder keep the lock until they notice their parent ended.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import logging
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


log = logging.getLogger(__name__)


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
        if not _lock(f, path):
            f.seek(0)
            holder = f.read().strip() or "a process that did not say who it is"
            raise RunBusyError(
                f"{run_dir} is being trained by another process ({holder}); it was left alone"
            )
        f.seek(0)
        f.truncate()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        f.write(f"pid {os.getpid()} on {platform.node()}, since {stamp}\n")
        f.flush()
        try:
            yield
        finally:  # (closing alone would leave it to forked DataLoader workers' copies)
            with contextlib.suppress(OSError):
                fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def input_lock(target: str | Path, what: str) -> Iterator[None]:
    """Hold the lock of ``target`` (``.<name>.lock`` beside it, as :func:`lock_path`) while the
    block prepares it, *waiting* for whichever process holds it: one process prepares an input
    that runs share (the embedded dataset, a closed-set encoder; ``what`` names it), the others
    (``--jobs``, array tasks, a second runner) wait and then find it ready, instead of writing the
    same files at once. Where the lock cannot be had (a read-only or foreign folder, a file system
    that does not lock) the block runs unlocked, with a warning once per folder."""
    path = lock_path(target)
    if fcntl is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path, "a+", encoding="utf-8")  # noqa: SIM115  (closed below)
    except OSError as e:
        if e.errno not in UNWRITABLE:
            raise
        _warn_unlocked(path, f"cannot write {path.name} there ({e.strerror})", what)
        yield
        return
    with f:
        taken = _try_flock(f)
        if taken is None:
            _warn_unlocked(path, "the file system does not lock files", what)
        elif not taken:
            log.info("waiting for another process preparing %s", what)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(f, fcntl.LOCK_UN)


def _warn_unlocked(path: Path, why: str, what: str) -> None:
    if path.parent not in _warned:
        _warned.add(path.parent)
        log.warning(
            "%s: %s; %s is not protected from being prepared twice at once", path.parent, why, what
        )


#: errno values of a folder where no lock file can be made (the input is prepared unlocked).
UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


#: errno values of a file system that does not lock (the run goes on unlocked).
NO_LOCKS = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}
_warned: set[Path] = set()


def _try_flock(f: IO[str]) -> bool | None:
    """Take ``f``'s exclusive lock without waiting: True when taken, False when another process
    holds it, None when the file system does not lock."""
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in NO_LOCKS:
            return None
        raise


def _lock(f: IO[str], path: Path, tries: int = 5) -> bool:
    """Take ``f``'s exclusive lock: False when another process holds it (after a few tries over
    ~0.1 s, so that a brief :func:`is_busy` probe is not taken for a trainer), True when taken or
    when the file system does not lock."""
    for attempt in range(tries):
        taken = _try_flock(f)
        if taken is None:
            if path.parent not in _warned:
                _warned.add(path.parent)
                log.warning(
                    "%s: the file system does not lock files; runs there are not "
                    "protected from being trained twice at once",
                    path.parent,
                )
            return True
        if taken:
            return True
        if attempt < tries - 1:
            time.sleep(0.025)
    return False


def is_busy(run_dir: str | Path) -> bool:
    """Whether another process holds the run's lock now (creates and writes nothing)."""
    path = lock_path(run_dir)
    if fcntl is None or not path.is_file():
        return False
    with open(path, encoding="utf-8") as f:
        taken = _try_flock(f)
        if taken:
            fcntl.flock(f, fcntl.LOCK_UN)
        return taken is False
