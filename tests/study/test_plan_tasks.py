"""Array tasks: numbered by the study file and the phase alone (the confirmation's arms read from
the recorded picks when a task starts), and a render that refuses an incomplete study."""

from __future__ import annotations

import json

import pytest

from owslib.__main__ import main
from owslib.runs.lock import run_lock
from owslib.study.arms import arms_record
from owslib.study.render import incomplete
from owslib.study.studyfile import load_study, run_dir
from owslib.study.tasks import NotPicked, list_tasks, pick_all, resolve, study_tasks

V = {
    "baseline": {},
    "focal": {"loss__semantic": "focal"},
    "dice": {"loss__semantic": "dice"},
    "synco_known": {"loss__w_infonce": 0.5},
    "synco_unknown": {"loss__w_infonce": 0.25},
}
SPEC = {
    "profile": "smoke",
    "seeds": [0],
    "variants": {k: {"description": k, "overrides": o} for k, o in V.items()},
    "notebooks": [
        {"name": "03_loss_ablations", "variants": ["baseline", "focal", "dice"]},
        {"name": "04_infonce", "variants": ["baseline", "dice"]},
        {"name": "05_synco_comparison", "variants": ["synco_known", "synco_unknown"]},
    ],
    "confirmatory": {
        "seeds": [10, 11],
        "questions": [
            {"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0.02},
            {"notebook": "04_infonce", "endpoint": "miou", "margin": 0.02},
            {
                "notebook": "05_synco_comparison",
                "endpoint": "miou",
                "margin": 0.02,
                "rule": "head_to_head",
                "arms": ["synco_unknown", "synco_known"],
            },
        ],
    },
}


@pytest.fixture
def study(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps(SPEC))
    return load_study(tmp_path / "study.json")


def _finish(study, results, variant, seed, miou=0.5):
    d = run_dir(results, "smoke", variant, seed)
    d.mkdir(parents=True, exist_ok=True)
    study.config(variant, seed).to_json(d / "config.json")
    (d / "metrics.json").write_text(json.dumps({"miou": miou}))
    (d / "run.json").write_text(json.dumps({"status": "finished", "fingerprint": "A"}))


def _labels(study, results):
    return [t.label for t in study_tasks(study)]


def test_the_numbering_is_fixed_by_the_study_file_and_the_phase(study, tmp_path):
    results = tmp_path / "results"
    before = study_tasks(study)
    # screening: every run once; confirmation: by question, seed, arm slot; a comparator of two
    # questions (baseline) and a variant in two slots are one task each
    assert [t.label for t in before] == [
        "baseline/seed0",
        "focal/seed0",
        "dice/seed0",
        "synco_known/seed0",
        "synco_unknown/seed0",
        "<arm of 03_loss_ablations>/seed10",
        "baseline/seed10",
        "<arm of 03_loss_ablations>/seed11",
        "baseline/seed11",
        "<arm of 04_infonce>/seed10",
        "<arm of 04_infonce>/seed11",
        "synco_unknown/seed10",
        "synco_known/seed10",
        "synco_unknown/seed11",
        "synco_known/seed11",
    ]
    assert study_tasks(study, "confirmation") == before[5:]
    assert study_tasks(study, "screening") == before[:5]
    with pytest.raises(NotPicked, match="03_loss_ablations's arm is not picked yet"):
        resolve(study, results, before[5])
    assert "not picked yet" in list_tasks(study, results)[5]
    # the screening finishes and the picks are recorded: the same tasks, the arms resolved
    lines, ok = pick_all(study, results, {})
    assert not ok and not arms_record(study, results, "03_loss_ablations").exists()
    for v, x in {"baseline": 0.5, "focal": 0.6, "dice": 0.55}.items():
        _finish(study, results, v, 0, x)
    lines, ok = pick_all(study, results, {})
    assert ok and lines[:2] == [
        "03_loss_ablations: focal vs baseline",
        "04_infonce: dice vs baseline",
    ]
    assert study_tasks(study) == before
    jobs = [resolve(study, results, t) for t in before]
    assert [(j.variant, j.seed) for j in jobs][5:11] == [
        ("focal", 10),
        ("baseline", 10),
        ("focal", 11),
        ("baseline", 11),
        ("dice", 10),
        ("dice", 11),
    ]


def test_a_task_whose_arm_is_not_picked_fails_before_training(study, tmp_path, monkeypatch):
    from owslib.study import plan

    results = tmp_path / "results"
    base = ["study", "--study", str(tmp_path / "study.json"), "--results", str(results)]
    monkeypatch.setattr(plan, "train_runs", lambda *a, **k: pytest.fail("trained"))
    assert main([*base, "--phase", "confirmation", "--index", "0"]) == 1
    assert main([*base, "--phase", "confirmation", "--index", "10"]) == 2  # 10 tasks: 0..9
    assert main([*base, "--pick-arms"]) == 1  # the screening is unfinished


def test_a_task_waits_for_another_process_training_its_run(study, tmp_path, monkeypatch):
    from owslib.study import plan, tasks

    outcomes = [{"busy": ["x"]}, {"trained": ["x"]}]
    waited = []

    def fake_train(study, jobs, **kw):
        return {k: [] for k in plan.OUTCOMES} | outcomes.pop(0)

    monkeypatch.setattr(plan, "train_runs", fake_train)
    monkeypatch.setattr(tasks, "wait_while_busy", lambda path: waited.append(path))
    base = ["study", "--study", str(tmp_path / "study.json"), "--results", str(tmp_path / "r")]
    assert main([*base, "--index", "1"]) == 0
    assert waited == [run_dir(tmp_path / "r", "smoke", "focal", 0)] and not outcomes


def test_render_refuses_an_incomplete_study(study, tmp_path):
    results = tmp_path / "results"
    missing = incomplete(study, results, ("03_loss_ablations",))
    assert missing[0] == "03_loss_ablations: the confirmation's arms are not picked yet"
    assert "baseline seed 0: missing" in missing
    for v, x in {"baseline": 0.5, "focal": 0.6, "dice": 0.55}.items():
        _finish(study, results, v, 0, x)
    assert sorted(incomplete(study, results, ("03_loss_ablations",))) == [
        "baseline seed 10: missing",
        "baseline seed 11: missing",
        "focal seed 10: missing",
        "focal seed 11: missing",
    ]
    for v, s in (("focal", 10), ("baseline", 10), ("focal", 11), ("baseline", 11)):
        _finish(study, results, v, s)
    assert incomplete(study, results, ("03_loss_ablations",)) == []
    with run_lock(run_dir(results, "smoke", "focal", 11)):  # a process still training it
        assert incomplete(study, results, ("03_loss_ablations",)) == [
            "focal seed 11: locked (a process is training it)"
        ]
    base = ["study", "--study", str(tmp_path / "study.json"), "--results", str(results)]
    assert main([*base, "--render-only", "--only", "04_infonce"]) == 1  # 04's runs are missing


def test_index_all_trains_every_task_of_the_phase_in_turn(study, tmp_path, monkeypatch):
    from owslib.study import plan

    trained = []

    def fake_train(study, jobs, **kw):
        trained.extend((j.variant, j.seed) for j in jobs)
        return {k: [] for k in plan.OUTCOMES} | {"trained": ["x"]}

    monkeypatch.setattr(plan, "train_runs", fake_train)
    base = ["study", "--study", str(tmp_path / "study.json"), "--results", str(tmp_path / "r")]
    assert main([*base, "--phase", "screening", "--index", "all"]) == 0
    assert trained == [(t.variant, t.seed) for t in study_tasks(study, "screening")]


def test_a_signal_ends_a_task_in_one_line(study, tmp_path, monkeypatch, caplog):
    from owslib.study import plan

    def stopped(*a, **k):
        raise KeyboardInterrupt("signal 15")

    monkeypatch.setattr(plan, "train_runs", stopped)
    base = ["study", "--study", str(tmp_path / "study.json"), "--results", str(tmp_path / "r")]
    assert main([*base, "--index", "0"]) == 130
    assert "stopped (signal 15)" in caplog.text and "Traceback" not in caplog.text
