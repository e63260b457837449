"""A process of the two-rank ``AnomalyMetric.sync`` test (kept free of heavy imports: it is spawned)."""

from __future__ import annotations

import torch
import torch.distributed as dist

from owslib.metrics.anomaly import AnomalyMetric


def rank_data(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Four 3000-pixel images per rank; the ranks' score ranges differ tenfold."""
    g = torch.Generator().manual_seed(rank)
    y = (torch.rand(4, 3000, generator=g) < 0.1).to(torch.uint8)
    return torch.randn(4, 3000, generator=g) * (1 + 10 * rank) + 2 * y, y


def run(rank: int, store: str, queue) -> None:
    """Sync with both ranks holding data, then with rank 1 empty; report every result."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    out = {}
    for aggregation in ("pooled", "per_image"):
        for rank1_empty in (False, True):
            metric = AnomalyMetric(bins=5000, aggregation=aggregation)
            if rank == 0 or not rank1_empty:
                metric.update(*rank_data(rank))
            metric.sync()
            out[aggregation, rank1_empty] = metric.compute()
    queue.put((rank, out))
    dist.destroy_process_group()
