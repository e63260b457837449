"""The study file: validation, the runs it implies, array indexing, reuse and retry of runs."""

import json
import logging

import pytest

from owslib.study.plan import describe, planned_runs, status, train_runs
from owslib.study.studyfile import StudyError, load_study, run_dir

BASE = {
    "profile": "smoke",
    "seeds": [0, 1],
    "variants": {
        "baseline": {"description": "b", "overrides": {}},
        "focal": {"description": "f", "overrides": {"loss__semantic": "focal"}},
        "dice": {"description": "d", "overrides": {"loss__semantic": "dice"}},
    },
    "notebooks": [
        {"name": "01_baseline_contmav", "variants": ["baseline"]},
        {"name": "03_loss_ablations", "variants": ["baseline", "focal", "dice"]},
    ],
}


def _write(tmp_path, spec, text=None):
    p = tmp_path / "study.json"
    p.write_text(text if text is not None else json.dumps(spec))
    return p


def test_the_committed_study_file_is_valid():
    from owslib.study.execute import NOTEBOOK_DIR

    study = load_study(notebook_dir=NOTEBOOK_DIR)
    assert study.seeds == (0, 1, 2) and "baseline" in study.variants
    assert study.notebook_names[0] == "00_data_prep" and study.notebook_names[-1] == "06_summary"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s: s.update(extra=1), "unknown keys \\['extra'\\]"),
        (lambda s: s["variants"]["focal"].update(overide={}), "variant 'focal': unknown keys"),
        (
            lambda s: s["variants"]["focal"]["overrides"].update(loss__semantik="x"),
            "loss__semantik",
        ),
        (lambda s: s["notebooks"][1]["variants"].append("nope"), "unknown or repeated variants"),
        (lambda s: s["notebooks"].append({"name": "03_loss_ablations"}), "duplicate name"),
        (lambda s: s["variants"].pop("baseline"), "no 'baseline' variant"),
        (lambda s: s.update(seeds=[0, 0]), "distinct integers"),
    ],
)
def test_validation_names_the_problem(tmp_path, change, match):
    spec = json.loads(json.dumps(BASE))
    change(spec)
    with pytest.raises(StudyError, match=match):
        load_study(_write(tmp_path, spec))


def test_duplicate_json_keys_are_refused(tmp_path):
    text = json.dumps(BASE).replace('"dice": {', '"focal": {"description": "again"}, "dice": {')
    with pytest.raises(StudyError, match="duplicate key 'focal'"):
        load_study(_write(tmp_path, None, text))


def test_runs_are_shared_and_indexed_once_each(tmp_path):
    study = load_study(_write(tmp_path, BASE))
    runs = study.runs()
    assert runs == [
        ("baseline", 0),
        ("baseline", 1),
        ("focal", 0),
        ("dice", 0),
        ("focal", 1),
        ("dice", 1),
    ]
    all_jobs = planned_runs(study, tmp_path / "results")
    assert len({(j.variant, j.seed) for j in all_jobs}) == len(all_jobs) == 6  # one index per run
    assert all_jobs[2].path == run_dir(tmp_path / "results", "smoke", "focal", 0)
    assert [j.variant for j in planned_runs(study, tmp_path, only=("focal",))] == ["focal", "focal"]
    assert [j.seed for j in planned_runs(study, tmp_path, seeds=(1,))] == [1, 1, 1]
    assert len(planned_runs(study, tmp_path, only=("01_baseline_contmav",))) == 2
    with pytest.raises(ValueError, match="neither a notebook"):
        planned_runs(study, tmp_path, only=("nope",))
    assert describe(study, all_jobs)[-1].startswith("# 6 runs, 6 to train")
    assert study.config("focal", 1).loss.semantic == "focal"
    assert study.config("focal", 1).train.seed == 1


def test_finished_runs_are_reused_failed_ones_retried_on_request(tmp_path, monkeypatch, caplog):
    import owslib.study.processes as study_runs

    study = load_study(_write(tmp_path, BASE))
    all_jobs = planned_runs(study, tmp_path / "results")[:3]
    calls = []

    def fake_run(cfg, path, **kw):
        calls.append(path.parent.name)
        path.mkdir(parents=True, exist_ok=True)
        cfg.to_json(path / "config.json")
        if path.parent.name == "focal":
            (path / "run.json").write_text(json.dumps({"status": "failed"}))
            raise RuntimeError("boom")
        (path / "metrics.json").write_text("{}")
        (path / "run.json").write_text(json.dumps({"status": "finished", "train_s": 5.0}))

    monkeypatch.setattr(study_runs, "run_experiment", fake_run)
    with caplog.at_level(logging.INFO, logger="owslib.study.plan"):
        out = train_runs(study, all_jobs)
    assert out["trained"] == ["baseline seed 0", "baseline seed 1"] and out["failed"] == [
        "focal seed 0"
    ]
    # from the second run on, the time left is scaled to the runs this process trained
    assert caplog.text.count("this host at 1.00× the finished runs' time") == 2
    assert [status(study, j) for j in all_jobs] == ["finished", "finished", "failed"]
    calls.clear()
    out = train_runs(study, all_jobs)  # finished: reused; failed: skipped
    assert calls == [] and out["skipped"] == ["focal seed 0"] and len(out["reused"]) == 2
    out = train_runs(study, all_jobs, rerun_failed=True)
    assert calls == ["focal"] and out["failed"] == ["focal seed 0"]
    calls.clear()
    out = train_runs(study, all_jobs, force=True)  # every run again, the old ones moved aside
    assert calls == ["baseline", "baseline", "focal"] and len(out["trained"]) == 2
    notes = (tmp_path / "results" / "_superseded").glob("*/*/SUPERSEDED.txt")
    moved = sorted(p.parent.parent.name for p in notes)
    assert moved == ["baseline", "baseline", "focal"]


def test_a_stale_run_is_moved_aside_only_when_its_retraining_starts(tmp_path, monkeypatch):
    """Interrupting a retraining leaves the stale runs not yet reached where they were."""
    import owslib.study.processes as study_runs

    study = load_study(_write(tmp_path, BASE))
    first, second = planned_runs(study, tmp_path / "results")[:2]
    for job in (first, second):  # finished runs of another training config
        job.path.mkdir(parents=True)
        cfg = study.config(job.variant, job.seed)
        cfg.to_json(job.path / "config.json")
        (job.path / "metrics.json").write_text("{}")
        (job.path / "run.json").write_text(json.dumps({"status": "finished", "train_s": 5.0}))
        config = json.loads((job.path / "config.json").read_text())
        config["train"]["lr"] = 0.123
        (job.path / "config.json").write_text(json.dumps(config))
    seen = []

    def fake_run(cfg, path, **kw):
        seen.append((path.exists(), second.path.exists()))
        if path == first.path:
            raise KeyboardInterrupt  # the study is interrupted during its first retraining

    monkeypatch.setattr(study_runs, "run_experiment", fake_run)
    with pytest.raises(KeyboardInterrupt):
        train_runs(study, [first, second])
    assert seen == [(False, True)]  # the first moved aside, the second untouched
    assert status(study, second) == "stale" and (second.path / "metrics.json").is_file()
    (moved,) = (tmp_path / "results" / "_superseded" / first.variant).iterdir()
    assert "train__lr" in (moved / "SUPERSEDED.txt").read_text()


def test_grid_run_names_are_unique_and_grid_values_cannot_be_overridden(tmp_path):
    from owslib.__main__ import main
    from owslib.study.execute import ParameterError, load_grid

    grid = tmp_path / "g.json"
    grid.write_text(
        json.dumps(
            {
                "notebook": "00_data_prep",
                "parameters": {"run_name": "exp"},
                "grid": {"n_samples": [1, 2], "profile": ["smoke"]},
            }
        )
    )
    names = [name for _, name, _ in load_grid(grid)]
    assert names == ["exp_n_samples-1_profile-smoke", "exp_n_samples-2_profile-smoke"]
    assert len(set(names)) == len(names)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"notebook": "00_data_prep", "grid": {"run_name": ["a", "b"]}}))
    with pytest.raises(ParameterError, match="run_name"):
        load_grid(bad)
    assert main(["study", "--grid", str(grid), "--index", "0", "-p", "n_samples=3"]) == 2


def test_notebook_config_keys_are_strict():
    from owslib.config import ConfigError
    from owslib.study.kernel import resolve_config

    with pytest.raises(ConfigError, match="loss__semantik.*did you mean 'loss__semantic'"):
        resolve_config({"profile": "smoke", "loss__semantik": "focal"})
    assert resolve_config({"profile": "smoke", "loss__semantic": "focal"}).loss.semantic == "focal"


def _fake_metrics(miou, auroc):
    agg = {"aupr": auroc / 4, "fpr95": 1 - auroc, "auroc": auroc}
    return {"miou": miou, "anomaly": {"fused": {"pooled": dict(agg), "per_image": dict(agg)}}}


def _fake_tree(tmp_path, vary_focal=False):
    """Three seeds of baseline, focal (+0.05 mIoU, -0.10 AUROC) and dice (as the baseline)."""
    results = tmp_path / "results"
    values = {"baseline": (0.50, 0.90), "focal": (0.55, 0.80), "dice": (0.50, 0.90)}
    for variant, (miou, auroc) in values.items():
        for seed in (0, 1, 2):
            d = run_dir(results, "smoke", variant, seed)
            d.mkdir(parents=True)
            jitter = 0.01 * seed
            if vary_focal and variant == "focal":  # a constant difference has no interval
                jitter += (-0.001, 0.002, -0.001)[seed]
            (d / "metrics.json").write_text(
                json.dumps(_fake_metrics(miou + jitter, auroc + jitter))
            )
            (d / "run.json").write_text(json.dumps({"status": "finished"}))
    return results, values


def test_summary_renders_from_a_fake_results_tree(tmp_path):
    from owslib.notebook import study_overview

    spec = json.loads(json.dumps(BASE))
    spec["seeds"] = [0, 1, 2]
    path = _write(tmp_path, spec)
    results, values = _fake_tree(tmp_path, vary_focal=True)
    out = study_overview(results, study_file=path)
    long = out["long"]
    assert out["runs_done"] == out["runs_expected"] == 9
    assert (results / "summary" / "smoke" / "all_runs.csv").is_file()
    assert set(long["variant"]) == set(values) and len(long) == 9 * 7
    floor = out["noise_floor"].set_index(["metric", "scorer", "aggregation"])
    assert floor.loc[("miou", "", ""), "std"] == pytest.approx(0.01)
    (section,) = [s for s in out["sections"] if s["notebook"] == "03_loss_ablations"]
    # focal: +0.05 mIoU at every seed (for focal), -0.10 AUROC (for the baseline); dice: identical;
    # said as what the interval favours, uncorrected (exploratory), never "better" or "worse"
    focal, dice = section["findings"].split("\n")
    assert focal.startswith("- **focal**: miou Δ +0.050") and "(favours focal, uncorrected" in focal
    assert "auroc/fused/pooled Δ -0.100" in focal and "(favours baseline, uncorrected" in focal
    assert dice.startswith("- **dice**: miou Δ +0.000") and "(interval includes 0" in dice
    assert "better" not in section["findings"] and "worse" not in section["findings"]
    assert section["rendered"].endswith("03_loss_ablations/smoke/03_loss_ablations.ipynb")
    # a run still being written (its metrics.json comes before run.json says finished) is left out
    (run_dir(results, "smoke", "dice", 2) / "run.json").write_text('{"status": "running"}')
    again = study_overview(results, study_file=path)
    assert again["runs_done"] == 8 and len(again["long"]) == 8 * 7


@pytest.mark.parametrize("contrast", [["focal"], ["focal", "focal"], ["focal", "ghost"]])
def test_a_contrast_names_two_different_variants_of_its_notebook(tmp_path, contrast):
    from owslib.study.studyfile import StudyError

    spec = json.loads(json.dumps(BASE))
    spec["notebooks"][1]["contrast"] = contrast
    with pytest.raises(StudyError, match="contrast"):
        load_study(_write(tmp_path, spec))


def test_the_summary_states_a_contrast_head_to_head(tmp_path):
    from owslib.notebook import study_overview

    spec = json.loads(json.dumps(BASE))
    spec["seeds"] = [0, 1, 2]
    spec["notebooks"][1]["contrast"] = ["dice", "focal"]
    path = _write(tmp_path, spec)
    results, values = _fake_tree(tmp_path, vary_focal=True)
    (section,) = [
        s
        for s in study_overview(results, study_file=path)["sections"]
        if s["notebook"] == "03_loss_ablations"
    ]
    # dice - focal: -0.05 mIoU (worse), +0.10 AUROC (better), each with its paired SD
    text = section["contrast"]
    assert text.startswith("- **dice against focal** (Δ = dice − focal): miou Δ -0.050")
    assert "auroc/fused/pooled Δ +0.100 [" in text and "(favours dice, uncorrected" in text
    # the paired SD comes from focal's jitter (0.0017), not from the baseline's σ (0.010)
    assert "(favours focal, uncorrected; SD of the paired differences 0.002)" in text


def _with_ablation(**ablation):
    """BASE plus a variant ``focal_dice`` and 03's ablation of ``focal`` (``ablation`` overrides)."""
    spec = json.loads(json.dumps(BASE))
    spec["variants"]["focal_dice"] = {
        "description": "fd",
        "overrides": {"loss__semantic": "focal+dice"},
    }
    spec["notebooks"][1]["ablation"] = {"of": "focal", "variants": ["focal_dice"], **ablation}
    return spec


@pytest.mark.parametrize(
    ("ablation", "match"),
    [
        ({"of": "ghost"}, "ablation.of must name a variant of the study file, got 'ghost'"),
        ({"of": "focal_dice"}, "offending: \\['focal_dice'\\]"),  # its own `of`
        ({"variants": ["nope"]}, "offending: \\['nope'\\]"),
        ({"variants": ["dice"]}, "none of the notebook's own.*offending: \\['dice'\\]"),
        ({"variants": ["focal_dice", "focal_dice"]}, "none repeated"),
        ({"variants": []}, "ablation.variants must be known variants"),
        ({"baseline": "focal"}, "ablation: unknown keys \\['baseline'\\]"),
    ],
)
def test_an_ablation_is_validated(tmp_path, ablation, match):
    with pytest.raises(StudyError, match=match):
        load_study(_write(tmp_path, _with_ablation(**ablation)))


def test_an_ablation_trains_with_its_notebook_and_narrows_with_a_profile(tmp_path):
    study = load_study(_write(tmp_path, _with_ablation(question="q?")))
    spec = study.notebook("03_loss_ablations")
    assert spec.variants == ("baseline", "focal", "dice")  # the comparison itself is unchanged
    assert spec.ablation.of == "focal" and spec.ablation.question == "q?"
    assert spec.run_variants == ("baseline", "focal", "dice", "focal_dice")
    assert ("focal_dice", 0) in study.runs() and ("focal_dice", 1) in study.runs()
    assert [j.variant for j in planned_runs(study, tmp_path, only=("03_loss_ablations",))].count(
        "focal_dice"
    ) == 2
    narrowed = _with_ablation()
    narrowed["profiles"] = {"smoke": {"variants": ["baseline", "focal", "dice"]}}
    assert load_study(_write(tmp_path, narrowed)).notebook("03_loss_ablations").ablation is None
    narrowed["profiles"] = {"smoke": {"variants": ["baseline", "dice", "focal_dice"]}}  # no `of`
    assert load_study(_write(tmp_path, narrowed)).notebook("03_loss_ablations").ablation is None
    narrowed["profiles"] = {"smoke": {"variants": ["baseline", "focal", "focal_dice"]}}
    kept = load_study(_write(tmp_path, narrowed)).notebook("03_loss_ablations").ablation
    assert kept.variants == ("focal_dice",)


def _ablation_tree(tmp_path):
    """The fake tree, and focal_dice = focal + 0.02 mIoU at seeds 0 and 1 (seed 2 still training:
    a partial history, no metrics); a history and a run.json per run."""
    import pandas as pd

    results, values = _fake_tree(tmp_path)
    for seed in (0, 1, 2):
        d = run_dir(results, "smoke", "focal_dice", seed)
        d.mkdir(parents=True)
        if seed < 2:
            metrics = _fake_metrics(0.57 + 0.01 * seed, 0.80 + 0.01 * seed)
            (d / "metrics.json").write_text(json.dumps(metrics))
        for v in ("focal", "focal_dice"):
            hist = pd.DataFrame({"epoch": [0, 1], "train_hard": [0.0, 0.5 + 0.1 * seed]})
            hist.to_csv(run_dir(results, "smoke", v, seed) / "history.csv", index=False)
            status = "running" if (v, seed) == ("focal_dice", 2) else "finished"
            (run_dir(results, "smoke", v, seed) / "run.json").write_text(
                json.dumps({"status": status})
            )
    return results


def test_the_summary_states_an_ablation_against_its_variant(tmp_path):
    from owslib.notebook import study_overview

    spec = _with_ablation(question="Does Dice help focal?")
    spec["seeds"] = [0, 1, 2]
    results = _ablation_tree(tmp_path)
    out = study_overview(results, study_file=_write(tmp_path, spec))
    assert (out["runs_done"], out["runs_expected"]) == (11, 12)
    (section,) = [s for s in out["sections"] if s["notebook"] == "03_loss_ablations"]
    assert "focal_dice" not in section["findings"]  # compared with `of`, not with the baseline
    assert section["ablation_question"] == "Does Dice help focal?"
    assert section["ablation"].startswith("- **focal_dice**: miou Δ +0.020")
    assert "auroc/fused/pooled Δ +0.000" in section["ablation"]


def test_a_notebooks_ablation_view_compares_with_its_variant(tmp_path):
    from owslib import notebook

    spec = _with_ablation()
    spec["seeds"] = [0, 1, 2]
    results = _ablation_tree(tmp_path)
    nb = notebook.setup(
        {"study_file": str(_write(tmp_path, spec)), "results_dir": str(results)},
        "03_loss_ablations",
    )
    assert [d for d in nb.descriptions()["variant"]][-1] == "focal_dice"
    abl = nb.ablation()
    assert abl.baseline == "focal" and abl.spec.variants == ("focal", "focal_dice")
    assert abl.out_dir == nb.out_dir / "ablation"
    table = abl.table("fused")
    assert (abl.out_dir / "comparison.md").is_file() and not (nb.out_dir / "comparison.md").exists()
    row = table[table["variant"] == "focal_dice"].iloc[0]
    assert row["miou Δ [lo, hi]"] == "+0.020 [+0.020, +0.020]"
    last = abl.last_epoch_table(("hard", "absent"))
    # the run still training is not read (its history is partial)
    assert last.set_index("variant").loc["focal_dice", "hard"] == "0.550 ± 0.071"
    assert last.set_index("variant").loc["focal_dice", "n"] == 2
    assert last.set_index("variant").loc["focal", "absent"] == "—"
    assert (abl.out_dir / "last_epoch.md").is_file()
    no_ablation = notebook.setup(
        {"study_file": str(_write(tmp_path, BASE)), "results_dir": str(results)},
        "03_loss_ablations",
    )
    assert no_ablation.ablation() is None


def test_setups_tell_whether_each_pair_started_from_the_same_encoder(tmp_path):
    from owslib import notebook

    spec = _with_ablation()
    spec["seeds"] = [0, 1, 2]
    results = _ablation_tree(tmp_path)

    def write_info(variant, seed, sha, **extra):
        info = {
            "status": "finished",
            "encoder_sha256": sha,
            "cpu": "EPYC",
            "cpu_capability": "AVX2",
            "device": "cpu",
            **extra,
        }
        (run_dir(results, "smoke", variant, seed) / "run.json").write_text(json.dumps(info))

    for seed in (0, 1):
        write_info("focal", seed, "a" * 64)
        write_info(
            "focal_dice",
            seed,
            "a" * 64,
            cpu_capability="AVX2",
            cpu_isa_caps={"ONEDNN_MAX_CPU_ISA": "AVX2"},
        )
    write_info("focal", 2, "a" * 64)  # focal_dice seed 2 is still running: not listed
    nb = notebook.setup(
        {"study_file": str(_write(tmp_path, spec)), "results_dir": str(results)},
        "03_loss_ablations",
    )
    abl = nb.ablation()
    table, note = abl.setups()
    assert len(table) == 5 and set(table["encoder"]) == {"a" * 12}
    assert table.set_index(["variant", "seed"]).loc[("focal_dice", 1), "isa"] == (
        "AVX2 (capped: ONEDNN_MAX_CPU_ISA=AVX2)"
    )
    assert "2 machine setups" in note and "same closed-set encoder (aaaaaaaaaaaa…)" in note
    assert (abl.out_dir / "setups.md").is_file()
    write_info("focal_dice", 1, "b" * 64)  # another encoder: its Δ also measures the encoders
    _, note = abl.setups()
    assert "another closed-set encoder than `focal` at the same seed: focal_dice seed 1;" in note
    assert "focal_dice seed 0" not in note
    # an old run.json (no encoder, no threads), and a seed whose baseline has not finished
    (run_dir(results, "smoke", "focal_dice", 1) / "run.json").write_text(
        json.dumps({"status": "finished", "cpu": "EPYC", "cpu_capability": "AVX2", "device": "cpu"})
    )
    write_info("focal_dice", 0, "a" * 64, cpu_threads=1)
    write_info("focal", 0, "a" * 64, cpu_threads=2)
    (run_dir(results, "smoke", "focal", 2) / "run.json").write_text(
        json.dumps({"status": "running"})
    )
    write_info("focal_dice", 2, "a" * 64)
    table, note = abl.setups()
    assert table.set_index(["variant", "seed"]).loc[("focal_dice", 1), "encoder"] == "?"
    assert "Encoder not recorded: focal_dice seed 1." in note
    assert "No finished `focal` run at their seed yet: focal_dice seed 2." in note
    assert "1 or 2 threads" in note and "measures the variant alone" not in note


def test_the_time_estimate_prefers_the_variants_runs_on_this_cpu(tmp_path, monkeypatch):
    from owslib.engine.pretrain import encoder_cache_path
    from owslib.study import estimate
    from owslib.study.estimate import DEFAULT_RUN_S, expected_run_s, finished_runs

    monkeypatch.setattr(estimate, "cpu_info", lambda: {"cpu": "here", "cpu_capability": "AVX2"})
    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OWSLIB_SHIPPED_ENCODERS", str(tmp_path / "none"))
    study = load_study(_write(tmp_path, BASE))
    all_jobs = planned_runs(study, tmp_path / "results")
    by = {(j.variant, j.seed): j for j in all_jobs}
    assert expected_run_s(study, finished_runs(all_jobs), by["focal", 1]) == DEFAULT_RUN_S["smoke"]
    # nothing cached or shipped: the closed-set encoder's pretraining counts first, once
    assert describe(study, all_jobs)[-1] == (
        "# 6 runs, 6 to train: about 58 s (no finished run yet: 8 s a run; first 1 closed-set "
        "encoder(s) to pretrain, about 10 s each)"
    )
    assert describe(study, all_jobs, jobs=2)[-1].startswith("# 6 runs, 6 to train: about 34 s")
    encoder = encoder_cache_path(study.config("baseline", 0), tmp_path / "cache")
    encoder.parent.mkdir(parents=True)
    encoder.write_bytes(b"cached")
    assert describe(study, all_jobs)[-1].endswith("(no finished run yet: 8 s a run)")

    def finish(variant, seed, train_s, cpu):
        d = by[variant, seed].path
        d.mkdir(parents=True)
        (d / "run.json").write_text(
            json.dumps(
                {
                    "status": "finished",
                    "train_s": train_s,
                    "eval_s": 10,
                    "cpu": cpu,
                    "cpu_capability": "AVX2",
                }
            )
        )
        study.config(variant, seed).to_json(d / "config.json")  # a finished run of this config
        (d / "metrics.json").write_text("{}")

    finish("baseline", 0, 90, "elsewhere")
    assert expected_run_s(study, finished_runs(all_jobs), by["focal", 1]) == 100  # any run, any CPU
    finish("focal", 0, 290, "elsewhere")
    assert (
        expected_run_s(study, finished_runs(all_jobs), by["focal", 1]) == 300
    )  # the variant's, any CPU
    finish("baseline", 1, 490, "here")
    assert expected_run_s(study, finished_runs(all_jobs), by["focal", 1]) == 500  # this CPU first
    finish("dice", 0, 690, "here")
    assert (
        expected_run_s(study, finished_runs(all_jobs), by["dice", 1]) == 700
    )  # the variant's on this CPU
    assert expected_run_s(study, finished_runs(all_jobs)) == 600  # no job: every run on this CPU
    # one run alone (`--run`, `--index`) is estimated from the study's finished runs too
    assert expected_run_s(study, finished_runs([by["focal", 1]]), by["focal", 1]) == 600
    # the two missing runs: focal 1 (600, this CPU's median) + dice 1 (700)
    assert describe(study, all_jobs)[-1].startswith("# 6 runs, 2 to train: about 21 min 40 s")
    # a host twice as slow as the one that trained the finished runs (same CPU model): the runs
    # this process trained scale every estimate by their measured / estimated time
    from owslib.study.estimate import host_speed

    slow = [("dice", {"train_s": 1390, "eval_s": 10}), ("baseline", {"train_s": 1000})]
    assert host_speed(study, finished_runs(all_jobs), slow) == 2.0  # 1400 / 700, 1000 / 500
    assert expected_run_s(study, finished_runs(all_jobs), by["focal", 1], slow) == 1200
    assert expected_run_s(study, finished_runs(all_jobs), by["focal", 1], []) == 600


def test_the_dry_run_says_how_far_each_notebook_s_screening_and_confirmation_are(tmp_path):
    from owslib.study.plan import progress

    spec = {
        **BASE,
        "confirmatory": {
            "seeds": [7, 8],
            "questions": [
                {
                    "notebook": "03_loss_ablations",
                    "endpoint": "miou",
                    "margin": 0.02,
                    "rule": "best_screening",
                }
            ],
        },
    }
    study, results = load_study(_write(tmp_path, spec)), tmp_path / "results"

    def finish(variant, seed, miou):
        path = results / "runs" / "smoke" / variant / f"seed{seed}"
        path.mkdir(parents=True)
        study.config(variant, seed).to_json(path / "config.json")
        (path / "run.json").write_text(json.dumps({"status": "finished", "train_s": 1.0}))
        (path / "metrics.json").write_text(json.dumps({"miou": miou}))

    finish("baseline", 0, 0.5)
    finish("focal", 0, 0.6)
    assert progress(study, results) == [
        "# 03_loss_ablations: screening 2/6 runs finished; its confirmation waits: the "
        "screening is unfinished"
    ]
    for v, s, m in (
        ("dice", 0, 0.55),
        ("baseline", 1, 0.5),
        ("focal", 1, 0.62),
        ("dice", 1, 0.5),
        ("focal", 7, 0.6),
    ):
        finish(v, s, m)
    assert progress(study, results) == [  # the rule picked focal; one confirming run is done
        "# 03_loss_ablations: screening 6/6 runs finished; confirmation (focal vs baseline) 1/4"
    ]
    all_jobs = planned_runs(study, results)
    lines = describe(study, all_jobs, results_dir=results)
    assert lines[-2] == progress(study, results)[0] and lines[-1].startswith("# 10 runs, 3 to")
    assert not any(line.startswith("# 03") for line in describe(study, all_jobs))  # --list
