"""A process of the two-rank InfoNCE prototype test (kept free of heavy imports: it is spawned)."""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from owslib.losses.infonce_term import InfoNCETerm

K, D = 3, 4


def rank_steps(rank: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Two steps of (known, labels, unknown) per rank; rank 1 has no unknown sample in the first
    step and no known sample in the second (each rank must still join the all-reduce)."""
    g = torch.Generator().manual_seed(10 + rank)
    steps = []
    for step in range(2):
        n_known = 0 if (rank, step) == (1, 1) else 5 + rank
        n_unknown = 0 if (rank, step) == (1, 0) else 3
        labels = torch.randint(0, K - rank, (n_known,), generator=g)  # rank 1 never sees class 2
        steps.append(
            (torch.randn(n_known, D, generator=g), labels, torch.randn(n_unknown, D, generator=g))
        )
    return steps


def state(term: InfoNCETerm) -> dict[str, np.ndarray]:
    """The term's prototypes as arrays (sent by value: a tensor through the queue would be shared
    memory that the finished process takes with it)."""
    return {
        "prototypes": term.prototypes.numpy().copy(),
        "valid": term.prototype_valid.numpy().copy(),
        "unknown": term.unknown_prototype.numpy().copy(),
    }


def run(rank: int, store: str, queue) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    term = InfoNCETerm(K, D, momentum=0.5)
    out = []
    for known, labels, unknown in rank_steps(rank):
        term._update(known, labels, unknown)
        out.append(state(term))
    queue.put((rank, out))
    dist.destroy_process_group()
