"""Explorer records of a run's anomaly sets (``eval__anomaly_sets``): the frames whose anomaly maps
the run saved (``anomaly_sets/<name>/anomaly_maps/``), each through the model as the evaluation
read it (resized by ``eval__anomaly_scale``), every scorer's map, in
``anomaly_sets/<name>/explorer.npz`` beside them
(:func:`~owslib.report.explorer_record.record_path`).

The record is a view: it is written after every number of the run and changes none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from owslib.evaluation.anomaly_sets import anomaly_set_dataset, parse_anomaly_sets
from owslib.report.examples import predict_example
from owslib.report.explorer_record import record_path, write_explorer_record
from owslib.report.files import map_stem

if TYPE_CHECKING:
    from owslib.engine.experiment import Experiment


def saved_map_frames(folder: str | Path, names: Sequence[str]) -> list[int]:
    """The indices into ``names`` of the frames whose anomaly maps ``folder/anomaly_maps/`` holds
    (their ``<name>_image.png``, :func:`~owslib.report.files.save_anomaly_maps`), in order."""
    maps = Path(folder) / "anomaly_maps"
    return [i for i, name in enumerate(names) if (maps / f"{map_stem(name)}_image.png").is_file()]


def write_anomaly_set_records(exp: Experiment, run_dir: str | Path) -> dict[str, Path]:
    """``{set: explorer.npz}`` for each set of ``exp``'s ``eval__anomaly_sets`` whose anomaly maps
    ``run_dir`` holds: those frames through ``exp``'s model, every scorer it feeds, the anomaly
    mask as the unknown one (``target_kind="anomaly"``). A set without saved maps (not evaluated,
    or ``eval__n_examples=0``) gets none; its data must be there."""
    out = {}
    for name, root in parse_anomaly_sets(exp.cfg.eval.anomaly_sets).items():
        folder = Path(run_dir) / "anomaly_sets" / name
        if not (folder / "anomaly_maps").is_dir():
            continue
        dataset = anomaly_set_dataset(exp.cfg, name, root)
        frames = saved_map_frames(folder, dataset.names)
        if frames:
            examples = [predict_example(exp, dataset, i, target_kind="anomaly") for i in frames]
            out[name] = write_explorer_record(record_path(run_dir, name), examples)
    return out
