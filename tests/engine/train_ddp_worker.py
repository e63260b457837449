"""A process of the two-rank training test: train the smoke config for one epoch under DDP."""

from __future__ import annotations

import os


def run(rank: int, port: int, root: str, out_dir: str, cache: str, queue) -> None:
    os.environ.update(
        RANK=str(rank),
        WORLD_SIZE="2",
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        OWSLIB_CACHE=cache,
    )
    import torch
    import torch.distributed as dist

    from owslib.config import load_profile
    from owslib.runs.run import run_experiment

    torch.set_num_threads(1)
    cfg = load_profile(
        "smoke",
        data__root=root,
        train__epochs=1,
        model__pretrain_epochs=0,
        train__batch_size=2,
        eval__n_examples=3,
    )
    result = run_experiment(cfg, out_dir, load_model=False)
    queue.put((rank, result.metrics.get("miou")))
    dist.destroy_process_group()
