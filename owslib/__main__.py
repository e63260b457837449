"""Command line: ``python -m owslib {study,train,data} …`` (also installed as ``owslib``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from owslib.cli import add_config_args, config_from_args, parse_assignments
from owslib.config import PROFILES, ConfigError
from owslib.data.cli import register as register_data_commands
from owslib.evaluation_cli import register as register_evaluate_command

log = logging.getLogger("owslib")


def cmd_study(args: argparse.Namespace) -> int:
    from owslib.study import STUDY_NOTEBOOKS, execute, load_grid, run_study

    params = parse_assignments(args.param, "-p")
    if args.grid:
        jobs = load_grid(args.grid)
        if args.list:
            for i, (nb, name, _) in enumerate(jobs):
                print(f"{i}\t{nb}\t{name}")
            return 0
        chosen = range(len(jobs)) if args.index is None else [args.index]
        for i in chosen:
            if not 0 <= i < len(jobs):
                raise ValueError(f"--index {i}: the grid has {len(jobs)} jobs (0..{len(jobs) - 1})")
            nb, _, job = jobs[i]
            job = {"profile": args.profile, **job, **params}
            print(f"results: {execute(nb, job, results_dir=args.results, force=args.force)}")
        return 0
    done = run_study(
        args.profile,
        notebooks=tuple(args.only or STUDY_NOTEBOOKS),
        parameters=params,
        results_dir=args.results,
        force=args.force,
    )
    for nb in done:
        print(f"results: {nb}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from owslib.engine.loop import fit
    from owslib.evaluation import evaluate
    from owslib.experiment import build_experiment
    from owslib.report import write_metrics

    cfg = config_from_args(args)
    exp = build_experiment(cfg)
    out = Path(args.out)
    fit(exp, out, resume=not args.no_resume)
    metrics = evaluate(exp, exp.test_loader)  # every rank evaluates its shard; counts are summed
    if exp.dist.is_main:
        write_metrics(out, metrics, cfg.data.dataset, cfg.data.split_preset)
        print(json.dumps({k: metrics[k] for k in ("miou", "pixel_acc")}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="owslib", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("study", help="execute the study notebooks with papermill into results/")
    s.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    s.add_argument("--only", action="append", metavar="NOTEBOOK", help="run only these notebooks")
    s.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="notebook parameter (must be declared by the notebook)",
    )
    s.add_argument("--results", default="results", help="results folder")
    s.add_argument("--force", action="store_true", help="re-execute even if results exist")
    s.add_argument("--grid", help="a grid JSON: run its jobs (all, or one with --index)")
    s.add_argument("--index", type=int, help="run only job INDEX of --grid (array task id)")
    s.add_argument("--list", action="store_true", help="with --grid: list the jobs and exit")
    s.set_defaults(func=cmd_study)

    t = sub.add_parser("train", help="train and evaluate one config (DDP under torchrun)")
    add_config_args(t)
    t.add_argument("--out", required=True, help="run folder (checkpoints, logs, metrics)")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    t.set_defaults(func=cmd_train)

    register_data_commands(sub)
    register_evaluate_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, ValueError, FileNotFoundError, KeyError) as e:
        log.error("%s", e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
