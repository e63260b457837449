"""Closed-set mIoU against cityscapesScripts' ``evalPixelLevelSemanticLabeling`` at native resolution.

Generated ground truth (labelIds, every id of the table including void ones, plus instance ids) and
predictions (trainIds of the 19 classes, some regions wrong) at 1024×2048 are scored by the official
evaluator, run in a subprocess (it reads its environment variables at import time), and by
:class:`owslib.metrics.ConfusionMatrix` on the trainId-converted maps: per-class IoU and the mean
must agree.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from owslib.labels import CITYSCAPES_LABELS, NUM_TRAIN_IDS, TRAIN_ID_NAMES, label_ids_to_train_ids
from owslib.metrics import ConfusionMatrix

H, W = 1024, 2048
#: labelId of each trainId (the inverse map the evaluator expects predictions in).
LABEL_ID_OF_TRAIN_ID = np.array(
    [next(lab.label_id for lab in CITYSCAPES_LABELS if lab.train_id == t) for t in range(19)],
    dtype=np.uint8,
)

EVALUATOR = """
import json, sys
import numpy as np
if not hasattr(np, "in1d"):  # removed in numpy 2.4; cityscapesScripts 2.3.0 still calls it
    np.in1d = np.isin
from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as ev
preds, gts = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ev.args.quiet = True
res = ev.evaluateImgLists(preds, gts, ev.args)
print(json.dumps({"classes": res["classScores"], "mean": res["averageScoreClasses"]}))
"""


def _blocks(rng: np.random.Generator, values: np.ndarray, block: int) -> np.ndarray:
    """A map of ``block``-sized squares with random values, upsampled to H×W."""
    small = rng.choice(values, size=(H // block, W // block))
    return np.kron(small, np.ones((block, block), dtype=small.dtype))


def _write_pair(folder: Path, stem: str, rng: np.random.Generator) -> tuple[Path, Path]:
    label_ids = np.array([lab.label_id for lab in CITYSCAPES_LABELS if lab.label_id >= 0])
    gt = _blocks(rng, label_ids, 64).astype(np.uint8)
    gt[rng.random((H, W)) < 0.01] = 0  # scattered unlabelled pixels
    train = label_ids_to_train_ids(gt)
    pred = np.where(train == 255, rng.integers(0, 19, (H, W)), train).astype(np.uint8)
    wrong = _blocks(rng, np.array([0, 0, 0, 1]), 128).astype(bool)
    pred[wrong] = rng.integers(0, 19, int(wrong.sum()))
    pred[:, :64] = 7  # class 7 over-predicted, never 18 on its own ground truth
    city = folder / "gtFine" / "val" / "city"
    city.mkdir(parents=True, exist_ok=True)
    gt_path = city / f"{stem}_gtFine_labelIds.png"
    Image.fromarray(gt).save(gt_path)
    instances = gt.astype(np.uint16)
    instances[gt == 26] = 26 * 1000 + 1  # one car instance (uint16: Pillow has no int32 PNG)
    Image.fromarray(instances).save(city / f"{stem}_gtFine_instanceIds.png")
    pred_path = folder / "results" / f"{stem}_pred.png"
    pred_path.parent.mkdir(exist_ok=True)
    Image.fromarray(LABEL_ID_OF_TRAIN_ID[pred]).save(pred_path)
    return pred_path, gt_path


def test_miou_matches_cityscapes_scripts(tmp_path):
    pytest.importorskip("cityscapesscripts")
    rng = np.random.default_rng(0)
    pairs = [_write_pair(tmp_path, f"city_00000{i}_000019", rng) for i in range(2)]
    conf = ConfusionMatrix(NUM_TRAIN_IDS)
    for pred_path, gt_path in pairs:
        pred_ids = np.asarray(Image.open(pred_path))
        target = label_ids_to_train_ids(np.asarray(Image.open(gt_path)))
        conf.update(label_ids_to_train_ids(pred_ids), target)  # at native 1024×2048
    ours = conf.compute()
    export = tmp_path / "export"
    export.mkdir()  # the evaluator expects it to exist
    env = os.environ | {
        "CITYSCAPES_DATASET": str(tmp_path),
        "CITYSCAPES_RESULTS": str(tmp_path / "results"),
        "CITYSCAPES_EXPORT_DIR": str(export),
    }
    preds, gts = ([str(p[i]) for p in pairs] for i in (0, 1))
    run = subprocess.run(
        [sys.executable, "-c", EVALUATOR, json.dumps(preds), json.dumps(gts)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    assert (export / "resultPixelLevelSemanticLabeling.json").is_file()
    for name, iou in zip(TRAIN_ID_NAMES, ours["iou"].tolist(), strict=True):
        ref = theirs["classes"][name]
        assert (math.isnan(iou) and math.isnan(ref)) or iou == pytest.approx(ref, abs=1e-12), name
    assert ours["miou"] == pytest.approx(theirs["mean"], abs=1e-12)
    assert 0.2 < ours["miou"] < 0.95  # a non-trivial case: errors in every class
