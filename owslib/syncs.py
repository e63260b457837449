"""Host–device synchronisations, counted on any device: the torch calls that make the host wait
for the device on CUDA, recorded by name while :class:`SyncCalls` is active (on a CPU nothing waits,
so they are only recorded). ``tests/losses/test_sync_free.py`` asserts the training step makes none;
``benchmarks/sync_count.py`` prints how many."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

T = torch.Tensor
#: Calls that always synchronise: Python truth and numbers, copies to the host, and the operators
#: whose output size depends on the data.
ALWAYS = {
    T.__bool__,
    T.item,
    T.tolist,
    T.__int__,
    T.__float__,
    T.__index__,
    T.cpu,
    T.numpy,
    T.nonzero,
    torch.nonzero,
    T.argwhere,
    torch.argwhere,
    T.masked_select,
    torch.masked_select,
    T.unique,
    torch.unique,
    T.bincount,
    torch.bincount,
}


def _is_bool_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, T) and i.dtype in (torch.bool, torch.uint8) for i in items)


def is_sync(func: Any, args: tuple, kwargs: dict) -> bool:
    """Whether this torch call synchronises host and device on CUDA: a call of :data:`ALWAYS`,
    indexing by a boolean tensor (``x[mask]``, ``x[mask] = v``), one-argument ``torch.where``, or
    ``repeat_interleave`` by a tensor without ``output_size``."""
    if func in ALWAYS:
        return True
    if func in (T.__getitem__, T.__setitem__):
        return len(args) > 1 and _is_bool_index(args[1])
    if func is torch.where:
        return len(args) + len(kwargs) == 1
    if func in (T.repeat_interleave, torch.repeat_interleave):
        repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
        return isinstance(repeats, T) and kwargs.get("output_size") is None
    return False


class SyncCalls(TorchFunctionMode):
    """Records the names of the synchronising torch calls made while active, in order (``calls``;
    ``by_name`` counts them)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if is_sync(func, args, kwargs):
            self.calls.append(getattr(func, "__name__", str(func)))
        return func(*args, **kwargs)

    @property
    def by_name(self) -> Counter[str]:
        return Counter(self.calls)

    @property
    def total(self) -> int:
        return len(self.calls)
