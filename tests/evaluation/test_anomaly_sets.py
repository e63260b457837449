"""Real anomalies after the test split (``eval__anomaly_sets``): parsing, the evaluation of a
SegmentMeIfYouCan-layout set built from RoadAnomaly's layout, the resizing, the data's identity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from source_layouts import ROAD_ANOMALY_FIDS, write_road_anomaly

from owslib.config import load_profile
from owslib.data import ensure_embedded_dataset
from owslib.data.road_anomaly import build_road_anomaly
from owslib.data.validation import DatasetError
from owslib.engine.experiment import build_experiment
from owslib.engine.loop import fit
from owslib.evaluation.anomaly_sets import (
    evaluate_anomaly_set,
    evaluate_anomaly_sets,
    parse_anomaly_sets,
)
from owslib.runs.run import data_fingerprints


def test_the_sets_are_parsed_and_a_bad_entry_is_named(tmp_path):
    got = parse_anomaly_sets(f"road_anomaly:{tmp_path}/ra, road_obstacle21:{tmp_path}/ro")
    assert got == {"road_anomaly": tmp_path / "ra", "road_obstacle21": tmp_path / "ro"}
    assert parse_anomaly_sets("") == {}
    for bad in ("road_anomaly", "lost_and_found:x", "road_anomaly:"):
        with pytest.raises(ValueError, match=f"entry {bad!r}"):
            parse_anomaly_sets(bad)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("road_anomaly")
    build_road_anomaly(write_road_anomaly(tmp / "clone"), tmp / "built")
    return tmp / "built"


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, built):
    tmp = tmp_path_factory.mktemp("smoke")
    overrides = {
        "data__root": str(tmp / "data"),
        "model__pretrain_epochs": 0,
        "eval__anomaly_sets": f"road_anomaly:{built}",
    }
    cfg = load_profile("smoke", **overrides, synthetic__n_train=2, synthetic__n_test=2)
    ensure_embedded_dataset(tmp / "data", cfg.synthetic)
    exp = build_experiment(cfg, "cpu")
    fit(exp, tmp / "run")  # class statistics for the Gaussian scorers
    return exp


def test_every_frame_is_scored_by_every_scorer_with_components(experiment, built):
    result = evaluate_anomaly_sets(experiment)
    ra = result["road_anomaly"]
    assert ra["n_images"] == len(ROAD_ANOMALY_FIDS)
    assert ra["protocol"]["dataset"] == "road_anomaly"
    assert ra["protocol"]["resolution"] == "native (no resizing at evaluation)"
    assert ra["protocol"]["image_sizes"] == ["8x12"]
    for scorer in ("fused", "gaussian", "max_softmax"):
        pooled = ra["anomaly"][scorer]["pooled"]
        assert 0.0 <= pooled["aupr"] <= 1.0 and 0.0 <= pooled["auroc"] <= 1.0
    assert "siou" in ra["components"]["fused"]
    assert len(ra.rows) == len(ROAD_ANOMALY_FIDS)  # every frame scored ...
    # ... but only the openly licensed ones pictured (cones02_road: credited to a web page only)
    assert {m["name"] for m in ra.maps} == {"animals01_cows", "rocks03_slide"}


def test_resized_frames_scale_the_component_sizes(experiment, built):
    exp = experiment
    exp.cfg = exp.cfg.override(eval__anomaly_scale=2.0)
    try:
        ra = evaluate_anomaly_set(exp, "road_anomaly", built)
    finally:
        exp.cfg = exp.cfg.override(eval__anomaly_scale=1.0)
    assert ra["protocol"]["image_sizes"] == ["16x24"]
    assert "resized by 2" in ra["protocol"]["resolution"]
    assert ra["protocol"]["options"]["component_area_scale"] == 4.0


def test_a_missing_set_names_the_command_that_builds_it(experiment, tmp_path):
    with pytest.raises(DatasetError, match="owslib data road-anomaly --source SRC"):
        evaluate_anomaly_set(experiment, "road_anomaly", tmp_path / "absent")


def test_a_run_records_the_identity_of_each_built_dataset(tmp_path):
    for name in ("camvid", "ra"):
        (tmp_path / name).mkdir()
    files = {"a.png": "11", "b.png": "22"}
    (tmp_path / "camvid" / "manifest.json").write_text(json.dumps({"files": files}))
    cfg = load_profile(
        "camvid",
        data__root=str(tmp_path / "camvid"),
        eval__anomaly_sets=f"road_anomaly:{tmp_path / 'ra'}",
    )
    got = data_fingerprints(cfg)
    assert list(got) == ["camvid"]  # the set without a manifest has no identity to record
    (tmp_path / "camvid" / "manifest.json").write_text(
        json.dumps({"files": files | {"b.png": "23"}})
    )
    assert data_fingerprints(cfg)["camvid"] != got["camvid"]
    assert data_fingerprints(load_profile("smoke", data__root=str(tmp_path / "none"))) == {}
