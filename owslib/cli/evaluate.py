"""The ``evaluate`` command and its library function: a checkpoint on a dataset split, every output.

``python -m owslib evaluate --checkpoint CKPT --dataset DATASET --split SPLIT --out DIR`` (or
:func:`evaluate_checkpoint`) rebuilds the model and the class statistics from the checkpoint (its
config decides architecture and split preset), runs :func:`owslib.evaluation.evaluate_model` at
native resolution and writes into ``DIR``: ``metrics.json`` (every number with its convention and
the protocol), the tables (``summary``, ``anomaly``, … as CSV and ``metrics.md``),
``per_image.csv``, ``curves.csv`` with ``pr_curves.png`` / ``roc_curves.png``, and
``anomaly_maps/`` for a sample of images.

Datasets: ``cityscapes``, ``embedded``, ``bdd_anomaly`` and ``camvid`` (Cityscapes-layout readers,
class targets: mIoU, anomaly, discovery and similarity metrics) and ``road_anomaly21`` /
``road_obstacle21`` / ``road_anomaly`` (SegmentMeIfYouCan layout, anomaly targets: anomaly and
component metrics, the component sizes of the matching track; RoadAnomaly's are the anomaly
track's).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser is built without importing torch
    import torch
    from torch.utils.data import Dataset

    from owslib.config import ExperimentConfig
    from owslib.labels import SplitDefinition
    from owslib.losses.class_stats import ClassStatistics

log = logging.getLogger(__name__)

CLASS_DATASETS = ("cityscapes", "embedded", "bdd_anomaly", "camvid")
SMIYC_DATASETS = {
    "road_anomaly21": "anomaly",
    "road_obstacle21": "obstacle",
    "road_anomaly": "anomaly",
}
DATASETS = (*CLASS_DATASETS, *SMIYC_DATASETS)
#: :class:`~owslib.evaluation.protocol.EvalOptions` fields the command sets itself (``--scorer``, and the
#: dataset's target kind and component track), so ``--set`` does not take them.
SET_BY_COMMAND = ("scorers", "target_kind", "component_track")


def settable_options() -> tuple[str, ...]:
    """The evaluation options ``--set`` takes without a section prefix (``n_maps``, …)."""
    from owslib.evaluation.protocol import EvalOptions

    return tuple(f.name for f in dataclasses.fields(EvalOptions) if f.name not in SET_BY_COMMAND)


def check_overrides(keys: Iterable[str]) -> None:
    """Raise :class:`~owslib.config.ConfigError` on the first key that is neither an evaluation
    option nor a flat config key: one line with the closest valid name and the valid names (of
    its section, or the evaluation options and ``eval__`` keys)."""
    from owslib.config import ConfigError, ExperimentConfig, did_you_mean

    flat = [k for k in ExperimentConfig().to_flat() if "__" in k]
    options = settable_options()
    for key in keys:
        if key in options or key in flat:
            continue
        section = key.partition("__")[0] + "__"
        listed = [k for k in flat if k.startswith(section)] if "__" in key else []
        more = ""
        if not listed:
            listed = [*options, *(k for k in flat if k.startswith("eval__"))]
            sections = dict.fromkeys(k.partition("__")[0] for k in flat)  # in config order
            more = f", or any config key SECTION__FIELD of {', '.join(sections)}"
        raise ConfigError(
            f"--set {key}: unknown option{did_you_mean(key, [*options, *flat])} "
            f"(valid: {', '.join(listed)}{more})"
        )


def build_eval_dataset(
    name: str, root: str | Path, split: str, split_def: SplitDefinition
) -> tuple[Dataset, str, str]:
    """``(dataset, target_kind, component_track)`` for one of :data:`DATASETS` at native resolution."""
    from owslib.data import build_eval_transforms

    if name in CLASS_DATASETS:
        from owslib.data.cityscapes import FLAVOURS, CityscapesDataset

        fmt = FLAVOURS[name]  # label encoding: labelIds (cityscapes, embedded), trainIds (bdd)
        ds = CityscapesDataset(root, split, split_def, build_eval_transforms(), label_format=fmt)
        return ds, "classes", "anomaly"
    if name in SMIYC_DATASETS:
        from owslib.data.smiyc import SMIYCDataset

        del split  # a track has one labelled split (validation); the test labels are hidden
        return SMIYCDataset(root, name, build_eval_transforms()), "anomaly", SMIYC_DATASETS[name]
    raise ValueError(f"dataset {name!r}; choose one of {DATASETS}")


def load_model(
    ckpt: dict[str, Any], cfg: ExperimentConfig, device: torch.device
) -> tuple[torch.nn.Module, ClassStatistics]:
    """The model and class statistics stored in a checkpoint (``model``, ``objective.stats.*``)."""
    from owslib.labels import get_split
    from owslib.losses.class_stats import ClassStatistics
    from owslib.models import build_model

    k = get_split(cfg.data.split_preset).num_known
    model = build_model(cfg.model, num_classes=k)  # cfg.model.pretrained_path is cleared
    model.load_state_dict(ckpt["model"])
    prefix = "stats."
    state = {n[len(prefix) :]: v for n, v in ckpt["objective"].items() if n.startswith(prefix)}
    if "mean" not in state:
        raise ValueError("checkpoint holds no class statistics (objective.stats.*)")
    stats = ClassStatistics(k, state["mean"].shape[1])
    stats.load_state_dict(state)
    if not stats.ready:
        log.warning(
            "the checkpoint's class statistics are empty: Gaussian scores are not meaningful"
        )
    return model.to(device).eval(), stats.to(device)


def _data_root(cfg: Any, name: str, root: str | Path | None) -> Path:
    """The dataset's folder: ``root``, else the checkpoint's own (the embedded one generated if
    missing); a missing folder is one line saying what creates it."""
    from owslib.data.validation import DatasetError
    from owslib.paths import resolve
    from owslib.sources import missing_root_message

    data_root = Path(root) if root is not None else resolve(cfg.data.root)
    if name == "embedded" and root is None:  # the checkpoint's own dataset: generated if missing
        from owslib.data import ensure_embedded_dataset

        ensure_embedded_dataset(data_root, cfg.synthetic)
    elif not data_root.exists():
        raise DatasetError(missing_root_message(data_root, name))
    return data_root


def evaluate_checkpoint(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    dataset: str | None = None,
    split: str | None = None,
    root: str | Path | None = None,
    device: str | torch.device | None = None,
    scorers: tuple[str, ...] = (),
    num_workers: int = 0,
    max_images: int = 0,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint on ``dataset``/``split`` (defaults: the config's dataset, test split)
    and write every output into ``out_dir``; returns the metrics dict (as ``metrics.json``).

    ``overrides`` are flat config keys (``eval__delta``, ``eval__batch_size``, …) applied to the
    checkpoint's config; :class:`~owslib.evaluation.EvalOptions` fields not in the config (e.g.
    ``components``) may be passed too, without a section prefix.
    """
    import torch
    from torch.utils.data import DataLoader, Subset

    from owslib.config import ExperimentConfig
    from owslib.engine.checkpoint import load_checkpoint
    from owslib.evaluation.passes import evaluate_model
    from owslib.evaluation.protocol import options_from_config
    from owslib.labels import get_split
    from owslib.report import write_evaluation

    check_overrides(overrides or {})  # before anything heavy runs
    ckpt = load_checkpoint(checkpoint, map_location="cpu")
    flat = dict(overrides or {})
    options = {k: flat.pop(k) for k in list(flat) if "__" not in k}
    cfg = ExperimentConfig.from_dict(ckpt["config"]).override(model__pretrained_path="", **flat)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    name = dataset or cfg.data.dataset
    split_name = split or cfg.data.test_split
    if name in SMIYC_DATASETS:  # only the validation frames have public labels (RoadAnomaly: all)
        split_name = "all frames" if name == "road_anomaly" else "validation (labelled frames)"
    split_def = get_split(cfg.data.split_preset)
    data_root = _data_root(cfg, name, root)
    ds, kind, track = build_eval_dataset(name, data_root, split_name, split_def)
    if max_images:
        ds = Subset(ds, range(min(max_images, len(ds))))
        ds.names = ds.dataset.names[: len(ds)]  # type: ignore[attr-defined]
    loader = DataLoader(
        ds, batch_size=cfg.eval.batch_size, num_workers=num_workers, pin_memory=dev.type == "cuda"
    )
    model, stats = load_model(ckpt, cfg, dev)
    opts = options_from_config(
        cfg, scorers=scorers, target_kind=kind, component_track=track, **options
    )
    protocol = {
        "dataset": name,
        "split": split_name,
        "split_preset": split_def.name,
        "known_classes": list(split_def.known_names),
        "unknown_classes": list(split_def.unknown_names) if kind == "classes" else [],
        "checkpoint": str(checkpoint),
        "epoch": ckpt.get("epoch"),
    }
    metrics = evaluate_model(
        model,
        stats,
        loader,
        num_classes=split_def.num_known,
        class_names=split_def.known_names,
        unknown_names=split_def.unknown_names if kind == "classes" else (),
        device=dev,
        options=opts,
        protocol=protocol,
    )
    cfg.to_json(Path(out_dir) / "config.json")
    write_evaluation(out_dir, metrics, name, split_def.name)
    return metrics


def cmd_evaluate(args: argparse.Namespace) -> int:
    from owslib.cli.config_args import parse_assignments
    from owslib.inference.scorers import get_scorer

    for name in args.scorer or ():  # an unknown name: one line listing the known ones
        get_scorer(name)
    metrics = evaluate_checkpoint(
        args.checkpoint,
        args.out,
        dataset=args.dataset,
        split=args.split,
        root=args.root,
        device=args.device,
        scorers=tuple(args.scorer or ()),
        num_workers=args.workers,
        max_images=args.max_images,
        overrides=parse_assignments(args.set, "--set"),
    )
    fused = metrics.get("anomaly", {}).get("fused", {})
    brief = {k: metrics[k] for k in ("miou", "n_images") if k in metrics}
    brief |= {f"{k}_{agg}": fused[agg][k] for agg in fused for k in ("aupr", "fpr95")}
    print(json.dumps(brief))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command to ``python -m owslib``."""
    e = subparsers.add_parser(
        "evaluate",
        help="evaluate a checkpoint: metrics.json with conventions, tables, curves, anomaly maps",
        description="Evaluate a checkpoint (its config decides the architecture and the split "
        "preset) on a dataset split at native resolution; write metrics.json with conventions, "
        "tables, curves and anomaly maps into --out.",
    )
    e.add_argument("--checkpoint", required=True, help="a checkpoint written by train (last.pt)")
    e.add_argument(
        "--dataset",
        choices=DATASETS,
        help="dataset to evaluate on (default: the checkpoint config's)",
    )
    e.add_argument("--split", help="dataset split (default: the config's test split)")
    e.add_argument("--root", help="dataset root (default: the config's data root)")
    e.add_argument("--out", required=True, help="output folder (metrics.json, tables, maps)")
    e.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda if available)")
    e.add_argument(
        "--scorer",
        action="append",
        metavar="NAME",
        help="anomaly scorer, e.g. fused or max_softmax (repeatable; an unknown name "
        "lists the known ones; default: every one the model's outputs feed)",
    )
    e.add_argument(
        "--workers",
        type=int,
        default=0,
        help="data loader workers (default: 0, loading in the main process)",
    )
    e.add_argument(
        "--max-images",
        type=int,
        default=0,
        help="evaluate the first N images only (default: 0, every image)",
    )
    e.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="flat config override (eval__delta=0.5, eval__batch_size=2) or an evaluation option "
        "(components=false, n_maps=8, discovery_space=embedding_normalized); repeatable; "
        "default: none",
    )
    e.set_defaults(func=cmd_evaluate)
