"""The confirmatory answers read from finished runs: arms by rule, pairs within one setup, Holm,
TOST, verdicts and sentences; the screening's BH q-values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from owslib.study.answers import answer_sentences, confirmatory_answers, screening_exploratory
from owslib.study.studyfile import load_study, run_dir

SPEC = {
    "profile": "smoke",
    "seeds": [0, 1, 2],
    "variants": {
        "baseline": {"description": "b", "overrides": {}},
        "focal": {"description": "f", "overrides": {"loss__semantic": "focal"}},
        "dice": {"description": "d", "overrides": {"loss__semantic": "dice"}},
    },
    "notebooks": [
        {
            "name": "03_loss_ablations",
            "question": "Which semantic loss?",
            "variants": ["baseline", "focal", "dice"],
        }
    ],
    "confirmatory": {
        "seeds": [10, 11, 12, 13, 14, 15],
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


def _run(results, variant, seed, miou, fingerprint="A", status="finished"):
    """A finished run of the study in ``results.parent / "study.json"`` (its config current)."""
    d = run_dir(results, "smoke", variant, seed)
    d.mkdir(parents=True)
    load_study(results.parent / "study.json").config(variant, seed).to_json(d / "config.json")
    (d / "metrics.json").write_text(json.dumps({"miou": miou}))
    (d / "run.json").write_text(json.dumps({"status": status, "fingerprint": fingerprint}))


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
    table = confirmatory_answers(study, results)
    row = table.iloc[0]
    assert (row["arm"], row["comparator"], row["n_pairs"]) == ("focal", "baseline", 6)
    pairs = pd.DataFrame(table.attrs["pairs"])  # per seed, in seed order
    np.testing.assert_allclose(pairs["diff"], 0.05 + noise)
    assert pairs["seed"].tolist() == list(range(10, 16))
    assert row["verdict"] == "better" and row["p_holm"] == row["p"]  # one hypothesis
    assert abs(row["mean"] - (0.05 + noise.mean())) < 1e-12
    (sentence,) = answer_sentences(confirmatory_answers(study, results))
    assert sentence.startswith("**Which semantic loss?** — focal is better than baseline")
    assert "over 6 fresh seeds" in sentence


def test_no_difference_within_the_margin_is_equivalent_and_other_setups_wait(tmp_path):
    study, results = _study(tmp_path), tmp_path / "results"
    noise = np.random.default_rng(1).normal(0, 0.002, 6)
    for s, e in zip(range(10, 16), noise, strict=True):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.5 + e, fingerprint="B" if s == 15 else "A")
    row = confirmatory_answers(study, results).iloc[0]
    # seed 15's runs are of two setups: not a pair; the runner retrains the other setup's run
    assert row["n_pairs"] == 5
    assert row["status"] == "5 of 6 confirming seeds done; not paired: seed 15 (runs of 2 setups)"
    assert row["verdict"] != row["verdict"]
    (run_dir(results, "smoke", "focal", 15) / "run.json").write_text(
        json.dumps({"status": "finished", "fingerprint": "A"})
    )  # retrained in the setup
    row = confirmatory_answers(study, results).iloc[0]
    assert row["n_pairs"] == 6 and row["verdict"] == "equivalent"


def test_questions_wait_for_their_runs(tmp_path):
    spec = json.loads(json.dumps(SPEC))
    spec["confirmatory"]["questions"][0] |= {"rule": "best_screening", "arms": []}
    study, results = _study(tmp_path, spec), tmp_path / "results"
    row = confirmatory_answers(study, results).iloc[0]
    assert row["status"] == "the screening is unfinished" and row["verdict"] != row["verdict"]
    assert (
        "not answered yet: the screening is unfinished"
        in answer_sentences(confirmatory_answers(study, results))[0]
    )


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
    assert text.startswith(
        "**Which semantic loss?** — not answered yet: focal against baseline "
        "on mIoU (margin ±0.02), 0 of 6 confirming seeds"
    )
    assert "exploratory" in text
    assert "no pre-registered confirmation" in notebook_verdict(study, results, "01_x")


def test_no_verdict_is_read_before_every_planned_seed_is_done(tmp_path):
    study, results = _study(tmp_path), tmp_path / "results"
    for s in (10, 11, 12):  # half the planned seeds, a clear effect
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.55 + 0.001 * s)
    _run(results, "focal", 13, 0.6)  # the comparator of seed 13 is not finished: not done
    row = confirmatory_answers(study, results).iloc[0]
    assert row["status"] == "3 of 6 confirming seeds done" and row["n_pairs"] == 3
    assert abs(row["mean"] - 0.061) < 1e-12 and row["lo"] < row["mean"] < row["hi"]  # interim
    assert row["verdict"] != row["verdict"] and row["p"] != row["p"]  # no test, no verdict
    (sentence,) = answer_sentences(confirmatory_answers(study, results))
    assert sentence == (
        "**Which semantic loss?** — not answered yet: focal against baseline on "
        "mIoU (margin ±0.02), 3 of 6 confirming seeds done; the verdict comes with "
        "the last."
    )


THREE = {
    **SPEC,
    "notebooks": [
        {"name": "03_loss_ablations", "question": "Focal?", "variants": ["baseline", "focal"]},
        {"name": "04_infonce", "question": "Dice?", "variants": ["baseline", "dice"]},
        {
            "name": "05_synco_comparison",
            "question": "Focal or Dice?",
            "variants": ["focal", "dice"],
        },
    ],
    "confirmatory": {
        "seeds": [10, 11, 12, 13, 14, 15],
        "questions": [
            {
                "notebook": n,
                "endpoint": "miou",
                "margin": 0.02,
                "rule": "head_to_head",
                "arms": arms,
            }
            for n, arms in (
                ("03_loss_ablations", ["focal", "baseline"]),
                ("04_infonce", ["dice", "baseline"]),
                ("05_synco_comparison", ["focal", "dice"]),
            )
        ],
    },
}


def test_holm_counts_every_question_and_only_a_verdict_that_stands_is_given(tmp_path):
    from owslib import stats

    study, results = _study(tmp_path, THREE), tmp_path / "results"
    noise = np.random.default_rng(2).normal(0, 0.004, (3, 6))
    for i, s in enumerate(range(10, 16)):
        _run(results, "baseline", s, 0.5 + noise[0, i])
        _run(results, "focal", s, 0.56 + noise[1, i])  # focal − baseline: clearly better
    for s in (10, 11):  # dice has two of its six seeds: its questions are not analysed yet
        _run(results, "dice", s, 0.5)
    table = confirmatory_answers(study, results).set_index("notebook")
    first = table.loc["03_loss_ablations"]
    p = stats.paired_t(np.array(0.06 + noise[1] - noise[0])).p
    # two questions pending enter Holm with p = 1: the first is adjusted by the whole family of 3
    assert first["status"] == "analysed" and abs(first["p_holm"] - min(1.0, 3 * p)) < 1e-12
    assert first["verdict"] == "better"  # stands whatever the others' p-values turn out to be
    (sentence, *_) = answer_sentences(table.reset_index())  # its Holm p: the bound it is
    assert f"Holm p ≤ {first['p_holm']:.3g} whatever the other questions give" in sentence
    assert table.loc["04_infonce", "status"] == "2 of 6 confirming seeds done"
    for i, s in enumerate(range(12, 16)):  # dice finishes at baseline's level (within noise)
        _run(results, "dice", s, 0.5 + noise[0, i + 2] + noise[2, i + 2] / 4)
    table = confirmatory_answers(study, results).set_index("notebook")
    assert (table["status"] == "analysed").all()  # every question done: Holm is final
    final = answer_sentences(table.reset_index())[0]
    assert f"Holm p = {table.loc['03_loss_ablations', 'p_holm']:.3g}." in final
    assert "TOST" not in final  # a difference shown: equivalence is not the question
    raw = table["p"].to_numpy()
    assert np.allclose(table["p_holm"], stats.holm(raw))
    assert table.loc["03_loss_ablations", "verdict"] == "better"


def test_a_verdict_that_holm_may_still_change_waits_for_the_other_questions(tmp_path):
    from owslib import stats

    study, results = _study(tmp_path, THREE), tmp_path / "results"
    diffs = [0.002, 0.004, 0.0, 0.005, 0.003, 0.001]  # raw p ≈ 0.022: Holm's 3 × p is not < 0.05
    for s, d in zip(range(10, 16), diffs, strict=True):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.5 + d)
    row = confirmatory_answers(study, results).set_index("notebook").loc["03_loss_ablations"]
    p = stats.paired_t(np.array(diffs)).p
    assert 0.05 / 3 < p < 0.05 and abs(row["p_holm_min"] - p) < 1e-9  # the others may be smaller
    assert row["status"] == "holm_waits" and row["verdict"] != row["verdict"]
    (sentence, *_) = answer_sentences(confirmatory_answers(study, results))
    assert sentence.startswith("**Focal?** — not answered yet: focal − baseline = ")
    assert "Holm across the questions waits for the others' confirmation" in sentence


def test_a_verdict_no_outcome_of_the_other_questions_can_change_is_given_now(tmp_path):
    study, results = _study(tmp_path, THREE), tmp_path / "results"
    noise = np.random.default_rng(3).normal(0, 0.002, 6)
    for i, s in enumerate(range(10, 16)):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.5 + noise[i])  # no effect: raw p ≈ 0.73, TOST p tiny
    table = confirmatory_answers(study, results).set_index("notebook")
    row = table.loc["03_loss_ablations"]
    # even with every other question at p = 0 its Holm p is ≥ 0.05: TOST alone decides
    assert row["p_holm_min"] >= 0.05 and row["status"] == "analysed"
    assert row["verdict"] == "equivalent" and table.loc["04_infonce", "status"].startswith("0 of")
    (sentence, *_) = answer_sentences(table.reset_index())
    assert sentence.startswith("**Focal?** — focal and baseline are equivalent within the margin")
    assert f"Holm p ≥ {row['p_holm_min']:.3g} whatever the other questions give" in sentence


def test_holm_with_the_missing_p_values_at_1_and_at_0_bounds_the_final_holm():
    from owslib import stats

    rng = np.random.default_rng(4)
    for _ in range(200):
        p = rng.uniform(0, 0.2, 4)
        known = rng.integers(1, 4)
        final = stats.holm(p)[:known]
        upper = stats.holm(np.r_[p[:known], np.ones(4 - known)])[:known]
        lower = stats.holm(np.r_[p[:known], np.zeros(4 - known)])[:known]
        assert (lower - 1e-15 <= final).all() and (final <= upper + 1e-15).all()


def test_a_question_without_a_p_value_stays_in_holm_s_family(tmp_path):
    from owslib import stats

    study, results = _study(tmp_path, THREE), tmp_path / "results"
    noise = np.random.default_rng(5).normal(0, 0.004, (2, 6))
    for i, s in enumerate(range(10, 16)):
        _run(results, "baseline", s, 0.5 + noise[0, i])
        _run(results, "dice", s, 0.5 + noise[0, i])  # dice − baseline = 0 at every seed: no p
        _run(results, "focal", s, 0.56 + noise[1, i])
    table = confirmatory_answers(study, results).set_index("notebook")
    assert (table["status"] == "analysed").all() and table.loc["04_infonce", "p"] != table.loc[
        "04_infonce", "p"
    ]
    raw = [table.loc["03_loss_ablations", "p"], 1.0, table.loc["05_synco_comparison", "p"]]
    assert np.allclose(table["p_holm"], stats.holm(raw))  # m = 3, not 2
    assert table.loc["04_infonce", "verdict"] == "inconclusive"


def test_runs_the_runner_would_retrain_are_not_paired_and_the_status_says_why(tmp_path):
    study, results = _study(tmp_path), tmp_path / "results"
    for s in range(10, 16):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.55 + 0.001 * s)
    # seed 13: focal trained with another config (stale); seed 14: baseline failed; seed 15:
    # focal's endpoint is NaN
    stale = run_dir(results, "smoke", "focal", 13)
    study.config("focal", 13).override(train__lr=0.5).to_json(stale / "config.json")
    failed = run_dir(results, "smoke", "baseline", 14) / "run.json"
    failed.write_text(json.dumps({"status": "failed", "fingerprint": "A"}))
    (run_dir(results, "smoke", "focal", 15) / "metrics.json").write_text('{"miou": NaN}')
    row = confirmatory_answers(study, results).iloc[0]
    assert row["n_pairs"] == 3 and row["verdict"] != row["verdict"]
    assert row["status"] == (
        "3 of 6 confirming seeds done; not paired: seed 13 (focal stale); "
        "seed 14 (baseline failed); seed 15 (focal has no miou)"
    )


def test_pairs_of_different_setups_are_not_analysed_together(tmp_path):
    study, results = _study(tmp_path), tmp_path / "results"
    noise = np.random.default_rng(6).normal(0, 0.005, 6)
    for s, e in zip(range(10, 16), noise, strict=True):
        fp = "A" if s < 13 else "B"  # each seed's two runs share a setup, the seeds do not
        _run(results, "baseline", s, 0.5, fingerprint=fp)
        _run(results, "focal", s, 0.55 + e, fingerprint=fp)
    row = confirmatory_answers(study, results).iloc[0]
    assert row["n_pairs"] == 6 and row["verdict"] != row["verdict"]
    assert row["status"] == "the confirming runs are of 2 setups (A, B): retrain them in one"


def _analysed(tmp_path, diffs):
    tmp_path.mkdir()
    study, results = _study(tmp_path), tmp_path / "results"
    for s, d in zip(range(10, 16), diffs, strict=True):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.5 + d)
    (sentence,) = answer_sentences(confirmatory_answers(study, results))
    return confirmatory_answers(study, results).iloc[0], sentence


def test_the_sentences_name_the_interval_each_verdict_rests_on(tmp_path):
    from owslib import stats

    diffs = np.random.default_rng(1).normal(0, 0.002, 6)
    row, sentence = _analysed(tmp_path / "eq", diffs)
    assert row["verdict"] == "equivalent"
    t, e = stats.paired_t(diffs), stats.tost(diffs, 0.02)
    assert t.lo < 0 < t.hi  # the sentence writes a typographic minus, as the tables do
    assert f"(95 % interval −{-t.lo:.3f} to +{t.hi:.3f})" in sentence
    assert f"its 90 % interval −{-e.lo:.3f} to +{e.hi:.3f} lies within the margin" in sentence
    assert "(margin ±0.02)" in sentence
    # wide noise: inconclusive, with the power the design had at the margin
    diffs = np.random.default_rng(2).normal(0, 0.03, 6)
    row, sentence = _analysed(tmp_path / "inc", diffs)
    assert row["verdict"] == "inconclusive" and "% power to detect the margin" not in sentence
    # (no screening here: no SD, no power stated) — with a screening, the power is stated
    for s in (0, 1, 2):
        _run(tmp_path / "inc" / "results", "baseline", s, 0.5 + 0.01 * s)
        _run(tmp_path / "inc" / "results", "focal", s, 0.5 + (0.03, -0.02, 0.01)[s])
    study = load_study(tmp_path / "inc" / "study.json")
    row = confirmatory_answers(study, tmp_path / "inc" / "results").iloc[0]
    sd = float(np.std([0.03, -0.03, -0.01], ddof=1))
    assert abs(row["power"] - stats.paired_t_power(0.02, sd, 6, 0.05)) < 1e-12
    (sentence,) = answer_sentences(confirmatory_answers(study, tmp_path / "inc" / "results"))
    # the power the design had, at the fresh seeds' SD, comes first; the planned one is labelled
    t = stats.paired_t(diffs)
    had = stats.paired_t_power(0.02, t.sd, 6, 0.05)
    assert abs(row["power_fresh"] - had) < 1e-12
    assert abs(row["tost_power_fresh"] - stats.tost_power(0.02, t.sd, 6, alpha=0.05)) < 1e-12
    assert (
        f"power at the margin (paired t at Holm's worst-case level) {100 * had:.0f} % at the "
        f"fresh seeds' SD of paired differences ({t.sd:.3f}); {100 * row['power']:.0f} % as "
        f"planned at the screening's ({sd:.3f}, a root mean square over its variants"
    ) in sentence
    # and what the fresh seeds' own SD lets the design detect with the planned power
    found = stats.detectable_effect(t.sd, 6, 0.8, 0.05)
    assert abs(row["detectable"] - found) < 1e-12
    assert abs(stats.paired_t_power(found, t.sd, 6, 0.05) - 0.8) < 1e-9
    assert f"at the fresh SD the seeds detect {found:.3f} with 80 % power" in sentence
    # every seed the same difference: no test applies, and the sentence says so
    row, sentence = _analysed(tmp_path / "same", [0.0] * 6)
    assert row["verdict"] == "inconclusive" and bool(row["degenerate"])
    assert "every fresh seed gave the same difference, +0.000 on mIoU over 6 seeds" in sentence


def test_the_power_table_uses_holm_s_worst_case_over_every_question(tmp_path):
    from owslib import stats
    from owslib.study.answers import power_now

    study, results = _study(tmp_path, THREE), tmp_path / "results"
    for s in (0, 1, 2):  # a screening for the first question only: the others have no SD yet
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.5 + (0.01, -0.02, 0.02)[s])
    table = power_now(study, results)
    assert list(table["question"]) == ["03_loss_ablations"]
    sd = float(np.std([0.01, -0.02, 0.02], ddof=1))
    assert (
        abs(table["power_at_margin"].iloc[0] - stats.paired_t_power(0.02, sd, 6, 0.05 / 3)) < 1e-12
    )


def test_the_table_of_answers_gives_each_verdict_and_the_screening_beside_it(tmp_path):
    from owslib.study.documents import answers_in_full, answers_markdown

    study, results = _study(tmp_path), tmp_path / "results"
    noise = np.random.default_rng(0).normal(0, 0.005, 6)
    for s, e in zip(range(10, 16), noise, strict=True):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.55 + e)
    for s in (0, 1):  # two of the three screening seeds
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.52 + 0.01 * s)
    header, rule, row, *rest = answers_markdown(study, results, link_from=tmp_path).splitlines()
    assert not rest and rule == "|---|---|---|---|---|"
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    question, verdict, effect, also, link = cells
    assert question == "Which semantic loss?" and verdict == "**better**"
    t = confirmatory_answers(study, results).iloc[0]
    assert effect == (
        f"`focal` − `baseline`: +{t['mean']:.3f} [+{t['lo']:.3f}, +{t['hi']:.3f}] "
        "mIoU (margin ±0.02)"
    )
    assert max(len(c) for c in cells) <= 160  # a first screen: short cells
    # the long answer is the notebooks' sentence, without the bolded question
    (sentence,) = answer_sentences(confirmatory_answers(study, results))
    full = answers_in_full(study, results)
    assert sentence.split(" — ", 1)[1] in full and "focal is better" in sentence
    # head to head: the screening's paired difference, its seeds counted, labelled uncorrected
    assert _screening(full) == (
        "`focal` − `baseline`, mIoU, uncorrected: +0.025 [−0.039, +0.089] (2 of 3 seeds)"
    )
    assert link == "[03](results/03_loss_ablations/smoke/03_loss_ablations.ipynb)"


def test_the_table_of_answers_ranks_the_screening_and_marks_the_confirmed_arm(tmp_path):
    from owslib.study.documents import answers_in_full, answers_markdown

    spec = json.loads(json.dumps(SPEC))
    spec["confirmatory"]["questions"][0] |= {"rule": "best_screening", "arms": []}
    study, results = _study(tmp_path, spec), tmp_path / "results"
    for s in (0, 1, 2):
        _run(results, "baseline", s, 0.5 + 0.01 * s)
        _run(results, "focal", s, 0.56 + 0.012 * s)
        _run(results, "dice", s, 0.5 + 0.01 * s + (0.004, -0.003, 0.001)[s])
    q = screening_exploratory(study, results).set_index("variant")["q_bh"]
    row = answers_markdown(study, results).splitlines()[2]
    verdict, why = [c.strip() for c in row.strip("|").split(" | ")][1:3]
    assert verdict == "**not answered yet**" and why == "0 of 6 confirming seeds done"
    full = answers_in_full(study, results)
    assert (
        "not answered yet: focal against baseline on mIoU (margin ±0.02), 0 of 6 confirming "
        "seeds done"
    ) in full
    screening = _screening(full)
    assert screening.startswith("mIoU − `baseline`: `focal` (the confirmation's arm) +0.062 [")
    assert screening.index("`focal`") < screening.index("`dice`")  # best first
    assert f"q {q['focal']:.2f}" in screening and f"q {q['dice']:.2f}" in screening


def test_the_table_of_answers_is_rewritten_between_its_markers_only(tmp_path):
    import pytest

    from owslib.study.documents import BLOCK_END, BLOCK_START, answers_markdown, write_answers

    study, results = _study(tmp_path), tmp_path / "results"
    readme = tmp_path / "docs" / "README.md"
    readme.parent.mkdir()
    readme.write_text(f"# title\n\ntext above\n{BLOCK_START}\nan old table\n{BLOCK_END}\nbelow\n")
    write_answers(readme, study, results)
    block = answers_markdown(study, results, link_from=readme.parent)
    assert (
        readme.read_text() == f"# title\n\ntext above\n{BLOCK_START}\n{block}{BLOCK_END}\nbelow\n"
    )
    assert "(../results/03_loss_ablations/smoke/03_loss_ablations.ipynb)" in block
    write_answers(readme, study, results)  # idempotent
    assert readme.read_text().count(BLOCK_START) == 1 and "an old table" not in readme.read_text()
    link = tmp_path / "README.md"
    link.symlink_to(readme)
    readme.write_text(f"{BLOCK_START}\n{BLOCK_END}\n")
    write_answers(link, study, results)  # through a symbolic link: its target is rewritten
    assert link.is_symlink() and readme.read_text() == f"{BLOCK_START}\n{block}{BLOCK_END}\n"
    readme.write_text(f"{BLOCK_END}\n{BLOCK_START}\n")
    with pytest.raises(ValueError, match="README.md: expected one line"):
        write_answers(readme, study, results)
    assert readme.read_text() == f"{BLOCK_END}\n{BLOCK_START}\n"  # left as it was


def test_the_study_command_prints_or_writes_the_table_of_answers(tmp_path, capsys):
    from owslib.__main__ import main
    from owslib.study.documents import BLOCK_END, BLOCK_START, answers_markdown

    study, results = _study(tmp_path), tmp_path / "results"
    args = ["study", "--study", str(tmp_path / "study.json"), "--results", str(results)]
    assert main([*args, "--answers"]) == 0
    assert capsys.readouterr().out == answers_markdown(study, results)
    readme = tmp_path / "README.md"
    readme.write_text(f"{BLOCK_START}\n{BLOCK_END}\n")
    assert main([*args, "--answers", str(readme)]) == 0
    assert "| Which semantic loss? | **not answered yet** |" in readme.read_text()


def _screening(full: str) -> str:
    """The screening paragraph of :func:`answers_in_full`, after its label."""
    (line,) = [x for x in full.splitlines() if x.startswith("**Screening**")]
    return line.split("comparisons): ", 1)[1]


def test_the_table_of_answers_says_what_the_screening_lacks(tmp_path):
    import pytest

    from owslib.study.documents import answers_in_full, answers_markdown

    spec = json.loads(json.dumps(SPEC))
    spec["confirmatory"]["questions"][0] |= {"rule": "best_screening", "arms": []}
    study, results = _study(tmp_path, spec), tmp_path / "results"
    screening = lambda: _screening(answers_in_full(study, results))  # noqa: E731
    assert screening() == "no screening run pairs with `baseline` yet"
    for s in (0, 1):
        _run(results, "baseline", s, 0.5)
        _run(results, "dice", s, 0.52)  # the same difference at both seeds
    _run(results, "focal", 0, 0.53)  # one seed: an estimate, no interval, no q-value
    # (the screening is unfinished: no arm is picked for the confirmation yet)
    assert screening() == (
        "mIoU − `baseline`: `focal` +0.030 (1 of 3 seeds, no interval), no q; "
        "`dice` +0.020 (2 of 3 seeds, the same at every seed), no q"
    )
    no_questions = {k: v for k, v in SPEC.items() if k != "confirmatory"}
    with pytest.raises(ValueError, match="no confirmatory questions"):
        answers_markdown(_study(tmp_path, no_questions), results)


def _confirmed_better(tmp_path):
    """SPEC's question confirmed at its 6 fresh seeds: focal clearly better; the results folder."""
    _study(tmp_path)
    results = tmp_path / "results"
    for s in range(10, 16):
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.55 + s / 1000)
    return results


def test_the_summary_s_answers_show_the_forest_plot_once(tmp_path):
    import matplotlib.pyplot as plt

    from owslib import notebook

    results = _confirmed_better(tmp_path)
    plt.close("all")
    ans = notebook.answers(results, None, tmp_path / "study.json")
    assert ans["forest"] is not None and ans["table"]["verdict"].iloc[0] == "better"
    # closed for pyplot (the inline backend would show it at the cell's end, then show_figure again)
    assert plt.get_fignums() == []
    assert ans["forest"].axes and ans["forest"].savefig(tmp_path / "forest.png") is None
    # the tables behind the summary, beside the screening's all_runs.csv
    files = ans["files"]
    assert {p.name for p in files.values()} == {
        "confirmatory.csv",
        "confirmatory_pairs.csv",
        "power.csv",
        "exploratory.csv",
    }
    assert all(p.parent == results / "summary" / "smoke" for p in files.values())
    written = pd.read_csv(files["table"])
    assert written["verdict"].tolist() == ["better"] and written["n_pairs"].tolist() == [6]
    pairs = pd.read_csv(files["pairs"])  # the data the test ran on, seed by seed
    assert pairs["seed"].tolist() == list(range(10, 16))
    assert (pairs["arm"] == "focal").all() and (pairs["comparator"] == "baseline").all()
    np.testing.assert_allclose(pairs["arm_value"] - pairs["comparator_value"], pairs["diff"])
    np.testing.assert_allclose(pairs["diff"], [0.05 + s / 1000 for s in range(10, 16)])
    assert abs(pairs["diff"].mean() - written["mean"].iloc[0]) < 1e-12
    assert (pairs["fingerprint"] == "A").all() and (pairs["endpoint"] == "miou").all()


def test_the_summary_counts_the_confirmation_s_runs_and_names_its_tables(tmp_path):
    from owslib import notebook

    _study(tmp_path)
    results = tmp_path / "results"
    for s in range(10, 13):  # half of the 6 fresh seeds, both arms
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.55)
    _run(results, "focal", 13, 0.55)
    overview = notebook.study_overview(results, study_file=tmp_path / "study.json")
    assert (overview["confirming_done"], overview["confirming_expected"]) == (7, 12)
    intro = notebook.summary_intro(overview)
    assert "confirmation 7 of 12 (fresh seeds 10–15, the arms picked so far)" in intro
    assert (
        "`confirmatory.csv` (its pairs seed by seed in `confirmatory_pairs.csv`), `power.csv` and "
        "`exploratory.csv`" in intro
    )


def test_a_difference_that_rounds_to_zero_reads_plus_zero():
    from owslib.study.sentences import signed

    assert signed(-0.0002) == signed(0.0) == "+0.000" and signed(-0.0006) == "−0.001"


def test_each_question_s_section_says_its_confirmation_before_its_screening(tmp_path):
    from owslib import notebook

    results = _confirmed_better(tmp_path)
    for s in (0, 1, 2):  # the screening
        _run(results, "baseline", s, 0.5)
        _run(results, "focal", s, 0.52 + s / 100)
    study_file = tmp_path / "study.json"
    overview = notebook.study_overview(results, study_file=study_file)
    ans = notebook.answers(results, None, study_file)
    (section,) = notebook.summary_sections(overview, ans["table"])
    confirmation = section.index("**Confirmation** (fresh seeds; the answer): focal is better than")
    assert (
        confirmation < section.index("**Screening** (exploratory):") < section.index("| `focal` |")
    )
    assert "**Confirmation**" not in notebook.summary_sections(overview)[0]  # without the answers


def test_the_exploratory_display_shows_scorers_that_compute_one_score_once():
    from owslib.study.answers import exploratory_top

    row = {
        "variant": "v",
        "metric": "auroc",
        "aggregation": "pooled",
        "n_pairs": 3,
        "mean": 0.01,
        "lo": 0.0,
        "hi": 0.02,
        "p": 0.01,
        "q_bh": 0.2,
        "notebook": "nb",
        "baseline": "b",
    }
    ex = pd.DataFrame(
        [
            row | {"scorer": "gaussian"},
            row | {"scorer": "gaussian_per_dim"},  # the same numbers: one row
            row | {"scorer": "fused", "mean": 0.011},  # one number differs: its own row
            row | {"scorer": "gaussian", "aggregation": "per_image", "q_bh": 0.01},  # not pooled
            row | {"scorer": "", "metric": "miou", "aggregation": "", "q_bh": 0.1},
        ]
    )
    top = exploratory_top(ex)
    assert list(top.columns) == list(ex.columns) and list(top.index) == [0, 1, 2]
    assert top["scorer"].tolist() == ["", "gaussian = gaussian_per_dim", "fused"]  # by q, stable
    assert top["mean"].tolist() == [0.01, 0.01, 0.011]
    assert len(exploratory_top(ex, n=1)) == 1 and exploratory_top(ex.iloc[:0]).empty
