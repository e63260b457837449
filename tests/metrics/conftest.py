"""Metric tests use tiny tensors: run torch single-threaded, since OpenMP's barriers stall for
milliseconds per op when another process holds the second core of a small CI machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
