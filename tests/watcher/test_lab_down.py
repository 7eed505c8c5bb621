"""A lab that is down or slow never breaks or stops the training loop: records are dropped with one warning."""

from __future__ import annotations

import socket
import warnings

import pytest
import torch
from torch import nn

import noether
from noether_remote.lab import LabUnavailableWarning

pytestmark = pytest.mark.timeout(120)


def loop(lab: str, steps: int = 200, buffer: int = 1000) -> tuple[noether.Monitor, list]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mon = noether.watch(model, opt, loss_fn, lab=lab, every=1, batch=5, buffer=buffer)
        mon.sink.close_timeout = 1.0
        done = 0
        for _ in range(steps):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
        mon.close()
    assert done == steps and mon.steps == steps
    return mon, [w for w in caught if issubclass(w.category, LabUnavailableWarning)]


def test_training_finishes_with_the_lab_stopped():
    with socket.socket() as s:  # a port nobody listens on: the lab is stopped
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mon, warned = loop(f"http://127.0.0.1:{port}")
    assert len(warned) == 1, [str(w.message) for w in warned]
    assert "could not create a run" in str(warned[0].message) or "not keeping up" in str(warned[0].message)
    assert len(mon.records) == 201  # every record is still measured and kept by the monitor
    assert all(law.verdict == "holds" for law in mon.close().laws)


def test_training_goes_on_when_the_lab_hangs():
    with socket.socket() as server:  # accepts connections, never answers: a hung lab
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        mon, warned = loop(f"http://127.0.0.1:{server.getsockname()[1]}", buffer=20)
    assert len(warned) == 1, [str(w.message) for w in warned]
    assert mon.sink.dropped > 0 and mon.sink.pending <= 20
