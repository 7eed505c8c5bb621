"""What the examples share: scikit-learn's 8x8 digits (bundled with the package, nothing downloaded), two models,
the training loop and the command line."""

from __future__ import annotations

import argparse
import time
from itertools import islice

import torch
from sklearn.datasets import load_digits
from torch import nn


def digits(device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """1797 images of 1 x 8 x 8 pixels scaled to [0, 1], and their labels 0..9."""
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    return x.to(device), y.to(device)


def mlp() -> nn.Module:
    """64-128-128-10 with ReLU: a rescaling law per hidden layer and a translation law at the head."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn() -> nn.Module:
    """Two conv blocks with BatchNorm (scale laws), ReLU and max-pool (rescale laws), a linear head (translation)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def batches(x: torch.Tensor, y: torch.Tensor, size: int, seed: int = 0):
    """Minibatches forever, reshuffled every epoch."""
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(x), generator=g).to(x.device)
        for i in range(0, len(x) - size + 1, size):
            idx = order[i:i + size]
            yield x[idx], y[idx]


def train(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: nn.Module, x: torch.Tensor, y: torch.Tensor,
          steps: int, delay: float = 0.0) -> None:
    """The plain PyTorch loop the examples watch: ``steps`` minibatches of 64, one optimiser step each."""
    for xb, yb in islice(batches(x, y, 64), steps):
        loss = loss_fn(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if delay:
            time.sleep(delay)  # to watch it live in the lab


def print_verdicts(summary) -> None:
    """One line per law: its id, verdict and why."""
    for law in summary.laws:
        print(f"{law.id:24s} {law.verdict:15s} {law.reason}")


def arguments(doc: str, steps: int) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--lab", default=None, help="a running lab's URL (e.g. http://127.0.0.1:8050); default: a run folder")
    p.add_argument("--token", default=None, help="the lab's API token, if it has one")
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--every", type=int, default=10, help="record the laws every this many steps")
    p.add_argument("--device", default="cpu")
    p.add_argument("--delay", type=float, default=0.0, help="seconds to sleep per step (to watch it live)")
    return p.parse_args()
