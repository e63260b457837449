"""The ``study`` command's arguments (:func:`register`); what it does is :mod:`owslib.cli.study`."""

from __future__ import annotations

import argparse

from owslib.cli.study import cmd_study
from owslib.paths import STUDY_FILE
from owslib.profiles import PROFILES


def _jobs(text: str) -> int | str:
    """``--jobs``: a whole number ≥ 1, or ``auto`` (resolved once the study's setup is known)."""
    if text == "auto":
        return text
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number ≥ 1, or auto")
    return n


def _index(text: str) -> int | str:
    """``--index``: a task number ≥ 0, or ``all``."""
    if text == "all" or text.isdigit():
        return text
    raise argparse.ArgumentTypeError(f"{text!r}: a task number (0, 1, …) or all")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "study",
        help="train the study's runs (variants x seeds), then render its notebooks into results/",
        description="Train the study file's runs (one per variant and seed; finished ones are "
        "reused, interrupted ones resume), then render its notebooks into the results folder.",
    )
    s.add_argument("--study", default=str(STUDY_FILE), help="the study file")
    s.add_argument(
        "--profile",
        default=None,
        choices=sorted(PROFILES),
        help="config profile (default: the study file's)",
    )
    s.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="only this notebook or variant (repeatable; default: all)",
    )
    s.add_argument("--seeds", help="only these seeds, e.g. 0,1 (default: the study file's)")
    s.add_argument("--dry-run", action="store_true", help="list the runs, their state, the time")
    s.add_argument("--rerun-failed", action="store_true", help="retry runs that failed before")
    s.add_argument("--render-only", action="store_true", help="render notebooks, train nothing")
    s.add_argument("--train-only", action="store_true", help="train runs, render no notebook")
    s.add_argument(
        "--skip-without-data",
        action="store_true",
        help="when runs must train and their dataset is not here, say how to get it and exit 0 "
        "(make study: the real-scene study on a machine without its data)",
    )
    s.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter (must be declared by the notebook; repeatable; default: none)",
    )
    _add_mode_arguments(s)
    _add_run_arguments(s)
    s.set_defaults(func=cmd_study)


def _add_mode_arguments(s: argparse.ArgumentParser) -> None:
    """The study command's modes: grids, list, one array task, pick the arms, render."""
    s.add_argument("--results", default="results", help="results folder")
    s.add_argument(
        "--force",
        action="store_true",
        help="redo finished runs and notebooks (the old ones are moved aside)",
    )
    s.add_argument(
        "--grid",
        help="a grid JSON of one notebook's parameters to run instead of the study, for a "
        "notebook that declares run_name (00_data_prep; the study's runs are its variants "
        "and seeds) (default: the study)",
    )
    s.add_argument(
        "--index",
        type=_index,
        help="array task INDEX of --phase: train its one run, waiting for another process "
        "training it (all: every task in turn); exit 0 once it is finished (the numbering is fixed by the study file "
        "and the phase; see --list) (default: every run)",
    )
    s.add_argument(
        "--list",
        action="store_true",
        help="list the array tasks of --phase (or the --grid jobs) and exit",
    )
    s.add_argument(
        "--pick-arms",
        action="store_true",
        help="record each confirmation question's arms from the finished screening (the job "
        "between the screening's array and the confirmation's); exit 1 if one cannot pick",
    )
    s.add_argument(
        "--allow-partial",
        action="store_true",
        help="--render-only renders an incomplete study too (default: refused, naming the "
        "runs that are missing or being trained)",
    )
    s.add_argument(
        "--run",
        metavar="VARIANT/seedK",
        help="train this one run (of any seed) in this process, render nothing "
        "(default: every run)",
    )


def _add_run_arguments(s: argparse.ArgumentParser) -> None:
    """How the runs train, which phase, and the read-only modes (verify, answers)."""
    s.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        help="runs trained at a time, each in a process of its own and in the study's "
        "setup (one thread each when the setup says so); auto: as many as the cores "
        "hold at the setup's threads and the available memory at 2 GB a run",
    )
    s.add_argument(
        "--phase",
        choices=("screening", "confirmation", "all"),
        default="all",
        help="which runs: the screening's seeds, the pre-registered confirmation's "
        "(its arms picked from the finished screening by its rule and recorded in "
        "results/runs/<profile>/confirmation_arms/ by the first runner that trains "
        "them), or both; a screening finished during the pass goes on to its "
        "confirmation",
    )
    s.add_argument(
        "--verify",
        metavar="VARIANT[/seedK]",
        help="retrain finished runs in a temporary folder in their recorded setup and "
        "compare every metric and history row; exit 1 on a difference (default: none)",
    )
    s.add_argument(
        "--records",
        action="store_true",
        help="write the explorer records of the finished runs' anomaly sets "
        "(anomaly_sets/<name>/explorer.npz) from their checkpoints, training nothing and "
        "rewriting no other file; a run without a checkpoint is named (exit 1); with --force, "
        "records already there are written again (default: off)",
    )
    s.add_argument(
        "--answers",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the table of the study's answers (the confirmatory verdicts and "
        "the screening's exploratory estimates, from the runs in --results) and exit; "
        "with FILE, rewrite the table between its marker lines in FILE (the README's) "
        "(default: off)",
    )
