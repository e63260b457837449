"""Real anomalies after the test split: datasets in the SegmentMeIfYouCan layout (``eval__anomaly_sets``).

A run trained on one dataset (CamVid) is scored on frames of another that hold real road anomalies
(RoadAnomaly, RoadAnomaly21, RoadObstacle21): every scorer's pixel metrics pooled and per frame, and
the benchmark's component metrics on the anomaly's connected components. The frames are resized by
``eval__anomaly_scale`` (labels by the nearest pixel). Each set lands in ``metrics.json`` under
``anomaly_sets/<name>``, with the same conventions as the test split's anomaly section; a run's
folder holds each set's files (per-frame rows, curves, anomaly maps and the explorer record of
the mapped frames, :mod:`owslib.report.anomaly_set_records`) in ``anomaly_sets/<name>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torch.utils.data import DataLoader

from owslib.data.smiyc import SMIYCDataset
from owslib.data.transforms import build_eval_transforms
from owslib.data.validation import DatasetError
from owslib.evaluation.passes import evaluate_model
from owslib.evaluation.protocol import options_from_config, resolution
from owslib.evaluation.result import Evaluation
from owslib.paths import resolve
from owslib.sources import missing_root_message

if TYPE_CHECKING:
    from owslib.config import ExperimentConfig
    from owslib.engine.experiment import Experiment

#: The component track (the benchmark's minimum sizes) of each SegmentMeIfYouCan-layout dataset.
TRACK_OF = {"road_anomaly": "anomaly", "road_anomaly21": "anomaly", "road_obstacle21": "obstacle"}


def parse_anomaly_sets(spec: str) -> dict[str, Path]:
    """``"road_anomaly:data/road_anomaly,…"`` as ``{name: resolved root}``; an unknown name or an
    entry without a root raises, naming it."""
    out: dict[str, Path] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        name, sep, root = entry.partition(":")
        if not sep or not root or name not in TRACK_OF:
            raise ValueError(
                f"eval__anomaly_sets entry {entry!r}: expected NAME:ROOT with NAME one of "
                f"{sorted(TRACK_OF)}"
            )
        out[name] = resolve(root)
    return out


def anomaly_set_dataset(cfg: ExperimentConfig, name: str, root: Path) -> SMIYCDataset:
    """The frames of set ``name`` under ``root`` as the evaluation reads them (resized by
    ``eval__anomaly_scale``; anomaly targets); a missing root raises, naming the command that
    builds it."""
    if not root.exists():
        raise DatasetError(f"eval__anomaly_sets: {missing_root_message(root, name)}")
    return SMIYCDataset(root, name, build_eval_transforms(scale=cfg.eval.anomaly_scale))


def evaluate_anomaly_set(exp: Experiment, name: str, root: Path) -> Evaluation:
    """Every number of one set for ``exp``'s trained model, with its per-frame rows, curves and
    maps (:func:`owslib.report.write_evaluation` writes them; nothing is written here)."""
    cfg = exp.cfg
    ds = anomaly_set_dataset(cfg, name, root)
    loader = DataLoader(ds, batch_size=cfg.eval.batch_size, num_workers=0)
    scale = cfg.eval.anomaly_scale
    opts = options_from_config(
        cfg, target_kind="anomaly", component_track=TRACK_OF[name], component_area_scale=scale**2
    )
    protocol = {
        "dataset": name,
        "split": "all labelled frames",
        "split_preset": exp.split.name,
        "resolution": resolution(scale),
    }
    return evaluate_model(
        exp.bare_model,
        exp.stats,
        loader,
        num_classes=exp.split.num_known,
        class_names=exp.split.known_names,
        unknown_names=(),
        device=exp.device,
        options=opts,
        protocol=protocol,
    )


def evaluate_anomaly_sets(exp: Experiment) -> dict[str, Evaluation]:
    """:func:`evaluate_anomaly_set` for each set ``eval__anomaly_sets`` names (empty: none)."""
    sets = parse_anomaly_sets(exp.cfg.eval.anomaly_sets)
    return {name: evaluate_anomaly_set(exp, name, root) for name, root in sets.items()}
