"""The size and compute of a model configuration: parameters and forward GFLOPs, without weights.

The model is built on the ``meta`` device (no memory, no data) and one forward pass at the given
input size is counted by :class:`torch.utils.flop_counter.FlopCounterMode` (a multiply-add counts
two FLOPs).
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from owslib.config import ModelConfig
from owslib.models import build_model, count_parameters


def model_cost(cfg: ModelConfig, num_classes: int, height: int = 512, width: int = 1024) -> dict:
    """``{"parameters": int, "gflops": float}`` of ``cfg`` for a 1×3×H×W input."""
    from dataclasses import replace

    with torch.device("meta"):
        model = build_model(replace(cfg, pretrained_path=""), num_classes).eval()
        x = torch.empty(1, 3, height, width)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return {"parameters": count_parameters(model), "gflops": counter.get_total_flops() / 1e9}
