"""The confirmation's arms: picked by the rule only from a current screening of one setup, recorded
once by a runner about to train them, and kept when the screening would now pick others."""

from __future__ import annotations

import json

import pytest

from owslib.__main__ import main
from owslib.study.arms import arms_record, confirmation_runs, record_pick, screening_state
from owslib.study.confirm import Question, select_arms
from owslib.study.studyfile import load_study, run_dir

SPEC = {
    "profile": "smoke",
    "seeds": [0, 1],
    "variants": {
        "baseline": {"description": "b", "overrides": {}},
        "focal": {"description": "f", "overrides": {"loss__semantic": "focal"}},
        "dice": {"description": "d", "overrides": {"loss__semantic": "dice"}},
    },
    "notebooks": [{"name": "03_loss_ablations", "variants": ["baseline", "focal", "dice"]}],
    "confirmatory": {
        "seeds": [10, 11],
        "questions": [{"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0.02}],
    },
}
SCREENING = {"baseline": 0.50, "focal": 0.56, "dice": 0.53}


@pytest.fixture
def study(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps(SPEC))
    return load_study(tmp_path / "study.json")


def _run(study, results, variant, seed, miou, fingerprint="A"):
    d = run_dir(results, "smoke", variant, seed)
    d.mkdir(parents=True, exist_ok=True)
    study.config(variant, seed).to_json(d / "config.json")
    (d / "metrics.json").write_text(json.dumps({"miou": miou}))
    (d / "run.json").write_text(json.dumps({"status": "finished", "fingerprint": fingerprint}))


def _screen(study, results, values=SCREENING, fingerprint=lambda v, s: "A"):
    for v, x in values.items():
        for s in study.seeds:
            _run(study, results, v, s, x + 0.001 * s, fingerprint(v, s))


def test_the_rule_picks_only_from_a_current_screening_of_one_setup(study, tmp_path):
    results, q = tmp_path / "results", study.confirmatory.questions[0]
    assert screening_state(study, results, q) == (None, "the screening is unfinished")
    _screen(study, results, fingerprint=lambda v, s: "B" if v == "dice" else "A")
    arms, why = screening_state(study, results, q)
    assert arms is None and why.startswith("the screening's runs are of 2 setups")
    _screen(study, results)
    stale = run_dir(results, "smoke", "dice", 1)  # trained with another config: not current
    study.config("dice", 1).override(train__lr=0.5).to_json(stale / "config.json")
    assert screening_state(study, results, q) == (None, "the screening is unfinished")
    _screen(study, results)
    assert screening_state(study, results, q) == (("focal", "baseline"), "")
    assert confirmation_runs(study, results) == {
        "03_loss_ablations": [("focal", 10), ("baseline", 10), ("focal", 11), ("baseline", 11)]
    }
    assert not arms_record(study, results, "03_loss_ablations").exists()  # nothing recorded


def test_a_runner_records_the_pick_once_and_keeps_it(study, tmp_path, caplog):
    results, q = tmp_path / "results", study.confirmatory.questions[0]
    _screen(study, results)
    assert record_pick(study, results, q, {}) == ("focal", "baseline")
    rec = json.loads(arms_record(study, results, "03_loss_ablations").read_text())
    assert (rec["arm"], rec["comparator"], rec["rule"], rec["endpoint"]) == (
        "focal",
        "baseline",
        "best_screening",
        "miou",
    )
    assert rec["screening_seeds"] == [0, 1] and rec["fingerprint"] == "A" and rec["picked"]
    assert abs(rec["screening_mean_difference"]["dice"] - 0.03) < 1e-12
    # the screening retrained later would pick dice: the confirmation keeps its recorded arms
    _screen(study, results, {**SCREENING, "dice": 0.60})
    assert record_pick(study, results, q, {}) == ("focal", "baseline")
    assert "the screening now picks ('dice', 'baseline')" in caplog.text
    assert screening_state(study, results, q) == (("focal", "baseline"), "")  # readers too
    # a record of another rule or endpoint is not used, nor one against another comparator
    changed = Question("03_loss_ablations", "aupr/fused/pooled", 0.02)
    arms, why = screening_state(study, results, changed)
    assert arms is None and "no screening run pairs with baseline" in why  # (no AUPR here)
    path = arms_record(study, results, "03_loss_ablations")
    path.write_text(json.dumps(rec | {"arm": "dice", "comparator": "focal"}))
    assert screening_state(study, results, q) == (("dice", "baseline"), "")  # picked again
    assert "do not fit the study file's question" in caplog.text
    path.write_text("{not json")  # a damaged record is an error, never silently replaced
    with pytest.raises(ValueError, match="confirmation_arms/03_loss_ablations.json: the recorded"):
        record_pick(study, results, q, {})
    assert path.read_text() == "{not json"


def test_the_best_screening_rule_follows_the_good_direction():
    import pandas as pd

    long = pd.DataFrame(
        [
            dict(variant=v, seed=s, metric="miou", scorer="", aggregation="", value=x + 0.01 * s)
            for s in (0, 1)
            for v, x in (("baseline", 0.5), ("focal", 0.6), ("dice", 0.45))
        ]
    )
    variants = ("baseline", "focal", "dice")
    assert select_arms(Question("n", "miou", 0.02), variants, "baseline", long)[0] == "focal"
    lower = Question("n", "miou", 0.02, higher_is_better=False)  # declared: lower is better
    assert select_arms(lower, variants, "baseline", long)[0] == "dice"


def test_runs_trained_with_study_wide_overrides_are_read_as_current(study, tmp_path):
    """``study -p data__root=...`` trains every run with that config; a reader that was not given
    the override judges each run under the study-wide config it recorded."""
    results, q = tmp_path / "results", study.confirmatory.questions[0]
    for v, x in SCREENING.items():
        for s in study.seeds:
            d = run_dir(results, "smoke", v, s)
            d.mkdir(parents=True)
            study.config(v, s, data__root="/elsewhere").to_json(d / "config.json")
            (d / "metrics.json").write_text(json.dumps({"miou": x}))
            (d / "run.json").write_text(
                json.dumps(
                    {
                        "status": "finished",
                        "fingerprint": "A",
                        "base_config": {"data__root": "/elsewhere"},
                    }
                )
            )
    assert screening_state(study, results, q) == (("focal", "baseline"), "")
    # the same runs without the record of their override are stale: not picked from
    for v in SCREENING:
        info = run_dir(results, "smoke", v, 0) / "run.json"
        info.write_text(json.dumps({"status": "finished", "fingerprint": "A"}))
    assert screening_state(study, results, q) == (None, "the screening is unfinished")


def test_only_a_runner_that_will_train_records_and_as_it_would_train(study, tmp_path):
    results = tmp_path / "results"
    _screen(study, results)
    path = arms_record(study, results, "03_loss_ablations")
    base = ["study", "--study", str(tmp_path / "study.json"), "--results", str(results)]
    assert main([*base, "--dry-run"]) == 0 and main([*base, "--list"]) == 0
    assert not path.exists()  # planning records nothing
    assert main([*base, "--train-only", "-p", "train__no_such_key=1"]) != 0
    assert not path.exists()  # a refused command records nothing
    # a runner with other overrides would retrain the screening first: it records nothing yet
    from owslib.study.plan import planned_runs

    planned = planned_runs(study, results, record={"train__epochs": 7})
    assert not path.exists() and all(j.seed in study.seeds for j in planned)
    planned = planned_runs(
        study, results, record={}
    )  # as the screening was trained: picked, recorded
    assert path.exists() and {(j.variant, j.seed) for j in planned} >= {
        ("focal", 10),
        ("baseline", 11),
    }


def test_a_record_is_created_once_never_overwritten(tmp_path):
    from owslib.study.arms import _create_once

    path = tmp_path / "arms" / "q.json"
    assert _create_once(path, {"arm": "a"}) and not _create_once(path, {"arm": "b"})
    assert json.loads(path.read_text()) == {"arm": "a"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["q.json"]  # no temp file left


def test_a_run_recording_a_config_key_owslib_lost_is_stale_not_an_error(study, tmp_path):
    from owslib.study.state import recorded_status
    from owslib.study.studyfile import RunJob

    results = tmp_path / "results"
    _run(study, results, "focal", 0, 0.5)
    d = run_dir(results, "smoke", "focal", 0)
    (d / "run.json").write_text(
        json.dumps({"status": "finished", "fingerprint": "A", "base_config": {"train__gone": 1}})
    )
    assert recorded_status(study, RunJob("focal", 0, d)) == "stale"
