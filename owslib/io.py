"""Atomic file writes: every artefact is written to a temporary sibling, then renamed into place."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temporary name keeps the suffix: tools such as papermill check it
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    created = os.stat(tmp_path).st_ino
    try:
        yield tmp_path
        # mkstemp creates the file 0600: give the result the permissions of a plainly written file,
        # unless the caller replaced it (e.g. by a hard link to a source file, left as it is)
        if os.stat(tmp_path).st_ino == created:
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _read_umask() -> int:
    mask = os.umask(0)  # read once, at import: umask can only be read by setting it
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_copy(src: str | Path, dst: str | Path) -> None:
    """Copy ``src`` to ``dst`` atomically (streamed: a large file is not read into memory)."""
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file's bytes (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save(obj)`` atomically. Saved through a file object, so the archive's inner folder
    is ``archive/`` whatever the (temporary) file name: the same tensors give the same bytes, and
    a file's sha256 identifies its content (``run.json``'s ``encoder_sha256``)."""
    import torch

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    # numpy scalars and arrays, Paths
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def read_json(path: str | Path) -> Any:
    """The JSON in ``path``, or ``None`` when it is missing or unreadable (a run not written yet,
    or one interrupted mid-way: every writer here is atomic, so a half file is another's)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
