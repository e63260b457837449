"""DDP through torch's own launcher: two CPU processes (gloo) train and evaluate the smoke config."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from owslib.engine.checkpoint import load_checkpoint


@pytest.mark.slow
def test_torchrun_two_processes(smoke_root, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun is installed with torch"
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "owslib",
        "train",
        "--profile",
        "smoke",
        "--set",
        f"data__root={smoke_root}",
        "--set",
        "train__epochs=2",
        "--set",
        "train__batch_size=2",
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ck["epoch"] == 1
    # 12 training images over 2 ranks with batch 2 per rank: 3 optimizer steps per epoch
    assert ck["global_step"] == 6
    # class statistics were all-reduced: counts cover pixels seen by both ranks
    assert torch.as_tensor(ck["objective"]["stats.count"]).sum() > 0
    assert "miou" in json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_torchrun_with_a_head_no_loss_reads(smoke_root, tmp_path):
    # The confidence head's term has weight 0: no loss reads it, yet DDP's gradient reducer must
    # not fail (every output takes part in the graph through a zero-weighted term).
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    out = tmp_path / "ddp_head"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = [
        f"data__root={smoke_root}",
        "train__epochs=2",
        "train__batch_size=2",
        "model__extra_decoder=mlp",
        "model__fusion=confidence",
        "model__mlp_dim=16",
        "loss__w_conf=0.0",
    ]
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "owslib",
        "train",
        "--profile",
        "smoke",
        "--out",
        str(out),
    ]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ck["epoch"] == 1
    assert any(k.startswith("extra_head.") for k in ck["model"])
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    history = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert history and not any("conf" in r for r in history)  # the term was not built


def _ranks_with_caches(tmp_path, caches, monkeypatch):
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # spawned processes import the worker
    worker = importlib.import_module("pretrain_ddp_worker")
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    store = tmp_path / f"store_{len(list(tmp_path.iterdir()))}"
    procs = [
        ctx.Process(target=worker.run, args=(r, str(store), [str(c) for c in caches], queue))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=300) for _ in procs)  # spawning is slow when loaded
    for p in procs:
        p.join(timeout=60)
    return results


def test_the_main_cache_decides_the_encoder_for_every_node(tmp_path, monkeypatch):
    """Two ranks with node-local caches: whether the encoder must be trained is rank 0's answer on
    both (a split decision would deadlock DDP), and a node that lacks rank 0's file receives it."""
    from owslib.config import load_profile
    from owslib.engine.pretrain import encoder_cache_path

    caches = [tmp_path / "node0", tmp_path / "node1"]
    cfg = load_profile("smoke", data__root=str(tmp_path / "no_data"))
    main_file = encoder_cache_path(cfg, caches[0])
    main_file.parent.mkdir(parents=True)
    main_file.write_bytes(b"the main's encoder")
    main_file.with_suffix(".json").write_text('{"config": 1}')
    got = _ranks_with_caches(tmp_path, caches, monkeypatch)
    assert got[0]["cached"] is got[1]["cached"] is True  # rank 1 lacked it, yet trains nothing
    assert got[1]["bytes"] == b"the main's encoder" and got[1]["json"] == b'{"config": 1}'
    assert encoder_cache_path(cfg, caches[1]).read_bytes() == b"the main's encoder"
    # only rank 1 has it now: rank 0 lacks it, so both ranks train (both answer False)
    main_file.unlink()
    got = _ranks_with_caches(tmp_path, caches, monkeypatch)
    assert got[0]["cached"] is got[1]["cached"] is False
