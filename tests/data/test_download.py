"""Cityscapes download: offline failure at once, credentials, atomic resumable unpacking (no network)."""

from __future__ import annotations

import io
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from owslib.__main__ import main
from owslib.data import download
from owslib.data.download import DownloadError


def _offline(*args, **kwargs):
    raise OSError("[Errno 101] Network is unreachable")


def test_offline_fails_at_once_with_a_clear_message(monkeypatch, tmp_path: Path, caplog) -> None:
    monkeypatch.setattr(socket, "create_connection", _offline)
    monkeypatch.setattr(download, "login", lambda *a: pytest.fail("must not try to log in"))
    start = time.perf_counter()
    assert main(["data", "cityscapes-download", "--out", str(tmp_path / "cs")]) == 2
    assert time.perf_counter() - start < 5
    assert "www.cityscapes-dataset.com:443" in caplog.text and "offline" in caplog.text
    assert not (tmp_path / "cs").exists()


def test_credentials(monkeypatch) -> None:
    monkeypatch.setenv(download.ENV_USER, "ada")
    monkeypatch.setenv(download.ENV_PASSWORD, "secret")
    assert download.credentials() == ("ada", "secret")
    monkeypatch.delenv(download.ENV_PASSWORD)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt
    with pytest.raises(DownloadError, match=download.ENV_PASSWORD):
        download.credentials()


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _archive(path: Path) -> Path:
    """A miniature gtFine_trainvaltest.zip."""
    labels = np.array([[7, 26], [0, 24]], np.uint8)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("README", "gtFine\n")
        zf.writestr("gtFine/val/frankfurt/", "")
        zf.writestr("gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png",
                    _png_bytes(labels))
    return path


def test_unpack_is_atomic_and_resumable(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "gtFine_trainvaltest.zip")
    out = tmp_path / "cs"
    assert download.unpack(archive, out) == 2
    label = out / "gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png"
    assert np.array_equal(np.asarray(Image.open(label)), [[7, 26], [0, 24]])
    assert download.unpack(archive, out) == 0  # complete files are kept
    label.write_bytes(b"cut")  # a damaged file is rewritten
    assert download.unpack(archive, out) == 1
    assert not [p for p in out.rglob(".*")]  # no temporary files left
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DownloadError, match=str(bad)):
        download.unpack(bad, out)


def test_download_flow_with_a_fake_server(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(download, "check_connectivity", lambda *a, **k: None)
    monkeypatch.setenv(download.ENV_USER, "ada")
    monkeypatch.setenv(download.ENV_PASSWORD, "secret")
    monkeypatch.setattr(download, "login", lambda user, password: f"session of {user}")
    calls = []

    def fake_download_packages(*, session, package_names, destination_path, resume):
        calls.append((session, tuple(package_names), resume))
        _archive(Path(destination_path) / package_names[0])

    from cityscapesscripts.download import downloader

    monkeypatch.setattr(downloader, "download_packages", fake_download_packages)
    out = tmp_path / "cs"
    download.download_cityscapes(out, packages=("gtFine_trainvaltest.zip",))
    assert calls == [("session of ada", ("gtFine_trainvaltest.zip",), False)]
    assert (out / "gtFine/val/frankfurt/frankfurt_000000_000019_gtFine_labelIds.png").is_file()
    assert not (out / "gtFine_trainvaltest.zip").exists()  # archive removed after unpacking
    download.download_cityscapes(out, packages=("gtFine_trainvaltest.zip",))
    assert len(calls) == 1  # done: not fetched again
