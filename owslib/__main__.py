"""Command line: ``python -m owslib {study,train,data} …`` (also installed as ``owslib``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from owslib.config import PROFILES, ConfigError, ExperimentConfig, load_profile

log = logging.getLogger("owslib")


def _parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse as JSON, else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{what} {item!r}: expected KEY=VALUE")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def _config(args: argparse.Namespace) -> ExperimentConfig:
    overrides = _parse_assignments(args.set, "--set")
    if args.config:
        return ExperimentConfig.from_json(args.config).override(**overrides)
    return load_profile(args.profile, **overrides)


def cmd_study(args: argparse.Namespace) -> int:
    from owslib.study import STUDY_NOTEBOOKS, run_study

    params = _parse_assignments(args.param, "-p")
    done = run_study(
        args.profile,
        notebooks=tuple(args.only or STUDY_NOTEBOOKS),
        parameters=params,
        results_dir=args.results,
        force=args.force,
    )
    for nb in done:
        print(f"executed: {nb}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from owslib.engine.loop import fit
    from owslib.evaluation import evaluate
    from owslib.experiment import build_experiment
    from owslib.report import write_metrics

    cfg = _config(args)
    exp = build_experiment(cfg)
    out = Path(args.out)
    if exp.dist.is_main:
        cfg.to_json(out / "config.json")
    fit(exp, out, resume=not args.no_resume)
    metrics = evaluate(exp, exp.test_loader)  # every rank evaluates its shard; counts are summed
    if exp.dist.is_main:
        write_metrics(out, metrics, cfg.data.dataset, cfg.data.split_preset)
        print(json.dumps({k: metrics[k] for k in ("miou", "pixel_acc")}))
    return 0


def cmd_data_generate(args: argparse.Namespace) -> int:
    from owslib.data import generate_embedded_dataset

    cfg = _config(args)
    info = generate_embedded_dataset(Path(args.out), cfg.synthetic, force=args.force)
    print(json.dumps(info, indent=2, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="owslib", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    def config_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--profile", default="quick", choices=sorted(PROFILES))
        sp.add_argument("--config", help="a config.json to start from instead of a profile")
        sp.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="flat config override, e.g. train__lr=0.01 (repeatable)",
        )

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
    s.set_defaults(func=cmd_study)

    t = sub.add_parser("train", help="train and evaluate one config (DDP under torchrun)")
    config_args(t)
    t.add_argument("--out", required=True, help="run folder (checkpoints, logs, metrics)")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("data", help="dataset tools")
    dsub = d.add_subparsers(dest="data_command", required=True)
    g = dsub.add_parser("generate", help="generate the embedded dataset (Cityscapes layout)")
    config_args(g)
    g.add_argument("--out", default="data/embedded")
    g.add_argument("--force", action="store_true")
    g.set_defaults(func=cmd_data_generate)
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
