"""Mixed precision for forward passes, shared by training and evaluation."""

from __future__ import annotations

from contextlib import nullcontext

import torch


def autocast(device: torch.device, enabled: bool):
    """Mixed precision for the forward pass: float16 on CUDA, bfloat16 on CPU."""
    if not enabled:
        return nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)
