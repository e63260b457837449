"""The README's table of answers is the one ``python -m owslib study --answers README.md`` writes
from the committed runs: no number in it is typed by hand. Checked on the last commit (its README
and its runs' records, taken out of git), so that runs training in the working tree change
nothing."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from owslib.runs.setup import code_identity
from owslib.study.answers import confirmatory_answers
from owslib.study.documents import (
    BLOCK_END,
    BLOCK_START,
    FULL_END,
    FULL_START,
    answers_in_full,
    answers_markdown,
)
from owslib.study.real_answers import REAL_END, REAL_START, REAL_STUDY, real_answers_markdown
from owslib.study.real_scenes import seed_plan
from owslib.study.studyfile import load_study

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=True).stdout


def _extract_committed_runs(tmp_path: Path) -> None:
    """The last commit's run records into ``tmp_path/results`` (JSON: metrics, configs, run.json,
    the arms' picks; the per-image metrics behind the spread over test images)."""
    archive = _git(
        "archive",
        "--format=tar",
        "HEAD",
        "--",
        ":(glob)results/runs/**/*.json",
        ":(glob)results/runs/**/per_image.csv",
    )
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp_path, filter="data")


def test_the_readme_s_answers_are_generated_from_the_committed_runs(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed runs cannot be told from others")
    _extract_committed_runs(tmp_path)
    readme = _git("show", "HEAD:README.md").decode("utf-8")
    table = readme.split(BLOCK_START + "\n", 1)[1].split(BLOCK_END, 1)[0]
    expected = answers_markdown(load_study(), tmp_path / "results", link_from=tmp_path)
    recorded = {
        json.loads(p.read_text()).get("setup", {}).get("source_sha256")
        for p in (tmp_path / "results").glob("runs/*/*/seed*/run.json")
    }
    why = (
        "the code that computes a run changed since the committed runs were trained: they are "
        "stale, and the table with them"
        if code_identity() not in recorded
        else "run `python -m owslib study --answers README.md` and commit the README"
    )
    assert table == expected, f"the README's table of answers is not the committed runs': {why}"


def test_the_answers_in_full_and_the_readme_s_cells_are_generated_and_short(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed runs cannot be told from others")
    _extract_committed_runs(tmp_path)
    docs = _git("show", "HEAD:docs/results.md").decode("utf-8")
    full = docs.split(FULL_START + "\n", 1)[1].split(FULL_END, 1)[0]
    (tmp_path / "docs").mkdir()
    assert full == answers_in_full(load_study(), tmp_path / "results", link_from=tmp_path / "docs")
    # the README's first screen: every cell of the table of answers at most ~160 characters
    readme = _git("show", "HEAD:README.md").decode("utf-8")
    table = readme.split(BLOCK_START + "\n", 1)[1].split(BLOCK_END, 1)[0]
    cells = [c for line in table.splitlines()[2:] for c in line.strip("|").split(" | ")]
    assert len(cells) == 20 and max(len(c.strip()) for c in cells) <= 160


def test_the_readme_s_real_scene_answers_are_generated_from_the_committed_runs(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed runs cannot be told from others")
    _extract_committed_runs(tmp_path)
    readme = _git("show", "HEAD:README.md").decode("utf-8")
    table = readme.split(REAL_START + "\n", 1)[1].split(REAL_END, 1)[0]
    study = load_study(ROOT / REAL_STUDY)
    assert study.replication is not None, "the real-scene study declares its replication"
    assert table == real_answers_markdown(study, tmp_path / "results", link_from=tmp_path), (
        "run `python -m owslib study --study notebooks/real_scenes.json --answers README.md` "
        "and commit the README"
    )
    cells = [c for line in table.splitlines()[2:] for c in line.strip("|").split(" | ")]
    assert len(cells) == 6 * len(study.replication.questions)
    assert max(len(c.strip()) for c in cells) <= 160


def test_the_real_scene_pre_registration_follows_its_rule_on_the_committed_pilot(tmp_path):
    """The declared seeds are what the plan's rule gives on the committed pilot, and each
    question's hypothesis is the embedded answer the committed runs give."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed runs cannot be told from others")
    _extract_committed_runs(tmp_path)
    study = load_study(ROOT / REAL_STUDY)
    rep = study.replication
    plan = seed_plan(study, tmp_path / "results", rep.questions, rep.alpha, rep.power)
    assert list(plan["pilot_seeds"]) == [len(study.seeds)] * len(rep.questions)
    assert len(rep.seeds) == plan["seeds"].max()
    embedded = confirmatory_answers(load_study(), tmp_path / "results").set_index("notebook")
    for q in rep.questions:
        assert embedded.loc[q.question, "verdict"] == q.embedded, q.question
        assert (embedded.loc[q.question, "arm"], embedded.loc[q.question, "comparator"]) == (
            q.arm,
            q.comparator,
        )
