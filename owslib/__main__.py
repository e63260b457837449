"""Command line of owslib (also installed as ``owslib``): ``study`` trains the study's runs and
renders its notebooks, ``train`` trains and evaluates one config, ``evaluate`` evaluates a
checkpoint, ``data`` generates, downloads, builds and checks datasets."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from owslib.cli.data import register as register_data_commands
from owslib.cli.evaluate import register as register_evaluate_command
from owslib.cli.study_args import register as register_study_command
from owslib.cli.train import register as register_train_command
from owslib.config import ConfigError
from owslib.runs.setup import IN_SETUP_VARIABLE

log = logging.getLogger("owslib")
DESCRIPTION = (
    "owslib: open-world semantic segmentation (ContMAV). Commands: study trains the study's runs "
    "and renders its notebooks, train trains and evaluates one config, data generates, downloads, "
    "builds and checks datasets, evaluate evaluates a checkpoint. `owslib COMMAND --help` shows "
    "a command's options."
)


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


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="owslib", description=DESCRIPTION)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    register_study_command(sub)
    register_train_command(sub)
    register_data_commands(sub)
    register_evaluate_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a command. A user error (a bad key, value, file or layout) is one line naming it and
    exit code 2, also when a DataLoader worker raised it (torch re-raises it with the worker's
    traceback as its message: its original line is kept); ``--debug`` (or ``OWSLIB_DEBUG=1``)
    shows its traceback. Other exceptions are bugs and keep their traceback."""
    import os

    # a run in a process of its own: the study's process stamps the time and the run's name
    stamp = "" if os.environ.get(IN_SETUP_VARIABLE) else "%(asctime)s "
    logging.basicConfig(level=logging.INFO, format=stamp + "%(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)  # before the data package (torch): --help is quick
    from owslib.data.download import DownloadError
    from owslib.data.embedded.generator import EmbeddedDatasetError
    from owslib.data.validation import DatasetError, worker_message
    from owslib.runs.lock import RunBusyError

    user_errors = (
        ConfigError,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
        DatasetError,
        EmbeddedDatasetError,
        DownloadError,
        RunBusyError,
    )
    try:
        return args.func(args)
    except user_errors as e:
        if args.debug or os.environ.get("OWSLIB_DEBUG"):
            raise
        log.error("%s", worker_message(str(e)) or e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
