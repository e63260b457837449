"""Bad files: one line naming the file, from a DataLoader worker too; the check before training."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest
from torch.utils.data import DataLoader

from owslib.config import DataConfig, ExperimentConfig
from owslib.data.cityscapes import CityscapesDataset, validate_files, validation_wanted
from owslib.data.validation import (
    DatasetError,
    LabelFileError,
    first_bad_pair,
    worker_message,
)
from owslib.config import stale_keys
from owslib.labels import LabelError, get_split

CS = get_split("cityscapes")


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _truncated_image(root: Path, add_pair, labels: np.ndarray) -> Path:
    image, _ = add_pair(root, "train", "beta_000001_000019", labels)
    return _truncate(image)


def _size_mismatch(root: Path, add_pair, labels: np.ndarray) -> Path:
    _, label = add_pair(root, "train", "beta_000001_000019", labels, image_size=(4, 4))
    return label


def _id_outside_table(root: Path, add_pair, labels: np.ndarray) -> Path:
    bad = labels.copy()
    bad[0, 0] = 40
    _, label = add_pair(root, "train", "beta_000001_000019", bad)
    return label


@pytest.mark.parametrize("damage", [_truncated_image, _size_mismatch, _id_outside_table])
def test_a_bad_file_read_by_a_loader_worker_is_one_line_naming_it(
    tmp_path: Path, add_pair, hand_label_ids: np.ndarray, damage
) -> None:
    add_pair(tmp_path, "train", "alpha_000000_000019", hand_label_ids)
    culprit = damage(tmp_path, add_pair, hand_label_ids)
    ds = CityscapesDataset(tmp_path, "train", CS)
    with pytest.raises(DatasetError) as info:  # torch re-creates the error from the worker's text
        list(DataLoader(ds, batch_size=1, num_workers=1))
    message = str(info.value)
    assert message.startswith(f"{culprit}: ") and "\n" not in message
    assert "expected" in message or "valid:" in message  # what the file should have been
    assert "Original Traceback" in info.value.worker_traceback  # kept for --debug


def test_label_values_error_is_both_kinds(tmp_path: Path, add_pair, hand_label_ids) -> None:
    add_pair(tmp_path, "train", "alpha_000000_000019", hand_label_ids)
    label = _id_outside_table(tmp_path, add_pair, hand_label_ids)
    ds = CityscapesDataset(tmp_path, "train", CS)
    with pytest.raises(LabelFileError, match=re.escape(str(label)) + r".*\[40\]") as info:
        ds[1]
    assert isinstance(info.value, LabelError) and isinstance(info.value, DatasetError)


def test_worker_message() -> None:
    text = (
        "Caught ValueError in DataLoader worker process 3.\nOriginal Traceback (most recent call "
        'last):\n  File "x.py", line 1, in f\n    raise OSError("a: b")\nOSError: a: b\n\nThe '
        "above exception was the direct cause of the following exception:\n\nTraceback (most "
        'recent call last):\n  File "y.py", line 2, in g\nValueError: /d/x.png: bad; expected good\n'
    )
    assert worker_message(text) == "/d/x.png: bad; expected good"
    assert worker_message(text.replace("ValueError: ", "owslib.m.ValueError: ")) == (
        "/d/x.png: bad; expected good"
    )
    assert worker_message("/d/x.png: bad") is None
    assert str(DatasetError("/d/x.png: bad")) == "/d/x.png: bad"  # an ordinary message is kept
    assert DatasetError("/d/x.png: bad").worker_traceback is None


def test_first_bad_pair_in_order(tmp_path: Path, add_pair, hand_label_ids: np.ndarray) -> None:
    pairs = [add_pair(tmp_path, "train", f"c{i}_000000_000019", hand_label_ids) for i in range(4)]
    assert first_bad_pair(pairs, "label_ids", workers=2) is None
    _truncate(pairs[3][0])
    _truncate(pairs[1][1])
    bad = first_bad_pair(pairs, "label_ids", workers=2)
    assert bad is not None and bad.path == str(pairs[1][1]) and "cannot decode label" in bad.reason


@pytest.mark.parametrize(
    ("dataset", "validate", "skip_bad", "wanted"),
    [
        ("cityscapes", "auto", False, True),
        ("bdd_anomaly", "auto", False, True),
        ("embedded", "auto", False, False),
        ("embedded", "true", False, True),
        ("cityscapes", "false", False, False),
        ("cityscapes", "true", True, False),  # skip_bad decoded every pair already
    ],
)
def test_validation_wanted(dataset: str, validate: str, skip_bad: bool, wanted: bool) -> None:
    cfg = DataConfig(dataset=dataset, validate=validate, skip_bad=skip_bad)
    assert validation_wanted(cfg) is wanted


def test_validate_value_is_checked_and_the_field_round_trips() -> None:
    with pytest.raises(ValueError, match=r"data__validate='yes'.*auto"):
        validation_wanted(DataConfig(validate="yes"))
    cfg = ExperimentConfig().override(data__validate="false")
    assert ExperimentConfig.from_dict(cfg.to_dict()).data.validate == "false"


def test_validate_does_not_make_a_run_stale() -> None:
    saved = ExperimentConfig().to_dict()
    del saved["data"]["validate"]  # a run written before the field existed
    cfg = ExperimentConfig()
    assert stale_keys(saved, cfg) == []
    assert stale_keys(saved, cfg.override(data__validate="false")) == []
    assert stale_keys(saved, cfg.override(data__validate="true", train__lr=0.5)) == ["train__lr"]


def test_validate_files_names_the_first_bad_file(
    tmp_path: Path, add_pair, hand_label_ids: np.ndarray, caplog
) -> None:
    caplog.set_level(logging.INFO)
    for split in ("train", "val"):
        add_pair(tmp_path, split, f"{split}a_000000_000019", hand_label_ids)
    train, val = (CityscapesDataset(tmp_path, s, CS) for s in ("train", "val"))
    validate_files([train, val, val])  # val twice (test_split=val): decoded once
    assert "validated 2 image/label pairs" in caplog.text
    image = _truncate(val.samples[0][0])
    with pytest.raises(DatasetError) as info:
        validate_files([train, val, val])
    message = str(info.value)
    assert message.startswith(f"{image}: cannot decode image") and "\n" not in message
    assert "data__validate" in message and "data__skip_bad" in message
