"""The confirmatory answers read from finished runs: arms by rule, pairs within one setup, Holm,
TOST, verdicts and sentences; the screening's BH q-values."""

from __future__ import annotations

import json

import numpy as np

from owslib.study.answers import answer_sentences, confirmatory_answers, screening_exploratory
from owslib.study.studyfile import load_study, run_dir

SPEC = {
    "profile": "smoke", "seeds": [0, 1, 2],
    "variants": {"baseline": {"description": "b", "overrides": {}},
                 "focal": {"description": "f", "overrides": {"loss__semantic": "focal"}},
                 "dice": {"description": "d", "overrides": {"loss__semantic": "dice"}}},
    "notebooks": [{"name": "03_loss_ablations", "question": "Which semantic loss?",
                   "variants": ["baseline", "focal", "dice"]}],
    "confirmatory": {"seeds": [10, 11, 12, 13, 14, 15], "questions": [
        {"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0.02,
         "rule": "head_to_head", "arms": ["focal", "baseline"]}]},
}  # fmt: skip


def _run(results, variant, seed, miou, fingerprint="A"):
    d = run_dir(results, "smoke", variant, seed)
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(json.dumps({"miou": miou}))
    (d / "run.json").write_text(json.dumps({"status": "finished", "fingerprint": fingerprint}))


def _study(tmp_path, spec=SPEC):
    path = tmp_path / "study.json"
    path.write_text(json.dumps(spec))
    return load_study(path)


def test_a_clear_effect_is_better_after_holm(tmp_path):
    study, results = _study(tmp_path), tmp_path / "results"
    noise = np.random.default_rng(0).normal(0, 0.005, 6)
    for s, e in zip(range(10, 16), noise, strict=True):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.55 + e)
    row = confirmatory_answers(study, results).iloc[0]
    assert (row["arm"], row["comparator"], row["n_pairs"]) == ("focal", "baseline", 6)
    assert row["verdict"] == "better" and row["p_holm"] == row["p"]  # one hypothesis
    assert abs(row["mean"] - (0.05 + noise.mean())) < 1e-12
    (sentence,) = answer_sentences(study, confirmatory_answers(study, results))
    assert sentence.startswith("**Which semantic loss?** — focal is better than baseline")
    assert "over 6 fresh seeds" in sentence


def test_no_difference_within_the_margin_is_equivalent_and_other_setups_are_not_paired(tmp_path):
    study, results = _study(tmp_path), tmp_path / "results"
    noise = np.random.default_rng(1).normal(0, 0.002, 6)
    for s, e in zip(range(10, 16), noise, strict=True):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.5 + e, fingerprint="B" if s == 15 else "A")
    row = confirmatory_answers(study, results).iloc[0]
    assert row["n_pairs"] == 5  # seed 15's runs are of two setups
    assert row["verdict"] == "equivalent"


def test_questions_wait_for_their_runs(tmp_path):
    spec = json.loads(json.dumps(SPEC))
    spec["confirmatory"]["questions"][0] |= {"rule": "best_screening", "arms": []}
    study, results = _study(tmp_path, spec), tmp_path / "results"
    row = confirmatory_answers(study, results).iloc[0]
    assert row["status"] == "the screening is unfinished" and row["verdict"] != row["verdict"]
    assert "not answered yet: the screening is unfinished" in answer_sentences(
        study, confirmatory_answers(study, results))[0]


def test_the_screening_gets_bh_q_values(tmp_path):
    study, results = _study(tmp_path), tmp_path / "results"
    for s in (0, 1, 2):
        _run(results, "baseline", s, 0.5 + 0.01 * s)
        _run(results, "focal", s, 0.56 + 0.012 * s)
        _run(results, "dice", s, 0.5 + 0.01 * s + (0.004, -0.003, 0.001)[s])
    table = screening_exploratory(study, results).set_index("variant")
    assert set(table.index) == {"focal", "dice"}
    assert (table["q_bh"] >= table["p"]).all() and table.loc["focal", "q_bh"] < 0.05


def test_a_notebook_closes_with_its_question_s_verdict(tmp_path):
    from owslib.study.answers import notebook_verdict

    study, results = _study(tmp_path), tmp_path / "results"
    text = notebook_verdict(study, results, "03_loss_ablations")
    assert text.startswith("**Which semantic loss?** — not answered yet: 0 of 6 confirming seeds")
    assert "exploratory" in text
    assert "no pre-registered confirmation" in notebook_verdict(study, results, "01_x")
