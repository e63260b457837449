"""An anomaly set's explorer record: the frames whose anomaly maps the run saved, through the model,
with the anomaly mask as the unknown one."""

from __future__ import annotations

import numpy as np
import pytest
from source_layouts import ROAD_ANOMALY_FIDS, write_road_anomaly

from owslib.data.road_anomaly import build_road_anomaly
from owslib.engine.experiment import build_experiment
from owslib.inference.scorers import available_scorers
from owslib.report.anomaly_set_records import saved_map_frames, write_anomaly_set_records
from owslib.report.explorer_record import load_explorer_record, record_path
from owslib.report.files import map_stem


def test_the_frames_are_those_whose_maps_were_saved(tmp_path):
    maps = tmp_path / "anomaly_maps"
    maps.mkdir()
    for name in ("a b/c", "c"):  # a name with characters a file name does not keep
        (maps / f"{map_stem(name)}_image.png").touch()
    (maps / "d_fused.png").touch()  # a map without its image is no saved frame
    assert saved_map_frames(tmp_path, ["a b/c", "b", "c", "d"]) == [0, 2]
    assert saved_map_frames(tmp_path / "absent", ["a b/c"]) == []


@pytest.fixture()
def experiment(smoke_cfg, tmp_path):
    built = tmp_path / "built"
    build_road_anomaly(write_road_anomaly(tmp_path / "clone"), built)
    sets = f"road_anomaly:{built},road_obstacle21:{tmp_path / 'absent'}"
    exp = build_experiment(smoke_cfg.override(eval__anomaly_sets=sets, eval__anomaly_scale=2.0))
    exp.objective.stats.valid.fill_(True)  # statistics as after training: every scorer defined
    return exp


def test_a_set_is_recorded_for_the_frames_it_mapped_and_a_set_without_maps_is_not(
    experiment, tmp_path
):
    run = tmp_path / "run"
    maps = run / "anomaly_sets" / "road_anomaly" / "anomaly_maps"
    maps.mkdir(parents=True)
    (maps / f"{ROAD_ANOMALY_FIDS[1]}_image.png").touch()  # the run saved the middle frame's maps
    written = write_anomaly_set_records(experiment, run)  # road_obstacle21: no maps, no data
    assert written == {"road_anomaly": record_path(run, "road_anomaly")}
    (ex,) = load_explorer_record(written["road_anomaly"])
    assert ex["name"] == ROAD_ANOMALY_FIDS[1] and ex["target_kind"] == "anomaly"
    assert ex["image"].shape == (16, 24, 3)  # at the evaluation's size (8x12 frames, scale 2)
    assert set(ex["maps"]) == set(available_scorers(experiment.bare_model.output_keys))
    np.testing.assert_array_equal(ex["unknown_mask"], ex["target"] == 1)  # not class >= K
    assert ex["unknown_mask"].any() and ex["pred"].max() < experiment.split.num_known
