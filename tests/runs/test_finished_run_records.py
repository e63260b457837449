"""The explorer records of a run's anomaly sets: written by the run for the frames whose maps it
saves, and for a finished run from its checkpoint (``study --records``) without touching any other
file of it; a run without a checkpoint is refused by name, one that is not finished left alone."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from source_layouts import ROAD_ANOMALY_FIDS, write_road_anomaly

from owslib.__main__ import main
from owslib.data import ensure_embedded_dataset
from owslib.data.road_anomaly import build_road_anomaly
from owslib.engine.loop import CHECKPOINT_NAME
from owslib.report.explorer_record import load_explorer_record, record_path
from owslib.report.files import map_stem
from owslib.runs.run import record_anomaly_sets, run_experiment
from owslib.study.studyfile import load_study, run_dir

SET = "road_anomaly"


@pytest.fixture(scope="module")
def study_file(tmp_path_factory) -> Path:
    """A study of one variant (two generated training scenes) evaluated on a RoadAnomaly-layout
    set at twice its frames' size."""
    tmp = tmp_path_factory.mktemp("records")
    built = tmp / "built"
    build_road_anomaly(write_road_anomaly(tmp / "clone"), built)
    overrides = {
        "data__root": str(tmp / "data"),
        "synthetic__n_train": 2,
        "synthetic__n_test": 2,
        "model__pretrain_epochs": 0,
        "train__device": "cpu",
        "eval__anomaly_sets": f"{SET}:{built}",
        "eval__anomaly_scale": 2.0,
    }
    spec = {
        "profile": "smoke",
        "seeds": [0, 1],
        "variants": {"baseline": {"description": "b", "overrides": overrides}},
        "notebooks": [{"name": "01_baseline_contmav", "variants": ["baseline"]}],
    }
    path = tmp / "study.json"
    path.write_text(json.dumps(spec))
    ensure_embedded_dataset(tmp / "data", load_study(path).config("baseline", 0).synthetic)
    return path


@pytest.fixture(scope="module")
def finished(study_file) -> tuple:
    """``(study, results, run folder)``: seed 0 trained and evaluated (seed 1 never trained)."""
    study = load_study(study_file)
    results = study_file.parent / "results"
    run = run_dir(results, "smoke", "baseline", 0)
    run_experiment(study.config("baseline", 0), run, load_model=False)
    return study, results, run


def _files(run: Path) -> dict[str, str]:
    """Every file of a run but its anomaly set's record, with the sha256 of its bytes."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file() and p != record_path(run, SET)
    }


def _copy(run: Path, to: Path, *, checkpoint: bool = True) -> Path:
    ignore = None if checkpoint else shutil.ignore_patterns("checkpoints")
    shutil.copytree(run, to, ignore=ignore)
    record_path(to, SET).unlink()
    return to


def test_a_run_records_the_frames_whose_maps_it_saved_at_the_evaluations_size(finished):
    _, _, run = finished
    folder = run / "anomaly_sets" / SET
    saved = sorted(
        p.name.removesuffix("_image.png") for p in folder.glob("anomaly_maps/*_image.png")
    )
    # eval__n_examples=2 of the 3 frames, evenly spaced: the first and the last
    assert saved == [ROAD_ANOMALY_FIDS[0], ROAD_ANOMALY_FIDS[-1]]
    record = load_explorer_record(record_path(run, SET))
    assert [ex["name"] for ex in record] == saved
    scorers = set(load_explorer_record(record_path(run))[0]["maps"])  # the test split's record
    for ex in record:
        assert ex["target_kind"] == "anomaly" and set(ex["maps"]) == scorers
        assert ex["image"].shape == (16, 24, 3)  # 8x12 frames evaluated at twice their size
        png = np.asarray(Image.open(folder / "anomaly_maps" / f"{map_stem(ex['name'])}_image.png"))
        np.testing.assert_array_equal(ex["image"], png)  # the frame whose maps were saved
        np.testing.assert_array_equal(ex["unknown_mask"], ex["target"] == 1)
        assert ex["unknown_mask"].any() and set(np.unique(ex["target"])) <= {0, 1, 255}


def test_a_finished_run_gets_its_records_from_its_checkpoint_and_nothing_else(finished, tmp_path):
    study, _, run = finished
    cfg = study.config("baseline", 0)
    copy = _copy(run, tmp_path / "seed0")
    before = _files(copy)
    line = record_anomaly_sets(cfg, copy)
    assert line.startswith("wrote ") and f"anomaly_sets/{SET}/explorer.npz" in line
    assert _files(copy) == before  # metrics.json, run.json, the maps: byte for byte
    assert (copy / "anomaly_sets" / SET / "metrics.json").read_bytes() == (
        run / "anomaly_sets" / SET / "metrics.json"
    ).read_bytes()
    ran, again = (
        load_explorer_record(record_path(run, SET)),
        load_explorer_record(record_path(copy, SET)),
    )
    assert [ex["name"] for ex in again] == [ex["name"] for ex in ran]
    for a, b in zip(ran, again, strict=True):
        for key in ("image", "target", "pred", "unknown_mask"):
            np.testing.assert_array_equal(a[key], b[key])
        for s in a["maps"]:
            np.testing.assert_allclose(a["maps"][s], b["maps"][s], atol=1e-5)
    written = record_path(copy, SET).stat().st_mtime_ns
    assert record_anomaly_sets(cfg, copy).startswith(f"has the records of {SET}: left alone")
    assert record_path(copy, SET).stat().st_mtime_ns == written
    assert record_anomaly_sets(cfg, copy, force=True).startswith("wrote ")


def test_without_a_checkpoint_the_records_are_refused_by_name(finished, tmp_path):
    study, _, run = finished
    copy = _copy(run, tmp_path / "seed0", checkpoint=False)
    before = _files(copy)
    with pytest.raises(FileNotFoundError, match=f"no checkpoint {CHECKPOINT_NAME}.*{SET}"):
        record_anomaly_sets(study.config("baseline", 0), copy)
    assert not record_path(copy, SET).exists() and _files(copy) == before


def test_a_run_that_is_not_finished_is_left_alone(finished, tmp_path):
    study, _, run = finished
    copy = _copy(run, tmp_path / "seed0")
    (copy / "metrics.json").unlink()  # a run still training has none yet
    before = _files(copy)
    assert "left alone" in record_anomaly_sets(study.config("baseline", 0), copy)
    assert not record_path(copy, SET).exists() and _files(copy) == before


def test_the_study_command_writes_the_records_and_names_a_run_without_checkpoint(
    finished, study_file, tmp_path, capsys
):
    _, results, run = finished
    copied = tmp_path / "results"
    for seed, checkpoint in ((0, True), (1, False)):  # seed 1: as on a fresh clone
        _copy(run, run_dir(copied, "smoke", "baseline", seed), checkpoint=checkpoint)
    args = ["study", "--study", str(study_file), "--results", str(copied), "--records"]
    metrics = (run_dir(copied, "smoke", "baseline", 0) / "metrics.json").read_bytes()
    # seed 1's copy is seed 0's run: its config says seed 0, so it is no finished run of seed 1
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("baseline seed 0: wrote ") and "left alone" in out[1]
    assert (run_dir(copied, "smoke", "baseline", 0) / "metrics.json").read_bytes() == metrics
    seed1 = run_dir(copied, "smoke", "baseline", 1)
    cfg = json.loads((seed1 / "config.json").read_text())
    cfg["train"]["seed"] = 1  # now a finished run of seed 1, without a checkpoint
    (seed1 / "config.json").write_text(json.dumps(cfg))
    assert main([*args, "--seeds", "1"]) == 1
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("baseline seed 1: ") and f"no checkpoint {CHECKPOINT_NAME}" in line
    assert not record_path(seed1, SET).exists()
