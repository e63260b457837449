"""Multi-GPU training with torch's own engine: DDP processes launched by ``torchrun``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (a no-op without it).

    NCCL on CUDA, Gloo on CPU. On CUDA each process uses ``cuda:LOCAL_RANK``.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistInfo()
    info = DistInfo(
        int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    )
    if info.world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
        log.info("DDP rank %d/%d (%s)", info.rank, info.world_size, backend)
    return info


def distributed() -> bool:
    """Whether this process is one of a DDP process group."""
    return dist.is_available() and dist.is_initialized()


def all_reduce_sum(t: torch.Tensor) -> None:
    """Sum ``t`` in place across processes (no-op outside DDP)."""
    if distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)


def _flag_device() -> torch.device:
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else (torch.device("cpu"))
    )


def main_value(flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank (``flag`` itself outside DDP): one decision for all."""
    if not distributed():
        return flag
    t = torch.tensor([int(flag)], device=_flag_device())
    dist.broadcast(t, src=0)
    return bool(t.item())


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` holds on any rank (``flag`` itself outside DDP)."""
    if not distributed():
        return flag
    t = torch.tensor([int(flag)], device=_flag_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast_from_main(obj: object) -> object:
    """Rank 0's ``obj`` (any picklable value) on every rank; ``obj`` itself outside DDP."""
    if not distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_state(module: torch.nn.Module) -> None:
    """Every tensor of ``module``'s state (parameters and buffers) from the main process, in
    place: after DDP training the ranks' BatchNorm running statistics differ (DDP broadcasts them
    only at the start of a forward), so each rank would evaluate another model."""
    if not distributed():
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def barrier() -> None:
    if distributed():
        dist.barrier()


def resolve_device(name: str, info: DistInfo | None = None) -> torch.device:
    """``auto`` → CUDA if available else CPU; under DDP on CUDA, this process's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and info is not None and info.enabled:
        device = torch.device("cuda", info.local_rank)
    return device


class ShardSampler(torch.utils.data.Sampler[int]):
    """Indices ``rank, rank + world, …`` of a dataset: every item on exactly one process.

    For evaluation under DDP. ``DistributedSampler`` pads the last round with repeated items so
    every rank gets as many, which counts those images twice in every metric; this sampler does
    not pad (ranks may differ by one item; the metrics are summed across ranks, not averaged).
    """

    def __init__(self, data_source, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside 0..{world_size - 1}")
        self.n, self.rank, self.world_size = len(data_source), rank, world_size

    def __iter__(self):
        return iter(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))
