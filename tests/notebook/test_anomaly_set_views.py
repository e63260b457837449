"""The explorer, the side-by-side view and the map grid of a run's anomaly set (RoadAnomaly): drawn
from the set's explorer record on a fresh clone, or every frame through a loaded model. The ground
truth is the anomaly mask: the closed-set prediction is shown, never scored against class labels
the set does not have."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from source_layouts import ROAD_ANOMALY_FIDS, write_road_anomaly

matplotlib.use("Agg")

from test_fresh_clone import fresh_clone_results  # noqa: E402

from owslib import notebook  # noqa: E402
from owslib.data.road_anomaly import build_road_anomaly  # noqa: E402
from owslib.engine.experiment import build_experiment  # noqa: E402
from owslib.labels import get_split  # noqa: E402
from owslib.notebook.widgets import AnomalyExplorer  # noqa: E402
from owslib.plots.training import colorize  # noqa: E402
from owslib.report.explorer_record import (  # noqa: E402
    load_explorer_record,
    record_path,
    write_explorer_record,
)
from owslib.runs.run import RunResult  # noqa: E402

SET = "road_anomaly"
PALETTE = get_split("cityscapes_heldout").palette


def _frames(rng: np.random.Generator, sharp: float = 0.3) -> list[dict]:
    """Two RoadAnomaly-like frames: anomaly targets (0 road, 1 anomaly, 255 void), a closed-set
    prediction that differs from the target everywhere, and maps a little above on the anomaly."""
    out = []
    for i in range(2):
        target = np.zeros((12, 20), np.uint8)
        target[3:8, 5 + i : 11 + i] = 1
        target[:, :2] = 255
        anomaly = target == 1
        out.append(
            {
                "name": f"animals0{i}_cows",
                "image": rng.integers(0, 255, (12, 20, 3), np.uint8),
                "target": target,
                "pred": np.full((12, 20), 5 + i, np.uint8),
                "unknown_mask": anomaly,
                "maps": {
                    "fused": np.clip(rng.random((12, 20)) * 0.7 + sharp * anomaly, 0, 1),
                    "max_logit": rng.random((12, 20)) * 4 - 2,
                },
                "target_kind": "anomaly",
            }
        )
    return out


def _record(path, sharp: float = 0.3, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_explorer_record(path, _frames(np.random.default_rng(seed), sharp))


def test_the_explorer_shows_the_prediction_unscored_beside_the_anomalies(tmp_path):
    examples = load_explorer_record(_record(tmp_path / "explorer.npz"))
    view = AnomalyExplorer.from_record(examples, PALETTE, delta=0.5)
    assert view.target_kind == "anomaly"
    fig = view.render(1, "fused", 0.5)
    ex = examples[1]
    drawn = fig.axes[1].images[0].get_array()
    np.testing.assert_array_equal(drawn, colorize(ex["pred"], PALETTE))  # not the 0/1 target
    assert "not scored" in fig.axes[1].get_title() and "ground truth" not in fig.axes[1].get_title()
    overlay = fig.axes[3].images[0].get_array()
    hit = (ex["maps"]["fused"] > 0.5) & ex["unknown_mask"]
    assert hit.any() and np.allclose(overlay[hit], (0.1, 0.8, 0.1))  # true positives: green
    assert not overlay[ex["target"] == 255].any()  # void: neither a hit nor a false alarm
    alt = view.alt()
    assert "not scored: the set has no class labels" in alt and "missed anomalies blue" in alt
    assert "recorded frames" in alt and "ground truth" not in alt


def test_a_test_split_record_keeps_its_ground_truth_panel(tmp_path):
    frames = _frames(np.random.default_rng(1))
    for ex in frames:  # the same frames as class targets: the ground truth is drawn
        ex["target_kind"] = "classes"
    view = AnomalyExplorer.from_record(
        load_explorer_record(write_explorer_record(tmp_path / "c.npz", frames)), PALETTE
    )
    fig = view.render(0, "fused", 0.5)
    np.testing.assert_array_equal(
        fig.axes[1].images[0].get_array(), colorize(frames[0]["target"], PALETTE)
    )
    assert fig.axes[1].get_title() == "ground truth, unknown outlined"


def _run(tmp_path, cfg, exp=None) -> RunResult:
    folder = tmp_path / "runs" / "smoke" / "baseline" / "seed0"
    folder.mkdir(parents=True, exist_ok=True)
    info = {"variant": "baseline", "seed": 0}
    return RunResult(folder, cfg, {}, {}, [], info, exp)


def test_the_explorer_of_a_fresh_clone_draws_the_sets_record(smoke_cfg, tmp_path, shown):
    run = _run(tmp_path, smoke_cfg.override(eval__anomaly_sets=f"{SET}:{tmp_path / 'absent'}"))
    assert notebook.explorer(run, anomaly_set=SET) is None  # neither a record nor a model
    assert f"predates explorer records of `{SET}`" in shown[-1].data
    _record(record_path(run.run_dir, SET))
    box = notebook.explorer(run, anomaly_set=SET)
    assert box.view.target_kind == "anomaly" and box.view.names == [
        "animals00_cows",
        "animals01_cows",
    ]
    assert f"its 2 recorded {SET} frames" in box.view.alt()
    assert notebook.explorer(run) is None  # the test split has no record here: said so
    assert "predates explorer records and has no checkpoint" in shown[-1].data
    assert notebook.explorer(run, anomaly_set="road_obstacle21") is None
    assert "was not evaluated on `road_obstacle21` (its eval__anomaly_sets: road_anomaly)" in (
        shown[-1].data
    )


def test_with_a_model_the_explorer_browses_every_frame_of_the_set(smoke_cfg, tmp_path):
    built = tmp_path / "built"
    build_road_anomaly(write_road_anomaly(tmp_path / "clone"), built)
    cfg = smoke_cfg.override(eval__anomaly_sets=f"{SET}:{built}")
    exp = build_experiment(cfg)
    exp.objective.stats.valid.fill_(True)  # statistics as after training: every scorer defined
    view = notebook.explorer(_run(tmp_path, cfg, exp), anomaly_set=SET).view
    assert view.names == list(ROAD_ANOMALY_FIDS) and view.target_kind == "anomaly"
    p = view._predict(2)
    np.testing.assert_array_equal(p["unknown_mask"], p["target"] == 1)
    assert p["unknown_mask"].any() and "all 3 frames of the anomaly set" in view.alt()
    assert len(view.render(2, "fused", 0.5).axes) >= 4


def test_the_side_by_side_view_and_the_map_grid_of_a_sets_records(tmp_path, shown):
    study_file, results = fresh_clone_results(tmp_path)
    nb = notebook.setup(
        {"study_file": str(study_file), "results_dir": str(results)}, "03_loss_ablations"
    )
    assert nb.side_by_side("fused", anomaly_set=SET) is None  # no run has the set's record yet
    assert f"No explorer record of `{SET}`" in shown[-1].data and "--records" in shown[-1].data
    for variant, sharp in (("baseline", 0.2), ("focal", 0.5)):
        for seed in (0, 1, 2):
            _record(record_path(nb.run_path(variant, seed), SET), sharp, seed)
    assert set(nb.explorer_records(("baseline", "focal"), SET)) == {
        (v, s) for v in ("baseline", "focal") for s in (0, 1, 2)
    }
    view = nb.side_by_side("fused", anomaly_set=SET).view
    assert list(view.image.options) == ["animals00_cows", "animals01_cows"]
    ex = view.examples("focal", 1)["animals01_cows"]
    valid = ex["target"] != 255
    score, positive = ex["maps"]["fused"][valid], ex["unknown_mask"][valid]
    brute = np.mean([(positive & (score >= t)).sum() / (score >= t).sum() for t in score[positive]])
    assert view.aupr("focal", 1, "animals01_cows", "fused") == pytest.approx(brute, abs=1e-12)
    view.seed.value, view.image.value = 1, "animals01_cows"
    assert f"seed 1, {SET} frame animals01_cows: the image with its anomalies outlined" in (
        view.alt()
    )
    assert (
        "a road_anomaly frame"
        in view.render("baseline", "focal", 1, "animals01_cows", "fused")._suptitle.get_text()
    )
    shown.clear()
    path = nb.map_figure("fused", n_images=2, anomaly_set=SET)
    assert path.name == f"maps_fused_{SET}.png" and path.with_suffix(".svg").is_file()
    (bundle,) = shown
    assert f'alt="fused anomaly maps of 2 {SET} frames' in bundle["text/html"]
    assert list(nb.side_by_side("fused").view.image.options)[0].startswith("falkenried")
