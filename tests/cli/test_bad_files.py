"""A bad dataset file met by ``train``: one line naming it, exit code 2, the same line in run.json."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from torch.utils.data import DataLoader, Dataset

from owslib.__main__ import main
from owslib.cli import train as train_cli
from owslib.config import SyntheticConfig, load_profile
from owslib.data.embedded.generator import generate_embedded_dataset

#: A miniature run: 4 training images in 2 batches of 2 (none dropped: every image is loaded).
TRAIN = [
    "train",
    "--profile",
    "smoke",
    "--set",
    "synthetic__n_train=4",
    "synthetic__n_val=2",
    "synthetic__n_test=2",
    "model__pretrain_epochs=0",
    "train__epochs=1",
    "train__batch_size=2",
    "data__heldout_in_train=ignore",
    "data__num_workers=1",
]


@pytest.fixture()
def truncated(tmp_path: Path) -> tuple[Path, Path]:
    """A generated miniature tree (embedded, Cityscapes layout) with one truncated training PNG;
    returns the root and the truncated file."""
    root = tmp_path / "embedded"
    generate_embedded_dataset(
        root, SyntheticConfig(n_train=4, n_val=2, n_test=2, height=64, width=128)
    )
    image = sorted((root / "leftImg8bit" / "train").glob("*/*_leftImg8bit.png"))[1]
    data = image.read_bytes()
    image.write_bytes(data[: len(data) // 2])
    return root, image


def _run_error(run: Path) -> str:
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed"
    return info["error"]


def test_train_names_a_truncated_png_in_one_line(truncated, tmp_path: Path) -> None:
    # the embedded set is not validated up front (data__validate=auto): a loader worker meets the file
    root, image = truncated
    run = tmp_path / "run"
    env = {**os.environ, "OWSLIB_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "owslib", *TRAIN, f"data__root={root}", "--out", str(run)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "DataLoader worker" not in proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    message = error.split(" ERROR ", 1)[1]
    assert message.startswith(f"{image}: cannot decode image") and "expected a valid PNG" in message
    assert _run_error(run) == f"DatasetError: {message}"


def test_train_validates_a_real_dataset_before_the_first_epoch(
    truncated, tmp_path: Path, caplog, monkeypatch
) -> None:
    # the same tree read as Cityscapes (data__validate=auto: on): found before any training
    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    root, image = truncated
    run = tmp_path / "run"
    argv = [*TRAIN, f"data__root={root}", "data__dataset=cityscapes", "--out", str(run)]
    assert main(argv) == 2
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert message.startswith(f"{image}: cannot decode image") and "data__validate" in message
    assert "\n" not in message and _run_error(run) == f"DatasetError: {message}"
    assert not (run / "checkpoints").exists() and not (tmp_path / "cache").exists()


def test_evaluate_names_a_truncated_png_in_one_line(truncated, tmp_path: Path, caplog) -> None:
    from owslib.engine.checkpoint import save_checkpoint
    from owslib.labels import get_split
    from owslib.losses import ClassStatistics
    from owslib.models import build_model

    root, image = truncated
    test_image = sorted((root / "leftImg8bit" / "test").glob("*/*_leftImg8bit.png"))[0]
    test_image.write_bytes(image.read_bytes())  # truncated too
    cfg = load_profile("smoke", data__root=str(root))
    k = get_split(cfg.data.split_preset).num_known
    stats = ClassStatistics(k)  # a checkpoint as train writes it (untrained, statistics set)
    stats.valid.fill_(True)
    objective = {f"stats.{n}": v for n, v in stats.state_dict().items()}
    checkpoint = tmp_path / "last.pt"
    save_checkpoint(
        checkpoint,
        config=cfg.to_dict(),
        model=build_model(cfg.model, num_classes=k).state_dict(),
        objective=objective,
        epoch=1,
    )
    argv = [
        "evaluate",
        "--checkpoint",
        str(checkpoint),
        "--dataset",
        "embedded",
        "--split",
        "test",
        "--root",
        str(root),
        "--out",
        str(tmp_path / "eval"),
        "--device",
        "cpu",
        "--workers",
        "1",
    ]
    assert main(argv) == 2
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert message.startswith(f"{test_image}: cannot decode image") and "\n" not in message


class _Raises(Dataset):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int):
        raise ValueError("/data/x.png: unexpected value; expected another")


def test_main_keeps_the_original_line_of_any_worker_error(monkeypatch, caplog) -> None:
    def cmd(args) -> int:
        list(DataLoader(_Raises(), num_workers=1))
        return 0

    monkeypatch.setattr(train_cli, "cmd_train", cmd)
    assert main(["train", "--out", "unused"]) == 2
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert message == "/data/x.png: unexpected value; expected another"
