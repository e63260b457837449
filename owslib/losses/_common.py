"""Shared helpers for losses: known-pixel masks, graph-attached zeros and masked means.

The losses run in the training step, where a Python ``if`` on a tensor (``if mask.any()``) or a
boolean-mask gather (``x[mask]``) waits for the device on CUDA: they reduce with masks instead
(:func:`masked_mean`, ``torch.where``, ``index_add_`` with a discard row), whose shapes do not
depend on the data (``tests/losses/test_sync_free.py`` checks it).
"""

from __future__ import annotations

import torch


def attached_zero(*tensors: torch.Tensor) -> torch.Tensor:
    """A finite scalar zero that keeps every given tensor in the autograd graph.

    Used for empty cases (an all-ignored batch, the first epoch of statistics-based terms), so that
    DDP sees every parameter take part and ``loss.backward()`` never fails.
    """
    total = tensors[0].new_zeros(())
    for t in tensors:
        total = total + t.sum() * 0.0
    return total


def known_mask(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Pixels labelled with a known class index ``0..K-1`` (unknown classes and ignore excluded)."""
    return target < num_classes


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``values[mask].mean()``, and a zero attached to ``values``' graph when ``mask`` selects
    nothing, without a host–device synchronisation.

    ``values`` must be finite where ``mask`` is False: the gradient reaching those entries is a
    zero, which a non-finite local derivative would turn into NaN.
    """
    return torch.where(mask, values, 0.0).sum() / mask.sum().clamp_min(1)


def pixels_last(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` → ``(B, H, W, C)`` view: per-pixel vectors along the last dimension."""
    return x.permute(0, 2, 3, 1)


def class_weight_vector(weight, num_classes: int, what: str = "class weight") -> torch.Tensor:
    """Per-class weights as a float32 ``(K,)`` tensor (ones when ``weight`` is None); a wrong shape
    raises naming the expected one."""
    w = torch.ones(num_classes) if weight is None else torch.as_tensor(weight, dtype=torch.float32)
    if w.shape != (num_classes,):
        raise ValueError(f"{what} has shape {tuple(w.shape)}, expected ({num_classes},)")
    return w.clone()
