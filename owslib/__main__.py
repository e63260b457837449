"""Command line of owslib (also installed as ``owslib``): ``study`` trains the study's runs and
renders its notebooks, ``train`` trains and evaluates one config, ``evaluate`` evaluates a
checkpoint, ``data`` generates, downloads, builds and checks datasets."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from owslib.cli import add_config_args, config_from_args, parse_assignments
from owslib.config import PROFILES, ConfigError, ExperimentConfig
from owslib.data.cli import register as register_data_commands
from owslib.evaluation_cli import register as register_evaluate_command
from owslib.study_file import STUDY_FILE

log = logging.getLogger("owslib")
DESCRIPTION = (
    "owslib: open-world semantic segmentation (ContMAV). Commands: study trains the study's runs "
    "and renders its notebooks, train trains and evaluates one config, data generates, downloads, "
    "builds and checks datasets, evaluate evaluates a checkpoint. `owslib COMMAND --help` shows "
    "a command's options."
)


def cmd_study(args: argparse.Namespace) -> int:
    from owslib.study import execute, load_grid
    from owslib.study_file import load_study
    from owslib.study_runs import describe, jobs, notebook_parameters, render, train_runs

    params = parse_assignments(args.param, "-p")
    if args.grid:  # a free-form grid of one notebook's parameters (cluster array jobs)
        grid = load_grid(args.grid)
        if args.list:
            for i, (nb, name, _) in enumerate(grid):
                print(f"{i}\t{nb}\t{name}")
            return 0
        chosen = range(len(grid)) if args.index is None else [args.index]
        for i in chosen:
            if not 0 <= i < len(grid):
                raise ValueError(f"--index {i}: the grid has {len(grid)} jobs (0..{len(grid) - 1})")
            nb, _, job = grid[i]
            clash = sorted(set(params) & (set(job) - {"profile"}))
            if clash:  # a -p over a grid value would send several jobs into one folder
                raise ValueError(
                    f"-p {clash}: set by the grid {args.grid}; change the grid instead"
                )
            job = {"profile": args.profile or "quick", **job, **params}
            print(f"results: {execute(nb, job, results_dir=args.results, force=args.force)}")
        return 0
    study = load_study(args.study, profile=args.profile)
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else ()
    all_jobs = jobs(study, args.results, only=tuple(args.only or ()), seeds=seeds)
    overrides = {k: v for k, v in params.items() if "__" in k}
    if overrides:  # fail on an unknown key before anything runs
        ExperimentConfig().override(**overrides)
    notebooks = tuple(n for n in (args.only or ()) if n in study.notebook_names)
    if args.index is None and not args.train_only:  # refuse undeclared parameters up front
        notebook_parameters(study, [n for n in study.notebook_names
                                    if not notebooks or n in notebooks], params)  # fmt: skip
    if args.list or args.dry_run:
        print("\n".join(describe(study, all_jobs, overrides)))
        return 0
    if args.index is not None:  # one run per array task
        if not 0 <= args.index < len(all_jobs):
            raise ValueError(f"--index {args.index}: the study has {len(all_jobs)} runs "
                             f"(0..{len(all_jobs) - 1}; --list shows them)")  # fmt: skip
        all_jobs = [all_jobs[args.index]]
    failed: list[str] = []
    if not args.render_only:
        outcome = train_runs(study, all_jobs, rerun_failed=args.rerun_failed, force=args.force,
                             overrides=overrides)  # fmt: skip
        failed = outcome["failed"]
        print(f"runs: {len(outcome['trained'])} trained, {len(outcome['reused'])} reused, "
              f"{len(failed)} failed, {len(outcome['skipped'])} skipped (failed before)")  # fmt: skip
    if args.render_only:  # render what is there: the notebooks train nothing
        params = {"train_missing": False, **params}
    if args.index is None and not args.train_only:
        for nb in render(study, args.results, notebooks=notebooks, parameters=params,
                         force=args.force):  # fmt: skip
            print(f"results: {nb}")
    return 1 if failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    from owslib.runner import run_experiment

    cfg = config_from_args(args)
    result = run_experiment(cfg, Path(args.out), resume=not args.no_resume, load_model=False)
    if result.exp is None or result.exp.dist.is_main:
        print(
            json.dumps({k: result.metrics[k] for k in ("miou", "pixel_acc") if k in result.metrics})
        )
    return 0


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: …)" to an option's help unless the help already says its default, or the
    option is required, a flag (off by default) or without a default value (None or [])."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.required
            or not action.option_strings
            or action.nargs == 0
            or action.default in (None, [], argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An argument parser with :class:`HelpFormatter`; its sub-command parsers are the same kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _add_study(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "study",
        help="train the study's runs (variants x seeds), then render its notebooks into results/",
        description="Train the study file's runs (one per variant and seed; finished ones are "
        "reused, interrupted ones resume), then render its notebooks into the results folder.",
    )
    s.add_argument("--study", default=str(STUDY_FILE), help="the study file")
    s.add_argument("--profile", default=None, choices=sorted(PROFILES),
                   help="config profile (default: the study file's)")  # fmt: skip
    s.add_argument("--only", action="append", metavar="NAME",
                   help="only this notebook or variant (repeatable; default: all)")  # fmt: skip
    s.add_argument("--seeds", help="only these seeds, e.g. 0,1 (default: the study file's)")
    s.add_argument("--dry-run", action="store_true", help="list the runs, their state, the time")
    s.add_argument("--rerun-failed", action="store_true", help="retry runs that failed before")
    s.add_argument("--render-only", action="store_true", help="render notebooks, train nothing")
    s.add_argument("--train-only", action="store_true", help="train runs, render no notebook")
    s.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter (must be declared by the notebook; repeatable; default: none)",
    )
    s.add_argument("--results", default="results", help="results folder")
    s.add_argument("--force", action="store_true",
                   help="redo finished runs and notebooks (the old ones are moved aside)")  # fmt: skip
    s.add_argument("--grid", help="a grid JSON of one notebook's parameters to run instead of "
                   "the study (default: the study)")  # fmt: skip
    s.add_argument("--index", type=int,
                   help="run only run INDEX (array task id; see --list; default: every run)")  # fmt: skip
    s.add_argument("--list", action="store_true", help="list the runs (or --grid jobs) and exit")
    s.set_defaults(func=cmd_study)


def _add_train(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "train",
        help="train and evaluate one config (DDP under torchrun)",
        description="Train and evaluate one config (a profile or a config.json, with --set "
        "overrides) into one run folder; DDP under torchrun.",
    )
    add_config_args(t)
    t.add_argument("--out", required=True, help="run folder (checkpoints, logs, metrics)")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    t.set_defaults(func=cmd_train)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="owslib", description=DESCRIPTION)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    _add_study(sub)
    _add_train(sub)
    register_data_commands(sub)
    register_evaluate_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a command. A user error (a bad key, value, file or layout) is one line naming it and
    exit code 2; ``--debug`` (or ``OWSLIB_DEBUG=1``) shows its traceback. Other exceptions are
    bugs and keep their traceback."""
    import os

    from owslib.data.download import DownloadError
    from owslib.data.embedded.generator import EmbeddedDatasetError
    from owslib.data.validation import DatasetError

    user_errors = (ConfigError, ValueError, FileNotFoundError, NotADirectoryError, DatasetError,
                   EmbeddedDatasetError, DownloadError)  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except user_errors as e:
        if args.debug or os.environ.get("OWSLIB_DEBUG"):
            raise
        log.error("%s", e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
