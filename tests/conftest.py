"""Shared fixtures: a tiny embedded dataset generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from owslib.config import ExperimentConfig, load_profile


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
