"""Which RoadAnomaly frames may be pictured in committed results: only those whose credit gives an
open licence; the others are scored like every frame and never drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from owslib.data.credits import credit_blocks, open_licence_frames
from owslib.data.road_anomaly import build_road_anomaly
from owslib.data.smiyc import SMIYCDataset
from tests.source_layouts import ROAD_ANOMALY_CREDITS, write_road_anomaly


def test_entries_group_frames_under_their_credit_lines():
    blocks = credit_blocks(
        "header line\n\nlost01\nlost02\n\tA site\n\thttps://x\n\nrock\n\tB, CC BY 2.0 https://y\n"
    )
    assert (["lost01", "lost02"], ["A site", "https://x"]) in blocks
    assert (["rock"], ["B, CC BY 2.0 https://y"]) in blocks


@pytest.mark.parametrize(
    "licence, open_",
    [
        ("CC0 https://creativecommons.org/publicdomain/zero/1.0/", True),
        ("Public domain", True),
        ("CC BY 2.0 https://creativecommons.org/licenses/by/2.0/", True),
        ("CC BY-SA 3.0 https://creativecommons.org/licenses/by-sa/3.0/", True),
        ("CC BY-NC 4.0", False),
        ("CC BY-ND 2.0", False),
        ("CC BY-NC-SA 3.0", False),
        ("https://www.youtube.com/watch?v=x", False),
    ],
)
def test_only_an_open_licence_allows_a_picture(tmp_path, licence, open_):
    credits = tmp_path / "credits.txt"
    credits.write_text(f"frames are for research\n\nframe01\n\tAn author, {licence}\n")
    assert open_licence_frames(credits) == ({"frame01"} if open_ else set())


def test_the_reader_pictures_only_open_frames_and_every_frame_without_credits(tmp_path: Path):
    out = tmp_path / "road_anomaly"
    build_road_anomaly(write_road_anomaly(tmp_path / "clone"), out)
    assert (out / "credits.txt").read_text() == ROAD_ANOMALY_CREDITS
    ds = SMIYCDataset(out, "road_anomaly")
    pictured = {ds.names[i] for i in range(len(ds)) if ds.may_picture(i)}
    assert pictured == {"animals01_cows", "rocks03_slide"}  # cones02_road: a web page only
    (out / "credits.txt").unlink()
    assert all(SMIYCDataset(out, "road_anomaly").may_picture(i) for i in range(len(ds)))


def test_the_picture_rule_looks_through_a_subset(tmp_path: Path):
    from torch.utils.data import Subset

    from owslib.evaluation.passes import _picture_rule

    out = tmp_path / "road_anomaly"
    build_road_anomaly(write_road_anomaly(tmp_path / "clone"), out)
    ds = SMIYCDataset(out, "road_anomaly")
    picks = [ds.names.index("cones02_road"), ds.names.index("animals01_cows")]
    sub = Subset(ds, picks)  # what --max-images evaluates
    rule = _picture_rule(sub)
    assert rule is not None and rule(0) is False and rule(1) is True
    assert _picture_rule(object()) is None
