"""Training loop in the shape of torchvision's segmentation reference: ``train_one_epoch`` and ``fit``."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from owslib.config import ExperimentConfig, training_changes
from owslib.distributed import all_reduce_sum
from owslib.engine.autocast import autocast
from owslib.engine.checkpoint import load_checkpoint, save_checkpoint, set_rng_state
from owslib.engine.logging import RunLogger, epoch_line

if TYPE_CHECKING:
    from owslib.engine.experiment import Experiment

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoints/last.pt"


def seed_epoch(seed: int, epoch: int, rank: int = 0) -> None:
    """Seed every generator from (seed, epoch, rank): an epoch's shuffling and augmentation then do
    not depend on what ran before it, which is what makes a resumed run match an uninterrupted one;
    the rank gives each DDP process its own augmentation stream."""
    s = (seed * 1_000_003 + epoch * 1_009 + rank) % 2**31
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)


@contextmanager
def cudnn_autotuning(device: torch.device, deterministic: bool) -> Iterator[None]:
    """cuDNN's benchmark mode while training on CUDA: the crops have one size, so the fastest
    convolution algorithms are measured once per shape and reused for every step. Off in
    deterministic mode (the measured choice may differ between runs, and with it the bits);
    restored afterwards, for evaluation, whose image sizes may vary (a measurement per new size).
    On other devices nothing changes."""
    before = torch.backends.cudnn.benchmark
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def train_one_epoch(
    exp: Experiment, epoch: int, logger: RunLogger | None = None
) -> dict[str, float]:
    """One pass over the training loader; returns the mean of every loss term."""
    cfg = exp.cfg.train
    exp.model.train()
    exp.objective.train()
    sampler = getattr(exp.train_loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    sums: dict[str, torch.Tensor] = {}
    n_batches = len(exp.train_loader)
    exp.optimizer.zero_grad(set_to_none=True)
    bar = tqdm(exp.train_loader, desc=f"epoch {epoch}", leave=False, disable=None)
    for i, (image, target) in enumerate(bar):
        image = image.to(exp.device, non_blocking=True)
        if cfg.channels_last:
            image = image.contiguous(memory_format=torch.channels_last)
        target = target.to(exp.device, non_blocking=True)
        with autocast(exp.device, cfg.amp):
            outputs = exp.model(image)
        # Losses run in float32 outside autocast: norms, exp and statistics are precision-sensitive.
        outputs = {k: v.float() for k, v in outputs.items()}
        terms = exp.objective(outputs, target)
        # the last group of an epoch may be shorter than `accumulate`: average over its real size
        group = min(cfg.accumulate, n_batches - (i // cfg.accumulate) * cfg.accumulate)
        exp.scaler.scale(terms["loss"] / group).backward()
        if (i + 1) % cfg.accumulate == 0 or i + 1 == n_batches:
            if cfg.grad_clip > 0:
                exp.scaler.unscale_(exp.optimizer)  # clip the true gradients, not scaled ones
                torch.nn.utils.clip_grad_norm_(exp.model.parameters(), cfg.grad_clip)
            exp.scaler.step(exp.optimizer)
            exp.scaler.update()
            exp.optimizer.zero_grad(set_to_none=True)
            exp.scheduler.step()  # one-cycle is stepped per optimizer step
            exp.global_step += 1
            if logger is not None and exp.global_step % cfg.log_every == 0:
                logger.record(
                    "train_step",
                    exp.global_step,
                    {k: float(v.detach()) for k, v in terms.items()}
                    | {"lr": exp.scheduler.get_last_lr()[0]},
                )
        for k, v in terms.items():
            sums[k] = sums.get(k, torch.zeros((), device=exp.device)) + v.detach()
    if exp.dist.enabled:  # every rank sees the same epoch means (and the same finiteness verdict)
        keys = sorted(sums)
        packed = torch.stack(
            [sums[k] for k in keys] + [torch.tensor(float(n_batches), device=exp.device)]
        )
        all_reduce_sum(packed)
        sums, n_batches = dict(zip(keys, packed[:-1], strict=True)), int(packed[-1])
    means = {f"train_{k}": float(v) / max(n_batches, 1) for k, v in sums.items()}
    if not all(math.isfinite(v) for v in means.values()):
        raise FloatingPointError(f"epoch {epoch}: non-finite training loss {means}")
    return means


def fit(
    exp: Experiment,
    run_dir: str | Path,
    *,
    resume: bool = True,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
    validate: Callable[[Experiment], dict[str, float]] | None = None,
) -> list[dict[str, Any]]:
    """Train for ``cfg.train.epochs`` epochs, checkpointing after each; returns the epoch history.

    Every ``train__eval_every`` epochs ``validate(exp)`` adds its numbers to the epoch's row
    (:func:`owslib.evaluation.epoch_validation` is the usual check); without it nothing is
    validated, whatever ``eval_every`` says.

    With ``resume`` an existing ``run_dir/checkpoints/last.pt`` of the same config is loaded and
    training continues after its epoch (a finished run returns at once). Model, optimizer,
    scheduler, AMP scaler, class statistics, history and RNG state all come back.
    """
    run_dir = Path(run_dir)
    cfg = exp.cfg
    logger = RunLogger(run_dir, enabled=exp.dist.is_main)
    start = 0
    ckpt_path = run_dir / CHECKPOINT_NAME
    if resume and ckpt_path.exists():
        start = restore(exp, ckpt_path)
        logger.set_history(exp.history)
        log.info("resuming %s after epoch %d", run_dir, start - 1)
    if exp.dist.is_main:  # after restore() accepted the checkpoint: never overwrite its record
        cfg.to_json(run_dir / "config.json")

    for epoch in range(start, cfg.train.epochs):
        seed_epoch(cfg.train.seed, epoch, exp.dist.rank)
        t0 = time.perf_counter()
        row: dict[str, Any] = {"epoch": epoch, "lr": exp.scheduler.get_last_lr()[0]}
        with cudnn_autotuning(exp.device, cfg.train.deterministic):
            row |= train_one_epoch(exp, epoch, logger)
        exp.objective.end_epoch(all_reduce_sum if exp.dist.enabled else None)
        row["time_s"] = time.perf_counter() - t0
        if (
            validate is not None
            and cfg.train.eval_every
            and (epoch + 1) % cfg.train.eval_every == 0
        ):
            row |= validate(exp)
        exp.history.append(row)
        logger.end_epoch(row)
        if exp.dist.is_main:
            log.info("%s", epoch_line(row, cfg.train.epochs))
        if exp.dist.is_main:
            save_checkpoint(ckpt_path, **checkpoint_state(exp, epoch))
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    logger.close()
    return exp.history


def checkpoint_state(exp: Experiment, epoch: int) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "global_step": exp.global_step,
        "config": exp.cfg.to_dict(),
        "model": exp.bare_model.state_dict(),
        "objective": exp.objective.state_dict(),
        "optimizer": exp.optimizer.state_dict(),
        "scheduler": exp.scheduler.state_dict(),
        "scaler": exp.scaler.state_dict(),
        "history": exp.history,
    }


def restore(exp: Experiment, path: Path) -> int:
    """Load a training checkpoint into ``exp``; returns the next epoch to run."""
    ckpt = load_checkpoint(path, map_location=exp.device)
    diff = training_changes(ExperimentConfig.from_dict(ckpt["config"]).to_flat(), exp.cfg.to_flat())
    if diff:
        raise ValueError(
            f"{path} was written with another config (differs in {diff}); "
            "use a new output folder or resume=False"
        )
    exp.bare_model.load_state_dict(ckpt["model"])
    exp.objective.load_state_dict(ckpt["objective"])
    exp.optimizer.load_state_dict(ckpt["optimizer"])
    exp.scheduler.load_state_dict(ckpt["scheduler"])
    exp.scaler.load_state_dict(ckpt["scaler"])
    exp.history = list(ckpt["history"])
    exp.global_step = int(ckpt["global_step"])
    set_rng_state(ckpt["rng"])
    return int(ckpt["epoch"]) + 1
