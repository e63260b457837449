"""Training-step time: forward + backward with CE only vs with all four ContMAV losses.

    python benchmarks/train_step.py --height 256 --width 512 --batch 2
    python benchmarks/train_step.py --height 512 --width 1024 --batch 8 --device cuda --amp
    python benchmarks/train_step.py --profile quick --height 128 --width 256 --batch 8 \
        --channels-last [--amp]     # the quick profile's step on a CPU, float32 vs bfloat16

Prints one JSON line: ``step_s_ce``, ``step_s_full`` (medians over ``--steps`` steps after
``--warmup``), their ratio, the device, the CPU (:func:`owslib.engine.autocast.cpu_info`) and
the settings. The full objective runs with class statistics in place (as from the second epoch
on), so the feature and contrastive terms do work.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from owslib.config import LossConfig, load_profile
from owslib.engine.autocast import autocast, cpu_info
from owslib.losses import ContMAVObjective
from owslib.models import build_model, count_parameters


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(model, objective, image, target, *, steps: int, warmup: int, amp: bool) -> float:
    device = image.device
    times = []
    for i in range(warmup + steps):
        _sync(device)
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        with autocast(device, amp):
            out = model(image)
        out = {k: v.float() for k, v in out.items()}
        objective(out, target)["loss"].backward()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument(
        "--profile", default="paper", help="model config of this profile (paper = ContMAV)"
    )
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--amp", action="store_true")
    p.add_argument("--channels-last", action="store_true", help="channels-last model and input")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()

    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg = load_profile(args.profile)
    k = args.classes
    model = build_model(cfg.model, num_classes=k).to(device).train()
    image = torch.randn(args.batch, 3, args.height, args.width, device=device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        image = image.contiguous(memory_format=torch.channels_last)
    target = torch.randint(0, k, (args.batch, args.height, args.width), device=device)
    target[:, : args.height // 8] = 255  # some void, as in real labels
    ce_only = ContMAVObjective(LossConfig(w_feat=0.0, w_cont=0.0, w_obj=0.0), k).to(device)
    full = ContMAVObjective(LossConfig(), k).to(device)
    with torch.no_grad():  # statistics as after a first epoch
        logits = model(image)["sem_logits"]
        full.stats.update(logits, logits.argmax(1))
        full.end_epoch()
    kw = dict(steps=args.steps, warmup=args.warmup, amp=args.amp)
    step_ce = time_steps(model, ce_only, image, target, **kw)
    step_full = time_steps(model, full, image, target, **kw)
    record = {
        "step_s_ce": round(step_ce, 4),
        "step_s_full": round(step_full, 4),
        "ratio": round(step_full / step_ce, 3),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        **cpu_info(),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "height": args.height,
        "width": args.width,
        "amp": args.amp,
        "channels_last": args.channels_last,
        "profile": args.profile,
        "parameters": count_parameters(model),
        "torch": torch.__version__,
    }
    if device.type == "cuda":
        record["peak_mem_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
