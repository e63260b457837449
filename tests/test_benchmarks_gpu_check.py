"""benchmarks/gpu_check.py refuses at once without CUDA (exit status 2, saying why)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"


def test_gpu_check_refuses_without_cuda():
    env = os.environ | {"CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a machine that has one
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "needs a CUDA GPU" in done.stderr and done.stdout == ""
    assert time.perf_counter() - t0 < 60  # at once: nothing is built or measured first


def test_gpu_check_refuses_a_cpu_device_too():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "needs a CUDA GPU" in done.stderr
