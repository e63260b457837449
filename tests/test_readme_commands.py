"""Every ``owslib`` command of the README's shell blocks is valid: the cheap ones run as written,
the others (training, rendering) run with ``--dry-run`` where the command has it, else are parsed
and their config and ``--set`` keys resolved."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import shlex
from pathlib import Path

import pytest

from owslib import evaluation_cli
from owslib.__main__ import build_parser, main
from owslib.cli.config_args import config_from_args, parse_assignments

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHELLS = ("bash", "sh", "shell", "console", "zsh")
PREFIXES = (("python", "-m", "owslib"), ("python3", "-m", "owslib"), ("owslib",))
CHEAP = ("--help", "-h", "--dry-run", "--list")  # commands holding one of these run as written


def shell_lines(markdown: str) -> list[str]:
    """The command lines of the fenced shell blocks (``$`` prompts and ``\\`` continuations)."""
    lines, lang, pending = [], None, ""
    for raw in markdown.splitlines():
        fence = raw.strip()
        if fence.startswith("```"):
            lang = fence[3:].strip().lower() if lang is None else None
            continue
        if lang not in SHELLS:
            continue
        line = pending + fence.removeprefix("$ ")
        pending = line[:-1] + " " if line.endswith("\\") else ""
        if not pending and line:
            lines.append(line)
    return lines


def owslib_commands(markdown: str) -> list[str]:
    """The shell lines that invoke ``python -m owslib`` or ``owslib``."""
    return [line for line in shell_lines(markdown) if _argv(line) is not None]


def _argv(line: str) -> list[str] | None:
    """The arguments after the ``owslib`` prefix, or None for another program."""
    words = shlex.split(line, comments=True)
    for prefix in PREFIXES:
        if tuple(words[: len(prefix)]) == prefix:
            return words[len(prefix) :]
    return None


def _subparser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser of the (nested) sub-command that ``argv`` names."""
    parser = build_parser()
    for word in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or word not in subs[0].choices:
            break
        parser = subs[0].choices[word]
    return parser


def check_command(line: str) -> str | None:
    """Run or parse one README command; what went wrong, or None."""
    argv = _argv(line)
    assert argv is not None, line
    stderr, stdout = io.StringIO(), io.StringIO()
    errors = logging.StreamHandler(stderr)  # main's one-line user errors
    errors.setLevel(logging.ERROR)
    logging.getLogger("owslib").addHandler(errors)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            if any(flag in argv for flag in CHEAP) or argv[:2] == ["data", "check"]:
                code = main(argv)
            elif "--dry-run" in _subparser(argv)._option_string_actions:
                code = main([*argv, "--dry-run"])
            else:  # trains or writes: parse it and resolve its config and overrides only
                args = build_parser().parse_args(argv)
                if hasattr(args, "profile") and hasattr(args, "config"):
                    config_from_args(args)
                if args.command == "evaluate":
                    evaluation_cli.check_overrides(parse_assignments(args.set, "--set"))
                code = 0
    except SystemExit as e:  # argparse: an unknown flag, a bad choice, --help
        code = e.code
    except Exception as e:  # a config error raised while resolving the overrides
        return f"{type(e).__name__}: {e}"
    finally:
        logging.getLogger("owslib").removeHandler(errors)
    return None if code in (0, None) else f"exit {code}: {stderr.getvalue().strip()[-2000:]}"


COMMANDS = owslib_commands(README.read_text())


def test_the_readme_shows_owslib_commands():
    assert any(_argv(c)[:1] == ["study"] for c in COMMANDS)
    assert any(_argv(c)[:1] == ["train"] for c in COMMANDS)


def test_the_extraction_reads_shell_blocks_only():
    markdown = "\n".join([
        "`python -m owslib inline --not-a-block`",
        "```bash", "make test", "$ python -m owslib study \\", "    --dry-run  # a comment", "```",
        "```", "owslib/  the layout", "```",
        "```sh", "owslib data check ROOT --dataset embedded", "```",
    ])  # fmt: skip
    assert [_argv(line) for line in owslib_commands(markdown)] == [
        ["study", "--dry-run"],
        ["data", "check", "ROOT", "--dataset", "embedded"],
    ]


@pytest.mark.parametrize(
    "line",
    [
        "python -m owslib study --dry-rn",
        "python -m owslib train --profile quick --set train__lrr=0.002 --out runs/x",
        "python -m owslib train --profile quik --out runs/x",
        "python -m owslib evaluate --checkpoint x.pt --out y --set n_mapz=2",
        "python -m owslib data generate --outt data/x",
    ],
)
def test_a_mistyped_command_fails(line):
    assert check_command(line) is not None


@pytest.mark.parametrize("line", COMMANDS, ids=lambda line: " ".join(_argv(line)))
def test_readme_command(line, monkeypatch):
    monkeypatch.chdir(ROOT)  # the README's relative paths (results/, runs/) start there
    problem = check_command(line)
    assert problem is None, f"README command `{line}` fails: {problem}"
