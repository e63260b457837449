"""Mixed precision for forward passes, shared by training and evaluation, and the CPU facts it
depends on.

On a CPU, autocast computes in bfloat16. CPUs with native bfloat16 instructions (AVX512-BF16 or
AMX) run it fast; on others (AVX2 only) oneDNN emulates it: measured 15-20x slower than float32
for a training step of the quick profile on a 2-core AVX2 EPYC (``benchmarks/train_step.py``), and
its numbers differ from a native machine's. ``autocast`` warns once per process in that case;
``run.json`` records :func:`cpu_info` so that runs of different machines are told apart.

Float32 results also depend on the kernels' instruction set: the same seed gives other bits on an
AVX512 machine than on an AVX2 one. ``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2`` and
``MKL_ENABLE_INSTRUCTIONS=AVX2`` select torch's, oneDNN's and MKL's AVX2 kernels (all three are
needed for a network's bits to change), which brings two machines closer but was not seen to
reproduce another machine's run; ``cpu_info`` records the caps in force (as the process
environment had them at its first call: set them before starting Python, as torch reads them).
"""

from __future__ import annotations

import functools
import logging
import os
import platform
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

#: /proc/cpuinfo flags of native bfloat16 arithmetic.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
#: Environment variables that cap the instruction set of torch's, oneDNN's and MKL's kernels.
ISA_CAP_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def autocast(device: torch.device, enabled: bool):
    """Mixed precision for the forward pass: float16 on CUDA, bfloat16 on CPU."""
    if not enabled:
        return nullcontext()
    if device.type == "cpu" and cpu_info()["cpu_bf16"] is False:
        _warn_emulated_bf16()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


@functools.cache
def cpu_info(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, Any]:
    """``cpu`` (model name), ``cpu_capability`` (torch's vector ISA: AVX2, AVX512, ...),
    ``cpu_bf16`` (native bfloat16 instructions; None where ``cpuinfo`` cannot be read) and
    ``cpu_isa_caps`` (those of :data:`ISA_CAP_VARIABLES` that are set, by name) and
    ``cpu_threads`` (torch's intra-op threads: a reduction's order, hence its bits, may follow
    them)."""
    model, flags = platform.processor() or platform.machine(), None
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() == "flags" and flags is None:
            flags = set(value.split())
    bf16 = None if flags is None else any(f in flags for f in BF16_FLAGS)
    caps = {name: os.environ[name] for name in ISA_CAP_VARIABLES if os.environ.get(name)}
    return {
        "cpu": model,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_bf16": bf16,
        "cpu_isa_caps": caps,
        "cpu_threads": torch.get_num_threads(),
    }


@functools.cache
def _warn_emulated_bf16() -> None:
    info = cpu_info()
    log.warning(
        "mixed precision (train__amp / eval__amp) on a CPU without native bfloat16 (%s, %s): "
        "emulated, measured 15-20x slower than float32; set train__amp=false and eval__amp=false "
        "(numbers then differ from bfloat16 runs)",
        info["cpu"],
        info["cpu_capability"],
    )
