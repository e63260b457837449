"""Throughput and memory of the streaming anomaly metric against scikit-learn (prints one JSON line).

    python benchmarks/anomaly_metrics.py --pixels 1e9 --sklearn-pixels 2e7 [--device cuda]

Pixels are generated on the fly, one 1024x2048 "image" per update, from a seeded generator: per image
an anomaly fraction drawn from U(1 %, 5 %), 5 % ignore pixels (label 255), scores ``N(0, 1)`` for known
and ``N(2, 1.5)`` for anomalous pixels (overlapping, unbounded, like logits). Only the metric's own
calls (``update`` and the final ``compute``) are timed (``seconds``); generation is reported apart.
torch runs single-threaded by default (``--threads``), like scikit-learn: a like-for-like comparison,
and on a small shared machine OpenMP's barriers stall for milliseconds per op when another process
holds a core (measured here: 2 threads 9.2 s, 1 thread 1.1 s for the same 2e8 pixels).
scikit-learn gets only the non-ignored pixels (~95 % of M) but its throughput is counted over M.

Memory: ``peak_mb`` is the growth of the process's peak resident set during streaming
(``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end minus the resident set read from
``/proc/self/statm`` just before the first update), i.e. everything streaming allocates — histogram,
per-batch temporaries and the generated batch itself. ``peak_mb_at_10pct`` is the same after a tenth of
the pixels: equal values show memory does not grow with N. ``sklearn_peak_mb`` is measured the same way
around ``average_precision_score`` alone (its input arrays already exist; they are not counted).
``state_mb`` is the histogram, ``workspace_mb`` the metric's reused per-batch scratch buffers. With
``--device cuda`` the GPU's ``max_memory_allocated`` growth is reported as ``peak_gpu_mb``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import torch

from owslib.metrics.anomaly import AnomalyMetric

H, W = 1024, 2048


def rss_mb() -> float:
    """Current resident set (MB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set of the process so far (MB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batches(pixels: int, seed: int, device: torch.device):
    """Yield ``(scores float32, labels uint8)`` image-sized chunks totalling ``pixels``.

    The chunks live in buffers reused from one chunk to the next (consume each before the next).
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    u, scores = (torch.empty(H * W, device=device) for _ in range(2))
    labels = torch.empty(H * W, dtype=torch.uint8, device=device)
    anomalous, ignored = (torch.empty(H * W, dtype=torch.bool, device=device) for _ in range(2))
    done = 0
    while done < pixels:
        n = min(H * W, pixels - done)
        frac = 0.01 + 0.04 * torch.rand((), generator=gen, device=device)
        torch.rand(n, generator=gen, device=device, out=u[:n])
        torch.lt(u[:n], frac, out=anomalous[:n])
        torch.gt(u[:n], 0.95, out=ignored[:n])
        labels[:n].copy_(anomalous[:n]).masked_fill_(ignored[:n], 255)
        s = torch.randn(n, generator=gen, device=device, out=scores[:n])
        s.addcmul_(s, anomalous[:n], value=0.5).add_(
            anomalous[:n], alpha=2.0
        )  # N(2, 1.5) if anomalous
        done += n
        shape = (H, W) if n == H * W else (1, n)
        yield s.view(shape), labels[:n].view(shape)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def stream(args: argparse.Namespace, device: torch.device) -> dict:
    metric = AnomalyMetric(bins=args.bins, range=args.range)
    metric.update(torch.zeros(4, device=device), torch.tensor([0, 1, 0, 1], device=device))
    metric.reset()  # warm-up: kernels loaded, state allocated on the device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        gpu0 = torch.cuda.memory_allocated(device)
    rss0, seconds, gen_seconds, seen, at10 = rss_mb(), 0.0, 0.0, 0, None
    t_gen = time.perf_counter()
    for scores, labels in batches(args.pixels, args.seed, device):
        sync(device)
        t0 = time.perf_counter()
        gen_seconds += t0 - t_gen
        metric.update(scores, labels)
        sync(device)
        t_gen = time.perf_counter()
        seconds += t_gen - t0
        seen += scores.numel()
        if at10 is None and seen >= args.pixels / 10:
            at10 = peak_rss_mb() - rss0
    t0 = time.perf_counter()
    res = metric.compute()
    seconds += time.perf_counter() - t0
    out = {
        "pixels": args.pixels,
        "device": str(device),
        "bins": args.bins,
        "threads": torch.get_num_threads(),
        "range": args.range,
        "seconds": round(seconds, 3),
        "pixels_per_s": round(args.pixels / seconds),
        "generate_seconds": round(gen_seconds, 3),
        "peak_mb": round(peak_rss_mb() - rss0, 1),
        "peak_mb_at_10pct": round(at10 or 0.0, 1),
        "state_mb": round(metric.hist.numel() * 8 / 2**20, 2),
        "workspace_mb": round(metric.workspace.nbytes / 2**20, 1),
        "ap": res["aupr"],
        "ap_max_error": res["aupr_max_error"],
    }
    if device.type == "cuda":
        out["peak_gpu_mb"] = round((torch.cuda.max_memory_allocated(device) - gpu0) / 2**20, 1)
    return out


def versus_sklearn(args: argparse.Namespace, device: torch.device) -> dict:
    from sklearn.metrics import average_precision_score

    m, metric = args.sklearn_pixels, AnomalyMetric(bins=args.bins, range=args.range)
    scores, labels = np.empty(m, np.float32), np.empty(m, np.uint8)
    at = 0
    for s, y in batches(m, args.seed + 1, device):
        metric.update(s, y)
        scores[at : at + s.numel()] = s.reshape(-1).cpu().numpy()
        labels[at : at + s.numel()] = y.reshape(-1).cpu().numpy()
        at += s.numel()
    valid = labels != 255
    scores, labels = scores[valid], labels[valid]  # scikit-learn has no ignore label
    rss0 = rss_mb()
    t0 = time.perf_counter()
    ap = average_precision_score(labels, scores)
    seconds = time.perf_counter() - t0
    return {
        "sklearn_pixels": m,
        "sklearn_seconds": round(seconds, 3),
        "sklearn_pixels_per_s": round(m / seconds),
        "sklearn_peak_mb": round(peak_rss_mb() - rss0, 1),
        "ap_diff": abs(metric.compute()["aupr"] - ap),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pixels", type=float, default=1e9, help="pixels to stream")
    p.add_argument(
        "--sklearn-pixels", type=float, default=2e7, help="pixels for scikit-learn (0: skip)"
    )
    p.add_argument("--bins", type=int, default=100_000)
    p.add_argument("--range", type=float, nargs=2, default=None, help="fixed score range lo hi")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.pixels, args.sklearn_pixels = int(args.pixels), int(args.sklearn_pixels)
    device = torch.device(args.device)
    out = stream(args, device)
    if args.sklearn_pixels > 0:
        out |= versus_sklearn(args, device)
        out["speedup"] = round(out["pixels_per_s"] / out["sklearn_pixels_per_s"], 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
