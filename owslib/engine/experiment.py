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

from owslib.config import ExperimentConfig
from owslib.data import (
    CityscapesDataset,
    build_eval_transforms,
    build_train_transforms,
    compute_class_weights,
    ensure_embedded_dataset,
)
from owslib.data.cityscapes import FLAVOURS, validate_files, validation_wanted
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
from owslib.profiles import PROFILES
from owslib.sources import missing_root_message

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
    if cfg.data.dataset != "embedded" and not root.exists():  # say how to get it
        raise DatasetError(missing_root_message(root, cfg.data.dataset))
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
    validate = validation_wanted(d)  # (an invalid data__validate is named before any reading)
    datasets = {
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
    if validate:  # a bad file ends the run now, in one line, not when a loader worker draws it
        validate_files(datasets.values(), main=dist is None or dist.is_main)
    return datasets


#: ``data__num_workers`` value meaning "what this process's share of the machine allows".
AUTO_WORKERS = -1
#: The most loader workers the automatic choice starts per process: the paper profile's loader
#: (PNG decode, scale, crop, jitter of 1024x2048 images) needs a few to feed one GPU.
MAX_AUTO_WORKERS = 8


def resolve_num_workers(
    requested: int, *, cpus: int | None = None, local_ranks: int | None = None
) -> int:
    """DataLoader workers for ``data__num_workers``: a count ``≥ 0`` as given; ``-1`` (the
    default) = ``min(8, cores of this process's share − 1)``, one core left to the training
    process. The share is the cores this process may run on (``os.sched_getaffinity``) divided
    among the processes of this node (``LOCAL_WORLD_SIZE``, set by torchrun)."""
    if requested >= 0:
        return requested
    if requested != AUTO_WORKERS:
        raise ValueError(
            f"data__num_workers={requested}: expected a count >= 0, or {AUTO_WORKERS} (automatic)"
        )
    if cpus is None:
        affinity = getattr(os, "sched_getaffinity", None)
        cpus = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
    if local_ranks is None:
        local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(0, min(MAX_AUTO_WORKERS, cpus // max(local_ranks, 1) - 1))


def loader_options(
    device: str | torch.device, workers: int, *, batch: int, train: bool, per_rank: int
) -> dict[str, Any]:
    """The DataLoader arguments of a training or evaluation loader feeding ``device``."""
    n = resolve_num_workers(workers)
    return dict(
        batch_size=batch,
        num_workers=n,
        # page-locked batches: the loop's non_blocking copies then overlap the device's work
        pin_memory=torch.device(device).type == "cuda",
        drop_last=train and per_rank > batch,
        # False, whatever the device: workers are re-created every epoch, so they inherit the
        # per-epoch seeding (loop.seed_epoch). Persistent workers keep the RNG state they were
        # started with (the DataLoader seeds them once) and continue it from epoch to epoch, so a
        # run resumed at epoch e would augment differently from an uninterrupted one. The price
        # is starting the workers once per epoch (seconds, against minutes of a GPU epoch).
        persistent_workers=False,
    )


def _loader(
    ds: Dataset,
    batch: int,
    workers: int,
    *,
    train: bool,
    dist: DistInfo,
    device: str | torch.device,
    seed: int = 0,
) -> DataLoader:
    sampler = None
    if dist.enabled:  # evaluation shards without padding: every image counted exactly once
        sampler = (
            DistributedSampler(ds, shuffle=True, seed=seed)
            if train
            else ShardSampler(ds, dist.rank, dist.world_size)
        )
    per_rank = len(sampler) if sampler is not None else len(ds)
    options = loader_options(device, workers, batch=batch, train=train, per_rank=per_rank)
    return DataLoader(ds, shuffle=train and sampler is None, sampler=sampler, **options)


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
    bare, model = _model(cfg, k, encoder, dev, info)
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
    workers = cfg.data.num_workers
    train_loader = _loader(
        data["train"], t.batch_size, workers, train=True, dist=info, device=dev, seed=t.seed
    )
    scheduler = _one_cycle(optimizer, t, math.ceil(len(train_loader) / t.accumulate))
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
        val_loader=_loader(data["val"], ev, workers, train=False, dist=info, device=dev),
        test_loader=_loader(data["test"], ev, workers, train=False, dist=info, device=dev),
        class_weights=weights,
    )


def _model(
    cfg: ExperimentConfig, k: int, encoder: str | Path | None, dev: torch.device, info: DistInfo
) -> tuple[nn.Module, nn.Module]:
    """The network (``bare``) on its device, from the closed-set encoder where the profile
    pretrains one, and the module that trains it (DDP-wrapped under torchrun)."""
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
    if not info.enabled:
        return bare, bare
    ids = [dev.index] if dev.type == "cuda" else None
    return bare, nn.parallel.DistributedDataParallel(bare, device_ids=ids)


def _one_cycle(optimizer: torch.optim.Optimizer, t: Any, steps_per_epoch: int):
    """The one-cycle schedule over every optimiser step of the run (cosine annealing)."""
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=t.lr,
        total_steps=max(t.epochs * steps_per_epoch, 1),
        pct_start=t.pct_start,
        div_factor=t.div_factor,
        final_div_factor=t.final_div_factor,
        anneal_strategy="cos",
    )
