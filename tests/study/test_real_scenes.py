"""The real-scene study's numbers read back from the runs, and the baseline beside published ones."""

from __future__ import annotations

import json
import math

from owslib.paths import resolve
from owslib.study import real_scenes
from owslib.study.studyfile import load_study


def _metrics(miou: float, ap: float, fpr: float) -> dict:
    fused = {"pooled": {"aupr": ap, "fpr95": fpr, "auroc": 0.8}, "per_image": {"aupr": ap - 0.1}}
    ra = {
        "anomaly": {"fused": fused},
        "components": {"fused": {"siou": 0.2, "ppv": 0.3, "mean_f1": 0.1}},
    }
    return {"miou": miou, "anomaly_sets": {"road_anomaly": ra}}


def test_every_finished_run_gives_a_row_and_the_baseline_its_mean_and_sd(tmp_path):
    study = load_study(resolve("notebooks/real_scenes.json"))
    assert study.profile == "camvid" and "baseline" in study.variants
    values = {0: (0.50, 0.20, 0.60), 1: (0.54, 0.30, 0.50)}
    for seed, (miou, ap, fpr) in values.items():
        run = tmp_path / "runs" / "camvid" / "baseline" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps(_metrics(miou, ap, fpr)))
    rows = real_scenes.run_rows(study, tmp_path)
    assert list(rows["seed"]) == [0, 1] and set(rows["variant"]) == {"baseline"}
    assert rows.loc[1, "ap"] == 0.30 and math.isclose(rows.loc[1, "ap_per_frame"], 0.20)
    assert rows.loc[0, "siou"] == 0.2
    table = real_scenes.baseline_beside_published(rows)
    ours = table[table["method"].str.startswith("ContMAV here")].set_index("metric")
    assert math.isclose(ours.loc["CamVid test mIoU (11 classes)", "value"], 0.52)
    assert math.isclose(ours.loc["RoadAnomaly FPR95", "sd"], math.sqrt(0.005))
    assert "ENet (Paszke et al. 2016)" in set(table["method"])
    assert set(table["metric"]) == {m for m, _, _ in real_scenes.PUBLISHED}


def test_a_run_without_the_road_anomaly_section_reads_as_missing_numbers():
    got = real_scenes.run_numbers({"miou": 0.4})
    assert got["camvid_miou"] == 0.4 and math.isnan(got["ap"]) and math.isnan(got["siou"])
