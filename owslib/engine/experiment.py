"""One experiment's components, built from its config: data, model, objective, optimizer, schedule."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from owslib.config import PROFILES, ExperimentConfig
from owslib.data import (
    CityscapesDataset,
    build_eval_transforms,
    build_train_transforms,
    compute_class_weights,
    ensure_embedded_dataset,
)
from owslib.data.cityscapes import FLAVOURS
from owslib.data.validation import DatasetError
from owslib.distributed import (
    DistInfo,
    ShardSampler,
    barrier,
    init_distributed,
    resolve_device,
)
from owslib.labels import SplitDefinition, get_split
from owslib.losses import ContMAVObjective
from owslib.models import build_model, load_encoder_weights
from owslib.paths import resolve

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where derived artefacts (class weights) are cached: ``$OWSLIB_CACHE`` or ``~/.cache/owslib``."""
    return Path(os.environ.get("OWSLIB_CACHE", Path.home() / ".cache" / "owslib"))


@dataclass
class Experiment:
    cfg: ExperimentConfig
    split: SplitDefinition
    device: torch.device
    dist: DistInfo
    model: nn.Module  # DDP-wrapped under torchrun
    bare_model: nn.Module
    objective: ContMAVObjective
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    train_loader: DataLoader
    val_loader: DataLoader
    test_loader: DataLoader
    class_weights: torch.Tensor
    global_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stats(self):
        """The class statistics the anomaly scores use (previous finished epoch)."""
        return self.objective.stats


def check_data_root(cfg: ExperimentConfig) -> Path:
    """The resolved dataset root; an embedded root that does not exist is an error unless it is
    the profile's own (generated on first use): a typo in ``data__root`` must not generate 30 MB."""
    root = resolve(cfg.data.root)
    default = PROFILES.get(cfg.profile, {}).get("data__root")
    if cfg.data.dataset == "embedded" and not root.exists() and cfg.data.root != default:
        raise DatasetError(
            f"data__root={cfg.data.root!r}: {root} does not exist; generate it with "
            f"`python -m owslib data generate --out {cfg.data.root}` (or use the profile's "
            f"default {default!r})"
        )
    return root


def prepare_data(cfg: ExperimentConfig, dist: DistInfo | None = None) -> Path:
    """The dataset root; for ``data__dataset="embedded"`` the embedded dataset is generated first
    (by the main process only under DDP; the others wait for it)."""
    root = check_data_root(cfg)
    if cfg.data.dataset == "embedded":
        if dist is None or dist.is_main:
            ensure_embedded_dataset(root, cfg.synthetic)
        barrier()
    return root


def build_datasets(
    cfg: ExperimentConfig, split: SplitDefinition, dist: DistInfo | None = None
) -> dict[str, Dataset]:
    root = prepare_data(cfg, dist)
    d = cfg.data
    if d.dataset not in FLAVOURS:
        raise ValueError(f"data__dataset={d.dataset!r}; choose one of {sorted(FLAVOURS)}")
    common = dict(
        label_format=FLAVOURS[d.dataset],
        skip_bad=d.skip_bad,
        report_dir=d.bad_file_report or None,
    )
    return {
        "train": CityscapesDataset(
            root,
            d.train_split,
            split,
            build_train_transforms(d),
            max_images=d.max_images,
            heldout=d.heldout_in_train,
            **common,
        ),
        "val": CityscapesDataset(root, d.val_split, split, build_eval_transforms(d), **common),
        "test": CityscapesDataset(root, d.test_split, split, build_eval_transforms(d), **common),
    }


def _loader(
    ds: Dataset, batch: int, workers: int, *, train: bool, dist: DistInfo, seed: int = 0
) -> DataLoader:
    sampler = None
    if dist.enabled:  # evaluation shards without padding: every image counted exactly once
        sampler = (
            DistributedSampler(ds, shuffle=True, seed=seed)
            if train
            else ShardSampler(ds, dist.rank, dist.world_size)
        )
    per_rank = len(sampler) if sampler is not None else len(ds)
    return DataLoader(
        ds,
        batch_size=batch,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        drop_last=train and per_rank > batch,
        # Workers are re-created every epoch, so they inherit the per-epoch seeding (seed_epoch):
        # persistent workers would keep the RNG of the first epoch and break exact resume.
        persistent_workers=False,
    )


def build_experiment(
    cfg: ExperimentConfig,
    device: str | torch.device | None = None,
    *,
    encoder: str | Path | None = None,
) -> Experiment:
    """Everything ``fit`` and ``evaluate`` need, from the config alone; it never trains.

    With ``model__pretrain_epochs > 0`` the encoder starts from ``encoder``, the closed-set
    encoder's file that the caller obtained first (:func:`owslib.engine.pretrain.
    ensure_pretrained_encoder`, which trains it once if needed). Without it the encoder keeps its
    initialisation: what a caller that restores a checkpoint over the model wants.
    """
    info = init_distributed(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    dev = torch.device(device) if device is not None else resolve_device(cfg.train.device, info)
    torch.manual_seed(cfg.train.seed)
    if cfg.train.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    split = get_split(cfg.data.split_preset)
    data = build_datasets(cfg, split, info)
    k = split.num_known
    weights = torch.as_tensor(
        compute_class_weights(
            data["train"], k, method=cfg.data.class_weighting, cache_dir=cache_dir()
        ),
        dtype=torch.float32,
    )
    bare = build_model(cfg.model, num_classes=k)
    if cfg.model.pretrain_epochs > 0:
        if cfg.model.pretrained_path:
            raise ValueError("model__pretrain_epochs and model__pretrained_path exclude each other")
        if encoder is not None:
            load_encoder_weights(bare.encoder, encoder)
        else:
            log.info("no closed-set encoder given: the encoder starts at its initialisation")
        torch.manual_seed(cfg.train.seed)  # this run's own seed, whatever the pretraining drew
    bare = bare.to(dev)
    if cfg.train.channels_last:
        bare = bare.to(memory_format=torch.channels_last)
    model: nn.Module = bare
    if info.enabled:
        model = nn.parallel.DistributedDataParallel(
            bare, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    objective = ContMAVObjective(
        cfg.loss, k, bare.embedding_dim, weights, output_keys=bare.output_keys
    ).to(dev)
    t = cfg.train
    # the objective's own parameters (a temperature, a prototype) are trained with the model
    params = [*bare.parameters(), *objective.parameters()]
    optimizer = torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
    if t.batch_size < 2 and cfg.model.context == "ppm":
        raise ValueError(
            "train__batch_size must be >= 2 with model__context=ppm: BatchNorm of the 1x1 pooling "
            "branch needs more than one value per channel"
        )
    train_loader = _loader(
        data["train"], t.batch_size, cfg.data.num_workers, train=True, dist=info, seed=t.seed
    )
    steps = t.epochs * math.ceil(len(train_loader) / t.accumulate)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=t.lr,
        total_steps=max(steps, 1),
        pct_start=t.pct_start,
        div_factor=t.div_factor,
        final_div_factor=t.final_div_factor,
        anneal_strategy="cos",
    )
    scaler = torch.amp.GradScaler(dev.type, enabled=t.amp and dev.type == "cuda")
    ev = cfg.eval.batch_size
    return Experiment(
        cfg=cfg,
        split=split,
        device=dev,
        dist=info,
        model=model,
        bare_model=bare,
        objective=objective,
        optimizer=optimizer,
        scheduler=scheduler,
        scaler=scaler,
        train_loader=train_loader,
        val_loader=_loader(data["val"], ev, cfg.data.num_workers, train=False, dist=info),
        test_loader=_loader(data["test"], ev, cfg.data.num_workers, train=False, dist=info),
        class_weights=weights,
    )
