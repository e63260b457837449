"""The pre-registered real-scene replication: its declaration in the study file, the runs it plans,
the seeds it plans on a pilot, and its verdicts from the runs (seeds × frames for RoadAnomaly's
per-frame AP, paired over seeds for CamVid's mIoU; Holm across the questions, TOST)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from owslib.paths import resolve
from owslib.stats import paired_t, t_test_power
from owslib.study import figures, real_answers, real_scenes
from owslib.study.documents import write_answers
from owslib.study.plan import planned_runs
from owslib.study.replication import outcome
from owslib.study.studyfile import StudyError, load_study, run_dir
from owslib.study.tasks import resolve as resolve_task
from owslib.study.tasks import study_tasks

QUESTIONS = [
    {"question": "02_trufor_fusion", "arm": "mlp_sum_semantic", "comparator": "baseline",
     "endpoint": "aupr/fused/per_frame", "margin": 0.03, "embedded": "inconclusive"},
    {"question": "03_loss_ablations", "arm": "focal_dice", "comparator": "baseline",
     "endpoint": "miou", "margin": 0.02, "embedded": "better"},
    {"question": "05_synco_comparison", "arm": "synco_unknown", "comparator": "synco_known",
     "endpoint": "aupr/fused/per_frame", "margin": 0.03, "embedded": "equivalent"},
]  # fmt: skip
FRAMES = [f"frame{i:02d}" for i in range(12)]


def _study(tmp_path, **replication):
    spec = json.loads(resolve("notebooks/real_scenes.json").read_text())
    spec["replication"] = {"seeds": [200, 201, 202], "questions": QUESTIONS} | replication
    path = tmp_path / "real_scenes.json"
    path.write_text(json.dumps(spec))
    return load_study(path)


def _run(tmp_path, study, variant, seed, miou, frame_ap, fingerprint="f1"):
    run = run_dir(tmp_path, study.profile, variant, seed)
    (run / "anomaly_sets" / "road_anomaly").mkdir(parents=True, exist_ok=True)
    (run / "metrics.json").write_text(json.dumps({"miou": miou}))
    (run / "run.json").write_text(json.dumps({"fingerprint": fingerprint}))
    table = pd.DataFrame({"image": FRAMES, "fused_aupr": frame_ap, "fused_fpr95": 0.5})
    table.to_csv(run / "anomaly_sets" / "road_anomaly" / "per_image.csv", index=False)


def _runs(tmp_path, study, seeds, effects, rng):
    """Every arm at ``seeds``; ``effects``: variant -> (mIoU shift, per-frame AP shift)."""
    frame = rng.normal(0.3, 0.1, len(FRAMES))
    for seed in seeds:
        noise = rng.normal(0, 0.002)
        for v in ("baseline", *effects):
            dm, da = effects.get(v, (0.0, 0.0))
            ap = frame + da + noise + rng.normal(0, 0.002, len(FRAMES))
            _run(tmp_path, study, v, seed, 0.4 + dm + rng.normal(0, 0.002), ap)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"seeds": [0, 200]}, "fresh seeds"),
        ({"color": 1}, "unknown keys"),
        ({"questions": [QUESTIONS[0] | {"arm": "nope"}]}, "arm='nope': not a variant"),
        ({"questions": [QUESTIONS[0] | {"endpoint": "aupr/fused/pooled"}]}, "per_frame"),
        ({"questions": [QUESTIONS[0] | {"endpoint": "aupr/nope/per_frame"}]}, "scorer 'nope'"),
        ({"questions": [QUESTIONS[0] | {"embedded": "maybe"}]}, "embedded='maybe'"),
        ({"questions": [QUESTIONS[0] | {"margin": 0}]}, "margin=0"),
        ({"questions": [QUESTIONS[0], QUESTIONS[0]]}, "each question once"),
        ({"questions": [QUESTIONS[0] | {"comparator": "mlp_sum_semantic"}]}, "same variant"),
        ({"questions": [7]}, r"questions\[0\]: an object with keys"),
    ],
)
def test_a_malformed_replication_is_refused_naming_the_key(tmp_path, change, match):
    with pytest.raises(StudyError, match=match):
        _study(tmp_path, **change)


def test_the_replication_trains_every_arm_seed_by_seed_after_the_pilot(tmp_path):
    study = _study(tmp_path)
    runs = [(j.variant, j.seed) for j in planned_runs(study, tmp_path)]
    pilot = [(v, s) for v, s in runs if s < 200]
    assert len(pilot) == 6 * len(study.seeds)
    arms = ["mlp_sum_semantic", "baseline", "focal_dice", "synco_unknown", "synco_known"]
    assert runs[len(pilot) :] == [(v, s) for s in (200, 201, 202) for v in arms]
    confirming = [(j.variant, j.seed) for j in planned_runs(study, tmp_path, phase="confirmation")]
    assert confirming == runs[len(pilot) :]


@pytest.mark.parametrize(
    "embedded, real, want",
    [
        ("better", "better", "replicated"),
        ("equivalent", "equivalent", "replicated"),
        ("better", "worse", "reversed"),
        ("equivalent", "better", "contradicted"),
        ("worse", "better", "reversed"),
        ("better", "equivalent", "contradicted"),
        ("equivalent", "worse", "contradicted"),
        ("better", "inconclusive", "not shown"),
        ("inconclusive", "inconclusive", "inconclusive in both"),
        ("inconclusive", "worse", "decided here"),
    ],
)
def test_what_a_real_scene_verdict_says_of_the_embedded_one(embedded, real, want):
    assert outcome(embedded, real) == want


def test_verdicts_come_from_the_runs_with_holm_across_the_questions(tmp_path):
    study = _study(tmp_path, seeds=list(range(200, 210)))
    effects = {"mlp_sum_semantic": (0.0, 0.10), "focal_dice": (0.05, 0.0), "synco_known": (0, 0)}
    _runs(
        tmp_path,
        study,
        range(200, 210),
        effects | {"synco_unknown": (0.0, 0.0)},
        np.random.default_rng(0),
    )
    got = real_scenes.replication_answers(study, tmp_path).set_index("question")
    assert list(got["n_seeds"]) == [10, 10, 10]
    assert got.loc["02_trufor_fusion", "n_frames"] == len(FRAMES)
    assert got.loc["02_trufor_fusion", "mean"] == pytest.approx(0.10, abs=0.003)
    assert got.loc["02_trufor_fusion", "verdict"] == "better"
    assert got.loc["02_trufor_fusion", "outcome"] == "decided here"
    assert got.loc["03_loss_ablations", ["verdict", "outcome"]].tolist() == ["better", "replicated"]
    assert got.loc["05_synco_comparison", ["verdict", "outcome"]].tolist() == [
        "equivalent",
        "replicated",
    ]
    assert (got["p_holm"] >= got["p"]).all()
    assert got.loc["05_synco_comparison", "tost_lo"] > -0.03
    assert (got["power"] > 0.99).all()  # tiny noise: the margin is many SEs


def test_an_arm_without_runs_enters_holm_with_p_one_and_pairs_never_cross_setups(tmp_path, caplog):
    study = _study(tmp_path)
    rng = np.random.default_rng(2)
    _runs(tmp_path, study, (200, 201, 202), {"focal_dice": (0.05, 0.0)}, rng)
    _run(tmp_path, study, "focal_dice", 202, 0.9, np.full(len(FRAMES), 0.3), fingerprint="other")
    got = real_scenes.replication_answers(study, tmp_path).set_index("question")
    assert got.loc["03_loss_ablations", "n_seeds"] == 2  # seed 202's pair crosses setups
    assert "focal_dice/seed202: trained in another setup (fingerprint other, not f1)" in caplog.text
    assert got.loc["02_trufor_fusion", "n_seeds"] == 0
    assert got.loc["02_trufor_fusion", "verdict"] == "inconclusive"
    p = got.loc["03_loss_ablations", "p"]
    assert got.loc["03_loss_ablations", "p_holm"] == pytest.approx(min(1.0, 3 * p))


def test_the_seed_plan_grows_with_the_pilot_spread_within_its_floor_and_cap(tmp_path):
    study = _study(tmp_path)
    rng = np.random.default_rng(3)
    _runs(
        tmp_path,
        study,
        study.seeds,
        {v: (0.0, 0.0) for v in ("mlp_sum_semantic", "focal_dice", "synco_unknown", "synco_known")},
        rng,
    )
    quiet = real_scenes.seed_plan(study, tmp_path, study.replication.questions)
    assert list(quiet["seeds"]) == [10, 10, 10] and quiet["reached"].all()
    assert (quiet["power_planned"] >= 0.8).all()
    # a noisy mIoU pilot: its bound at 2 df is 4.4 × the SD, and the plan hits the cap
    for i, seed in enumerate(study.seeds):
        _run(
            tmp_path,
            study,
            "focal_dice",
            seed,
            0.4 + (-0.03, 0.0, 0.03)[i],
            np.full(len(FRAMES), 0.3),
        )
    noisy = real_scenes.seed_plan(study, tmp_path, study.replication.questions).set_index(
        "question"
    )
    row = noisy.loc["03_loss_ablations"]
    assert row["sd_seed_ucb"] == pytest.approx(4.41 * row["sd_seed"], rel=0.01)
    assert row["seeds"] == 16 and not row["reached"] and row["power_planned"] < 0.8


def _answered(tmp_path):
    study = _study(tmp_path, seeds=list(range(200, 210)))
    effects = {"mlp_sum_semantic": (-0.02, 0.10), "focal_dice": (0.05, 0.0)}
    effects |= {"synco_unknown": (0.0, 0.0), "synco_known": (0.0, 0.0)}
    _runs(tmp_path, study, range(200, 210), effects, np.random.default_rng(0))
    return study


def test_the_sentence_and_the_readme_table_say_the_verdict_only_when_every_seed_is_in(tmp_path):
    study = _answered(tmp_path)
    table = real_scenes.replication_answers(study, tmp_path)
    row = table.iloc[0].to_dict()
    sentence = real_answers.answer_sentence(row, 10, 0.05, 3)
    assert "**better**" in sentence and "**decided here**" in sentence
    assert "10 seeds × 12 frames, both random" in sentence and "Holm p = " in sentence
    assert "not answered yet (10 of 11 seeds trained;" in real_answers.answer_sentence(
        row, 11, 0.05, 3
    )
    md = real_answers.real_answers_markdown(study, tmp_path, link_from=tmp_path)
    lines = md.splitlines()
    assert len(lines) == 2 + 3 and lines[2].startswith("| 02_trufor_fusion | **better** |")
    assert "RoadAnomaly fused AP per frame (margin ±0.03)" in lines[2]
    assert "CamVid mIoU −0.020" in lines[2]  # the trade-off shows beside the verdict
    assert "| better: replicated |" in lines[3] and "| equivalent: replicated |" in lines[4]
    assert "(07_real_scenes/camvid/07_real_scenes.ipynb)" in lines[2]
    # one seed fewer: no verdict is said, the count is
    for v in ("mlp_sum_semantic", "baseline"):
        (run_dir(tmp_path, study.profile, v, 209) / "metrics.json").unlink()
    partial = real_answers.real_answers_markdown(study, tmp_path).splitlines()
    assert "| **not answered yet** | 10 fresh seeds planned" in partial[2]
    assert "| **not answered yet** | 10 fresh seeds planned" in partial[4]  # Holm waits for 02
    assert real_answers.status_line(study, tmp_path).endswith("replication 48 of 50 runs")


def test_the_readme_block_is_rewritten_between_its_markers_only(tmp_path):
    study = _answered(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"top\n{real_answers.REAL_START}\nold\n{real_answers.REAL_END}\nbottom\n")
    write_answers(readme, study, tmp_path)
    text = readme.read_text()
    assert text.startswith("top\n") and text.endswith("bottom\n") and "\nold\n" not in text
    assert "| 03_loss_ablations | **better** |" in text
    other = tmp_path / "OTHER.md"
    other.write_text("no markers\n")
    with pytest.raises(ValueError, match="real-scene answers"):
        write_answers(other, study, tmp_path)


def test_both_domains_are_drawn_per_question_and_a_pending_one_is_said(tmp_path):
    study = _answered(tmp_path)
    real = real_scenes.replication_answers(study, tmp_path)
    embedded = pd.DataFrame(
        [{"notebook": "02_trufor_fusion", "mean": 0.013, "lo": -0.008, "hi": 0.035,
          "tost_lo": -0.004, "tost_hi": 0.031, "verdict": "inconclusive", "status": "analysed",
          "endpoint": "aupr/fused/pooled"}]
    )  # fmt: skip
    fig = figures.domains_forest_figure(embedded, real, 10)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(fig.axes) == 3
    assert "generated scenes: inconclusive" in texts and "real scenes: better" in texts
    pending = figures.domains_forest_figure(embedded, real, 11)
    assert "real scenes: not answered yet" in [t.get_text() for t in pending.axes[0].texts]
    side = real_answers.side_by_side_table(embedded, real, 10).set_index("question")
    assert side.loc["02_trufor_fusion", "generated scenes"].startswith("inconclusive: +0.013")
    assert side.loc["02_trufor_fusion", "the embedded answer here"] == "decided here"
    assert side.loc["03_loss_ablations", "generated scenes"] == "—"


def test_the_array_tasks_number_the_replication_after_the_pilot(tmp_path):
    study = _study(tmp_path)
    tasks = study_tasks(study, "all")
    confirming = [(t.variant, t.seed) for t in tasks if t.phase == "confirmation"]
    assert confirming == [
        (j.variant, j.seed) for j in planned_runs(study, tmp_path, phase="confirmation")
    ]
    assert [t.label for t in study_tasks(study, "confirmation")][:2] == [
        "mlp_sum_semantic/seed200",
        "baseline/seed200",
    ]
    job = resolve_task(study, tmp_path, study_tasks(study, "confirmation")[0])
    assert job.path == run_dir(tmp_path, "camvid", "mlp_sum_semantic", 200)


def test_the_frames_are_a_random_factor_not_a_fixed_set(tmp_path):
    """An effect that is the same at every seed but differs from frame to frame: a paired t over
    the seeds' averages would call it a sure gain; with frames random it is not shown."""
    study = _study(tmp_path, seeds=list(range(200, 210)))
    rng = np.random.default_rng(5)
    by_frame = rng.normal(0.0, 0.15, len(FRAMES))
    by_frame += 0.03 - by_frame.mean()  # +0.03 on these 12 frames, ±0.15 from frame to frame
    effects = {v: (0.0, 0.0) for v in ("focal_dice", "synco_unknown", "synco_known")}
    _runs(tmp_path, study, range(200, 210), effects | {"mlp_sum_semantic": (0.0, by_frame)}, rng)
    got = real_scenes.replication_answers(study, tmp_path).set_index("question")
    row = got.loc["02_trufor_fusion"]
    assert row["mean"] == pytest.approx(0.03, abs=0.003)
    per_seed = real_scenes.seed_differences(
        study, tmp_path, study.replication.questions[0], study.replication.seeds
    )
    assert paired_t(per_seed.to_numpy()).p < 1e-6  # over seeds alone: a sure gain
    assert row["lo"] < 0 < row["hi"] and row["verdict"] == "inconclusive"


def test_the_plan_counts_the_frame_component_and_its_bound_is_never_zero_or_infinite(tmp_path):
    study = _study(tmp_path)
    rng = np.random.default_rng(6)
    quiet = {v: (0.0, 0.0) for v in ("focal_dice", "synco_unknown", "synco_known")}
    _runs(
        tmp_path,
        study,
        study.seeds,
        quiet | {"mlp_sum_semantic": (0.0, rng.normal(0, 0.15, len(FRAMES)))},
        rng,
    )
    plan = real_scenes.seed_plan(study, tmp_path, study.replication.questions).set_index("question")
    noisy, calm = plan.loc["02_trufor_fusion"], plan.loc["05_synco_comparison"]
    assert (
        noisy["sd_frame"] == pytest.approx(0.15, rel=0.5)
        and noisy["sd_frame_ucb"] > noisy["sd_frame"]
    )
    # 12 frames of ±0.15 leave an SE of ≥ 0.04 whatever the seeds: 0.03 is out of reach
    assert noisy["seeds"] == 16 and not noisy["reached"] and noisy["power_planned"] < 0.5
    assert 0 < calm["sd_frame_ucb"] < np.inf and calm["seeds"] == 10
    with pytest.raises(ValueError, match="finite nc"):
        t_test_power(np.inf, 3.0, 0.05)
