import argparse
import contextlib
import io
import json
import logging
import shlex

import pytest

from owslib.__main__ import build_parser, main
from owslib.data.validation import DatasetError
from owslib.paths import resolve
from owslib.profiles import PROFILES
from owslib.sources import missing_root_message


def test_train_command_writes_run_outputs(smoke_root, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--profile",
            "smoke",
            "--set",
            f"data__root={smoke_root}",
            "--set",
            "train__epochs=1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    for name in ("config.json", "metrics.json", "history.csv", "checkpoints/last.pt"):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == 1
    assert "miou" in capsys.readouterr().out


def test_bad_config_key_is_named(tmp_path, caplog):
    code = main(["train", "--profile", "smoke", "--set", "train__lrr=1", "--out", str(tmp_path)])
    assert code == 2
    assert "train__lrr" in caplog.text


def test_generate_command(tmp_path, capsys):
    code = main(
        [
            "data",
            "generate",
            "--profile",
            "smoke",
            "--set",
            "synthetic__n_train=2",
            "--set",
            "synthetic__n_val=1",
            "--set",
            "synthetic__n_test=1",
            "--out",
            str(tmp_path / "d"),
        ]
    )
    assert code == 0
    assert len(list((tmp_path / "d" / "leftImg8bit" / "train").rglob("*.png"))) == 2


def _parsers(parser, path=("owslib",)):
    """``(command path, parser)`` of the top-level parser and every (nested) sub-command."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*path, name))


def test_every_option_has_help_and_shows_its_default():
    missing, no_default = [], []
    for path, parser in _parsers(build_parser()):
        formatter = parser.formatter_class(" ".join(path))
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            name = f"{' '.join(path)} {(action.option_strings or [action.dest])[-1]}"
            if not action.help:
                missing.append(name)
            elif action.option_strings and not action.required and action.nargs != 0:
                if "default" not in formatter._get_help_string(action):  # flags are off
                    no_default.append(name)
    assert not missing, f"options without help: {missing}"
    assert not no_default, f"options whose help shows no default: {no_default}"


def test_help_shows_defaults_and_no_none():
    for argv in (["study"], ["train"], ["data", "generate"], ["data", "check"], ["evaluate"]):
        assert "None" not in _help(argv), argv
    assert "--results RESULTS results folder (default: results)" in _help(["study"])
    assert "(default: the config's data__root" in _help(["data", "generate"])


def _help(argv):
    with pytest.raises(SystemExit) as e, contextlib.redirect_stdout(io.StringIO()) as out:
        build_parser().parse_args([*argv, "--help"])
    assert e.value.code == 0
    return " ".join(out.getvalue().split())


def test_help_lists_every_command():
    top = _help([])
    for command in ("study", "train", "data", "evaluate"):
        assert f" {command} " in top, command
    data = _help(["data"])
    for command in ("generate", "cityscapes-download", "bdd-anomaly", "check"):
        assert f" {command} " in data, command


def test_generate_on_a_complete_dataset_is_one_line(smoke_root, capsys, caplog):
    caplog.set_level(logging.INFO)
    assert main(["data", "generate", "--profile", "smoke", "--out", str(smoke_root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert f"exists at {smoke_root} " in lines[0] and "--force" in lines[0]
    assert not [r for r in caplog.records if r.name.startswith("owslib.data")]


def test_generate_into_a_foreign_folder_is_refused_naming_force(tmp_path, caplog):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["data", "generate", "--profile", "smoke", "--out", str(tmp_path)]) == 2
    (msg,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert str(tmp_path) in msg and "notes.txt" in msg and "--force" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written


def test_generate_writes_to_the_profiles_root(tmp_path, capsys):
    root = tmp_path / "tiny"
    sizes = ["--set", "synthetic__n_train=1", "--set", "synthetic__n_val=1"]
    argv = ["data", "generate", "--profile", "smoke", "--set", f"data__root={root}", *sizes]
    assert main([*argv, "--set", "synthetic__n_test=1"]) == 0
    assert (root / "embedded.json").is_file()
    assert capsys.readouterr().out.strip() == (
        f"wrote the embedded dataset at {root} (1 train, 1 val, 1 test images)"
    )


def _error_line(caplog):
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "\n" not in record.getMessage() and record.exc_info is None
    return record.getMessage()


@pytest.mark.parametrize(
    ("dataset", "hint"),
    [
        ("embedded", "`python -m owslib data generate --out "),
        ("cityscapes", "`python -m owslib data cityscapes-download --out "),
        ("bdd_anomaly", "`python -m owslib data bdd-anomaly --bdd100k BDD100K_ROOT --out "),
        ("road_anomaly21", "https://segmentmeifyoucan.com"),
    ],
)
def test_check_on_a_missing_root_says_how_to_create_it(dataset, hint, tmp_path, caplog):
    root = tmp_path / "nope"
    assert main(["data", "check", str(root), "--dataset", dataset]) == 2
    line = _error_line(caplog)
    assert line.startswith(f"{root}: dataset root not found") and hint in line
    if "`" in line:  # the command it suggests is a valid one
        command = shlex.split(line.split("`")[1])
        assert command[:3] == ["python", "-m", "owslib"]
        assert build_parser().parse_args(command[3:]).func is not None
    assert not root.exists()


def test_check_on_a_missing_profile_root_names_the_profile():
    root = resolve(PROFILES["smoke"]["data__root"])
    assert "`python -m owslib data generate --profile smoke`" in missing_root_message(
        root, "embedded"
    )


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(DatasetError, match="dataset root not found"):
        main(["--debug", "data", "check", str(tmp_path / "nope"), "--dataset", "embedded"])


def test_train_on_a_mistyped_root_is_one_line_before_any_work(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    typo = tmp_path / "embeded"
    argv = [
        "train",
        "--profile",
        "smoke",
        "--set",
        f"data__root={typo}",
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(argv) == 2
    (msg,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert str(typo) in msg and "does not exist" in msg and "data generate" in msg
    assert not typo.exists()  # nothing generated at the typed path
    assert not [r for r in caplog.records if "closed-set encoder" in r.getMessage()]


def test_generate_without_out_refuses_a_real_datasets_root(caplog):
    assert main(["data", "generate", "--profile", "paper"]) == 2
    (msg,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "'cityscapes'" in msg and "--out" in msg


def test_set_takes_several_assignments_and_repeats():
    from owslib.cli.config_args import config_from_args

    argv = [
        "train",
        "--profile",
        "smoke",
        "--set",
        "train__epochs=3",
        "train__lr=0.01",
        "--set",
        "model__context_bins=[1,2]",
        "train__epochs=4",
        "--out",
        "run",
    ]
    args = build_parser().parse_args(argv)
    assert args.set == [
        "train__epochs=3",
        "train__lr=0.01",
        "model__context_bins=[1,2]",
        "train__epochs=4",
    ]
    assert args.out == "run"
    cfg = config_from_args(args)
    assert (cfg.train.epochs, cfg.train.lr, cfg.model.context_bins) == (4, 0.01, (1, 2))
    assert build_parser().parse_args(["train", "--out", "run"]).set == []
    with pytest.raises(SystemExit, match="expected KEY=VALUE"):
        config_from_args(build_parser().parse_args(["train", "--set", "train__lr", "--out", "r"]))
