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


def _same(a, b, path=""):
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-12), path
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
