"""One GPU's numbers for the paper setup, in one command (at most --budget-s, 8 minutes by default).

    python benchmarks/gpu_check.py                # on a machine with one CUDA GPU
    python benchmarks/gpu_check.py --dry-run      # every part at toy sizes on any device

Prints one JSON line:

* the device (name, compute capability, memory), torch, CUDA and cuDNN versions, CPU cores;
* ``train``: the paper network's training step (forward, the whole objective with class statistics
  in place and the warm-up passed, backward, Adam; cuDNN autotuning as in ``fit``) at batch 8 ×
  512×1024 — images/s, s/step and peak memory — in float32 (``float32``), with float16 autocast
  (``amp``), autocast and channels-last (``amp_channels_last``), and that with ``torch.compile``
  (``amp_channels_last_compile``, with its compile time; an error if it does not compile in time);
* ``eval``: the network's forward at 1024×2048, batch 1 (float32, autocast, autocast with cuDNN
  autotuning: images/s, peak memory) and the whole protocol (:func:`owslib.evaluation.
  evaluate_model`, every scorer and metric) over generated 1024×2048 images (images/s);
* ``loader``: the paper profile's training loader — PNG decode, scale 0.5–2, crop, flip, jitter,
  with the configured workers (``data__num_workers`` resolved) and pinned memory — over generated
  1024×2048 street scenes in the Cityscapes layout: images/s after the first batch, and with it;
* ``quick_run``: the wall time of ``owslib train --profile quick`` on the GPU (its embedded dataset
  generated first, timed apart), and its mIoU.

Each part runs in a child process with its own time limit, all within ``--budget-s``; a part that
fails or runs out of time reports ``error`` instead of its numbers (exit status 1). Without CUDA
(and without ``--dry-run``) the command exits at once with status 2.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
#: Parts in the order they run, with their time limits (s); compile last: its time varies most.
PARTS = {"train": 150, "eval": 110, "loader": 90, "quick_run": 240, "compile": 240}
NEEDS_CUDA = (
    "gpu_check needs a CUDA GPU (torch.cuda.is_available() is False, or --device is not cuda); "
    "--dry-run runs every part at toy sizes on any device"
)


def sizes(dry: bool) -> dict:
    if dry:
        return dict(
            profile="smoke",
            batch=2,
            crop=(64, 128),
            steps=2,
            warmup=1,
            full=(128, 256),
            protocol_images=2,
            protocol_hw=(256, 512),
            files=4,
            samples=8,
        )
    return dict(
        profile="paper",
        batch=8,
        crop=(512, 1024),
        steps=20,
        warmup=5,
        full=(1024, 2048),
        protocol_images=24,
        protocol_hw=(1024, 2048),
        files=48,
        samples=320,
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated(device) / 2**30, 2)


# -- training step ---------------------------------------------------------------------------------
def train_throughput(
    s: dict, device: torch.device, *, amp: bool, channels_last: bool, compiled: bool
) -> dict:
    from owslib.config import load_profile
    from owslib.engine.autocast import autocast
    from owslib.engine.loop import cudnn_autotuning
    from owslib.labels import IGNORE_INDEX, get_split
    from owslib.losses import ContMAVObjective
    from owslib.models import build_model

    cfg = load_profile(s["profile"])
    k = get_split(cfg.data.split_preset).num_known
    (h, w), b = s["crop"], s["batch"]
    torch.manual_seed(0)
    model = build_model(cfg.model, num_classes=k).to(device).train()
    image = torch.randn(b, 3, h, w, device=device)
    target = torch.randint(0, k, (b, h, w), device=device)
    target[:, : h // 8] = IGNORE_INDEX  # some void, as in real labels
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        image = image.contiguous(memory_format=torch.channels_last)
    objective = ContMAVObjective(cfg.loss, k, model.embedding_dim, output_keys=model.output_keys)
    objective = objective.to(device)
    with torch.no_grad():  # statistics of finished epochs, warm-up passed: every term works
        logits = model(image)["sem_logits"]
        for _ in range(max(cfg.loss.stats_warmup_epochs, 1)):
            objective.stats.update(logits, logits.argmax(1))
            objective.end_epoch()
        del logits
    opt = torch.optim.Adam([*model.parameters(), *objective.parameters()], lr=cfg.train.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    net = torch.compile(model) if compiled else model

    def step() -> None:
        with autocast(device, amp):
            out = net(image)
        out = {key: v.float() for key, v in out.items()}  # losses in float32, as in the loop
        opt.zero_grad(set_to_none=True)
        scaler.scale(objective(out, target)["loss"]).backward()
        scaler.step(opt)
        scaler.update()

    with cudnn_autotuning(device, deterministic=False):
        t0 = time.perf_counter()
        for _ in range(s["warmup"]):
            step()
        _sync(device)
        warm_s = time.perf_counter() - t0
        _peak_reset(device)
        t0 = time.perf_counter()
        for _ in range(s["steps"]):
            step()
        _sync(device)
        dt = time.perf_counter() - t0
    out = {
        "images_per_s": round(b * s["steps"] / dt, 2),
        "step_s": round(dt / s["steps"], 4),
        "peak_gb": _peak_gb(device),
        "warmup_s": round(warm_s, 1),
    }
    return out  # the model and optimizer go with this frame: the next variant starts empty


def part_train(s: dict, device: torch.device) -> dict:
    variants = {"float32": (False, False), "amp": (True, False), "amp_channels_last": (True, True)}
    out = {"batch": s["batch"], "crop": list(s["crop"]), "profile": s["profile"]}
    for name, (amp, cl) in variants.items():
        out[name] = train_throughput(s, device, amp=amp, channels_last=cl, compiled=False)
        gc.collect()
    return out


def part_compile(s: dict, device: torch.device) -> dict:
    r = train_throughput(s, device, amp=True, channels_last=True, compiled=True)
    return {"amp_channels_last_compile": r | {"compile_s": r.pop("warmup_s")}}


# -- evaluation ------------------------------------------------------------------------------------
def part_eval(s: dict, device: torch.device) -> dict:
    sys.path.insert(0, str(HERE))
    import evaluation as protocol_bench  # benchmarks/evaluation.py: generated images, the split

    from owslib.config import load_profile
    from owslib.engine.autocast import autocast
    from owslib.evaluation import evaluate_model
    from owslib.losses import ClassStatistics
    from owslib.models import build_model

    k = protocol_bench.K
    torch.manual_seed(0)
    model = build_model(load_profile(s["profile"]).model, num_classes=k).to(device).eval()
    h, w = s["full"]
    image = torch.randn(1, 3, h, w, device=device)
    out: dict = {"resolution": f"{h}x{w}", "batch": 1}
    before = torch.backends.cudnn.benchmark
    for name, amp, bench in (
        ("forward_float32", False, False),
        ("forward_amp", True, False),
        ("forward_amp_cudnn_benchmark", True, True),
    ):
        torch.backends.cudnn.benchmark = bench
        with torch.no_grad():
            for _ in range(2):
                with autocast(device, amp):
                    model(image)
            _sync(device)
            _peak_reset(device)
            n, t0 = max(2, s["steps"] // 2), time.perf_counter()
            for _ in range(n):
                with autocast(device, amp):
                    model(image)
            _sync(device)
        dt = time.perf_counter() - t0
        out[name] = {"images_per_s": round(n / dt, 2), "peak_gb": _peak_gb(device)}
    torch.backends.cudnn.benchmark = before
    protocol_bench.H, protocol_bench.W = s["protocol_hw"]
    stats = ClassStatistics(k)
    stats.mean.normal_(0, 4)
    stats.var.fill_(4.0)
    stats.valid.fill_(True)
    n = s["protocol_images"]
    workers = min(4, max(0, (os.cpu_count() or 1) - 1))  # images generated beside the protocol
    loader = torch.utils.data.DataLoader(
        protocol_bench.Generated(n), batch_size=1, num_workers=workers
    )
    _peak_reset(device)
    t0 = time.perf_counter()
    split = protocol_bench.SPLIT
    evaluate_model(
        model,
        stats,
        loader,
        num_classes=k,
        class_names=split.known_names,
        unknown_names=split.unknown_names,
        device=device,
    )
    dt = time.perf_counter() - t0
    out["protocol"] = {
        "images": n,
        "resolution": "x".join(map(str, s["protocol_hw"])),
        "images_per_s": round(n / dt, 3),
        "peak_gb": _peak_gb(device),
        "loader_workers": workers,
        "components": True,
    }
    return out


# -- data loader -----------------------------------------------------------------------------------
def _write_scene(args: tuple[Path, int]) -> None:
    sys.path.insert(0, str(HERE))
    from data_loading import write_cityscapes_scene  # benchmarks/data_loading.py

    write_cityscapes_scene(*args)


def part_loader(s: dict, device: torch.device) -> dict:
    from torch.utils.data import DataLoader, RandomSampler

    from owslib.config import load_profile
    from owslib.data import CityscapesDataset, build_train_transforms
    from owslib.engine.experiment import loader_options
    from owslib.labels import get_split

    cfg = load_profile("paper")  # the paper's data pipeline and worker setting, whatever --dry-run
    if s["profile"] != "paper":
        cfg = cfg.override(data__crop_height=s["crop"][0], data__crop_width=s["crop"][1])
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="owslib-gpu-check-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        with ProcessPoolExecutor(max_workers=max(1, (cpus or 1) - 1)) as pool:
            list(pool.map(_write_scene, [(root, i) for i in range(s["files"])]))
        write_s = time.perf_counter() - t0
        ds = CityscapesDataset(
            root, "train", get_split("cityscapes"), build_train_transforms(cfg.data)
        )
        opts = loader_options(
            device, cfg.data.num_workers, batch=s["batch"], train=True, per_rank=len(ds)
        )
        sampler = RandomSampler(ds, replacement=True, num_samples=s["samples"])
        loader = DataLoader(ds, sampler=sampler, **opts)
        seen, t0, first = 0, time.perf_counter(), None
        for image, _target in loader:
            image.to(device, non_blocking=True)
            if first is None:
                first = time.perf_counter()
            else:
                seen += len(image)
        _sync(device)
        end = time.perf_counter()
    return {
        "workers": opts["num_workers"],
        "data__num_workers": cfg.data.num_workers,
        "cpus": cpus,
        "pin_memory": opts["pin_memory"],
        "files": s["files"],
        "images": s["samples"],
        "batch": s["batch"],
        "crop": [cfg.data.crop_height, cfg.data.crop_width],
        "first_batch_s": round(first - t0, 2),
        "images_per_s": round(seen / max(end - first, 1e-9), 2),
        "images_per_s_with_startup": round(s["samples"] / (end - t0), 2),
        "generate_s": round(write_s, 1),
    }


# -- a quick-profile run ---------------------------------------------------------------------------
def _command(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=HERE.parent)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{' '.join(cmd[2:4])}: exit status {done.returncode}: {last}")


def part_quick_run(s: dict, device: torch.device) -> dict:
    profile = "quick" if s["profile"] == "paper" else "smoke"
    with tempfile.TemporaryDirectory(prefix="owslib-gpu-check-") as tmp:
        env = os.environ | {"OWSLIB_CACHE": str(Path(tmp) / "cache")}
        owslib = [sys.executable, "-m", "owslib"]
        # The profile's own data root (its shipped closed-set encoder is keyed by it); in a dry
        # run a temporary one (the smoke encoder is then trained: one epoch).
        gen, sets = ["--profile", profile], [f"train__device={device.type}"]
        if profile == "smoke":
            gen += ["--out", str(Path(tmp) / "data")]
            sets.append(f"data__root={Path(tmp) / 'data'}")
        t0 = time.perf_counter()
        _command([*owslib, "data", "generate", *gen], env)
        gen_s = time.perf_counter() - t0
        run_dir = Path(tmp) / "run"
        t0 = time.perf_counter()
        _command(
            [*owslib, "train", "--profile", profile, "--set", *sets, "--out", str(run_dir)], env
        )
        wall = time.perf_counter() - t0
        metrics = json.loads((run_dir / "metrics.json").read_text())
        config = json.loads((run_dir / "config.json").read_text())
    return {
        "profile": profile,
        "wall_s": round(wall, 1),
        "generate_s": round(gen_s, 1),
        "epochs": config["train"]["epochs"],
        "miou": metrics.get("miou"),
    }


# -- driver ----------------------------------------------------------------------------------------
def device_info(device: torch.device) -> dict:
    info = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "cpus": os.cpu_count(),
    }
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info |= {
            "device": p.name,
            "capability": f"{p.major}.{p.minor}",
            "memory_gb": round(p.total_memory / 2**30, 1),
        }
    else:
        info["device"] = "cpu"
    return info


def run_part(name: str, args: argparse.Namespace, timeout: float) -> dict:
    """One part in a child process (its own session: on timeout the child and every process it
    started, e.g. the quick run's ``owslib train``, are ended together)."""
    cmd = [sys.executable, __file__, "--part", name, "--device", args.device]
    cmd += ["--dry-run"] if args.dry_run else []
    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return {"error": f"not done within {timeout:.0f} s"}
    if child.returncode != 0:
        return {
            "error": (stderr.strip().splitlines() or ["exit status"])[-1][:300],
            "status": child.returncode,
        }
    return json.loads(stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--budget-s", type=float, default=480, help="all parts together (default: 480)")
    p.add_argument("--dry-run", action="store_true", help="toy sizes on any device")
    p.add_argument("--device", default="cuda", help="the device (default: cuda)")
    p.add_argument(
        "--only",
        nargs="+",
        choices=list(PARTS),
        default=list(PARTS),
        metavar="PART",
        help=f"run only these parts (default: all: {' '.join(PARTS)})",
    )
    p.add_argument("--part", choices=sorted(PARTS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    on_cuda = device.type == "cuda" and torch.cuda.is_available()
    if not args.dry_run and not on_cuda:  # the full sizes would take hours on a CPU
        print(NEEDS_CUDA, file=sys.stderr)
        return 2
    if device.type == "cuda" and not on_cuda:
        args.device, device = "cpu", torch.device("cpu")
    s = sizes(args.dry_run)
    if args.part:  # a child: one part, one JSON line
        print(json.dumps(globals()[f"part_{args.part}"](s, device)))
        return 0
    start = time.perf_counter()
    record = device_info(device) | {"dry_run": args.dry_run}
    for name in args.only:
        cap = PARTS[name]
        left = args.budget_s - (time.perf_counter() - start) - 5
        record[name] = (
            run_part(name, args, min(cap, left))
            if left >= 20
            else {"error": "skipped: the time budget is spent"}
        )
    record["wall_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(record))
    return 1 if any("error" in v for v in record.values() if isinstance(v, dict)) else 0


if __name__ == "__main__":
    sys.exit(main())
