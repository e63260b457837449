"""Shared fixtures: a tiny embedded dataset generated once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from owslib.config import ExperimentConfig, load_profile


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets its share of the cores for torch's threads (and the
    processes its tests start), so that the workers' thread pools do not oversubscribe the machine
    (OpenMP threads that wait by spinning slow everything down several-fold)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        share = max(1, (cores or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(share)
        torch.set_num_threads(share)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, a ``slow(first=True)`` one at the head (the whole smoke study): with
    ``-n`` (pytest-xdist, as ``make test`` runs) one worker starts the longest while the others
    take the rest, instead of it starting last and running on alone."""

    def rank(item: pytest.Item) -> int:
        slow = item.get_closest_marker("slow")
        return 2 if slow is None else (0 if slow.kwargs.get("first") else 1)

    items.sort(key=rank)  # stable: the collection order within each rank


@pytest.fixture(scope="session")
def smoke_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke profile's embedded dataset, generated once for the whole session."""
    from owslib.data import ensure_embedded_dataset

    root = tmp_path_factory.mktemp("smoke_data") / "embedded"
    ensure_embedded_dataset(root, load_profile("smoke").synthetic)
    return root


@pytest.fixture()
def smoke_cfg(smoke_root: Path) -> ExperimentConfig:
    """The smoke profile pointed at the session's dataset, on CPU."""
    return load_profile("smoke", data__root=str(smoke_root), train__device="cpu")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test leaves open (plot functions return theirs to the caller): an
    xdist worker that runs many plotting tests otherwise holds dozens of them."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")  # (imported by the test if it plotted)
    if plt is not None:
        plt.close("all")
