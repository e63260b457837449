"""Data-loading throughput: decode + training augmentation, images/s for one DataLoader worker.

    OMP_NUM_THREADS=1 python benchmarks/data_loading.py
    python benchmarks/data_loading.py --n 32 --step-s 0.31 --batch 8

Writes ``--n`` street scenes (the embedded renderer at native resolution, so the files compress like
photographs, not like noise) into a temporary folder in the official layouts: Cityscapes (1024×2048
PNG + ``*_gtFine_labelIds.png``) and BDD100K (720×1280 JPEG + trainId PNG masks, then built into
BDD-Anomaly by the library's builder). Then, in this one process with one torch thread (as in a
DataLoader worker), it times ``dataset[i]`` — decode image and label, map labels, random scale
0.5–2.0, crop 512×1024, flip, colour jitter, normalise (the paper profile) — and prints one JSON line
per dataset: images/s per worker (median of ``--repeats`` passes), the decode and augment shares,
and ``workers_to_feed`` = ceil(batch / step_s / rate): the workers that keep one GPU fed when a
training step at ``--batch``×512×1024 takes ``--step-s`` seconds. The default 0.25 s is an assumed
H200 step (not measured here); pass the figure of ``benchmarks/train_step.py`` on the target GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from owslib.config import DataConfig
from owslib.data.bdd_anomaly import build_bdd_anomaly
from owslib.data.cityscapes import CityscapesDataset
from owslib.data.embedded.scene import render_scene
from owslib.data.transforms import build_train_transforms
from owslib.labels import get_split, label_ids_to_train_ids

CITYSCAPES_HW, BDD_HW = (1024, 2048), (720, 1280)


def write_cityscapes_scene(root: Path, i: int) -> None:
    """Generated scene ``i`` at Cityscapes' size, as ``leftImg8bit``/``gtFine`` PNGs of city
    aachen in the train split under ``root``."""
    rgb, label_ids = render_scene(
        np.random.default_rng(i), *CITYSCAPES_HW, n_unknown=1, n_clutter=2
    )
    stem = f"aachen_{i:06d}_000019"
    for folder, suffix, array in (
        ("leftImg8bit", "_leftImg8bit.png", rgb),
        ("gtFine", "_gtFine_labelIds.png", label_ids),
    ):
        path = root / folder / "train" / "aachen" / f"{stem}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path, format="PNG")


def write_cityscapes(root: Path, n: int) -> None:
    for i in range(n):
        write_cityscapes_scene(root, i)


def write_bdd100k(root: Path, n: int) -> None:
    for i in range(n):
        rgb, label_ids = render_scene(
            np.random.default_rng(1000 + i), *BDD_HW, n_unknown=0, n_clutter=2
        )
        stem = f"{i:08x}-{i:08x}"
        split = "val" if i % 8 == 7 else "train"
        image = root / "images" / "10k" / split / f"{stem}.jpg"
        mask = root / "labels" / "sem_seg" / "masks" / split / f"{stem}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        mask.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(image, format="JPEG", quality=90)
        Image.fromarray(label_ids_to_train_ids(label_ids)).save(mask, format="PNG")


def time_pass(ds: CityscapesDataset) -> tuple[float, float]:
    """Seconds per item for decode only and for decode + augment, over one pass."""
    t0 = time.perf_counter()
    pairs = [ds.load(i) for i in range(len(ds))]
    decode = (time.perf_counter() - t0) / len(ds)
    t0 = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    full = (time.perf_counter() - t0) / len(ds)
    del pairs
    return decode, full


def measure(name: str, ds: CityscapesDataset, args: argparse.Namespace, files_mb: float) -> dict:
    ds[0]  # warm-up (lazy imports, allocator)
    runs = [time_pass(ds) for _ in range(args.repeats)]
    decode = statistics.median(r[0] for r in runs)
    full = statistics.median(r[1] for r in runs)
    rate = 1.0 / full
    needed = args.batch / args.step_s
    return {
        "dataset": name,
        "resolution": "×".join(map(str, np.asarray(ds.load(0)[0]).shape[:2])),
        "images": len(ds),
        "mb_per_image": round(files_mb / len(ds), 2),
        "decode_ms": round(decode * 1e3, 1),
        "augment_ms": round((full - decode) * 1e3, 1),
        "images_per_s_per_worker": round(rate, 2),
        "required_images_per_s": round(needed, 1),
        "workers_to_feed": math.ceil(needed / rate),
        "step_s": args.step_s,
        "step_s_source": "measured" if args.step_measured else "assumed H200 step at 8×512×1024",
        "batch": args.batch,
        "crop": [args.crop_h, args.crop_w],
        "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=16, help="images per dataset")
    p.add_argument("--repeats", type=int, default=3, help="timed passes (median)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--step-s", type=float, default=0.25, help="GPU step time (s) to feed")
    p.add_argument("--step-measured", action="store_true", help="--step-s was measured")
    p.add_argument("--crop-h", type=int, default=512)
    p.add_argument("--crop-w", type=int, default=1024)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 = a DataLoader worker)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # the paper's augmentation: scale 0.5–2, crop, flip, colour jitter (DataConfig defaults)
    cfg = DataConfig(crop_height=args.crop_h, crop_width=args.crop_w)
    transforms = build_train_transforms(cfg)
    with tempfile.TemporaryDirectory(prefix="owslib-bench-") as tmp:
        cs, raw, bdd = Path(tmp) / "cityscapes", Path(tmp) / "bdd100k", Path(tmp) / "bdd_anomaly"
        write_cityscapes(cs, args.n)
        write_bdd100k(raw, args.n)
        t0 = time.perf_counter()
        build_bdd_anomaly(raw, bdd, 3, workers=1)
        build_s = time.perf_counter() - t0
        datasets = {
            "cityscapes": CityscapesDataset(cs, "train", get_split("cityscapes"), transforms),
            "bdd_anomaly": CityscapesDataset(
                bdd, "train", get_split("bdd_anomaly3"), transforms, label_format="train_ids"
            ),
        }
        for name, ds in datasets.items():
            mb = sum(p.stat().st_size for p, _ in ds.samples) / 1e6
            mb += sum(lab.stat().st_size for _, lab in ds.samples) / 1e6
            record = measure(name, ds, args, mb)
            if name == "bdd_anomaly":
                record["builder_images_per_s"] = round(args.n / build_s, 1)
            print(json.dumps(record, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
