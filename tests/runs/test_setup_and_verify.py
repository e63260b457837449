"""The study's declared setup: runs trained in it in processes of their own (``--jobs``), each
``run.json`` with its setup and fingerprint, ``--verify`` bit for bit, and the study file's new
fields validated."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

import owslib
from owslib.__main__ import main
from owslib.runs.setup import ISA_CAPS, Setup, fingerprint, parse_setup, source_sha256
from owslib.study.studyfile import StudyError, load_study, run_dir

SETUP = {"precision": "float32", "isa": "avx2", "threads": 1}


def _study(tmp_path: Path, smoke_root: Path, **extra) -> Path:
    spec = {
        "profile": "smoke",
        "seeds": [0, 1],
        "setup": SETUP,
        "variants": {
            "baseline": {"description": "b", "overrides": {"data__root": str(smoke_root)}},
            "focal": {
                "description": "f",
                "overrides": {"data__root": str(smoke_root), "loss__semantic": "focal"},
            },
        },
        "notebooks": [{"name": "03_loss_ablations", "variants": ["baseline", "focal"]}],
        **extra,
    }
    path = tmp_path / "study.json"
    path.write_text(json.dumps(spec))
    return path


def test_the_setup_names_its_environment_and_config():
    s = Setup("float32", "avx2", 1)
    assert s.overrides() == {"train__amp": False, "eval__amp": False}
    env = s.environment()
    assert {k: env[k] for k in ISA_CAPS["avx2"]} == ISA_CAPS["avx2"]
    assert env["OMP_NUM_THREADS"] == "1" and env["OWSLIB_IN_SETUP"] == "1"
    assert not Setup().declared and s.declared


@pytest.mark.parametrize(
    "spec, key",
    [
        ({"precision": "fp16"}, "precision"),
        ({"isa": "avx9"}, "isa"),
        ({"threads": -1}, "threads"),
        ({"cores": 2}, "cores"),
    ],
)
def test_a_bad_setup_is_refused_by_name(spec, key):
    with pytest.raises(ValueError, match=key):
        parse_setup("study.json: setup", spec)


def test_the_source_hash_ignores_docstrings_comments_and_imports(tmp_path):
    pkg = tmp_path / "owslib"
    (pkg / "losses").mkdir(parents=True)
    (pkg / "losses" / "a.py").write_text('"""doc"""\nimport os\ndef f(x):\n    return x + 1\n')
    before = source_sha256(pkg)
    (pkg / "losses" / "a.py").write_text(
        '"""other"""\nimport sys  # moved\n\ndef f(x):\n'
        '    """says what"""\n    return x + 1  # same\n'
    )
    assert source_sha256(pkg) == before
    (pkg / "losses" / "a.py").write_text("def f(x):\n    return x + 2\n")
    assert source_sha256(pkg) != before
    assert fingerprint({"a": 1}) != fingerprint({"a": 2}) and len(fingerprint({})) == 16


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="compares with Python 3.11's ast.dump")
def test_the_source_hash_is_the_one_python_3_11_computes():
    from owslib.runs.setup import COMPUTING_PARTS, _dump, _normalised

    root = Path(owslib.__file__).parent
    files = [
        p
        for part in COMPUTING_PARTS
        for p in ([root / part] if part.endswith(".py") else (root / part).rglob("*.py"))
    ]
    assert len(files) > 50
    for path in files:  # the committed runs' code hashes were computed with 3.11's ast.dump
        tree = ast.parse(path.read_text())
        assert _dump(tree) == ast.dump(tree), path
    expected = (
        "Module(body=[Assign(targets=[Name(id='x', ctx=Store())], "
        "value=Constant(value=None))], type_ignores=[])"
    )
    assert _normalised("x = None\n") == expected  # a None that is a value is kept


def test_the_source_hash_leaves_out_what_later_pythons_add_to_the_syntax_tree(monkeypatch):
    from owslib.runs.setup import _dump

    tree = ast.parse("def f(x, *, y=1) -> int:\n    return x\nclass C:\n    pass\n")
    before = _dump(tree)
    for cls, node in ((ast.FunctionDef, tree.body[0]), (ast.ClassDef, tree.body[1])):
        monkeypatch.setattr(cls, "_fields", (*cls._fields, "type_params"))  # Python 3.12
        node.type_params = []
    assert "type_params" in ast.dump(tree) and _dump(tree) == before


def test_runs_train_in_the_setup_in_processes_of_their_own_and_verify_bit_for_bit(
    tmp_path, smoke_root, monkeypatch, capsys, caplog
):
    caplog.set_level("INFO", logger="owslib")
    monkeypatch.setenv("OWSLIB_CACHE", str(tmp_path / "cache"))
    for k in (*ISA_CAPS["avx2"], "OMP_NUM_THREADS", "OWSLIB_IN_SETUP"):
        monkeypatch.delenv(k, raising=False)
    path = _study(tmp_path, smoke_root)
    results = tmp_path / "results"
    assert (
        main(
            [
                "study",
                "--study",
                str(path),
                "--results",
                str(results),
                "--train-only",
                "--seeds",
                "0",
                "--jobs",
                "2",
            ]
        )
        == 0
    )
    infos = {
        v: json.loads((run_dir(results, "smoke", v, 0) / "run.json").read_text())
        for v in ("baseline", "focal")
    }
    for info in infos.values():
        assert info["status"] == "finished"
        assert info["setup"]["precision"] == "float32" and info["setup"]["isa"] == "avx2"
        assert info["setup"]["threads"] == 1 and info["cpu_isa_caps"] == ISA_CAPS["avx2"]
        assert info["fingerprint"] == fingerprint(info["setup"])
    assert (
        run_dir(results, "smoke", "focal", 0) / "explorer.npz"
    ).is_file()  # no checkpoint needed
    assert infos["baseline"]["fingerprint"] == infos["focal"]["fingerprint"]  # one setup
    assert "[focal s0]" in caplog.text and "[baseline s0]" in caplog.text  # told apart

    import shutil

    from owslib.study import verify

    real, kept = verify.train_in_setup, tmp_path / "retrained"

    def keeping(study, job, overrides):  # the retrained run, kept for the second check
        outcome = real(study, job, overrides)
        shutil.copytree(job.path, kept)
        return outcome

    monkeypatch.setattr(verify, "train_in_setup", keeping)
    capsys.readouterr()
    assert (
        main(
            ["study", "--study", str(path), "--results", str(results), "--verify", "baseline/seed0"]
        )
        == 0
    )
    assert "baseline/seed0: bit-identical" in capsys.readouterr().out
    # it says what the committed run cost, and its run process (an empty folder) calls its ETA a guess
    assert (
        "baseline/seed0: retraining in its recorded setup (float32, ISA avx2, 1 thread(s)); "
        "the committed run took" in caplog.text
    )
    assert "a guess: no finished run here to measure from" in caplog.text

    # a committed number changed by hand is caught, by key (against the same retrained run: the
    # retraining is deterministic, as the check above shows, so it is not trained again here)
    def retrained(study, job, overrides):
        shutil.copytree(kept, job.path)
        return "trained"

    monkeypatch.setattr(verify, "train_in_setup", retrained)
    metrics_file = run_dir(results, "smoke", "baseline", 0) / "metrics.json"
    metrics = json.loads(metrics_file.read_text())
    metrics["miou"] += 1e-9
    metrics_file.write_text(json.dumps(metrics))
    assert (
        main(
            ["study", "--study", str(path), "--results", str(results), "--verify", "baseline/seed0"]
        )
        == 1
    )
    assert "differs at metrics.json miou" in capsys.readouterr().out


@pytest.mark.parametrize(
    "confirmatory, match",
    [
        ({"seeds": [0, 7], "questions": []}, "fresh seeds"),
        (
            {
                "seeds": [7],
                "questions": [
                    {"notebook": "03_loss_ablations", "endpoint": "mIoU", "margin": 0.02}
                ],
            },
            "not a compared metric",
        ),
        (
            {
                "seeds": [7],
                "questions": [
                    {
                        "notebook": "03_loss_ablations",
                        "endpoint": "aupr/fused/everywhere",
                        "margin": 0.02,
                    }
                ],
            },
            "aggregation",
        ),
        (
            {
                "seeds": [7],
                "questions": [{"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0}],
            },
            "margin",
        ),
        (
            {
                "seeds": [7],
                "questions": [
                    {
                        "notebook": "03_loss_ablations",
                        "endpoint": "miou",
                        "margin": 0.02,
                        "rule": "cherry_pick",
                    }
                ],
            },
            "rule",
        ),
        (
            {
                "seeds": [7],
                "questions": [
                    {
                        "notebook": "03_loss_ablations",
                        "endpoint": "miou",
                        "margin": 0.02,
                        "alpha": 0.1,
                    }
                ],
            },
            "unknown keys",
        ),
        ({"seeds": [7], "power": 0.8, "margins": {}}, "unknown keys"),
        (
            {
                "seeds": [7],
                "questions": [{"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0.02}]
                * 2,
            },
            "one question per notebook",
        ),
        (
            {
                "seeds": [7],
                "questions": [
                    {"notebook": "03_loss_ablations", "endpoint": "miou", "margin": True}
                ],
            },
            "margin",
        ),
        (
            {
                "seeds": [7],
                "questions": [
                    {
                        "notebook": "03_loss_ablations",
                        "endpoint": "miou",
                        "margin": 0.02,
                        "rule": "head_to_head",
                        "arms": ["focal", "focal"],
                    }
                ],
            },
            "two different variants",
        ),
        (
            {
                "seeds": [7],
                "questions": [
                    {
                        "notebook": "03_loss_ablations",
                        "endpoint": "miou",
                        "margin": 0.02,
                        "higher_is_better": "yes",
                    }
                ],
            },
            "true or false",
        ),
        ({"seeds": [7, 7], "questions": []}, "distinct integers"),
        ({"seeds": [7], "alpha": 1.5, "questions": []}, "alpha"),
        ({"seeds": [7], "power": 0, "questions": []}, "power"),
    ],
)
def test_the_confirmatory_declaration_is_validated(tmp_path, smoke_root, confirmatory, match):
    path = _study(tmp_path, smoke_root, confirmatory=confirmatory)
    with pytest.raises(StudyError, match=match):
        load_study(path)


def test_jobs_auto_takes_what_the_cores_and_the_memory_hold(tmp_path, capsys, smoke_root):
    from owslib.runs.setup import auto_jobs, available_memory

    gb = 1024**3
    assert auto_jobs(1, cores=16, memory=64 * gb) == 16  # one-thread runs: one per core
    assert auto_jobs(1, cores=16, memory=9 * gb) == 4  # 2 GB a run
    assert auto_jobs(4, cores=16, memory=None) == 4  # memory unknown: the cores decide
    assert auto_jobs(0, cores=16, memory=64 * gb) == 1  # torch's default threads: every core
    assert auto_jobs(1, cores=2, memory=gb) == 1  # never fewer than one
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24000000 kB\nMemAvailable:   20971520 kB\n")
    assert available_memory(meminfo) == 20 * gb
    # the runner says what it chose (and its estimate counts it)
    assert (
        main(
            [
                "study",
                "--study",
                str(_study(tmp_path, smoke_root)),
                "--jobs",
                "auto",
                "--results",
                str(tmp_path / "results"),
                "--dry-run",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    n = auto_jobs(1)
    assert out.startswith(f"--jobs auto: {n} at a time (") and "1 thread(s) a run" in out
    for bad in ("0", "-2", "many"):
        with pytest.raises(SystemExit):
            main(["study", "--jobs", bad, "--dry-run"])
    assert "a whole number ≥ 1, or auto" in capsys.readouterr().err


def test_confirming_runs_come_after_the_screening_on_fresh_seeds(tmp_path, smoke_root):
    from owslib.study.plan import planned_runs

    conf = {
        "seeds": [7, 8],
        "questions": [
            {
                "notebook": "03_loss_ablations",
                "endpoint": "miou",
                "margin": 0.02,
                "rule": "head_to_head",
                "arms": ["focal", "baseline"],
            }
        ],
    }
    study = load_study(_study(tmp_path, smoke_root, confirmatory=conf))
    assert study.config("focal", 7).train.amp is False  # the setup's precision, every run
    all_jobs = [(j.variant, j.seed) for j in planned_runs(study, tmp_path / "results")]
    assert all_jobs[:4] == [("baseline", 0), ("focal", 0), ("baseline", 1), ("focal", 1)]
    assert all_jobs[4:] == [("focal", 7), ("baseline", 7), ("focal", 8), ("baseline", 8)]
    screening = [
        (j.variant, j.seed) for j in planned_runs(study, tmp_path / "r", phase="screening")
    ]
    assert screening == all_jobs[:4]


def test_another_profile_narrows_the_confirming_seeds_to_some_declared_ones(tmp_path, smoke_root):
    conf = {"seeds": [7, 8, 9], "questions": []}
    path = _study(
        tmp_path, smoke_root, confirmatory=conf, profiles={"quick": {"confirmatory_seeds": [7]}}
    )
    assert load_study(path).confirmatory.seeds == (7, 8, 9)  # the declared study: all of them
    assert load_study(path, profile="quick").confirmatory.seeds == (7,)
    for profile, seeds, match in [
        ("smoke", [7], "own profile confirms on every pre-registered seed"),
        ("quick", [1, 7], "distinct seeds of the confirmation's"),  # 1: not a confirming seed
        ("quick", [500], "distinct seeds of the confirmation's"),
        ("quick", [7, 7], "distinct seeds of the confirmation's"),
        ("quick", 7, "distinct seeds of the confirmation's"),
    ]:
        path = _study(
            tmp_path,
            smoke_root,
            confirmatory=conf,
            profiles={profile: {"confirmatory_seeds": seeds}},
        )
        with pytest.raises(StudyError, match=f"profiles.{profile}.confirmatory_seeds.*{match}"):
            load_study(path, profile=profile)
    path = _study(tmp_path, smoke_root, profiles={"quick": {"confirmatory_seeds": [7]}})
    with pytest.raises(StudyError, match="declares no confirmation to narrow"):
        load_study(path, profile="quick")
    # the project's study: the smoke profile confirms on two seeds, the declared one on all
    project_smoke, project = load_study(profile="smoke"), load_study()
    assert len(project_smoke.confirmatory.seeds) == 2
    assert set(project_smoke.confirmatory.seeds) < set(project.confirmatory.seeds)


def test_the_best_screening_rule_waits_for_the_screening(tmp_path, smoke_root):
    import pandas as pd

    from owslib.study.arms import confirmation_runs
    from owslib.study.confirm import Question, select_arms

    conf = {
        "seeds": [7],
        "questions": [{"notebook": "03_loss_ablations", "endpoint": "miou", "margin": 0.02}],
    }
    study = load_study(_study(tmp_path, smoke_root, confirmatory=conf))
    assert confirmation_runs(study, tmp_path / "results") == {}  # nothing screened yet
    long = pd.DataFrame(
        [
            dict(variant=v, seed=s, metric="miou", scorer="", aggregation="", value=base + 0.01 * s)
            for s in (0, 1)
            for v, base in (("baseline", 0.5), ("focal", 0.6), ("dice", 0.55))
        ]
    )
    q = Question("03_loss_ablations", "miou", 0.02)
    assert select_arms(q, ("baseline", "focal", "dice"), "baseline", long) == ("focal", "baseline")
    q_fpr = Question("03_loss_ablations", "fpr95/fused/pooled", 0.02)
    long_fpr = long.assign(metric="fpr95", scorer="fused", aggregation="pooled")
    # lower is better: dice (+0.05) beats focal (+0.10)
    assert select_arms(q_fpr, ("baseline", "focal", "dice"), "baseline", long_fpr) == (
        "dice",
        "baseline",
    )


def test_a_run_moved_aside_stays_beside_its_own_folder(tmp_path):
    """A stale run of `train --out scratch/runs/x` moves into scratch/runs/_superseded/, not next to
    the first folder named `runs` above it; a study run moves into its results folder's."""
    from owslib.config import load_profile
    from owslib.runs.run import _results_root, _supersede_if_stale

    out = tmp_path / "scratch" / "runs" / "x"
    out.mkdir(parents=True)
    load_profile("smoke", train__lr=0.1).to_json(out / "config.json")
    _supersede_if_stale(out, load_profile("smoke"))
    assert not out.exists()
    (moved,) = (tmp_path / "scratch" / "runs" / "_superseded").glob("*/x-*")
    assert "train__lr" in (moved / "SUPERSEDED.txt").read_text()
    study_run = tmp_path / "results" / "runs" / "quick" / "baseline" / "seed0"
    assert _results_root(study_run) == tmp_path / "results"
