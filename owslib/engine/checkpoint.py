"""Checkpoints: everything a run needs to resume exactly, written atomically, loaded weights-only."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from owslib.io import atomic_torch_save

CHECKPOINT_VERSION = 1


def rng_state() -> dict[str, Any]:
    """The state of every random generator a run touches, as tensors and plain lists."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    keys = state["numpy_keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, state["numpy_pos"], 0, 0.0))
    random.setstate(_to_tuples(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        # a run may resume on a machine with fewer GPUs than it was saved on
        for device, gpu_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(gpu_state, device)


def save_checkpoint(path: str | Path, **state: Any) -> None:
    """Write ``state`` (module/optimizer state dicts, config dict, epoch, …) atomically."""
    payload = {"version": CHECKPOINT_VERSION, "rng": rng_state(), **state}
    atomic_torch_save(payload, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no code is run from the file)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated or foreign files
        # one line naming the file; torch's own message would advise weights_only=False, which
        # runs code from a file of unknown origin (its text stays on the exception's cause)
        why = type(e).__name__ if "weights_only" in str(e) else str(e).splitlines()[0][:120]
        raise ValueError(f"{path}: not a readable owslib checkpoint ({why})") from e
    if not isinstance(ckpt, dict) or ckpt.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path}: not an owslib checkpoint (version {CHECKPOINT_VERSION} expected)"
        )
    return ckpt


def _to_lists(x: Any) -> Any:
    return [_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _to_tuples(x: Any) -> Any:
    return tuple(_to_tuples(v) for v in x) if isinstance(x, list) else x
