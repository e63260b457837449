"""Time and memory of the whole evaluation protocol at native resolution (prints one JSON line).

    python benchmarks/evaluation.py --images 500 [--model stub|smoke] [--device cuda]

Runs :func:`owslib.evaluation.evaluate_model` — every scorer, pooled and per-image anomaly metrics,
per-image rows, confusion matrix, class similarity, novel-class discovery (pipeline and oracle) and
the component metrics' second pass — over ``--images`` generated 1024×2048 images with class-index
targets (16 known classes, three unknown rectangles per image, 5 % void). Images are generated per
item from a seeded generator, so nothing accumulates outside the evaluation.

``--model stub`` (default) is a fixed per-pixel linear map (1×1 convolutions) to 16 logits and a
16-d embedding: it isolates the cost of the protocol from the network's. ``--model smoke`` is ContMAV
with the smoke profile's small architecture (the forward pass then dominates on CPU).

Memory: ``peak_rss_mb_at_10pct``, ``peak_rss_mb_after_first_pass`` and ``peak_rss_mb`` are the
process's peak resident set (``ru_maxrss``) after a tenth of the images, after the first pass and at
the end, minus the resident set before the first image: equal values show that memory does not grow
with the number of images. With
``--device cuda`` the GPU's ``max_memory_allocated`` is reported too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from owslib.evaluation import evaluate_model
from owslib.labels import get_split
from owslib.losses import ClassStatistics

H, W = 1024, 2048
SPLIT = get_split("cityscapes_heldout")  # 16 known, 3 unknown (train, motorcycle, bicycle)
K, U = SPLIT.num_known, SPLIT.num_unknown


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Generated(Dataset):
    """``n`` images 3×H×W and class-index targets, each generated from its own seed."""

    def __init__(self, n: int, seed: int = 0) -> None:
        self.n, self.seed = n, seed
        self.names = [f"gen_{i:05d}" for i in range(n)]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        g = torch.Generator().manual_seed(self.seed * 100_003 + i)
        blocks = torch.randint(0, K, (H // 64, W // 64), generator=g)
        target = blocks.repeat_interleave(64, 0).repeat_interleave(64, 1)
        for u in range(U):  # one rectangle per unknown class
            y = int(torch.randint(0, H - 200, (1,), generator=g))
            x = int(torch.randint(0, W - 300, (1,), generator=g))
            target[y : y + 150, x : x + 250] = K + u
        target[torch.rand(H, W, generator=g) < 0.05] = 255
        image = torch.randn(3, H, W, generator=g) * 0.5
        image[0] += (target % 7).float() / 7
        image[1] += 3.0 * ((target >= K) & (target != 255))  # what the stub's embedding sees
        return image, target


class Stub(nn.Module):
    """Per-pixel linear logits and embedding: the protocol's cost without a network's. The
    embedding vanishes where image channel 1 is high (the unknown objects), so the fused score
    flags them and the discovery pipeline has pixels to cluster."""

    def __init__(self) -> None:
        super().__init__()
        self.sem = nn.Conv2d(3, K, 1)
        self.emb = nn.Conv2d(3, K, 1)

    def forward(self, x):
        known = (x[:, 1:2] < 1.5).float()
        return {"sem_logits": 4 * self.sem(x), "embedding": 3 * self.emb(x) * known}


def build_model(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "stub":
        return Stub()
    from owslib.config import load_profile
    from owslib.models import build_model as build

    return build(load_profile("smoke").model, num_classes=K)


class Watched:
    """Iterates a loader, recording the peak RSS once a tenth of the images have been seen and
    when a second pass (the component metrics') starts."""

    def __init__(self, loader: DataLoader, n: int) -> None:
        self.loader, self.mark, self.seen = loader, max(1, math.ceil(0.1 * n)), 0
        self.dataset, self.sampler = loader.dataset, loader.sampler
        self.at_10pct: float | None = None
        self.after_first_pass: float | None = None
        self.passes = 0
        self.rss0 = rss_mb()

    def __iter__(self):
        self.passes += 1
        if self.passes == 2:
            self.after_first_pass = peak_rss_mb() - self.rss0
        for batch in self.loader:
            yield batch
            self.seen += len(batch[1])
            if self.at_10pct is None and self.seen >= self.mark:
                self.at_10pct = peak_rss_mb() - self.rss0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--model", choices=("stub", "smoke"), default="stub")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--amp", action="store_true")
    p.add_argument("--no-components", action="store_true", help="skip the second pass")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = build_model(args.model).to(device)
    stats = ClassStatistics(K)
    stats.mean.normal_(0, 4)
    stats.var.fill_(4.0)
    stats.valid.fill_(True)
    ds = Generated(args.images)
    loader = DataLoader(ds, batch_size=args.batch_size, num_workers=args.workers)
    watched = Watched(loader, args.images)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    metrics = evaluate_model(
        model,
        stats,
        watched,
        num_classes=K,
        class_names=SPLIT.known_names,
        unknown_names=SPLIT.unknown_names,
        device=device,
        amp=args.amp,
        components=not args.no_components,
    )
    seconds = time.perf_counter() - t0
    out = {
        "images": args.images,
        "resolution": f"{H}x{W}",
        "model": args.model,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "components": not args.no_components,
        "seconds": round(seconds, 2),
        "images_per_s": round(args.images / seconds, 3),
        "peak_rss_mb_at_10pct": round(watched.at_10pct or 0.0, 1),
        "peak_rss_mb_after_first_pass": round(watched.after_first_pass or 0.0, 1),
        "peak_rss_mb": round(peak_rss_mb() - watched.rss0, 1),
        "miou": round(metrics["miou"], 4),
        "fused_aupr_pooled": round(metrics["anomaly"]["fused"]["pooled"]["aupr"], 4),
        "discovered_classes": metrics["discovery"]["pipeline"]["n_discovered"],
    }
    if device.type == "cuda":
        out["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
