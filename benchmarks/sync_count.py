"""Host–device synchronisations per training step of the objective (forward + backward).

    python benchmarks/sync_count.py                 # CPU: counts the calls that would sync on CUDA
    python benchmarks/sync_count.py --device cuda   # CUDA: torch.cuda.set_sync_debug_mode("warn")

Builds the quick profile's model and objective with class statistics in place and the warm-up
passed (so every term does its work, as from the statistics' first epoch on), runs one model
forward outside the count, then counts during ``objective(outputs, target)`` and
``loss.backward()`` of one batch (with void, padding and an unknown class in the target).

On a CPU nothing synchronises, so the count is of the Python-level calls that do on CUDA
(:class:`owslib.syncs.SyncCalls`): ``bool(t)``/``if t``, ``.item()``, ``.tolist()``, ``int(t)``,
``float(t)``, ``.cpu()``, ``.numpy()``, ``nonzero``/``argwhere``/``masked_select``/``unique``/
``bincount``, one-argument ``torch.where``, ``repeat_interleave`` by a tensor without
``output_size``, and indexing by a boolean tensor (``x[mask]``, ``x[mask] = v``). On CUDA the
driver-level count comes from the sync debug mode's warnings, which also sees syncs inside
operators (and outside the objective's Python code). The per-part counts (``by_part``) are the
objective's statistics update and each term called alone.

Prints one JSON line: ``syncs_per_step`` (this code), ``before`` (recorded on the losses as they
were before the masked reductions, same command and device kind), ``by_part``, the method, the
device and the settings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import warnings
from collections import Counter

import torch

from owslib.config import load_profile
from owslib.labels import IGNORE_INDEX, PAD_INDEX, get_split
from owslib.losses import ContMAVObjective
from owslib.models import build_model
from owslib.syncs import SyncCalls

#: This script's counts (CPU method, default arguments) on the losses before the masked
#: reductions (commit 928104a); ``by_part`` as measured alone, ``objective`` the rest of the step
#: (``int(epochs_done)`` twice in owslib/losses/objective.py).
BEFORE_CPU = {
    "syncs_per_step": 26,
    "by_part": {"stats_update": 3, "sem": 2, "feat": 5, "cont": 10, "obj": 4, "objective": 2},
}


class CudaSyncCounter:
    """Counts the warnings of ``torch.cuda.set_sync_debug_mode("warn")`` while active."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> CudaSyncCounter:
        self._records = self._stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
        return self

    def __exit__(self, *exc) -> None:
        torch.cuda.set_sync_debug_mode("default")
        for w in self._records:
            if "synchroniz" in str(w.message):
                self.calls[str(w.message).split("\n")[0][:80]] += 1
        self._stack.close()

    @property
    def by_name(self) -> Counter[str]:
        return self.calls

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def counter(device: torch.device) -> CudaSyncCounter | SyncCalls:
    return CudaSyncCounter() if device.type == "cuda" else SyncCalls()


def make_batch(k: int, batch: int, h: int, w: int, device: torch.device) -> torch.Tensor:
    """A target with known classes, void, crop padding and an unknown class."""
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, k, (batch, h, w), generator=g)
    target[:, : h // 8] = IGNORE_INDEX
    target[:, :, -w // 16 :] = PAD_INDEX
    target[0, h // 2 : h // 2 + 4, : w // 4] = k  # an unknown class (a held-out id)
    return target.to(device)


def warmed_objective(cfg, model, k: int, image: torch.Tensor) -> ContMAVObjective:
    """The objective with statistics of finished epochs and its warm-up passed."""
    objective = ContMAVObjective(
        cfg.loss, k, model.embedding_dim, output_keys=model.output_keys
    ).to(image.device)
    with torch.no_grad():
        logits = model(image)["sem_logits"]
    for _ in range(max(cfg.loss.stats_warmup_epochs, 1)):
        objective.stats.update(logits, logits.argmax(1))  # every pixel a true positive
        objective.end_epoch()
    return objective.train()


def count_step(objective, outputs, target, device) -> tuple[int, dict[str, int]]:
    outs = {k: v.detach().requires_grad_() for k, v in outputs.items()}
    with counter(device) as c:
        objective(outs, target)["loss"].backward()
    return c.total, dict(c.by_name)


def count_parts(objective, outputs, target, device) -> dict[str, int]:
    parts = {}
    with counter(device) as c:
        objective.stats.update(outputs["sem_logits"], target)
    parts["stats_update"] = c.total
    for name, term in objective.terms.items():
        outs = {k: v.detach().requires_grad_() for k, v in outputs.items()}
        with counter(device) as c:
            value = term(outs, target)
            value = value[name] if isinstance(value, dict) else value
            value.backward()
        parts[name] = c.total
    return parts


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="cpu", help="cpu (counted calls) or cuda (sync debug mode)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--profile", default="quick")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg = load_profile(args.profile)
    k = get_split(cfg.data.split_preset).num_known
    h, w = cfg.data.crop_height, cfg.data.crop_width
    model = build_model(cfg.model, num_classes=k).to(device).eval()
    image = torch.randn(args.batch, 3, h, w, device=device)
    target = make_batch(k, args.batch, h, w, device)
    objective = warmed_objective(cfg, model, k, image)
    with torch.no_grad():
        outputs = {key: v.float() for key, v in model(image).items()}
    count_step(objective, outputs, target, device)  # a first step outside the count (lazy init)
    total, calls = count_step(objective, outputs, target, device)
    parts = count_parts(objective, outputs, target, device)
    parts["objective"] = total - sum(parts.values())
    method = "cuda_sync_debug_mode" if device.type == "cuda" else "cpu_call_count"
    print(
        json.dumps(
            {
                "syncs_per_step": total,
                "before": BEFORE_CPU if device.type == "cpu" else None,
                "by_part": parts,
                "calls": calls,
                "method": method,
                "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "profile": args.profile,
                "batch": args.batch,
                "height": h,
                "width": w,
                "terms": sorted(objective.terms),
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
