"""Every ``owslib`` command of the shell blocks of the README and of ``docs/`` is valid: the cheap ones
run as written, the others (training, rendering) run with ``--dry-run`` where the command has it, else
are parsed and their config and ``--set`` keys resolved. The README keeps its shape: its sections in
the order readers need them, under 260 lines, no line over 200 characters outside tables, and every
relative link (the rendered notebooks, docs/) pointing at a file of the repository."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import re
import shlex
from pathlib import Path

import pytest

from owslib.__main__ import build_parser, main
from owslib.cli import evaluate as evaluation_cli
from owslib.cli.config_args import config_from_args, parse_assignments

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
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


README_TEXT = README.read_text()
COMMANDS = owslib_commands(README_TEXT)
DOC_COMMANDS = [(doc.name, line) for doc in DOCS for line in owslib_commands(doc.read_text())]
#: The README's sections, in the order its readers need them (others may sit between).
SECTIONS = (
    "Answers",
    "Confirmatory study",
    "Two commands",
    "Using it",
    "Extending it",
    "Layout",
    "Reference",
)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def sections(markdown: str) -> dict[str, list[str]]:
    """``{heading: lines}`` of the ``##`` sections (fenced blocks kept whole)."""
    out: dict[str, list[str]] = {}
    current, fenced = None, False
    for line in markdown.splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("## "):
            current = line[3:].strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return out


def test_the_readme_shows_owslib_commands():
    assert any(_argv(c)[:1] == ["study"] for c in COMMANDS)
    assert any(_argv(c)[:1] == ["train"] for c in COMMANDS)


def test_the_readme_sections_come_in_order():
    found = [h for h in sections(README_TEXT) if h in SECTIONS]
    assert found == list(SECTIONS)


def test_the_readme_is_short():
    lines = README_TEXT.splitlines()
    assert len(lines) < 260
    long = [
        f"{i}: {len(line)}"
        for i, line in enumerate(lines, 1)
        if len(line) > 200 and not line.lstrip().startswith("|")
    ]
    assert not long, f"README lines over 200 characters outside tables: {long}"
    parts = sections(README_TEXT)
    two = list(parts["Two commands"])
    while two and not two[-1].strip():
        two.pop()
    assert len(two) < 15
    layout = [line for line in parts["Layout"] if line.strip() and not line.startswith("```")]
    assert len(layout) <= 20


def test_the_two_commands():
    blocks = sections(README_TEXT)["Two commands"]
    assert [line.split("#")[0].strip() for line in blocks if line.startswith("make ")] == [
        "make study",
        "make test",
    ]


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: p.name)
def test_relative_links_point_at_files(doc):
    targets = [t.split("#")[0] for t in LINK.findall(doc.read_text())]
    local = [t for t in targets if t and not re.match(r"[a-z]+:", t)]
    missing = [t for t in local if not (doc.parent / t).exists()]
    assert not missing, f"{doc.name}: links to missing files {missing}"
    if doc == README:  # the answers table links every rendered comparison notebook
        for nb in ("02_trufor_fusion", "03_loss_ablations", "04_infonce", "05_synco_comparison"):
            assert f"results/{nb}/quick/{nb}.ipynb" in local
        unnamed = [d.name for d in DOCS if f"docs/{d.name}" not in README_TEXT]
        assert not unnamed, f"docs/ files the README never names: {unnamed}"


def test_the_extraction_reads_shell_blocks_only():
    markdown = "\n".join(
        [
            "`python -m owslib inline --not-a-block`",
            "```bash",
            "make test",
            "$ python -m owslib study \\",
            "    --dry-run  # a comment",
            "```",
            "```",
            "owslib/  the layout",
            "```",
            "```sh",
            "owslib data check ROOT --dataset embedded",
            "```",
        ]
    )
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


@pytest.mark.parametrize(
    "doc,line", DOC_COMMANDS, ids=lambda x: x if x.endswith(".md") else " ".join(_argv(x))
)
def test_docs_command(doc, line, monkeypatch):
    monkeypatch.chdir(ROOT)
    problem = check_command(line)
    assert problem is None, f"docs/{doc} command `{line}` fails: {problem}"
