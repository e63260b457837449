"""Loading ImageNet encoder weights from a local file (torchvision ResNet or ESANet NBt1D)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

logger = logging.getLogger(__name__)

_MAX_LISTED = 10


def load_encoder_weights(encoder: nn.Module, path: str | Path) -> None:
    """Load ImageNet weights from ``path`` into a :class:`~owslib.models.resnet.ResNetEncoder`.

    Accepted files (read with ``torch.load(weights_only=True)``):

    * a torchvision ``resnet18``/``resnet34`` state dict (``conv1.weight``, ``layer1.0.conv1.weight``,
      …) for BasicBlock encoders;
    * ESANet's ``r18_NBt1D.pth``/``r34_NBt1D.pth`` (Seichter et al., ICRA 2021), shipped with
      ContMAV: ``{"state_dict": {"<prefix>encoder.<name>": tensor, ...}}``; the prefix up to and
      including ``encoder.`` is stripped and keys without an ``encoder`` segment are ignored.

    The classifier ``fc.*`` is dropped. Missing ``num_batches_tracked`` buffers (old torchvision
    files) keep the encoder's values. Raises ``FileNotFoundError`` for a missing file and
    ``ValueError`` naming the file, the missing and unexpected keys and any shape mismatch otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"encoder weights file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors come in many types
        raise ValueError(f"{path}: cannot read encoder weights ({type(e).__name__}: {e})") from e
    state = encoder_state_dict(obj, path)
    expected = encoder.state_dict()
    _check_compatible(state, expected, path, type(encoder).__name__)
    kept = {k: v for k, v in expected.items() if k not in state}  # num_batches_tracked only
    encoder.load_state_dict({**kept, **state}, strict=True)
    logger.info("loaded %d encoder tensors from %s", len(state), path)


def encoder_state_dict(obj: object, path: str | Path = "<memory>") -> dict[str, torch.Tensor]:
    """The encoder's tensors from a loaded checkpoint object, renamed to torchvision-style keys."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{path}: expected a (non-empty) state dict, got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: state dict entries that are not tensors: {_listing(bad)}")
    if any(_encoder_suffix(k) is not None for k in obj):
        renamed = {_encoder_suffix(k): v for k, v in obj.items() if _encoder_suffix(k) is not None}
        ignored = len(obj) - len(renamed)
        if ignored:
            logger.debug("%s: ignoring %d keys outside the encoder", path, ignored)
    elif all(k.startswith("module.") for k in obj):
        renamed = {k[len("module.") :]: v for k, v in obj.items()}
    else:
        renamed = dict(obj)
    return {k: v for k, v in renamed.items() if not k.startswith("fc.")}


def _encoder_suffix(key: str) -> str | None:
    """``"layer1.0.conv1.weight"`` for ``"module.encoder.layer1.0.conv1.weight"``, else None."""
    parts = key.split(".")
    if "encoder" not in parts[:-1]:
        return None
    return ".".join(parts[parts.index("encoder") + 1 :])


def _check_compatible(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
    path: Path,
    model_name: str,
) -> None:
    optional = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if state[k].shape != expected[k].shape
    )
    if not (missing or unexpected or shapes):
        return
    raise ValueError(
        f"{path}: weights do not match the {model_name} ({len(expected)} tensors expected; "
        "a torchvision resnet18/34 state dict suits BasicBlock encoders, ESANet's r*_NBt1D.pth "
        f"NonBottleneck-1D ones): {len(missing)} missing keys {_listing(missing)}; "
        f"{len(unexpected)} unexpected keys {_listing(unexpected)}; "
        f"{len(shapes)} shape mismatches {_listing(shapes)}"
    )


def _listing(items: list) -> str:
    shown = ", ".join(str(x) for x in items[:_MAX_LISTED])
    more = f", … (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return f"[{shown}{more}]"
