"""Fetch and unpack the official Cityscapes archives with cityscapesScripts' downloader.

``download_cityscapes(out)`` checks connectivity first (an offline machine fails at once with a clear
message), logs in with ``CITYSCAPES_USERNAME`` / ``CITYSCAPES_PASSWORD`` (or a prompt when stdin is a
terminal), downloads ``gtFine_trainvaltest.zip`` and ``leftImg8bit_trainvaltest.zip`` through
:func:`cityscapesscripts.download.downloader.download_packages` (MD5-checked, resumable) into
``out/.download/``, moves each complete archive to ``out/`` and unpacks it file by file, atomically;
files already unpacked with the right size are kept, and ``out/.download/<archive>.unpacked`` marks
an archive done, so an interrupted run can simply be repeated.
"""

from __future__ import annotations

import getpass
import logging
import os
import shutil
import socket
import sys
import zipfile
from pathlib import Path

from owslib.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

HOST, PORT = "www.cityscapes-dataset.com", 443
PACKAGES = ("gtFine_trainvaltest.zip", "leftImg8bit_trainvaltest.zip")  # package ids 1 and 3
ENV_USER, ENV_PASSWORD = "CITYSCAPES_USERNAME", "CITYSCAPES_PASSWORD"


class DownloadError(RuntimeError):
    """The archives cannot be fetched or unpacked; the message says why and what to do."""


def check_connectivity(host: str = HOST, port: int = PORT, timeout: float = 5.0) -> None:
    """Raise :class:`DownloadError` at once if ``host:port`` cannot be reached."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as e:
        raise DownloadError(
            f"cannot reach {host}:{port} ({e}); this machine looks offline. Download "
            f"{' and '.join(PACKAGES)} on a machine with network access "
            "(https://www.cityscapes-dataset.com/downloads/) and unzip both into one folder"
        ) from e


def credentials() -> tuple[str, str]:
    """``(username, password)`` from the environment, else from a prompt on a terminal."""
    user, password = os.environ.get(ENV_USER), os.environ.get(ENV_PASSWORD)
    if user and password:
        return user, password
    if not sys.stdin.isatty():
        raise DownloadError(
            f"no Cityscapes credentials: set {ENV_USER} and {ENV_PASSWORD} "
            "(an account from https://www.cityscapes-dataset.com/register/)"
        )
    return user or input("Cityscapes username or email: "), getpass.getpass("Cityscapes password: ")


def login(user: str, password: str):  # -> requests.Session
    """A logged-in session; the same requests as ``downloader.login()``, which only reads
    credentials from its own file or a prompt."""
    import requests

    session = requests.Session()
    url = f"https://{HOST}/login"
    session.get(url, allow_redirects=False).raise_for_status()
    form = {"username": user, "password": password, "submit": "Login"}
    r = session.post(url, data=form, allow_redirects=False)
    r.raise_for_status()
    if r.status_code != 302:  # the site redirects after a successful login
        raise DownloadError(f"Cityscapes login failed for {user!r}: bad credentials")
    return session


def fetch(session, package: str, out: Path) -> Path:
    """Download ``package`` into ``out`` (resuming a partial download); the complete archive."""
    from cityscapesscripts.download import downloader

    final = out / package
    if final.is_file():
        log.info("%s: already downloaded", final)
        return final
    staging = out / ".download"
    staging.mkdir(parents=True, exist_ok=True)
    partial = staging / package
    try:
        downloader.download_packages(session=session, package_names=[package],
                                     destination_path=str(staging), resume=partial.exists())
    except Exception as e:  # the downloader raises bare Exceptions (access, MD5 mismatch)
        raise DownloadError(f"{partial}: download of {package} failed ({e})") from e
    os.replace(partial, final)
    return final


def unpack(archive: Path, out: Path) -> int:
    """Extract ``archive`` into ``out`` file by file, atomically; the number of files written."""
    written = 0
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = (out / info.filename).resolve()
                if not target.is_relative_to(out.resolve()):
                    raise DownloadError(f"{archive}: member {info.filename!r} escapes {out}")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if target.is_file() and target.stat().st_size == info.file_size:
                    continue
                with zf.open(info) as src, atomic_path(target) as tmp, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                written += 1
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{archive}: not a valid zip archive ({e}); delete it and retry") from e
    log.info("%s: unpacked %d files into %s", archive.name, written, out)
    return written


def download_cityscapes(
    out: str | Path, *, packages: tuple[str, ...] = PACKAGES, keep_archives: bool = False
) -> Path:
    """Download and unpack the Cityscapes release into ``out``; returns ``out``."""
    out = Path(out)
    check_connectivity()
    session = login(*credentials())
    out.mkdir(parents=True, exist_ok=True)
    for package in packages:
        done = out / ".download" / f"{package}.unpacked"
        if done.is_file():
            log.info("%s: already downloaded and unpacked", package)
            continue
        archive = fetch(session, package, out)
        unpack(archive, out)
        atomic_write_text(done, "")
        if not keep_archives:
            archive.unlink()
    return out
