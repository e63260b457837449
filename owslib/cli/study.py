"""The ``study`` command: train the study file's runs (variants x seeds), then render its notebooks.

Imports of the study machinery stay inside the command: ``owslib --help`` builds every parser
without importing torch.
"""

from __future__ import annotations

import argparse

from owslib.cli.config_args import parse_assignments
from owslib.config import ExperimentConfig
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


def cmd_study(args: argparse.Namespace) -> int:
    from owslib.study.execute import execute, load_grid
    from owslib.study.plan import describe, jobs, one_job, train_runs
    from owslib.study.processes import BUSY_EXIT
    from owslib.study.render import notebook_parameters, render
    from owslib.study.studyfile import load_study

    if args.answers:  # reads the runs, trains nothing
        from owslib.study.documents import answers_markdown, write_answers

        study = load_study(args.study, profile=args.profile)
        if args.answers == "-":
            print(answers_markdown(study, args.results), end="")
        else:
            write_answers(args.answers, study, args.results)
            print(f"wrote the table of answers in {args.answers}")
        return 0
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
    if args.jobs == "auto":
        from owslib.runs.setup import auto_jobs, available_memory, usable_cores

        args.jobs = auto_jobs(study.setup.threads)
        memory = available_memory()
        print(f"--jobs auto: {args.jobs} at a time ({usable_cores()} cores, "
              f"{'unknown' if memory is None else f'{memory / 1024**3:.1f} GB'} memory available, "
              f"{study.setup.threads or 'all'} thread(s) a run)")  # fmt: skip
    if args.verify:
        from owslib.study.verify import verify_runs

        reports = verify_runs(study, args.results, args.verify)
        for line in reports:
            print(line)
        return 0 if all(r.endswith("bit-identical") for r in reports) else 1
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else ()
    overrides = {k: v for k, v in params.items() if "__" in k}
    if overrides:  # fail on an unknown key before anything runs (or is recorded)
        ExperimentConfig().override(**overrides)
    notebooks = tuple(n for n in (args.only or ()) if n in study.notebook_names)
    if args.run:
        args.train_only = True
    if args.index is None and not args.train_only:  # refuse undeclared parameters up front
        notebook_parameters(study, [n for n in study.notebook_names
                                    if not notebooks or n in notebooks], params)  # fmt: skip
    # a runner that will train records each confirmation's pick (planning records nothing)
    record = None if args.list or args.dry_run or args.render_only else overrides
    if args.run:
        all_jobs = [one_job(study, args.results, args.run)]
    else:
        all_jobs = jobs(study, args.results, only=tuple(args.only or ()), seeds=seeds,
                        phase=args.phase, record=record)  # fmt: skip
    if args.list or args.dry_run:
        print(
            "\n".join(
                describe(
                    study,
                    all_jobs,
                    overrides,
                    jobs=args.jobs,
                    results_dir=args.results if args.dry_run else None,
                )
            )
        )
        return 0
    if args.index is not None:  # one run per array task
        if not 0 <= args.index < len(all_jobs):
            raise ValueError(f"--index {args.index}: the study has {len(all_jobs)} runs "
                             f"(0..{len(all_jobs) - 1}; --list shows them)")  # fmt: skip
        all_jobs = [all_jobs[args.index]]
    failed: list[str] = []
    if not args.render_only:
        outcome = train_runs(study, all_jobs, rerun_failed=args.rerun_failed, force=args.force,
                             jobs=args.jobs,
                             overrides=overrides)  # fmt: skip
        # a screening finished now picks its confirmation's arms: train those runs too
        while args.index is None and not args.run and not outcome["interrupted"]:
            seen = {j.path for j in all_jobs}
            more = [j for j in jobs(study, args.results, only=tuple(args.only or ()), seeds=seeds,
                                    phase=args.phase, record=overrides) if j.path not in seen]  # fmt: skip
            if not more:
                break
            all_jobs += more
            again = train_runs(study, more, rerun_failed=args.rerun_failed, force=args.force,
                               jobs=args.jobs, overrides=overrides)  # fmt: skip
            outcome = {k: outcome[k] + again[k] for k in outcome}
        failed = outcome["failed"] + outcome["interrupted"]
        print(f"runs: {len(outcome['trained'])} trained, {len(outcome['reused'])} reused, "
              f"{len(outcome['failed'])} failed, {len(outcome['interrupted'])} interrupted (they "
              f"resume), {len(outcome['skipped'])} skipped (failed before), "
              f"{len(outcome['busy'])} left to another process training them")  # fmt: skip
        if args.run and outcome["busy"]:
            return BUSY_EXIT
    if args.render_only:  # render what is there: the notebooks train nothing
        params = {"train_missing": False, **params}
    if args.index is None and not args.train_only:
        for nb in render(study, args.results, notebooks=notebooks, parameters=params,
                         force=args.force):  # fmt: skip
            print(f"results: {nb}")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
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
    s.add_argument("--run", metavar="VARIANT/seedK",
                   help="train this one run (of any seed) in this process, render nothing "
                   "(default: every run)")  # fmt: skip
    s.add_argument("--jobs", type=_jobs, default=1,
                   help="runs trained at a time, each in a process of its own and in the study's "
                   "setup (one thread each when the setup says so); auto: as many as the cores "
                   "hold at the setup's threads and the available memory at 2 GB a run")  # fmt: skip
    s.add_argument("--phase", choices=("screening", "confirmation", "all"), default="all",
                   help="which runs: the screening's seeds, the pre-registered confirmation's "
                   "(its arms picked from the finished screening by its rule and recorded in "
                   "results/runs/<profile>/confirmation_arms/ by the first runner that trains "
                   "them), or both; a screening finished during the pass goes on to its "
                   "confirmation")  # fmt: skip
    s.add_argument("--verify", metavar="VARIANT[/seedK]",
                   help="retrain finished runs in a temporary folder in their recorded setup and "
                   "compare every metric and history row; exit 1 on a difference (default: none)")  # fmt: skip
    s.add_argument("--answers", nargs="?", const="-", metavar="FILE",
                   help="print the table of the study's answers (the confirmatory verdicts and "
                   "the screening's exploratory estimates, from the runs in --results) and exit; "
                   "with FILE, rewrite the table between its marker lines in FILE (the README's) "
                   "(default: off)")  # fmt: skip
    s.set_defaults(func=cmd_study)
