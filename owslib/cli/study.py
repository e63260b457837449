"""The ``study`` command: train the study file's runs (variants x seeds), then render its notebooks.

Imports of the study machinery stay inside the command: ``owslib --help`` builds every parser
without importing torch.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from owslib.cli.config_args import parse_assignments
from owslib.config import ExperimentConfig

if TYPE_CHECKING:
    from owslib.study.studyfile import RunJob, Study

log = logging.getLogger(__name__)


def cmd_study(args: argparse.Namespace) -> int:
    """One mode per call: answers, grid, verify, records, list, dry-run, pick-arms, one array task,
    or train the runs and render the notebooks. A signal (Ctrl-C, a scheduler's SIGTERM) ends it
    with one line: the run keeps its last checkpoint."""
    try:
        return _dispatch(args)
    except KeyboardInterrupt as e:
        log.warning(
            "stopped (%s): an interrupted run resumes from its last checkpoint next time",
            e or "Ctrl-C",
        )
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.answers:  # reads the runs, trains nothing
        return _answers(args)
    params = parse_assignments(args.param, "-p")
    if args.grid:
        return _grid(args, params)
    from owslib.study.studyfile import load_study

    study = load_study(args.study, profile=args.profile)
    _resolve_jobs(args, study)
    if args.verify:
        return _verify(args, study)
    overrides = {k: v for k, v in params.items() if "__" in k}
    if overrides:  # fail on an unknown key before anything runs (or is recorded)
        ExperimentConfig().override(**overrides)
    if args.records:
        return _records(args, study, overrides)
    if args.list or args.dry_run:
        return _list(args, study, overrides)
    if args.pick_arms:
        return _pick_arms(args, study, overrides)
    if args.index is not None:
        return _task(args, study, overrides)
    if args.render_only:
        return _render(args, study, params, overrides)
    return _train_and_render(args, study, params, overrides)


def _answers(args: argparse.Namespace) -> int:
    from owslib.study.documents import answers_markdown, write_answers
    from owslib.study.studyfile import load_study

    study = load_study(args.study, profile=args.profile)
    if args.answers == "-":
        if study.replication is not None:
            from owslib.study.real_answers import real_answers_markdown

            print(real_answers_markdown(study, args.results), end="")
        else:
            print(answers_markdown(study, args.results), end="")
    else:
        write_answers(args.answers, study, args.results)
        print(f"wrote the table of answers in {args.answers}")
    return 0


def _grid(args: argparse.Namespace, params: dict[str, Any]) -> int:
    """A free-form grid of one notebook's parameters (a notebook that declares ``run_name``)."""
    from owslib.study.execute import execute, load_grid

    grid = load_grid(args.grid)
    if args.list:
        for i, (nb, name, _) in enumerate(grid):
            print(f"{i}\t{nb}\t{name}")
        return 0
    for i in range(len(grid)) if args.index is None else [int(args.index)]:
        if not 0 <= i < len(grid):
            raise ValueError(f"--index {i}: the grid has {len(grid)} jobs (0..{len(grid) - 1})")
        nb, _, job = grid[i]
        clash = sorted(set(params) & (set(job) - {"profile"}))
        if clash:  # a -p over a grid value would send several jobs into one folder
            raise ValueError(f"-p {clash}: set by the grid {args.grid}; change the grid instead")
        job = {"profile": args.profile or "quick", **job, **params}
        print(f"results: {execute(nb, job, results_dir=args.results, force=args.force)}")
    return 0


def _resolve_jobs(args: argparse.Namespace, study: Study) -> None:
    """``--jobs auto``: as many runs at a time as the cores and the memory hold."""
    if args.jobs != "auto":
        return
    from owslib.runs.setup import auto_jobs, available_memory, usable_cores

    args.jobs = auto_jobs(study.setup.threads)
    memory = available_memory()
    shown = "unknown" if memory is None else f"{memory / 1024**3:.1f} GB"
    print(
        f"--jobs auto: {args.jobs} at a time ({usable_cores()} cores, {shown} memory available, "
        f"{study.setup.threads or 'all'} thread(s) a run)"
    )


def _verify(args: argparse.Namespace, study: Study) -> int:
    from owslib.study.verify import verify_runs

    reports = verify_runs(study, args.results, args.verify)
    for line in reports:
        print(line)
    return 0 if all(r.endswith("bit-identical") for r in reports) else 1


def _records(args: argparse.Namespace, study: Study, overrides: dict[str, Any]) -> int:
    """``--records``: the explorer records of the finished runs' anomaly sets, written from their
    checkpoints (:func:`owslib.runs.run.record_anomaly_sets`), one line per run; exit 1 when a
    run that needs them has no checkpoint."""
    from owslib.runs.run import record_anomaly_sets
    from owslib.study.plan import one_job, planned_runs

    if args.run:
        jobs = [one_job(study, args.results, args.run)]
    else:
        only, seeds = tuple(args.only or ()), _seeds(args)
        jobs = planned_runs(study, args.results, only=only, seeds=seeds, phase=args.phase)
    ok = True
    for job in jobs:
        cfg = study.config(job.variant, job.seed, **overrides)
        try:
            line = record_anomaly_sets(cfg, job.path, force=args.force)
        except FileNotFoundError as e:
            line, ok = str(e), False
        print(f"{job.label}: {line}")
    return 0 if ok else 1


def _seeds(args: argparse.Namespace) -> tuple[int, ...]:
    return tuple(int(s) for s in args.seeds.split(",")) if args.seeds else ()


def _list(args: argparse.Namespace, study: Study, overrides: dict[str, Any]) -> int:
    """``--list``: the array tasks of ``--phase``, numbered as ``--index`` takes them;
    ``--dry-run``: the runs the runner would train now, their state and the time left."""
    from owslib.study.plan import describe, planned_runs
    from owslib.study.tasks import list_tasks

    if args.dry_run:
        runs = planned_runs(
            study, args.results, only=tuple(args.only or ()), seeds=_seeds(args), phase=args.phase
        )
        print("\n".join(describe(study, runs, overrides, args.jobs, results_dir=args.results)))
    else:
        print(
            "\n".join(
                list_tasks(
                    study, args.results, args.phase, tuple(args.only or ()), _seeds(args), overrides
                )
            )
        )
    return 0


def _pick_arms(args: argparse.Namespace, study: Study, overrides: dict[str, Any]) -> int:
    """``--pick-arms``: record each question's arms from the finished screening (the job
    between the screening's array and the confirmation's); exit 1 if one cannot pick."""
    from owslib.study.tasks import pick_all

    lines, ok = pick_all(study, args.results, overrides)
    print("\n".join(lines))
    return 0 if ok else 1


def _task(args: argparse.Namespace, study: Study, overrides: dict[str, Any]) -> int:
    """``--index I``: array task ``I`` of ``--phase`` trains its one run (``all``: every task in
    turn, e.g. a job that finishes what cancelled or killed tasks left). A run that another
    process trains is waited for; exit 0 only when every run is finished."""
    from owslib.study.tasks import NotPicked, resolve, study_tasks

    tasks = study_tasks(study, args.phase, tuple(args.only or ()), _seeds(args))
    chosen = range(len(tasks)) if args.index == "all" else [int(args.index)]
    ok = True
    for i in chosen:
        if not 0 <= i < len(tasks):
            raise ValueError(
                f"--index {i}: --phase {args.phase} has {len(tasks)} tasks "
                f"(0..{len(tasks) - 1}; --list shows them)"
            )
        try:
            job = resolve(study, args.results, tasks[i])
        except NotPicked as e:
            log.error("task %d: %s", i, e)
            return 1
        ok &= _train_task(args, study, job, overrides)
    return 0 if ok else 1


def _train_task(
    args: argparse.Namespace, study: Study, job: RunJob, overrides: dict[str, Any]
) -> bool:
    """Train one task's run, waiting while another process trains it; whether it is finished."""
    from owslib.study import plan, tasks

    while True:
        outcome = plan.train_runs(
            study, [job], rerun_failed=args.rerun_failed, force=args.force, overrides=overrides
        )
        if not outcome["busy"]:
            break
        tasks.wait_while_busy(job.path)
    _print_outcome(outcome)
    return bool(outcome["trained"] or outcome["reused"])


def _render(
    args: argparse.Namespace, study: Study, params: dict[str, Any], overrides: dict[str, Any]
) -> int:
    """``--render-only``: render the notebooks from the runs there, training nothing; refused
    (exit 1, naming what is missing) while the study is incomplete, unless ``--allow-partial``."""
    from owslib.study.render import incomplete, notebook_parameters, render

    notebooks = _notebooks(args, study)
    notebook_parameters(study, list(notebooks or study.notebook_names), params)
    missing = incomplete(study, args.results, notebooks, overrides)
    if missing and not args.allow_partial:
        log.error(
            "the study is incomplete (%d): %s; not rendered (--allow-partial renders it anyway)",
            len(missing),
            "; ".join(missing),
        )
        return 1
    for nb in render(
        study,
        args.results,
        notebooks=notebooks,
        parameters={"train_missing": False, **params},
        force=args.force,
    ):
        print(f"results: {nb}")
    return 0


def _notebooks(args: argparse.Namespace, study: Study) -> tuple[str, ...]:
    return tuple(n for n in (args.only or ()) if n in study.notebook_names)


def _train_and_render(
    args: argparse.Namespace, study: Study, params: dict[str, Any], overrides: dict[str, Any]
) -> int:
    """Train the runs (``--run``: one, in this process), then render the notebooks (not with
    ``--train-only`` nor ``--run``). A screening finished during the pass goes on to its
    confirmation."""
    from owslib.study.plan import MissingDataError, one_job, planned_runs, train_runs
    from owslib.study.processes import BUSY_EXIT
    from owslib.study.render import notebook_parameters, render

    notebooks = _notebooks(args, study)
    train_only = args.train_only or bool(args.run)
    if not train_only:  # refuse undeclared parameters up front
        notebook_parameters(study, list(notebooks or study.notebook_names), params)

    def plan() -> list[RunJob]:  # a runner that will train records each confirmation's pick
        return planned_runs(
            study,
            args.results,
            only=tuple(args.only or ()),
            seeds=_seeds(args),
            phase=args.phase,
            record=overrides,
        )

    def train(jobs: list[RunJob]) -> dict[str, list[str]]:
        return train_runs(
            study,
            jobs,
            rerun_failed=args.rerun_failed,
            force=args.force,
            jobs=args.jobs,
            overrides=overrides,
        )

    todo = [one_job(study, args.results, args.run)] if args.run else plan()
    try:
        outcome = train(todo)
        while not args.run and not outcome["interrupted"]:  # confirmations picked meanwhile
            more = [j for j in plan() if j.path not in {t.path for t in todo}]
            if not more:
                break
            todo += more
            again = train(more)
            outcome = {k: outcome[k] + again[k] for k in outcome}
    except MissingDataError as e:
        if not args.skip_without_data:
            raise
        print(f"skipped: {e}")
        return 0
    _print_outcome(outcome)
    if args.run and outcome["busy"]:
        return BUSY_EXIT
    if not train_only:
        for nb in render(
            study, args.results, notebooks=notebooks, parameters=params, force=args.force
        ):
            print(f"results: {nb}")
    return 1 if outcome["failed"] + outcome["interrupted"] else 0


def _print_outcome(outcome: dict[str, list[str]]) -> None:
    print(
        f"runs: {len(outcome['trained'])} trained, {len(outcome['reused'])} reused, "
        f"{len(outcome['failed'])} failed, {len(outcome['interrupted'])} interrupted (they "
        f"resume), {len(outcome['skipped'])} skipped (failed before), "
        f"{len(outcome['busy'])} left to another process training them"
    )
