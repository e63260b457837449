"""When a rendered notebook is stale: the runs it reads, its question's confirming runs and arms."""

from __future__ import annotations

import json

from owslib.study.render import runs_digest
from owslib.study.studyfile import load_study, run_dir

SPEC = {  # laid out as the study file it stands for
    "profile": "smoke", "seeds": [0],
    "variants": {"baseline": {"description": "b", "overrides": {}},
                 "focal": {"description": "f", "overrides": {"loss__semantic": "focal"}},
                 "dice": {"description": "d", "overrides": {"loss__semantic": "dice"}}},
    "notebooks": [{"name": "03_loss_ablations", "question": "Which semantic loss?",
                   "variants": ["baseline", "focal"]},
                  {"name": "04_other", "question": "Dice?", "variants": ["baseline", "dice"]},
                  {"name": "06_summary"}],
    "confirmatory": {"seeds": [10, 11], "questions": [
        {"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0.02,
         "rule": "head_to_head", "arms": ["focal", "baseline"]},
        {"notebook": "04_other", "endpoint": "miou", "margin": 0.02,
         "rule": "head_to_head", "arms": ["dice", "baseline"]}]},
}  # fmt: skip


def _finish(results, variant, seed):
    d = run_dir(results, "smoke", variant, seed)
    d.mkdir(parents=True, exist_ok=True)
    (d / "run.json").write_text(json.dumps({"status": "finished", "fingerprint": "A"}))


def test_a_confirming_run_makes_its_question_s_notebook_and_the_summary_stale(tmp_path):
    (tmp_path / "study.json").write_text(json.dumps(SPEC))
    study, results = load_study(tmp_path / "study.json"), tmp_path / "results"

    def digests():
        return {
            n: runs_digest(study, n, results)
            for n in ("03_loss_ablations", "04_other", "06_summary")
        }

    before = digests()
    _finish(results, "focal", 0)  # a screening run of 03 only
    after = digests()
    assert after["03_loss_ablations"] != before["03_loss_ablations"]
    assert after["04_other"] == before["04_other"] and after["06_summary"] != before["06_summary"]
    before = after
    _finish(results, "focal", 11)  # a confirming run of 03's question (not a screening seed)
    after = digests()
    assert after["03_loss_ablations"] != before["03_loss_ablations"]  # its verdict's seed count
    assert after["04_other"] == before["04_other"] and after["06_summary"] != before["06_summary"]
    before = after
    _finish(results, "dice", 10)  # a confirming run of 04's question
    after = digests()
    assert after["03_loss_ablations"] == before["03_loss_ablations"]
    assert after["04_other"] != before["04_other"] and after["06_summary"] != before["06_summary"]
