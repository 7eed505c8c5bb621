"""Core tests run torch on one thread: the models are small, and on a shared, oversubscribed machine
intra-op threads spin-wait on each other (measured here: 100x slower steps with 2 threads under load)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
