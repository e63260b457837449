"""Writing a built dataset tree: files placed atomically and only when their content changes,
label maps encoded as PNG, files of an earlier build that the new one does not hold removed.

What the builders of real datasets (:mod:`owslib.data.camvid`, :mod:`owslib.data.road_anomaly`)
share: an interrupted build re-run finishes without duplicates or half-written files, and a
complete one re-run rewrites nothing.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from owslib.io import atomic_copy, atomic_write_bytes, sha256_file

log = logging.getLogger(__name__)


def png_bytes(array: np.ndarray) -> bytes:
    """A uint8 H×W label map as PNG bytes (the same array gives the same bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="L").save(buffer, "PNG")
    return buffer.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _holds(dst: Path, sha: str) -> bool:
    return dst.is_file() and sha256_file(dst) == sha


def place_copy(src: Path, dst: Path, sha: str) -> bool:
    """Copy ``src`` (content ``sha``) to ``dst`` atomically unless ``dst`` holds it already;
    whether it was written."""
    if _holds(dst, sha):
        return False
    atomic_copy(src, dst)
    return True


def place_bytes(data: bytes, dst: Path) -> bool:
    """Write ``data`` to ``dst`` atomically unless ``dst`` holds it already; whether it was written."""
    if _holds(dst, sha256_bytes(data)):
        return False
    atomic_write_bytes(dst, data)
    return True


def remove_stale(folders: Iterable[Path], wanted: set[Path]) -> int:
    """Remove the files (and hidden temporary files) directly in ``folders`` that ``wanted`` does
    not hold: an earlier build's, or a killed writer's debris. Returns how many were removed."""
    removed = 0
    for folder in folders:
        for p in sorted(folder.iterdir()) if folder.is_dir() else []:
            if p.is_file() and p not in wanted:
                log.info("removing %s (not part of this build)", p)
                p.unlink()
                removed += 1
    return removed
