"""A process of the two-rank encoder-cache test: each rank has a cache of its own (two nodes)."""

from __future__ import annotations

from pathlib import Path

import torch.distributed as dist

from owslib.config import load_profile
from owslib.engine.pretrain import encoder_cache_path, encoder_cached, ensure_pretrained_encoder


def run(rank: int, store: str, caches: list[str], queue) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    # a data root that does not exist: any pretraining would fail, so none may start here
    cfg = load_profile("smoke", data__root=str(Path(store).parent / "no_data"))
    cache = Path(caches[rank])
    cached = encoder_cached(cfg, cache)
    out = {"cached": cached}
    if cached:
        path = ensure_pretrained_encoder(cfg, cache)
        out["bytes"] = path.read_bytes()
        out["json"] = path.with_suffix(".json").read_bytes()
    out["path_is_file"] = encoder_cache_path(cfg, cache).is_file()
    queue.put((rank, out))
    dist.destroy_process_group()
