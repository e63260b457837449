"""The README's table of answers is the one ``python -m owslib study --answers README.md`` writes
from the committed runs: no number in it is typed by hand."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from owslib.study.answers import BLOCK_END, BLOCK_START, answers_markdown
from owslib.study.studyfile import load_study

ROOT = Path(__file__).resolve().parents[1]


def _changed_runs() -> str | None:
    """What ``git status`` shows under results/runs (None: not a git checkout)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "results/runs"], cwd=ROOT,
                             capture_output=True, text=True, check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout


def test_the_readme_s_answers_are_generated_from_the_committed_runs():
    changed = _changed_runs()
    if changed is None or changed:  # a clean clone (CI) checks; a study training here differs
        pytest.skip("results/runs differs from the commit (or no git): the README's table is "
                    "checked against committed runs only")  # fmt: skip
    text = (ROOT / "README.md").read_text()
    table = text.split(BLOCK_START + "\n", 1)[1].split(BLOCK_END, 1)[0]
    expected = answers_markdown(load_study(), ROOT / "results", link_from=ROOT)
    assert table == expected, (
        "the README's table of answers is not the committed runs': run "
        "`python -m owslib study --answers README.md`"
    )
