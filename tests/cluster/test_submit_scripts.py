"""The one-command submission scripts (cluster/slurm_study.sh, cluster/pbs_study.sh), run with a
stand-in for sbatch / qsub that records each command: four jobs, arrays sized from the study
file's tasks, each job depending on the one before."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from owslib.paths import STUDY_FILE
from owslib.study.studyfile import load_study
from owslib.study.tasks import study_tasks

REPO = Path(__file__).resolve().parents[2]
FAKE = """#!/bin/bash
echo "$*" >> {log}
n=$(wc -l < {log})
echo "{prefix}$((100 + n)){suffix}"
"""


def _submit(tmp_path, script, variable, prefix="", suffix="", *args):
    tree = tmp_path / "repo"
    tree.mkdir()
    for name in ("owslib", "notebooks"):
        (tree / name).symlink_to(REPO / name)
    (tree / "cluster").symlink_to(REPO / "cluster")
    log = tmp_path / "commands.txt"
    fake = tmp_path / "fake"
    fake.write_text(FAKE.format(log=log, prefix=prefix, suffix=suffix))
    fake.chmod(0o755)
    env = {**os.environ, variable: str(fake), "OWSLIB_PYTHON": sys.executable}
    out = subprocess.run(
        ["bash", str(tree / "cluster" / script), "--profile", "smoke", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert (tree / "logs").is_dir()  # created before submission
    return [shlex.split(line) for line in log.read_text().splitlines()], out.stdout


@pytest.fixture(scope="module")
def sizes():
    study = load_study(STUDY_FILE, profile="smoke")
    return len(study_tasks(study, "screening")), len(study_tasks(study, "confirmation"))


def test_slurm_submits_four_jobs_in_order(tmp_path, sizes):
    cmds, out = _submit(tmp_path, "slurm_study.sh", "SBATCH", "", "", "--", "--partition=cpu")
    assert len(cmds) == 4 and all(c[-3] == "cluster/slurm_study.sbatch" for c in cmds)
    assert [c[-2:] for c in cmds] == [
        [m, "smoke"] for m in ("screening", "pick", "confirmation", "render")
    ]
    screening, pick, confirmation, render = cmds
    assert f"--array=0-{sizes[0] - 1}" in screening and f"--array=0-{sizes[1] - 1}" in confirmation
    assert "--dependency=afterany:101" in pick and "--dependency=afterok:102" in confirmation
    assert "--dependency=afterany:103" in render
    for c in cmds:  # a CPU partition: no GPU asked; one thread, the open mode that appends
        assert "--cpus-per-task=1" in c and "--open-mode=append" in c and "--requeue" in c
        assert not any(a.startswith("--gres") for a in c) and "--partition=cpu" in c
    assert "101" in out and "squeue -j 101,102,103,104" in out


def test_slurm_asks_for_gpus_when_told(tmp_path):
    cmds, _ = _submit(tmp_path, "slurm_study.sh", "SBATCH", "", "", "--gpus", "2")
    assert all("--gres=gpu:2" in c for c in cmds)


def test_pbs_submits_four_jobs_in_order(tmp_path, sizes):
    cmds, _ = _submit(tmp_path, "pbs_study.sh", "QSUB", "", "[].pbs", "--gpus", "1")
    assert all(c[-1] == "cluster/pbs_study.pbs" for c in cmds)
    modes = [c[c.index("-v") + 1].split(",")[0] for c in cmds]
    assert modes == ["MODE=screening", "MODE=pick", "MODE=confirmation", "MODE=render"]
    screening, pick, confirmation, render = cmds
    assert screening[screening.index("-J") + 1] == f"0-{sizes[0] - 1}"
    assert confirmation[confirmation.index("-J") + 1] == f"0-{sizes[1] - 1}"
    assert "-J" not in pick and "-J" not in render
    assert pick[pick.index("-W") + 1] == "depend=afterany:101[].pbs"
    assert confirmation[confirmation.index("-W") + 1] == "depend=afterok:102[].pbs"
    assert render[render.index("-W") + 1] == "depend=afterany:103[].pbs"
    assert all("select=1:ncpus=1:mem=2gb:ngpus=1" in c for c in cmds)
