"""Evaluation under DDP counts every image once: two gloo processes equal one process exactly."""

import importlib
import math
from pathlib import Path

import pytest
import torch

from owslib.distributed import ShardSampler


def test_shard_sampler_covers_every_index_once_without_padding():
    shards = [list(ShardSampler(range(5), r, 2)) for r in range(2)]
    assert shards == [[0, 2, 4], [1, 3]]
    assert [len(ShardSampler(range(5), r, 2)) for r in range(2)] == [3, 2]
    with pytest.raises(ValueError, match="rank"):
        ShardSampler(range(5), 2, 2)


def _same(a, b, path="", rel=1e-9):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}", rel)
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=rel, abs=1e-12), path
    else:
        assert a == b, path


@pytest.mark.slow
def test_two_process_evaluation_equals_one_process(smoke_root, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # spawned processes import the worker
    worker = importlib.import_module("eval_ddp_worker")
    single = worker.evaluate_once(str(smoke_root), str(tmp_path / "one"))
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    store, out = str(tmp_path / "store"), str(tmp_path / "two")
    procs = [
        ctx.Process(target=worker.run, args=(r, store, str(smoke_root), out, queue))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=240) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    ddp = results[0]
    assert ddp["n_images"] == single["n_images"] == 5  # 3 + 2: no image repeated
    assert "skipped" in ddp["discovery"] and "pipeline" in single["discovery"]
    for key in ("miou", "iou", "anomaly", "similarity", "components"):
        _same(single[key], ddp[key], key)
    one = (tmp_path / "one" / "per_image.csv").read_text()
    two = (tmp_path / "two" / "per_image.csv").read_text()
    assert one == two  # the same rows, in the dataset's order


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_training_writes_the_metrics_of_its_checkpoint(smoke_root, tmp_path, monkeypatch):
    """Trained under two gloo processes (a split with unknown classes), the written metrics.json
    equals a single-process evaluation of the written last.pt, number for number; the chosen
    anomaly maps are all there, each under its own image's name; run.json is the main's."""
    import json

    from owslib.cli.evaluate import evaluate_checkpoint

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    worker = importlib.import_module("train_ddp_worker")
    out, cache = tmp_path / "run", tmp_path / "cache"
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=worker.run, args=(r, port, str(smoke_root), str(out), str(cache), queue))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    dict(queue.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    written = json.loads((out / "metrics.json").read_text())
    assert written["n_images"] > 2 and written["anomaly"]  # unknown classes in the test split
    monkeypatch.setenv("OWSLIB_CACHE", str(cache))
    again = evaluate_checkpoint(out / "checkpoints" / "last.pt", tmp_path / "single")
    # equal to the last digits a float64 sum over shards in another order allows (before the
    # broadcast, rank 1's BatchNorm statistics moved AUROC by 0.02)
    for key in ("miou", "iou", "anomaly", "similarity", "components"):
        _same(again[key], written[key], key, rel=1e-8)
    maps = sorted(p.name for p in (out / "anomaly_maps").iterdir())
    single_maps = sorted(p.name for p in (tmp_path / "single" / "anomaly_maps").iterdir())
    assert maps == single_maps and len(maps) >= 3  # kept whichever rank held them, rightly named
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "finished" and info["device"] == "cpu"
