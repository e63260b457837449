"""``python -m owslib evaluate``: a checkpoint on a split, every output file, SMIYC anomaly targets."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from owslib.__main__ import main
from owslib.cli import evaluate as evaluation_cli
from owslib.engine.checkpoint import save_checkpoint
from owslib.inference.scorers import SCORERS, available_scorers
from owslib.labels import get_split
from owslib.losses import ClassStatistics
from owslib.models import build_model


@pytest.fixture()
def checkpoint(smoke_cfg, tmp_path):
    """A checkpoint as ``train`` writes it (untrained weights, class statistics set)."""
    torch.manual_seed(0)
    k = get_split(smoke_cfg.data.split_preset).num_known
    model = build_model(smoke_cfg.model, num_classes=k)
    stats = ClassStatistics(k)
    stats.mean.normal_()
    stats.valid.fill_(True)
    objective = {f"stats.{n}": v for n, v in stats.state_dict().items()}
    path = tmp_path / "last.pt"
    save_checkpoint(
        path, config=smoke_cfg.to_dict(), model=model.state_dict(), objective=objective, epoch=1
    )
    return path


def test_literal_choices_match_the_library():
    from owslib.cli.data import DATASETS

    assert set(evaluation_cli.DATASETS) == set(DATASETS)


def test_an_unknown_scorer_lists_the_registered_ones(tmp_path, caplog):
    """Scorers are checked against the registry when the command runs (parsing stays free of
    torch), before the checkpoint is read."""
    from owslib.inference.scorers import SCORER_REGISTRY

    argv = ["evaluate", "--checkpoint", str(tmp_path / "never_read.pt"), "--out", str(tmp_path)]
    assert main([*argv, "--scorer", "fused", "--scorer", "fuzed"]) == 2
    line = _error_line(caplog)
    assert line.startswith("unknown scorer 'fuzed'") and "never_read.pt" not in line
    assert all(name in line for name in SCORER_REGISTRY)


def test_evaluate_command_writes_every_output(checkpoint, smoke_root, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--dataset", "embedded"]
    argv += ["--split", "test", "--root", str(smoke_root), "--out", str(out), "--device", "cpu"]
    assert main([*argv, "--set", "n_maps=2", "--set", "eval__delta=0.5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    p = metrics["protocol"]
    assert (p["dataset"], p["split"], p["split_preset"]) == (
        "embedded",
        "test",
        "cityscapes_heldout",
    )
    assert p["resolution"].startswith("native") and p["image_sizes"] == ["64x128"]
    assert p["options"]["delta"] == 0.5 and p["epoch"] == 1
    default = available_scorers(("sem_logits", "embedding"))
    assert set(metrics["anomaly"]) == set(default) and set(SCORERS) <= set(default)
    for scorer in default:
        for agg in ("pooled", "per_image"):
            assert metrics["anomaly"][scorer][agg]["convention"].startswith(agg)
    assert {"components", "discovery", "similarity", "miou"} <= set(metrics)
    per_image = pd.read_csv(out / "per_image.csv")
    assert len(per_image) == metrics["n_images"] == 6
    assert {"image", "n_pixels", "fused_aupr", "max_logit_fpr95"} <= set(per_image.columns)
    assert len(pd.read_csv(out / "anomaly.csv")) == 2 * len(default)
    for name in ("summary.csv", "metrics.md", "curves.csv", "pr_curves.png", "roc_curves.png"):
        assert (out / name).is_file(), name
    assert len(list((out / "anomaly_maps").glob("*.png"))) == 2 * (
        1 + len(metrics["protocol"]["options"]["map_scorers"])
    )
    assert json.loads((out / "config.json").read_text())["eval"]["delta"] == 0.5
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "aupr_pooled" in printed and "aupr_per_image" in printed


def _smiyc_track(root, n=2, h=48, w=64):
    track = root / "dataset_AnomalyTrack"
    (track / "images").mkdir(parents=True)
    (track / "labels_masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            track / "images" / f"frame{i}.png"
        )
        label = np.zeros((h, w), dtype=np.uint8)
        label[10:30, 20:44] = 1
        label[:4] = 255
        Image.fromarray(label).save(track / "labels_masks" / f"frame{i}_labels_semantic.png")
    return root


def test_smiyc_dataset_gives_anomaly_and_component_metrics(checkpoint, tmp_path):
    root = _smiyc_track(tmp_path / "smiyc")
    out = tmp_path / "eval"
    metrics = evaluation_cli.evaluate_checkpoint(
        checkpoint,
        out,
        dataset="road_anomaly21",
        root=root,
        device="cpu",
        scorers=("max_logit", "fused"),
        overrides={"open_world": False},
    )
    assert metrics["protocol"]["target_kind"] == "anomaly"
    assert "miou" not in metrics and "discovery" not in metrics
    assert metrics["components"]["fused"]["track"] == "anomaly"
    assert metrics["components"]["fused"]["min_gt_size"] == 100
    assert metrics["n_images"] == 2
    summary = pd.read_csv(out / "summary.csv")
    assert summary["metric"].str.startswith("sIoU").any()


def test_missing_checkpoint_is_named(tmp_path, caplog):
    code = main(["evaluate", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path)])
    assert code == 2
    assert _error_line(caplog) == f"checkpoint not found: {tmp_path / 'nope.pt'}"


def _error_line(caplog):
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "\n" not in record.getMessage() and record.exc_info is None
    return record.getMessage()


@pytest.mark.parametrize(
    ("key", "guess", "listed"),
    [
        ("n_mapz", "n_maps", ("components", "discovery_space", "eval__delta")),
        ("eval__deltaa", "eval__delta", ("eval__batch_size", "eval__curve")),
        ("trian__lr", "train__lr", ("components", "eval__delta", "train, eval")),
    ],
)
def test_unknown_set_option_lists_the_valid_ones(key, guess, listed, tmp_path, caplog):
    argv = ["evaluate", "--checkpoint", str(tmp_path / "never_read.pt"), "--out", str(tmp_path)]
    assert main([*argv, "--set", f"{key}=1"]) == 2
    line = _error_line(caplog)
    assert line.startswith(f"--set {key}: unknown option; did you mean {guess!r}?")
    for name in listed:
        assert name in line, name
    assert "never_read.pt" not in line  # checked before the checkpoint is read


def test_valid_set_options_pass():
    evaluation_cli.check_overrides(["n_maps", "components", "eval__delta", "train__seed"])
    assert not set(evaluation_cli.SET_BY_COMMAND) & set(evaluation_cli.settable_options())


@pytest.mark.parametrize("dataset", ["embedded", "road_anomaly21"])
def test_missing_root_is_named(dataset, checkpoint, tmp_path, caplog):
    root = tmp_path / "no_data"
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--dataset", dataset]
    assert main([*argv, "--root", str(root), "--out", str(tmp_path / "eval")]) == 2
    assert _error_line(caplog).startswith(f"{root}: dataset root not found; ")
    assert not (tmp_path / "eval").exists()
