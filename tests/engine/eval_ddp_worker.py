"""A process of the two-rank evaluation test: evaluate a fixed model on a shard of the smoke set."""

from __future__ import annotations

import torch
import torch.distributed as dist


def evaluate_once(root: str, out_dir: str, rank: int = 0, world_size: int = 1) -> dict:
    """Metrics of a seeded smoke model on 5 test images (one process, or this rank's shard)."""
    from torch.utils.data import DataLoader

    from owslib.config import load_profile
    from owslib.data import CityscapesDataset
    from owslib.distributed import ShardSampler
    from owslib.evaluation.passes import evaluate_model
    from owslib.evaluation.protocol import options_from_config
    from owslib.labels import get_split
    from owslib.losses import ClassStatistics
    from owslib.models import build_model

    torch.set_num_threads(1)
    cfg = load_profile("smoke", data__root=root)
    split = get_split(cfg.data.split_preset)
    k = split.num_known
    torch.manual_seed(0)
    model = build_model(cfg.model, k).eval()
    stats = ClassStatistics(k)
    stats.mean.copy_(torch.randn(k, k, generator=torch.Generator().manual_seed(1)) * 0.01)
    stats.var.fill_(1e-4)
    stats.valid.fill_(True)
    ds = CityscapesDataset(root, "test", split, max_images=5)
    sampler = ShardSampler(ds, rank, world_size) if world_size > 1 else None
    loader = DataLoader(ds, batch_size=1, sampler=sampler)
    from owslib.report import write_evaluation

    result = evaluate_model(
        model,
        stats,
        loader,
        num_classes=k,
        class_names=split.known_names,
        unknown_names=split.unknown_names,
        device=torch.device("cpu"),
        options=options_from_config(cfg, n_maps=0),
    )
    if rank == 0:
        write_evaluation(out_dir, result, "embedded", split.name)
    return dict(result)


def run(rank: int, store: str, root: str, out_dir: str, queue) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    queue.put((rank, evaluate_once(root, out_dir, rank, 2)))
    dist.destroy_process_group()
