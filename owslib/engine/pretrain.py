"""The closed-set encoder every run of a profile starts from: trained once, cached, reused.

The paper starts every model from ImageNet weights (§4). The embedded dataset has no such
weights, so ``model__pretrain_epochs > 0`` stands in for them: a closed-set segmenter (the same
network, class-weighted CE only, seed 0) is trained once on the training split, and its encoder
initialises every variant and seed. Its cost is paid once per profile and dataset; the file is
cached under ``$OWSLIB_CACHE/encoders/`` (default ``~/.cache/owslib``), keyed by a hash of the
config that trained it, and written atomically.

A cache does not travel with a clone, and float32 training differs between machines, so a study
that continues elsewhere would start from another encoder. A results folder may therefore ship
the encoders its runs started from in ``<results>/encoders/`` (the cache's two files, copied
there by hand); :func:`encoder_cached` restores a shipped one into a cache that lacks it, and
``run.json``'s ``encoder_sha256`` shows that the runs share it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from owslib.config import ConfigError, ExperimentConfig, LossConfig, ModelConfig
from owslib.distributed import any_rank, barrier, broadcast_from_main, init_distributed, main_value
from owslib.engine.experiment import build_experiment
from owslib.engine.loop import fit
from owslib.io import atomic_copy, atomic_torch_save, atomic_write_bytes, sha256_file
from owslib.paths import resolve

log = logging.getLogger(__name__)

#: Model fields that belong to the extensions, not to the shared encoder: the pretraining run
#: uses their defaults, so every variant of a study starts from the same encoder.
EXTENSION_FIELDS = (
    "extra_decoder",
    "mlp_dim",
    "fusion",
    "fusion_target",
    "embedding_dim",
    "confidence_detach",
)
#: Training fields that do not change what the pretraining run learns.
_NEUTRAL_TRAIN = ("device", "log_every", "eval_every")


def pretrain_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The closed-set run whose encoder ``cfg`` starts from (same data, network and schedule
    shape; CE only; ``model__pretrain_epochs`` epochs; seed 0)."""
    base = ModelConfig()
    model = replace(
        cfg.model,
        pretrain_epochs=0,
        pretrained_path="",
        **{f: getattr(base, f) for f in EXTENSION_FIELDS if hasattr(base, f)},
    )
    loss = LossConfig(w_sem=1.0, w_feat=0.0, w_cont=0.0, w_obj=0.0)
    train = replace(cfg.train, epochs=cfg.model.pretrain_epochs, seed=0, eval_every=0)
    return replace(cfg, name="closed_set_encoder", model=model, loss=loss, train=train)


def encoder_cache_path(cfg: ExperimentConfig, cache: Path) -> Path:
    """Where the encoder for ``cfg`` is cached: ``cache/encoders/<hash of its training config>.pt``."""
    return cache / "encoders" / f"{_encoder_key(pretrain_config(cfg))}.pt"


def _encoder_key(pcfg: ExperimentConfig) -> str:
    """The hash of a pretraining config (:func:`pretrain_config`) that names its encoder file."""
    flat = pcfg.to_flat()
    # Only values that differ from the defaults enter the key: a config field added later, whose
    # default keeps the old behaviour, leaves every cached encoder valid.
    default = ExperimentConfig().to_flat()
    key = {
        k: v
        for k, v in flat.items()
        if v != default.get(k)
        and not k.startswith(("eval__", "loss__"))  # the loss is always CE alone
        and k.removeprefix("train__") not in _NEUTRAL_TRAIN
        and k not in ("name", "profile", "data__num_workers", "data__validate")
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def shipped_encoders() -> Path:
    """The encoders shipped with the results: ``$OWSLIB_SHIPPED_ENCODERS``, else the repository's
    ``results/encoders/`` (whatever results folder a study writes into)."""
    return resolve(os.environ.get("OWSLIB_SHIPPED_ENCODERS", "results/encoders"))


def encoder_cached(cfg: ExperimentConfig, cache: Path, shipped: Path | None = None) -> bool:
    """Whether the encoder for ``cfg`` is cached, as the main process sees it: one answer for
    every DDP rank, even where each node has a cache of its own (the main's cache decides). The
    main process first restores a shipped encoder into a cache that lacks it (``shipped``:
    default :func:`shipped_encoders`; see :func:`restore_shipped_encoder`)."""
    init_distributed(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    if (
        _is_main()
    ):  # one copy per job; other nodes get the main's bytes in ensure_pretrained_encoder
        restore_shipped_encoder(cfg, cache, shipped_encoders() if shipped is None else shipped)
    return main_value(encoder_cache_path(cfg, cache).is_file())


def restore_shipped_encoder(cfg: ExperimentConfig, cache: Path, shipped: Path) -> bool:
    """Copy the encoder for ``cfg`` (its ``.pt`` and ``.json``) from ``shipped`` into ``cache``
    if the cache lacks it; True if copied. A shipped ``.pt`` without its ``.json``, or whose
    ``.json`` is not the config its name stands for, is refused by name; a cached file other
    than the shipped one is kept, with a warning that names both checksums (runs from the two
    encoders are not paired)."""
    target = encoder_cache_path(cfg, cache)
    source = Path(shipped) / target.name
    if not source.is_file():
        return False
    if target.is_file():
        mine, theirs = sha256_file(target), sha256_file(source)
        if mine != theirs:
            log.warning(
                "the cached encoder %s (sha256 %s) is not the one shipped in %s (%s): "
                "runs trained from it are not paired with the shipped encoder's runs; "
                "remove the cached file to use the shipped one",
                target,
                mine[:12],
                source.parent,
                theirs[:12],
            )
        return False
    meta = source.with_suffix(".json")
    try:
        key = _encoder_key(ExperimentConfig.from_json(meta))
    except ConfigError as e:
        raise ValueError(f"{meta}: the config of the shipped encoder {source.name} ({e})") from e
    if key != target.stem:
        raise ValueError(f"{meta}: the config of another encoder (key {key}), not {target.stem}")
    atomic_copy(meta, target.with_suffix(".json"))
    atomic_copy(source, target)
    log.info("closed-set encoder %s restored from %s", target.name, source.parent)
    return True


def ensure_pretrained_encoder(cfg: ExperimentConfig, cache: Path) -> Path:
    """The cached encoder file for ``cfg``, training it first if the main process lacks it.

    Under DDP every rank takes part in the pretraining run and the main process writes the file;
    a rank whose (node-local) cache lacks the main's file then receives its bytes and writes them,
    so that every node starts from the same encoder.
    """
    path = encoder_cache_path(cfg, cache)
    if not encoder_cached(cfg, cache):
        pcfg = pretrain_config(cfg)
        log.info("training the closed-set encoder once (%d epochs) -> %s", pcfg.train.epochs, path)
        exp = build_experiment(pcfg)
        with tempfile.TemporaryDirectory(prefix="owslib-pretrain-") as tmp:
            fit(exp, tmp, resume=False)
        if exp.dist.is_main:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_torch_save(
                {
                    "state_dict": {
                        f"encoder.{k}": v for k, v in exp.bare_model.encoder.state_dict().items()
                    },
                    "config": pcfg.to_dict(),
                },
                path,
            )
            pcfg.to_json(path.with_suffix(".json"))
        barrier()
    if any_rank(not path.is_file()):  # another node's cache: the main's file, byte for byte
        files = (path, path.with_suffix(".json"))
        data = broadcast_from_main(
            [f.read_bytes() if f.is_file() else None for f in files] if _is_main() else None
        )
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            for f, b in zip(files, data, strict=True):
                if b is not None:
                    atomic_write_bytes(f, b)
        barrier()
    return path


def _is_main() -> bool:
    import torch.distributed as dist

    return not dist.is_initialized() or dist.get_rank() == 0
