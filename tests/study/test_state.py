"""A run whose records cannot be read is damage: the commands that read the runs name the file in
one line and exit non-zero, instead of counting the run as finished or leaving it out."""

from __future__ import annotations

import json

import pytest

from owslib.study.state import DamagedRunError, read_record
from owslib.study.studyfile import load_study, run_dir

SPEC = {
    "profile": "smoke",
    "seeds": [0, 1, 2],
    "variants": {
        "baseline": {"description": "b", "overrides": {}},
        "focal": {"description": "f", "overrides": {"loss__semantic": "focal"}},
    },
    "notebooks": [
        {
            "name": "03_loss_ablations",
            "question": "Which semantic loss?",
            "variants": ["baseline", "focal"],
        }
    ],
    "confirmatory": {
        "seeds": [10, 11],
        "questions": [
            {
                "notebook": "03_loss_ablations",
                "endpoint": "miou",
                "margin": 0.02,
                "rule": "head_to_head",
                "arms": ["focal", "baseline"],
            }
        ],
    },
}


def _runs(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps(SPEC))
    study, results = load_study(tmp_path / "study.json"), tmp_path / "results"
    for v in ("baseline", "focal"):
        for s in (0, 1, 2, 10, 11):
            d = run_dir(results, "smoke", v, s)
            d.mkdir(parents=True)
            study.config(v, s).to_json(d / "config.json")
            (d / "metrics.json").write_text(json.dumps({"miou": 0.5 + s / 100}))
            (d / "run.json").write_text(json.dumps({"status": "finished", "fingerprint": "A"}))
    return results


def test_a_record_that_is_not_json_raises_naming_it(tmp_path):
    path = tmp_path / "metrics.json"
    assert read_record(path) is None  # missing: not damage
    path.write_text('{"miou": 0.5')  # cut short
    with pytest.raises(DamagedRunError, match=r"metrics\.json: not a JSON object"):
        read_record(path)
    path.write_text("[1, 2]")
    with pytest.raises(DamagedRunError):
        read_record(path)


@pytest.mark.parametrize("record", ["metrics.json", "run.json"])
@pytest.mark.parametrize("command", ["--dry-run", "--answers"])
def test_dry_run_and_answers_name_a_damaged_run_and_refuse(tmp_path, caplog, record, command):
    from owslib.__main__ import main

    results = _runs(tmp_path)
    damaged = run_dir(results, "smoke", "baseline", 0) / record
    damaged.write_text(damaged.read_text()[:7])
    args = ["study", "--study", str(tmp_path / "study.json"), "--results", str(results), command]
    assert main(args) == 2
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert line.startswith(f"{damaged}: not a JSON object") and "\n" not in line
